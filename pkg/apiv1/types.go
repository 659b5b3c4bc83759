// Package apiv1 declares the JSON shapes of SpawnIt's HTTP API v1 (docs/api.md): the
// server (package api) encodes them and the Go client (package client) decodes them, so
// both sides share one definition. They are the API's own types, apart from the
// engine's records and the catalog's templates (package api converts, in one place), so
// either side can change without changing the other; the enums are the kernel's
// (package spawnit). It depends on the standard library and the kernel only.
package apiv1

import (
	"encoding/json"
	"time"

	"github.com/spawnit/spawnit"
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

// Stable error codes (docs/api.md): the kernel's error kinds (spawnit.Kind), each of
// which also fixes the HTTP status.
const (
	CodeValidation         = string(spawnit.KindValidation)
	CodeBadRequest         = string(spawnit.KindBadRequest)
	CodeUnauthenticated    = string(spawnit.KindUnauthenticated)
	CodeCSRF               = string(spawnit.KindCSRF)
	CodeNotFound           = string(spawnit.KindNotFound)
	CodeLocked             = string(spawnit.KindLocked)
	CodeConflict           = string(spawnit.KindConflict)
	CodeBusy               = string(spawnit.KindBusy)
	CodeResourcesExist     = string(spawnit.KindResourcesExist)
	CodeNeedsRecovery      = string(spawnit.KindNeedsRecovery)
	CodeCoolOff            = string(spawnit.KindCoolOff)
	CodeJobFinished        = string(spawnit.KindJobFinished)
	CodePreconditionFailed = string(spawnit.KindPreconditionFailed)
	CodeTooLarge           = string(spawnit.KindTooLarge)
	CodeUnsupportedMedia   = string(spawnit.KindUnsupportedMedia)
	CodePreconditionNeeded = string(spawnit.KindPreconditionRequired)
	CodeUnavailable        = string(spawnit.KindUnavailable)
	CodeShuttingDown       = string(spawnit.KindShuttingDown)
	CodeAcceptDisabled     = string(spawnit.KindAcceptDisabled)
	CodeNotDeployed        = string(spawnit.KindNotDeployed)
	CodeInternal           = string(spawnit.KindInternal)
	CodeForbidden          = string(spawnit.KindForbidden)
	CodeQuotaExceeded      = string(spawnit.KindQuotaExceeded)
	CodeTooManyJobs        = string(spawnit.KindTooManyJobs)
)

// Me describes the caller.
type Me struct {
	Subject    string `json:"subject"`
	Tenant     string `json:"tenant"`
	Name       string `json:"name,omitempty"`
	Email      string `json:"email,omitempty"`
	SingleUser bool   `json:"single_user"`
	CSRFToken  string `json:"csrf_token,omitempty"`
	// Role is what the caller may do: viewer, deployer or operator.
	Role string `json:"role"`
	// HomeTenant is the caller's own tenant when an operator addresses Tenant with
	// ?tenant= (support).
	HomeTenant string `json:"home_tenant,omitempty"`
}

// Template is a catalog entry: what the user sees (metadata and a typed form), the
// readiness checks an apply waits for, and the targets it can deploy to on this server.
type Template struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	Category    string `json:"category"`
	Icon        string `json:"icon,omitempty"`
	Version     string `json:"version"`
	// ReleaseNotes say what changed in this version.
	ReleaseNotes string  `json:"release_notes,omitempty"`
	Inputs       []Input `json:"inputs"`
	// Readiness lists what an apply waits for before it succeeds.
	Readiness []ReadinessCheck `json:"readiness,omitempty"`
	// AcceptDrift says whether users may accept drift instead of remediating it; nil
	// means true.
	AcceptDrift *bool `json:"accept_drift,omitempty"`
	// Targets are the targets this server enables that the template has a module for.
	Targets []string `json:"targets"`
	// Providers is the older name of Targets, sent alongside for older clients.
	Providers []string `json:"providers"`
}

// Field returns the input named name.
func (t *Template) Field(name string) (*Input, bool) {
	for i := range t.Inputs {
		if t.Inputs[i].Name == name {
			return &t.Inputs[i], true
		}
	}
	return nil, false
}

// AcceptsDrift reports whether drift may be accepted (AcceptDrift, default true).
func (t *Template) AcceptsDrift() bool { return t.AcceptDrift == nil || *t.AcceptDrift }

// HasTarget reports whether the template can deploy to target on this server (from
// Providers when Targets is empty: a server older than the field).
func (t *Template) HasTarget(target string) bool {
	if len(t.Targets) == 0 {
		return t.HasProvider(target)
	}
	for _, p := range t.Targets {
		if p == target {
			return true
		}
	}
	return false
}

