package api

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/spawnit/spawnit/api/authn"
	"github.com/spawnit/spawnit/catalog"
	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/pkg/apiv1"
	"github.com/spawnit/spawnit/pkg/platform"
	"github.com/spawnit/spawnit/pkg/store"
)

// TestHTTPError pins the one mapping of domain errors to statuses and codes, wrapped as
// the packages wrap them.
func TestHTTPError(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("outer: %w", fmt.Errorf("inner: %w", err)) }
	cases := []struct {
		err      error
		status   int
		code     string
		internal bool
	}{
		{wrap(catalog.ErrServiceNotFound), 404, apiv1.CodeNotFound, false},
		{wrap(engine.ErrNotFound), 404, apiv1.CodeNotFound, false},
		{wrap(&catalog.ValidationError{Fields: []catalog.FieldError{{Field: "inputs.port", Code: "range", Reason: "r"}}}), 400, apiv1.CodeValidation, false},
		{wrap(engine.ErrInvalidInput), 400, apiv1.CodeBadRequest, false},
		{wrap(engine.ErrLocked), 409, apiv1.CodeLocked, false},
		{wrap(engine.ErrNeedsRecovery), 409, apiv1.CodeNeedsRecovery, false},
		{wrap(engine.ErrCoolOff), 409, apiv1.CodeCoolOff, false},
		{wrap(engine.ErrJobFinished), 409, apiv1.CodeJobFinished, false},
		{wrap(engine.ErrClosed), 503, apiv1.CodeShuttingDown, false},
		{wrap(platform.ErrBusy), 409, apiv1.CodeBusy, false},
		{wrap(platform.ErrResourcesExist), 409, apiv1.CodeResourcesExist, false},
		{wrap(platform.ErrIdempotencyMismatch), 409, apiv1.CodeConflict, false},
		{wrap(platform.ErrAcceptDisabled), 409, apiv1.CodeAcceptDisabled, false},
		{wrap(platform.ErrNotDeployed), 409, apiv1.CodeNotDeployed, false},
		{wrap(catalog.ErrConflict), 409, apiv1.CodeConflict, false},
		{wrap(platform.ErrStale), 412, apiv1.CodePreconditionFailed, false},
		{wrap(store.ErrPreconditionFailed), 409, apiv1.CodeConflict, false},
		{wrap(store.ErrUnavailable), 503, apiv1.CodeUnavailable, true},
		{wrap(authn.ErrUnauthenticated), 401, apiv1.CodeUnauthenticated, false},
		{wrap(authn.ErrCSRF), 403, apiv1.CodeCSRF, false},
		{echo.ErrNotFound, 404, apiv1.CodeNotFound, false},
		{echo.ErrMethodNotAllowed, 405, apiv1.CodeBadRequest, false},
		{errors.New("disk on fire"), 500, apiv1.CodeInternal, true},
		{wrap(catalog.ErrInvalidTemplate), 500, apiv1.CodeInternal, true},
	}
	for _, c := range cases {
		e, internal := httpError(c.err)
		if e.Status != c.status || e.Code != c.code || internal != c.internal {
			t.Errorf("%v → %d %s internal=%v, want %d %s internal=%v", c.err, e.Status, e.Code, internal, c.status, c.code, c.internal)
		}
	}
	// An internal error's message is never shown.
	if e, _ := httpError(errors.New("password=hunter2")); e.Message != "internal error" {
		t.Fatalf("internal message shown: %q", e.Message)
	}
}

func TestSingleUser(t *testing.T) {
	u := NewSingleUser()
	for host, ok := range map[string]bool{
		"127.0.0.1:8080": true, "localhost:8080": true, "[::1]:8080": true, "127.0.0.1": true, "LOCALHOST": true,
		"evil.example:8080": false, "10.0.0.1:8080": false, "127.0.0.1.evil.example": false, "": false,
	} {
		r := httptest.NewRequest("GET", "/api/v1/me", nil)
		r.Host = host
		p, err := u.Authenticate(r)
		if (err == nil) != ok {
			t.Errorf("host %q: err %v", host, err)
		}
		if ok && (p.Tenant != SingleUserTenant || p.Subject != SingleUserTenant) {
			t.Errorf("principal %+v", p)
		}
		if !ok && !errors.Is(err, authn.ErrUnauthenticated) {
			t.Errorf("host %q: %v does not wrap ErrUnauthenticated", host, err)
		}
	}
	cross := httptest.NewRequest("POST", "http://127.0.0.1:8080/api/v1/services/x/apply", nil)
	cross.Header.Set("Sec-Fetch-Site", "cross-site")
	if err := u.CheckCSRF(cross); !errors.Is(err, authn.ErrCSRF) {
		t.Fatalf("cross-site POST: %v", err)
	}
	same := httptest.NewRequest("POST", "http://127.0.0.1:8080/api/v1/services/x/apply", nil)
	same.Header.Set("Sec-Fetch-Site", "same-origin")
	if err := u.CheckCSRF(same); err != nil {
		t.Fatalf("same-origin POST: %v", err)
	}
	cli := httptest.NewRequest("POST", "http://127.0.0.1:8080/api/v1/services/x/apply", nil) // no browser headers
	if err := u.CheckCSRF(cli); err != nil {
		t.Fatalf("non-browser POST: %v", err)
	}
	if u.CSRFToken(cli) != "" {
		t.Fatal("single-user mode has no CSRF token")
	}
}

// TestReadinessCache: the server's readiness checks run once per TTL, however often /readyz is polled.
func TestReadinessCache(t *testing.T) {
	n := 0
	rd := &serverReadiness{ttl: 1 << 62, checks: []ReadyCheck{{Name: "x", Check: func(context.Context) error { n++; return nil }}}}
	for range 5 {
		rd.run(context.Background())
	}
	if n != 1 {
		t.Fatalf("check ran %d times", n)
	}
}
