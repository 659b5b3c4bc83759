// Package apiv1 declares the JSON shapes of SpawnIt's HTTP API v1 (docs/api.md): the
// server (package api) encodes them and the Go client (package client) decodes them, so
// both sides share one definition. It depends only on the engine's and catalog's types.
package apiv1

import (
	"encoding/json"
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
	CodeAcceptDisabled     = "accept_disabled"
	CodeNotDeployed        = "not_deployed"
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
	// AutoRemediate lets SpawnIt re-apply the service on its own when a drift check
	// finds it drifted or missing.
	AutoRemediate bool `json:"auto_remediate,omitempty"`
}

// UpdateService is the body of PATCH /api/v1/services/{service}: each field present
// replaces the setting, an absent one leaves it unchanged.
type UpdateService struct {
	// ExpiresAt sets the expiry (in the future). To remove the expiry, set
	// RemoveExpiry: the field is then sent as JSON null.
	ExpiresAt    *time.Time `json:"-"`
	RemoveExpiry bool       `json:"-"`
	// AutoRemediate turns automatic remediation on or off.
	AutoRemediate *bool `json:"-"`
}

// MarshalJSON writes only the fields to change, and expires_at null for RemoveExpiry.
func (u UpdateService) MarshalJSON() ([]byte, error) {
	m := map[string]any{}
	switch {
	case u.RemoveExpiry:
		m["expires_at"] = nil
	case u.ExpiresAt != nil:
		m["expires_at"] = u.ExpiresAt
	}
	if u.AutoRemediate != nil {
		m["auto_remediate"] = *u.AutoRemediate
	}
	return json.Marshal(m)
}

// UnmarshalJSON reads what MarshalJSON writes: expires_at null sets RemoveExpiry.
func (u *UpdateService) UnmarshalJSON(b []byte) error {
	var m struct {
		ExpiresAt     json.RawMessage `json:"expires_at"`
		AutoRemediate *bool           `json:"auto_remediate"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*u = UpdateService{AutoRemediate: m.AutoRemediate}
	switch {
	case m.ExpiresAt == nil:
	case string(m.ExpiresAt) == "null":
		u.RemoveExpiry = true
	default:
		u.ExpiresAt = new(time.Time)
		return json.Unmarshal(m.ExpiresAt, u.ExpiresAt)
	}
	return nil
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
	AutoRemediate   bool              `json:"auto_remediate"`
	Inputs          map[string]any    `json:"inputs"`
	ETag            string            `json:"etag"`
	Status          ServiceStatus     `json:"status"`
}

// ServiceStatus is what a list of services shows at a glance.
type ServiceStatus struct {
	// Intent is the last successful operation: "applied", "destroyed" or "" (never).
	Intent engine.IntentKind `json:"intent"`
	// Drift is the last drift check's status (not_checked when none).
	Drift   engine.ServiceStatus `json:"drift"`
	DriftAt *time.Time           `json:"drift_checked_at,omitempty"`
	// Health is the last readiness result of a deployed service: healthy, unhealthy,
	// unknown or not_ready; empty when none was recorded (no readiness checks, or not
	// deployed). HealthMessage says what failed.
	Health        string     `json:"health,omitempty"`
	HealthMessage string     `json:"health_message,omitempty"`
	HealthAt      *time.Time `json:"health_checked_at,omitempty"`
	Busy          bool       `json:"busy"`
	LastJob       *JobRef    `json:"last_job,omitempty"`
	NeedsRecovery bool       `json:"needs_recovery,omitempty"`
	// RecoveryNote says what SpawnIt found when it marked the service (no secrets:
	// state lineages, serials, job ids).
	RecoveryNote string `json:"recovery_note,omitempty"`
	// Expired: the service's expiry has passed (SpawnIt destroys it, as a job).
	Expired bool `json:"expired,omitempty"`
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
	Kind    string               `json:"kind"` // job, drift, health, service
	Service string               `json:"service"`
	Job     *JobRef              `json:"job,omitempty"`
	Drift   engine.ServiceStatus `json:"drift,omitempty"`
	Health  string               `json:"health,omitempty"`
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
