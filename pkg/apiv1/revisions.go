package apiv1

import "time"

// Revision is one numbered state of a service's configuration: its inputs (secrets
// masked), template version and, for an apply, the state's serial; who and when.
type Revision struct {
	Number int `json:"number"`
	// Kind is what made it: create, update, restore, upgrade or apply.
	Kind            string         `json:"kind"`
	Inputs          map[string]any `json:"inputs"`
	TemplateVersion string         `json:"template_version"`
	StateSerial     int64          `json:"state_serial,omitempty"`
	Job             string         `json:"job,omitempty"`
	RestoredFrom    int            `json:"restored_from,omitempty"`
	By              string         `json:"by"`
	At              time.Time      `json:"at"`
}

// RevisionList is GET /api/v1/services/{service}/revisions, newest first.
type RevisionList struct {
	Revisions []Revision `json:"revisions"`
	// Kept is how many revisions a service keeps; older ones are deleted.
	Kept int `json:"kept"`
}

// RevisionChange is one field that differs between two revisions:
// "template_version" or "inputs.<name>"; From or To is null when absent on that side.
type RevisionChange struct {
	Field string `json:"field"`
	From  any    `json:"from"`
	To    any    `json:"to"`
}

// RevisionComparison is GET /api/v1/services/{service}/revisions/compare.
type RevisionComparison struct {
	From    int              `json:"from"`
	To      int              `json:"to"`
	Changes []RevisionChange `json:"changes"`
}

// Restore is the answer of POST /api/v1/services/{service}/revisions/{revision}/restore:
// the service with the revision's inputs, the revision that records the restore, and
// the plan job started for it (nothing is applied until asked).
type Restore struct {
	Service  Service  `json:"service"`
	Revision Revision `json:"revision"`
	Job      Job      `json:"job"`
}
