package platform

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"time"

	"github.com/spawnit/spawnit"
	"github.com/spawnit/spawnit/catalog"
	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/pkg/store"
	"github.com/spawnit/spawnit/pkg/storekey"
)

// AuditPrefix is where audit entries live: audit/<yyyy-mm-dd>/<timestamp>-<random>.json,
// one object per entry, never rewritten (storekey.Audit).
const AuditPrefix = storekey.AuditPrefix

// Audit actions.
const (
	ActionServiceCreate = "service.create"
	ActionServiceUpdate = "service.update"
	// ActionServiceSettings: expiry or auto-remediation changed (PATCH).
	ActionServiceSettings = "service.update_settings"
	ActionServiceRecover  = "service.recover"
	ActionServiceDelete   = "service.delete"
	ActionJobSubmit       = "job.submit"
	ActionJobCancel       = "job.cancel"
	ActionOutputsReveal   = "job.reveal_outputs"
	ActionServiceDeleted  = "service.deleted" // the configuration removed after a destroy job
	// ActionAccessDenied: a request refused because of the caller's role (403 forbidden).
	ActionAccessDenied = "access.denied"
	// ActionTenantAccess: an operator addressed another tenant's services (support).
	ActionTenantAccess = "tenant.access"
	// ActionQuotaSet: an operator set (or removed) a tenant's own quota.
	ActionQuotaSet = "quota.set"
)

// Why a job was submitted, when it is more than the operation says (AuditEntry.Reason).
const (
	ReasonRemediate     = "remediate"      // a user's request to undo drift (an apply)
	ReasonAutoRemediate = "auto_remediate" // SpawnIt undoing drift on its own (an apply)
	ReasonExpired       = "expired"        // SpawnIt destroying a service whose expiry passed
)

// Audit results.
const (
	ResultOK       = "ok"
	ResultAccepted = "accepted" // a job was created; its own record tells how it ended
	ResultFailed   = "failed"
)

// AuditEntry records one state-changing action. It holds identifiers and outcomes
// only: never input values, outputs or error messages (which may quote a value).
type AuditEntry struct {
	Time      time.Time        `json:"time"`
	Tenant    string           `json:"tenant"`
	Subject   string           `json:"subject"`
	RequestID string           `json:"request_id,omitempty"`
	Action    string           `json:"action"`
	Service   string           `json:"service,omitempty"`
	Job       string           `json:"job,omitempty"`
	Operation engine.Operation `json:"operation,omitempty"`
	Template  string           `json:"template,omitempty"`
	// Reason says why a job was submitted, when it is more than its operation (one of
	// the Reason* constants).
	Reason string `json:"reason,omitempty"`
	// Settings names the settings a service.update_settings changed.
	Settings []string `json:"settings,omitempty"`
	// Inputs names the input fields a create or update sent (names, not values).
	Inputs []string `json:"inputs,omitempty"`
	Result string   `json:"result"`
	// Error is the error's kind (see ErrorKind), when the action failed.
	Error string `json:"error,omitempty"`
	// ActorTenant is the caller's own tenant when an operator acted on Tenant's
	// services for support (Actor.HomeTenant).
	ActorTenant string `json:"actor_tenant,omitempty"`
	// Route is the API route of an access decision, "METHOD /api/v1/pattern".
	Route string `json:"route,omitempty"`
	// Role is the caller's role and RequiredRole the one the request needed, in an
	// access.denied entry.
	Role         string `json:"role,omitempty"`
	RequiredRole string `json:"required_role,omitempty"`
	// AddressedTenant is the other tenant a refused request tried to reach.
	AddressedTenant string `json:"addressed_tenant,omitempty"`
}

// AuditAccess records an access decision of the API (ActionAccessDenied,
// ActionTenantAccess); e.Result is kept when set ("failed" for a denial).
func (p *Platform) AuditAccess(ctx context.Context, a Actor, e AuditEntry) {
	p.audit(ctx, a, e, nil)
}

// audit appends an entry. A failure to write it is logged, not returned: the action it
// describes has already happened and cannot be undone because its record failed.
func (p *Platform) audit(ctx context.Context, a Actor, e AuditEntry, err error) {
	e.Time = p.now()
	e.Tenant, e.Subject, e.RequestID, e.ActorTenant = a.Tenant, a.Subject, a.RequestID, a.HomeTenant
	if spawnit.ValidateID(e.Service) != nil {
		e.Service = "" // never echo a hostile id into the log
	}
	if e.Result == "" {
		e.Result = ResultOK
	}
	if err != nil {
		e.Result, e.Error = ResultFailed, ErrorKind(err)
	}
	b, merr := json.Marshal(e)
	if merr != nil {
		p.log.Error("platform: encode audit entry", "err", merr)
		return
	}
	// The entry is written even when the request that caused it was cancelled.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	key := auditKey(e.Time)
	if _, werr := p.st.Put(ctx, key, b, store.PutOptions{IfNoneMatch: true, ContentType: "application/json"}); werr != nil {
		p.log.Error("platform: could not write audit entry", "action", e.Action, "tenant", e.Tenant, "err", werr)
	}
}

func auditKey(t time.Time) string {
	var r [6]byte
	_, _ = rand.Read(r[:])
	return storekey.Audit(t, hex.EncodeToString(r[:]))
}

// ErrorKind names an error's class in a stable word, for audit entries and logs where
// the message itself could carry user data.
func ErrorKind(err error) string {
	var ve *catalog.ValidationError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &ve), errors.Is(err, engine.ErrInvalidInput):
		return "invalid_input"
	case errors.Is(err, engine.ErrNotFound):
		return "not_found"
	case errors.Is(err, ErrBusy):
		return "busy"
	case errors.Is(err, ErrResourcesExist):
		return "resources_exist"
	case errors.Is(err, ErrIdempotencyMismatch):
		return "idempotency_mismatch"
	case errors.Is(err, ErrAcceptDisabled):
		return "accept_disabled"
	case errors.Is(err, ErrStopped):
		return "stopped"
	case errors.Is(err, ErrNoContainers):
		return "invalid_input"
	case errors.Is(err, ErrNotDeployed):
		return "not_deployed"
	case errors.Is(err, ErrNotDue):
		return "not_due"
	case errors.Is(err, ErrQuotaServices), errors.Is(err, ErrQuotaDeployed):
		return "quota_exceeded"
	case errors.Is(err, ErrQuotaJobs):
		return "too_many_jobs"
	case errors.Is(err, engine.ErrLocked):
		return "locked"
	case errors.Is(err, engine.ErrNeedsRecovery):
		return "needs_recovery"
	case errors.Is(err, engine.ErrCoolOff):
		return "cool_off"
	case errors.Is(err, engine.ErrJobFinished):
		return "job_finished"
	case errors.Is(err, engine.ErrClosed):
		return "shutting_down"
	case errors.Is(err, store.ErrPreconditionFailed):
		return "conflict"
	case errors.Is(err, store.ErrUnavailable):
		return "unavailable"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "cancelled"
	}
	return "internal"
}
