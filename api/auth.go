package api

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/spawnit/spawnit"
	"github.com/spawnit/spawnit/api/authn"
)

// Principal is the verified caller (declared in package authn, shared with the OIDC
// implementation).
type Principal = authn.Principal

// Authenticator verifies a request's credentials (bearer token or session cookie).
type Authenticator = authn.Authenticator

// SingleUserTenant is the tenant (and subject) of every request in single-user mode.
const SingleUserTenant = "local"

// SingleUser authenticates every request as the one local user. It is meant for a
// server listening on loopback only; it still refuses what a web page in the user's
// browser could send: requests whose Host is not a loopback name (DNS rebinding) and
// cross-origin state-changing requests.
type SingleUser struct {
	csrf *http.CrossOriginProtection
}

var _ Authenticator = (*SingleUser)(nil)

var defaultCrossOrigin = http.NewCrossOriginProtection()

// NewSingleUser returns the single-user Authenticator.
func NewSingleUser() *SingleUser { return &SingleUser{csrf: http.NewCrossOriginProtection()} }

// Authenticate implements Authenticator.
func (u *SingleUser) Authenticate(r *http.Request) (Principal, error) {
	if !loopbackHost(r.Host) {
		return Principal{}, fmt.Errorf("%w: single-user mode answers loopback host names only", authn.ErrUnauthenticated)
	}
	return Principal{Subject: SingleUserTenant, Tenant: SingleUserTenant, Name: "Local user"}, nil
}

// CSRFToken implements Authenticator: single-user mode has no session cookie.
func (u *SingleUser) CSRFToken(*http.Request) string { return "" }

// CheckCSRF implements Authenticator with the browser's Fetch metadata and Origin.
func (u *SingleUser) CheckCSRF(r *http.Request) error {
	cop := u.csrf
	if cop == nil {
		cop = defaultCrossOrigin // the zero SingleUser is usable too
	}
	if err := cop.Check(r); err != nil {
		return fmt.Errorf("%w: %v", authn.ErrCSRF, err)
	}
	return nil
}

func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

const principalKey = "spawnit.principal"

// authenticate verifies the caller of every /api/v1 route but the OpenAPI document,
// and the CSRF token of a cookie-authenticated state-changing request.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		p, err := s.cfg.Auth.Authenticate(r)
		if err != nil {
			if unavailable(err) {
				return err // the session store did not answer: 503, not a sign-out
			}
			return fmt.Errorf("%w: %w", authn.ErrUnauthenticated, err)
		}
		if err := spawnit.ValidateID(p.Tenant); err != nil {
			// Fail closed: an identity without a usable tenant reaches nothing.
			s.log.Error("authenticator returned an invalid tenant", "request_id", requestID(c), "err", err)
			return authn.ErrUnauthenticated
		}
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
		default:
			if err := s.cfg.Auth.CheckCSRF(r); err != nil {
				if unavailable(err) {
					return err
				}
				return fmt.Errorf("%w: %w", authn.ErrCSRF, err)
			}
		}
		c.Set(principalKey, p)
		return next(c)
	}
}

// unavailable reports whether an Authenticator's error is a dependency that did not
// answer (the store keeping sessions), rather than a refusal of the credentials.
func unavailable(err error) bool {
	var ke spawnit.KindError
	return errors.As(err, &ke) && ke.Kind() == spawnit.KindUnavailable
}

func principal(c echo.Context) Principal {
	p, _ := c.Get(principalKey).(Principal)
	return p
}