// HasProvider reports whether Providers, the older name of Targets, holds target.
func (t *Template) HasProvider(target string) bool {
	for _, p := range t.Providers {
		if p == target {
			return true
		}
	}
	return false
}

// InputType is the kind of value an input takes.
type InputType string

// Input types.
const (
	InputString  InputType = "string"
	InputNumber  InputType = "number"
	InputInteger InputType = "integer"
	InputBoolean InputType = "boolean"
	InputEnum    InputType = "enum"   // one of Input.Enum
	InputPort    InputType = "port"   // integer 1-65535
	InputSecret  InputType = "secret" // string, always sensitive, may be generated
)

// Input is one field of a template's form.
type Input struct {
	Name     string    `json:"name"`
	Label    string    `json:"label"`
	Help     string    `json:"help,omitempty"`
	Type     InputType `json:"type"`
	Required bool      `json:"required,omitempty"`
	// Default applies when the user gives no value.
	Default any `json:"default,omitempty"`
	// Pattern is a regular expression the whole value must match (string and secret).
	Pattern string `json:"pattern,omitempty"`
	// Min and Max bound numbers, and the length in characters of strings and secrets.
	Min       *float64 `json:"min,omitempty"`
	Max       *float64 `json:"max,omitempty"`
	Enum      []string `json:"enum,omitempty"`
	Sensitive bool     `json:"sensitive,omitempty"`
	// Generate (secrets only): the server creates a random value when left empty.
	Generate *Generate `json:"generate,omitempty"`
}

// IsSensitive reports whether values of the input are masked.
func (in *Input) IsSensitive() bool { return in.Sensitive || in.Type == InputSecret }

// Generate asks the server to create a random value for a secret left empty.
type Generate struct {
	// Length in characters (letters and digits); 0 means the server's default.
	Length int `json:"length,omitempty"`
}

// ReadinessCheck is one condition an apply waits for before it succeeds.
type ReadinessCheck struct {
	Type    string `json:"type"` // http, tcp, docker_health
	Output  string `json:"output,omitempty"`
	Path    string `json:"path,omitempty"`
	Status  int    `json:"status,omitempty"`
	Timeout string `json:"timeout,omitempty"`
}

// TemplateList is GET /api/v1/catalog.
type TemplateList struct {
	Templates []Template `json:"templates"`
}

// CreateService is the body of POST /api/v1/services.
type CreateService struct {
	Template  string            `json:"template"`
	Target    string            `json:"target,omitempty"`   // where it runs; the server's default when empty
	Provider  string            `json:"provider,omitempty"` // Target's older name; when both are set they must be equal
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
	Target          string            `json:"target"`
	Provider        string            `json:"provider"` // Target's older name, the same value
	Labels          map[string]string `json:"labels,omitempty"`
	CreatedAt       time.Time         `json:"created_at"`
	UpdatedAt       time.Time         `json:"updated_at"`
	ExpiresAt       *time.Time        `json:"expires_at,omitempty"`
	AutoRemediate   bool              `json:"auto_remediate"`
	Inputs          map[string]any    `json:"inputs"`
	ETag            string            `json:"etag"`
	Status          ServiceStatus     `json:"status"`
	// Upgrade offers a newer version of the template than the one the service is
	// pinned to (TemplateVersion); absent when it runs the latest.
	Upgrade *UpgradeOffer `json:"upgrade,omitempty"`
}

// UpgradeOffer: "upgrade available From → To", with To's release notes.
type UpgradeOffer struct {
	From         string `json:"from"`
	To           string `json:"to"`
	ReleaseNotes string `json:"release_notes,omitempty"`
}

// TemplateVersion is one published version of a template.
type TemplateVersion struct {
	Version      string    `json:"version"`
	ReleaseNotes string    `json:"release_notes,omitempty"`
	PublishedAt  time.Time `json:"published_at"`
	PublishedBy  string    `json:"published_by,omitempty"`
	Digest       string    `json:"digest"`
	// Retired versions are not offered; services pinned to one keep running it.
	Retired bool `json:"retired,omitempty"`
	// Latest is the version new services get and upgrades go to by default.
	Latest bool `json:"latest,omitempty"`
}

// TemplateVersionList is GET /catalog/{template}/versions, lowest version first.
type TemplateVersionList struct {
	Template string            `json:"template"`
	Versions []TemplateVersion `json:"versions"`
}

