package api

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/spawnit/spawnit"
	"github.com/spawnit/spawnit/api/auth"
	"github.com/spawnit/spawnit/api/authn"
	"github.com/spawnit/spawnit/pkg/apiv1"
	"github.com/spawnit/spawnit/pkg/platform"
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
	return Principal{Subject: SingleUserTenant, Tenant: SingleUserTenant, Name: "Local user", Role: authn.RoleOperator}, nil
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

// TenantParam is the query parameter with which an operator addresses another tenant's
// services (support): every such request is audited (tenant.access) in that tenant.
const TenantParam = "tenant"

// authenticate verifies the caller of every /api/v1 route but the OpenAPI document,
// and the CSRF token of a cookie-authenticated state-changing request. It then applies
// the roles: reading needs viewer, anything else deployer (routes that need more say
// so with auth.Require), and addressing another tenant (?tenant=) operator.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		// The session, for a browser, is read once for the whole request.
		r := auth.WithSessionMemo(c.Request())
		c.SetRequest(r)
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
		if _, err := authn.ParseRole(string(p.Role)); err != nil {
			s.log.Error("authenticator returned no valid role", "request_id", requestID(c), "err", err)
			return authn.ErrUnauthenticated
		}
		auth.SetPrincipal(c, p)
		if t := c.QueryParam(TenantParam); t != "" && t != p.Tenant {
			if spawnit.ValidateID(t) != nil {
				return newError(http.StatusBadRequest, apiv1.CodeBadRequest, "invalid tenant id: 1-%d of a-z, 0-9 and '-'", spawnit.MaxIDLen)
			}
			if err := p.Require(authn.RoleOperator); err != nil {
				c.Set(addressedTenantKey, t)
				return err
			}
			p.HomeTenant, p.Tenant = p.Tenant, t
			auth.SetPrincipal(c, p)
			s.p.AuditAccess(r.Context(), s.actor(c), platform.AuditEntry{Action: platform.ActionTenantAccess,
				Route: r.Method + " " + c.Path(), Role: string(p.Role)})
		}
		need := authn.RoleDeployer
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			need = authn.RoleViewer
		}
		if err := p.Require(need); err != nil {
			return err
		}
		return next(c)
	}
}

const addressedTenantKey = "spawnit.addressed_tenant"

// auditDenial writes the access.denied entry of a request refused for its role.
func (s *Server) auditDenial(c echo.Context, err error) {
	var denied *authn.DeniedError
	if !errors.As(err, &denied) {
		return
	}
	addressed, _ := c.Get(addressedTenantKey).(string)
	r := c.Request()
	s.p.AuditAccess(r.Context(), s.actor(c), platform.AuditEntry{Action: platform.ActionAccessDenied,
		Route: r.Method + " " + c.Path(), Role: string(denied.Have), RequiredRole: string(denied.Need),
		AddressedTenant: addressed, Result: platform.ResultFailed, Error: apiv1.CodeForbidden})
}

// unavailable reports whether an Authenticator's error is a dependency that did not
// answer (the store keeping sessions), rather than a refusal of the credentials.
func unavailable(err error) bool {
	var ke spawnit.KindError
	return errors.As(err, &ke) && ke.Kind() == spawnit.KindUnavailable
}

func principal(c echo.Context) Principal { return auth.PrincipalOf(c) }
