package apiv1

import "time"

// PublishTemplate is the body of POST /api/v1/catalog/{template}/versions: a template's
// files as its author keeps them, by path ("template.json",
// "modules/<target>/<file>"), each file's content as text.
type PublishTemplate struct {
	Files map[string]string `json:"files"`
}

// PublishedVersion is a published version of a template.
type PublishedVersion struct {
	Template     string    `json:"template"`
	Version      string    `json:"version"`
	ReleaseNotes string    `json:"release_notes,omitempty"`
	Published    time.Time `json:"published"`
	By           string    `json:"by,omitempty"`
	// Digest is the SHA-256 of the version's content.
	Digest string `json:"digest"`
	// Created is false when the same content was already published under this version
	// (publishing is idempotent; other content under a published version is refused).
	Created bool `json:"created"`
}