// UpgradeRequest is the body of POST /services/{id}/upgrade and .../upgrade/plan.
type UpgradeRequest struct {
	// Version to move to; the template's latest when empty. A lower one is a downgrade.
	Version string `json:"version,omitempty"`
	// Inputs set values for the new version (an input it added, say); the others are
	// carried over, new ones get their defaults.
	Inputs map[string]any `json:"inputs,omitempty"`
}

// Upgrade is a service's move to another version of its template: what it does to the
// inputs, and the job planning or applying it.
type Upgrade struct {
	Tenant        string   `json:"tenant,omitempty"`
	Service       string   `json:"service"`
	From          string   `json:"from"`
	To            string   `json:"to"`
	ReleaseNotes  string   `json:"release_notes,omitempty"`
	AddedInputs   []string `json:"added_inputs"`
	RemovedInputs []string `json:"removed_inputs"`
	Job           *Job     `json:"job,omitempty"`
	// Error says why this service (of a bulk upgrade) was not planned or moved.
	Error *ErrorBody `json:"error,omitempty"`
}

// BulkUpgradeRequest is the body of POST /catalog/{template}/upgrade.
type BulkUpgradeRequest struct {
	To     string `json:"to,omitempty"`
	From   string `json:"from,omitempty"`
	DryRun bool   `json:"dry_run,omitempty"`
}

// BulkUpgrade lists what a bulk upgrade planned (dry run) or started.
type BulkUpgrade struct {
	Template string    `json:"template"`
	To       string    `json:"to"`
	DryRun   bool      `json:"dry_run"`
	Services []Upgrade `json:"services"`
}

// ServiceStatus is what a list of services shows at a glance.
type ServiceStatus struct {
	// Intent is the last successful operation: "applied", "destroyed" or "" (never).
	Intent spawnit.IntentKind `json:"intent"`
	// Drift is the last drift check's status (not_checked when none).
	Drift   spawnit.DriftStatus `json:"drift"`
	DriftAt *time.Time          `json:"drift_checked_at,omitempty"`
	// DriftUnconfirmed: Drift comes from a Docker event (an object of the service
	// removed, its container stopped) that no drift check has confirmed yet; the check
	// it called for follows. DriftSignal says what the event said.
	DriftUnconfirmed bool   `json:"drift_unconfirmed,omitempty"`
	DriftSignal      string `json:"drift_signal,omitempty"`
	// Health is the last health result of a deployed service (its readiness checks, run
	// after the apply and again by the supervisor): healthy, unhealthy, unknown or
	// not_ready; empty when none was recorded (no readiness checks, or not deployed).
	// HealthMessage says what failed.
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
	// Leftovers are objects of the service's target carrying its labels that its
	// state does not record (left by a cancelled create) and that SpawnIt could not
	// remove yet; the next apply or destroy tries again.
	Leftovers []Leftover `json:"leftovers,omitempty"`
	// Stopped: a user stopped the service's containers (Docker target); it is not
	// drift, and nothing remediates it. StoppedAt is when. Start, restart or apply
	// runs it again.
	Stopped   bool       `json:"stopped,omitempty"`
	StoppedAt *time.Time `json:"stopped_at,omitempty"`
}

// LogLine is one line of a service container's log.
type LogLine struct {
	Container string `json:"container"`
	Stream    string `json:"stream"` // stdout or stderr
	Text      string `json:"text"`
}

// LogEnd is the data of a log stream's "end" event: the containers stopped writing
// (stopped, or removed). Error says why the log could not be read further.
type LogEnd struct {
	Error string `json:"error,omitempty"`
}

// LogList is the last lines of a service's container logs.
type LogList struct {
	Lines []LogLine `json:"lines"`
}

// Leftover is an object of a service's target (a Docker container, volume or network)
// carrying the service's labels but not recorded in its state.
type Leftover struct {
	Kind string `json:"kind"` // container, volume, network
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	// Removed: SpawnIt removed it. Otherwise Reason says why it is still there.
	Removed bool   `json:"removed,omitempty"`
	Reason  string `json:"reason,omitempty"`
}

// JobRef points at a job.
type JobRef struct {
	ID        string            `json:"id"`
	Operation spawnit.Operation `json:"operation"`
	State     spawnit.JobState  `json:"state"`
}

// ServiceList is GET /api/v1/services.
type ServiceList struct {
	Services []Service `json:"services"`
	// NextCursor asks for the next page (?cursor=); absent on the last page.
	NextCursor string `json:"next_cursor,omitempty"`
}

