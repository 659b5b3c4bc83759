// Package apiv1 declares the JSON shapes of SpawnIt's HTTP API v1 (docs/api.md): the
// server (package api) encodes them and the Go client (package client) decodes them, so
// both sides share one definition. It depends only on the engine's and catalog's types.
package apiv1

import (
	"time"

	"github.com/spawnit/spawnit/catalog"
	"github.com/spawnit/spawnit/engine"
)

// Error is the body of every error response.
type Error struct {
	Error ErrorBody `json:"error"`
}

// ErrorBody describes an error with a stable code.
type ErrorBody struct {
	Code    string       `json:"code"`
	Message string       `json:"message"`
	Fields  []FieldError `json:"fields,omitempty"`
}

// FieldError names one invalid field.
type FieldError struct {
	Field  string `json:"field"`
	Code   string `json:"code,omitempty"`
	Reason string `json:"reason"`
}

// Stable error codes (docs/api.md).
const (
	CodeValidation         = "validation_failed"
	CodeBadRequest         = "bad_request"
	CodeUnauthenticated    = "unauthenticated"
	CodeCSRF               = "csrf_failed"
	CodeNotFound           = "not_found"
	CodeLocked             = "locked"
	CodeConflict           = "conflict"
	CodeBusy               = "busy"
	CodeResourcesExist     = "resources_exist"
	CodeNeedsRecovery      = "needs_recovery"
	CodeCoolOff            = "cool_off"
	CodeJobFinished        = "job_finished"
	CodePreconditionFailed = "precondition_failed"
	CodeTooLarge           = "too_large"
	CodeUnsupportedMedia   = "unsupported_media_type"
	CodePreconditionNeeded = "precondition_required"
	CodeUnavailable        = "unavailable"
	CodeShuttingDown       = "shutting_down"
	CodeInternal           = "internal"
)

// Me describes the caller.
type Me struct {
	Subject    string `json:"subject"`
	Tenant     string `json:"tenant"`
	Name       string `json:"name,omitempty"`
	Email      string `json:"email,omitempty"`
	SingleUser bool   `json:"single_user"`
	CSRFToken  string `json:"csrf_token,omitempty"`
}

// Template is a catalog entry with the providers it can deploy to.
type Template struct {
	catalog.Template
	Providers []string `json:"providers"`
}

// TemplateList is GET /api/v1/catalog.
type TemplateList struct {
	Templates []Template `json:"templates"`
}

// CreateService is the body of POST /api/v1/services.
type CreateService struct {
	Template  string            `json:"template"`
	Provider  string            `json:"provider,omitempty"`
	Name      string            `json:"name"`
	Inputs    map[string]any    `json:"inputs"`
	Labels    map[string]string `json:"labels,omitempty"`
	ExpiresAt *time.Time        `json:"expires_at,omitempty"`
}

// UpdateInputs is the body of PUT /api/v1/services/{service}/inputs.
type UpdateInputs struct {
	Inputs map[string]any `json:"inputs"`
}

// Service is a service's configuration (secret inputs masked) and live status.
type Service struct {
	ID              string            `json:"id"`
	Name            string            `json:"name"`
	Template        string            `json:"template"`
	TemplateVersion string            `json:"template_version,omitempty"`
	Provider        string            `json:"provider"`
	Labels          map[string]string `json:"labels,omitempty"`
	CreatedAt       time.Time         `json:"created_at"`
	UpdatedAt       time.Time         `json:"updated_at"`
	ExpiresAt       *time.Time        `json:"expires_at,omitempty"`
	Inputs          map[string]any    `json:"inputs"`
	ETag            string            `json:"etag"`
	Status          ServiceStatus     `json:"status"`
}

// ServiceStatus is what a list of services shows at a glance.
type ServiceStatus struct {
	// Intent is the last successful operation: "applied", "destroyed" or "" (never).
	Intent engine.IntentKind `json:"intent"`
	// Drift is the last drift check's status (not_checked when none).
	Drift         engine.ServiceStatus `json:"drift"`
	DriftAt       *time.Time           `json:"drift_checked_at,omitempty"`
	Health        string               `json:"health,omitempty"` // healthy, unhealthy, unknown
	Busy          bool                 `json:"busy"`
	LastJob       *JobRef              `json:"last_job,omitempty"`
	NeedsRecovery bool                 `json:"needs_recovery,omitempty"`
}

// JobRef points at a job.
type JobRef struct {
	ID        string           `json:"id"`
	Operation engine.Operation `json:"operation"`
	State     engine.JobState  `json:"state"`
}

// ServiceList is GET /api/v1/services.
type ServiceList struct {
	Services []Service `json:"services"`
}

// Job is a job as the API shows it (engine.JobInfo; sensitive output values are empty
// unless ?reveal=true).
type Job = engine.JobInfo

// JobList is GET /api/v1/services/{service}/jobs.
type JobList struct {
	Jobs []Job `json:"jobs"`
}

// Cancel is the body of POST .../jobs/{job}/cancel.
type Cancel struct {
	Force bool `json:"force"`
}

// Event is one job event (engine.Event). On the wire it is the data of an SSE event whose
// id is Seq and whose event name is Type; a job stream ends with an "end" event.
type Event = engine.Event

// Drift is GET /api/v1/services/{service}/drift.
type Drift = engine.DriftReport

// StatusEvent is the data of an event on the tenant stream GET /api/v1/events.
type StatusEvent struct {
	Kind    string               `json:"kind"` // job, drift, service
	Service string               `json:"service"`
	Job     *JobRef              `json:"job,omitempty"`
	Drift   engine.ServiceStatus `json:"drift,omitempty"`
	Message string               `json:"message,omitempty"`
	Time    time.Time            `json:"time"`
}

// SSE event names that are not engine event types.
const (
	SSEEnd    = "end"    // a job stream is complete
	SSEStatus = "status" // tenant stream entry
)

// EventList is GET .../jobs/{job}/events with Accept: application/json: the events
// recorded so far (after ?after=N or Last-Event-ID).
type EventList struct {
	Events []Event `json:"events"`
}
