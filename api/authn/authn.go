// Package authn declares who a request comes from and how that is verified. It is the
// contract between the HTTP layer (package api), which consumes an Authenticator, and
// the implementations (api.SingleUser; the OIDC one in package api/auth), which must not
// import api: a type defined here is the same type for both sides.
package authn

import (
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

// Principal is the verified caller.
type Principal struct {
	Subject string
	// Tenant is the tenant id every object of the request is scoped to. It passes
	// spawnit.ValidateID; an Authenticator must never return one that does not.
	Tenant string
	Name   string
	Email  string
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
