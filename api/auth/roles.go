package auth

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/spawnit/spawnit/api/authn"
)

// Role is what a caller may do (authn.Role): viewer, deployer or operator, each allowed
// everything the weaker ones are.
type Role = authn.Role

// The roles (authn's), weakest first.
const (
	RoleViewer   = authn.RoleViewer
	RoleDeployer = authn.RoleDeployer
	RoleOperator = authn.RoleOperator
)

// ErrForbidden is authn.ErrForbidden: 403 forbidden, audited by the API.
var ErrForbidden = authn.ErrForbidden

// principalKey is where the API keeps the request's verified caller in Echo's context.
const principalKey = "spawnit.principal"

// SetPrincipal records the verified caller of the request (the API's authentication
// middleware does, once per request).
func SetPrincipal(c echo.Context, p authn.Principal) { c.Set(principalKey, p) }

// PrincipalOf returns the request's verified caller (the zero Principal, allowed
// nothing, before authentication).
func PrincipalOf(c echo.Context) authn.Principal {
	p, _ := c.Get(principalKey).(authn.Principal)
	return p
}

// Require is the one check of a role (its name, signature and the Role* constants are a
// stable API for the routes of other packages): nil when the request's caller has at least role
// need, else an error wrapping ErrForbidden, which a handler returns as it is (the API
// answers 403 forbidden and writes an access.denied audit entry). For example, a route
// only operators may use starts with:
//
//	if err := auth.Require(c, auth.RoleOperator); err != nil {
//		return err
//	}
func Require(c echo.Context, need Role) error { return PrincipalOf(c).Require(need) }

// RoleMapping turns the values of a token's role claim into a role.
type RoleMapping struct {
	// Claim names a top-level claim holding a string or an array of strings (such as
	// "groups" or "roles"). Empty: every caller has Default.
	Claim string
	// Values maps a claim value to a role; a caller with several mapped values has the
	// strongest of their roles.
	Values map[string]Role
	// Default is the role of a caller whose claim is missing or maps to nothing.
	// Empty: viewer when Claim is set, deployer when it is not (every signed-in user
	// manages its own tenant, as before roles existed).
	Default Role
}

// ParseRoleMap parses "value=role" pairs (the --oidc-role-map flag), such as
// "spawnit-admins=operator". A value may repeat only with the same role.
func ParseRoleMap(pairs []string) (map[string]Role, error) {
	m := make(map[string]Role, len(pairs))
	for _, pair := range pairs {
		i := strings.LastIndexByte(pair, '=') // a value may itself hold '='; a role never does
		if i <= 0 {
			return nil, fmt.Errorf("role map %q: want VALUE=ROLE", pair)
		}
		value, name := pair[:i], pair[i+1:]
		r, err := authn.ParseRole(name)
		if err != nil {
			return nil, fmt.Errorf("role map %q: %w", pair, err)
		}
		if prev, dup := m[value]; dup && prev != r {
			return nil, fmt.Errorf("role map: %q maps to both %s and %s", value, prev, r)
		}
		m[value] = r
	}
	return m, nil
}

// check validates the mapping (New calls it).
func (m RoleMapping) check() error {
	if m.Default != "" {
		if _, err := authn.ParseRole(string(m.Default)); err != nil {
			return fmt.Errorf("auth: default role: %w", err)
		}
	}
	for _, v := range slices.Sorted(maps.Keys(m.Values)) {
		if _, err := authn.ParseRole(string(m.Values[v])); err != nil {
			return fmt.Errorf("auth: role of claim value %q: %w", v, err)
		}
	}
	if m.Claim == "" && len(m.Values) > 0 {
		return fmt.Errorf("auth: a role map needs a role claim")
	}
	return nil
}

// role is the caller's role from its verified claims.
func (m RoleMapping) role(claims map[string]any) Role {
	def := m.Default
	if def == "" {
		def = RoleDeployer
		if m.Claim != "" {
			def = RoleViewer
		}
	}
	if m.Claim == "" {
		return def
	}
	var values []string
	switch v := claims[m.Claim].(type) {
	case string:
		values = []string{v}
	case []string:
		values = v
	case []any:
		for _, e := range v {
			if s, ok := e.(string); ok {
				values = append(values, s)
			}
		}
	}
	var best Role
	for _, v := range values {
		if r, ok := m.Values[v]; ok && !best.Allows(r) {
			best = r
		}
	}
	if best == "" {
		return def
	}
	return best
}