// Job is a job as the API shows it (sensitive output values are empty unless
// ?reveal=true).
type Job struct {
	ID        string             `json:"id"`
	Operation spawnit.Operation  `json:"operation"`
	Service   spawnit.ServiceRef `json:"service"`
	State     spawnit.JobState   `json:"state"`
	CreatedAt time.Time          `json:"created_at"`
	StartedAt *time.Time         `json:"started_at,omitempty"`
	EndedAt   *time.Time         `json:"ended_at,omitempty"`
	// CancelRequestedAt is set by the first cancel; a forced cancel is allowed a
	// cool-off later.
	CancelRequestedAt *time.Time `json:"cancel_requested_at,omitempty"`
	Error             string     `json:"error,omitempty"`
	// Background: a supervisor's check, not part of the service's job history.
	Background bool `json:"background,omitempty"`
	// Host and PID are the process that ran (or runs) the job.
	Host string `json:"host"`
	PID  int    `json:"pid"`

	Changes *ChangeSummary    `json:"changes,omitempty"`
	Plan    *PlanSummary      `json:"plan,omitempty"`
	Outputs map[string]Output `json:"outputs,omitempty"`
	Drift   *Drift            `json:"drift,omitempty"`
	// Leftovers are the objects outside the service's state that the job found
	// (after a cancelled or failed apply, around a destroy), removed or not.
	Leftovers []Leftover `json:"leftovers,omitempty"`
	// LastSeq is the sequence number of the job's last event.
	LastSeq int64 `json:"last_seq"`
}

// Duration is how long the job ran (so far).
func (j Job) Duration() time.Duration {
	if j.StartedAt == nil {
		return 0
	}
	end := time.Now()
	if j.EndedAt != nil {
		end = *j.EndedAt
	}
	return end.Sub(*j.StartedAt)
}

// ChangeSummary counts a plan's or an apply's changes.
type ChangeSummary struct {
	Add       int    `json:"add"`
	Change    int    `json:"change"`
	Remove    int    `json:"remove"`
	Import    int    `json:"import"`
	Operation string `json:"operation,omitempty"` // plan, apply, destroy
	// Failed counts the changes that failed and NotReached those never tried because
	// tofu stopped first: a failed apply's counts say what happened, not what was
	// planned.
	Failed     int `json:"failed,omitempty"`
	NotReached int `json:"not_reached,omitempty"`
}

// PlanSummary is the readable part of a saved plan.
type PlanSummary struct {
	HasChanges bool              `json:"has_changes"`
	Add        int               `json:"add"`
	Change     int               `json:"change"`
	Destroy    int               `json:"destroy"`
	Resources  []PlannedResource `json:"resources"`
	Drift      []PlannedResource `json:"drift,omitempty"`
}

// PlannedResource is one entry of a plan summary.
type PlannedResource struct {
	Address string `json:"address"`
	Type    string `json:"type"`
	Action  string `json:"action"` // create, update, delete, replace, read, no-op
}

// Output is one module output. Value is empty for sensitive outputs unless revealed.
type Output struct {
	Sensitive bool            `json:"sensitive"`
	Type      json.RawMessage `json:"type,omitempty"`
	Value     json.RawMessage `json:"value,omitempty"`
}

// JobList is GET /api/v1/services/{service}/jobs.
type JobList struct {
	Jobs []Job `json:"jobs"`
	// NextCursor asks for the next page (?cursor=); absent on the last page.
	NextCursor string `json:"next_cursor,omitempty"`
}

// Cancel is the body of POST .../jobs/{job}/cancel.
type Cancel struct {
	Force bool `json:"force"`
}

// Event is one numbered job event. On the wire it is the data of an SSE event whose id
// is Seq and whose event name is Type; a job stream ends with an "end" event. Seq
// starts at 1 and has no gaps.
type Event struct {
	Seq     int64             `json:"seq"`
	Time    time.Time         `json:"time"`
	Type    spawnit.EventType `json:"type"`
	Level   string            `json:"level,omitempty"` // info, warn, error
	Message string            `json:"message,omitempty"`

	State      spawnit.JobState  `json:"state,omitempty"`
	Resource   *ResourceEvent    `json:"resource,omitempty"`
	Summary    *ChangeSummary    `json:"summary,omitempty"`
	Diagnostic *Diagnostic       `json:"diagnostic,omitempty"`
	Outputs    map[string]Output `json:"outputs,omitempty"`
	// Leftovers is set for the type "leftovers": what SpawnIt found outside the state.
	Leftovers []Leftover `json:"leftovers,omitempty"`
	// Raw is set for the type "other": tofu's message type, for forward compatibility.
	Raw string `json:"raw_type,omitempty"`
}

