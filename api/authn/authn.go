// Package authn declares who a request comes from and how that is verified. It is the
// contract between the HTTP layer (package api), which consumes an Authenticator, and
// the implementations (api.SingleUser; the OIDC one in package api/auth), which must not
// import api: a type defined here is the same type for both sides.
package authn

import (
	"fmt"
	"net/http"

	"github.com/spawnit/spawnit"
)

// ErrUnauthenticated: the request carries no credentials, or credentials that do not
// verify. The API answers 401 unauthenticated, whatever the wrapped reason.
var ErrUnauthenticated error = spawnit.NewError(spawnit.KindUnauthenticated, "unauthenticated",
	"authentication required")

// ErrCSRF: a cookie-authenticated state-changing request lacks a valid X-CSRF-Token.
// The API answers 403 csrf_failed.
var ErrCSRF error = spawnit.NewError(spawnit.KindCSRF, "missing or invalid CSRF token",
	"missing or invalid X-CSRF-Token")

// ErrForbidden: the caller is authenticated but its role does not allow the request.
// The API answers 403 forbidden and audits the denial. Wrappers' text (which role the
// request needs, which the caller has) is shown as it is.
var ErrForbidden error = spawnit.NewError(spawnit.KindForbidden, "forbidden", "")

// Role is what a caller may do. Each role may do everything the ones before it may.
type Role string

// Roles, weakest first.
const (
	// RoleViewer reads its tenant's services, jobs, drift and the catalog.
	RoleViewer Role = "viewer"
	// RoleDeployer also creates, changes and deletes its tenant's services and runs
	// and cancels their jobs.
	RoleDeployer Role = "deployer"
	// RoleOperator also publishes templates, runs bulk operations and addresses every
	// tenant's services (support), each such access audited.
	RoleOperator Role = "operator"
)

// Roles lists every role, weakest first.
func Roles() []Role { return []Role{RoleViewer, RoleDeployer, RoleOperator} }

func (r Role) rank() int {
	switch r {
	case RoleViewer:
		return 1
	case RoleDeployer:
		return 2
	case RoleOperator:
		return 3
	}
	return 0 // unknown or empty: allowed nothing
}

// Allows reports whether a caller of role r may do what needs role need. An unknown or
// empty role allows nothing.
func (r Role) Allows(need Role) bool { return r.rank() > 0 && r.rank() >= need.rank() }

// ParseRole returns the role named s (viewer, deployer or operator).
func ParseRole(s string) (Role, error) {
	r := Role(s)
	if r.rank() == 0 {
		return "", fmt.Errorf("unknown role %q (want viewer, deployer or operator)", s)
	}
	return r, nil
}

// Principal is the verified caller.
type Principal struct {
	Subject string
	// Tenant is the tenant id every object of the request is scoped to. It passes
	// spawnit.ValidateID; an Authenticator must never return one that does not.
	Tenant string
	Name   string
	Email  string
	// Role is what the caller may do; an Authenticator always sets it (the zero Role
	// allows nothing).
	Role Role
	// HomeTenant is the caller's own tenant when an operator addresses another one
	// (Tenant is then the one addressed); empty otherwise.
	HomeTenant string
}

// DeniedError is a request refused for the caller's role. It is a case of ErrForbidden
// (errors.Is), and its text, shown by the API, says which role the request needs.
type DeniedError struct {
	Need Role // the role the request needs
	Have Role // the caller's
}

func (e *DeniedError) Error() string {
	have := string(e.Have)
	if have == "" {
		have = "none"
	}
	return fmt.Sprintf("forbidden: this needs the %s role (yours: %s)", e.Need, have)
}

// Unwrap makes errors.Is(err, ErrForbidden) true.
func (e *DeniedError) Unwrap() error { return ErrForbidden }

// Deny returns the *DeniedError saying that the request needs role need.
func (p Principal) Deny(need Role) error { return &DeniedError{Need: need, Have: p.Role} }

// Require returns nil when p's role allows what needs role need, else p.Deny(need).
func (p Principal) Require(need Role) error {
	if p.Role.Allows(need) {
		return nil
	}
	return p.Deny(need)
}

// Authenticator verifies a request's credentials (bearer token or session cookie).
type Authenticator interface {
	// Authenticate returns the verified caller; an error (wrapping ErrUnauthenticated,
	// ideally) means 401 unauthenticated, except an error of kind unavailable (the
	// store keeping sessions did not answer), which means 503.
	Authenticate(r *http.Request) (Principal, error)
	// CSRFToken returns the token a cookie-authenticated browser must echo in
	// X-CSRF-Token on state-changing requests; "" when the request is not
	// cookie-authenticated.
	CSRFToken(r *http.Request) string
	// CheckCSRF verifies X-CSRF-Token for cookie-authenticated state-changing requests
	// (nil for bearer requests). An error means 403 csrf_failed (503 for an error of
	// kind unavailable).
	CheckCSRF(r *http.Request) error
}
