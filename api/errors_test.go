package api

import (
	"context"
	"fmt"
	"testing"

	"github.com/spawnit/spawnit/api/authn"
	"github.com/spawnit/spawnit/catalog"
	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/pkg/apiv1"
	"github.com/spawnit/spawnit/pkg/platform"
	"github.com/spawnit/spawnit/pkg/store"
)

// TestHTTPErrorMessages pins what users read for each sentinel, and which sentinel
// answers when an error wraps several (the outermost one, as the packages wrap them).
func TestHTTPErrorMessages(t *testing.T) {
	cases := []struct {
		err    error
		status int
		code   string
		msg    string
	}{
		{catalog.ErrTemplateNotFound, 404, apiv1.CodeNotFound, "not found"},
		{platform.ErrBusy, 409, apiv1.CodeBusy, "the service has a job running or queued"},
		{platform.ErrResourcesExist, 409, apiv1.CodeResourcesExist, "the service is deployed: destroy it first, or delete it with ?destroy=true"},
		{platform.ErrIdempotencyMismatch, 409, apiv1.CodeConflict, "this Idempotency-Key was already used for another operation"},
		{platform.ErrAcceptDisabled, 409, apiv1.CodeAcceptDisabled, "the service's template does not allow accepting drift: remediate it instead"},
		{platform.ErrNotDeployed, 409, apiv1.CodeNotDeployed, "the service is not deployed"},
		{engine.ErrLocked, 409, apiv1.CodeLocked, "the service is locked by another job"},
		{engine.ErrNeedsRecovery, 409, apiv1.CodeNeedsRecovery, "the service needs recovery: tofu could not save its state"},
		{engine.ErrCoolOff, 409, apiv1.CodeCoolOff, "a forced cancel is allowed only after the cool-off following the first cancel"},
		{engine.ErrJobFinished, 409, apiv1.CodeJobFinished, "the job has already finished"},
		{engine.ErrClosed, 503, apiv1.CodeShuttingDown, "the server is shutting down"},
		{catalog.ErrConflict, 409, apiv1.CodeConflict, "the configuration was changed by someone else meanwhile: read it again"},
		{platform.ErrStale, 412, apiv1.CodePreconditionFailed, "If-Match is not the current ETag: read the service again"},
		{store.ErrPreconditionFailed, 409, apiv1.CodeConflict, "the object was changed by someone else meanwhile: retry"},
		{store.ErrUnavailable, 503, apiv1.CodeUnavailable, "storage is unavailable; retry later"},
		{authn.ErrUnauthenticated, 401, apiv1.CodeUnauthenticated, "authentication required"},
		{authn.ErrCSRF, 403, apiv1.CodeCSRF, "missing or invalid X-CSRF-Token"},
		// Input errors show their whole text.
		{fmt.Errorf("%w: job id %q", engine.ErrInvalidInput, "x"), 400, apiv1.CodeBadRequest, `outer: invalid input: job id "x"`},
		{&catalog.ValidationError{Fields: []catalog.FieldError{{Field: "a"}, {Field: "b"}}}, 400, apiv1.CodeValidation, "2 fields are invalid"},
		// Several sentinels in one chain: the first wrapped answers, as before.
		{fmt.Errorf("%w: %w", authn.ErrUnauthenticated, engine.ValidateID("A")), 401, apiv1.CodeUnauthenticated, "authentication required"},
		{fmt.Errorf("%w: kept errored.tfstate failed: %w", engine.ErrNeedsRecovery, store.ErrUnavailable), 409, apiv1.CodeNeedsRecovery, "the service needs recovery: tofu could not save its state"},
		{fmt.Errorf("x: %w", context.Canceled), 499, apiv1.CodeBadRequest, "request cancelled"},
		{fmt.Errorf("transition: %w", engine.ErrInvalidTransition), 500, apiv1.CodeInternal, "internal error"},
	}
	for _, c := range cases {
		e, _ := httpError(fmt.Errorf("outer: %w", c.err))
		if e.Status != c.status || e.Code != c.code || e.Message != c.msg {
			t.Errorf("%v → %d %s %q, want %d %s %q", c.err, e.Status, e.Code, e.Message, c.status, c.code, c.msg)
		}
	}
	e, _ := httpError(&catalog.ValidationError{Fields: []catalog.FieldError{{Field: "inputs.port", Code: "range", Reason: "too big"}}})
	if len(e.Fields) != 1 || e.Fields[0] != (apiv1.FieldError{Field: "inputs.port", Code: "range", Reason: "too big"}) || e.Message != "1 field is invalid" {
		t.Fatalf("validation fields: %+v", e)
	}
}