// ResourceEvent describes the resource a planned change, drift or apply step is about.
type ResourceEvent struct {
	Address string  `json:"address"`
	Type    string  `json:"type,omitempty"`
	Name    string  `json:"name,omitempty"`
	Action  string  `json:"action,omitempty"` // create, update, delete, replace, read, noop
	Reason  string  `json:"reason,omitempty"`
	IDKey   string  `json:"id_key,omitempty"`
	IDValue string  `json:"id_value,omitempty"`
	Elapsed float64 `json:"elapsed_seconds,omitempty"`
}

// Diagnostic is a warning or error reported by tofu.
type Diagnostic struct {
	Severity string `json:"severity"`
	Summary  string `json:"summary"`
	Detail   string `json:"detail,omitempty"`
	Address  string `json:"address,omitempty"`
}

// Drift is GET /api/v1/services/{service}/drift: the result of a drift check.
type Drift struct {
	Status    spawnit.DriftStatus `json:"status"`
	Intent    spawnit.IntentKind  `json:"intent"`
	Resources []ResourceDrift     `json:"resources"`
	CheckedAt time.Time           `json:"checked_at"`
	Duration  time.Duration       `json:"duration_ns"`
	Error     string              `json:"error,omitempty"`
}

// ResourceDrift is one resource's drift.
type ResourceDrift struct {
	Address string                 `json:"address"`
	Type    string                 `json:"type"`
	Status  spawnit.ResourceStatus `json:"status"`
	// Paths lists the changed attributes of a modified resource, e.g. "ports[0].external".
	Paths []string `json:"paths,omitempty"`
	// Planned is what applying the stored configuration would do to it (create, update,
	// delete, replace), when anything.
	Planned string `json:"planned,omitempty"`
	// Leftover is set on an object of the target carrying the service's labels that no
	// state records (status unexpected): left by a destroy that did not finish, or made
	// outside SpawnIt.
	Leftover *Leftover `json:"leftover,omitempty"`
}

// StatusEvent is the data of an event on the tenant stream GET /api/v1/events.
type StatusEvent struct {
	Kind    string              `json:"kind"` // job, drift, health, service
	Service string              `json:"service"`
	Job     *JobRef             `json:"job,omitempty"`
	Drift   spawnit.DriftStatus `json:"drift,omitempty"`
	Health  string              `json:"health,omitempty"`
	Message string              `json:"message,omitempty"`
	Time    time.Time           `json:"time"`
	// Unconfirmed marks a drift event that comes from a Docker event (Message says
	// what it said) before the drift check it called for; that check's drift event
	// follows, confirming or correcting it.
	Unconfirmed bool `json:"unconfirmed,omitempty"`
}

// SSE event names that are not event types (spawnit.EventType).
const (
	SSEEnd    = "end"    // a job stream is complete
	SSEStatus = "status" // tenant stream entry
	SSELog    = "log"    // a line of a service's container log (LogLine)
)

// EventList is GET .../jobs/{job}/events with Accept: application/json: the events
// recorded so far (after ?after=N or Last-Event-ID).
type EventList struct {
	Events []Event `json:"events"`
}

// Quota is a tenant's limits, or its usage of them: services configured, services
// deployed and jobs not yet ended (queued or running). A limit of 0 is no limit.
type Quota struct {
	Services    int `json:"services"`
	Deployed    int `json:"deployed"`
	RunningJobs int `json:"running_jobs"`
}

// QuotaOverride is a tenant's own limits, set by an operator: an absent field keeps the
// server's default; 0 is no limit.
type QuotaOverride struct {
	Services    *int `json:"services,omitempty"`
	Deployed    *int `json:"deployed,omitempty"`
	RunningJobs *int `json:"running_jobs,omitempty"`
}

// QuotaUsage is a tenant's quota (GET /api/v1/quota): the limits that apply (its
// override over the server's defaults) and what it uses of them, counted in the store
// (every replica's jobs included).
type QuotaUsage struct {
	Tenant   string        `json:"tenant"`
	Limits   Quota         `json:"limits"`
	Usage    Quota         `json:"usage"`
	Defaults Quota         `json:"defaults"`
	Override QuotaOverride `json:"override"`
}

// TenantSummary is one tenant in GET /api/v1/tenants (operators only).
type TenantSummary struct {
	Tenant   string `json:"tenant"`
	Services int    `json:"services"`
}

// TenantList is GET /api/v1/tenants: every tenant that has services, by id.
type TenantList struct {
	Tenants []TenantSummary `json:"tenants"`
}
