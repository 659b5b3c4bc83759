package auth

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/spawnit/spawnit/api/authn"
	"github.com/spawnit/spawnit/internal/testservers"
)

func TestRoleMapping(t *testing.T) {
	m := RoleMapping{Claim: "groups", Values: map[string]Role{"ops": RoleOperator, "dev": RoleDeployer, "ro": RoleViewer}}
	for name, c := range map[string]struct {
		claims map[string]any
		want   Role
	}{
		"string":                  {map[string]any{"groups": "dev"}, RoleDeployer},
		"array, strongest wins":   {map[string]any{"groups": []any{"ro", "ops", "dev"}}, RoleOperator},
		"unmapped: the default":   {map[string]any{"groups": []any{"sales"}}, RoleViewer},
		"missing: the default":    {map[string]any{}, RoleViewer},
		"not strings: ignored":    {map[string]any{"groups": []any{1.0, map[string]any{"ops": true}}}, RoleViewer},
		"another claim's value":   {map[string]any{"roles": "ops"}, RoleViewer},
		"case matters (ids do)":   {map[string]any{"groups": "OPS"}, RoleViewer},
		"array of Go strings too": {map[string]any{"groups": []string{"dev"}}, RoleDeployer},
	} {
		if got := m.role(c.claims); got != c.want {
			t.Errorf("%s: %q, want %q", name, got, c.want)
		}
	}
	if got := (RoleMapping{}).role(map[string]any{"groups": "ops"}); got != RoleDeployer {
		t.Errorf("no claim configured: %q, want deployer (as before roles)", got)
	}
	if got := (RoleMapping{Claim: "groups", Default: RoleDeployer}).role(nil); got != RoleDeployer {
		t.Errorf("explicit default: %q", got)
	}
	for _, bad := range []RoleMapping{
		{Claim: "groups", Default: "admin"},
		{Claim: "groups", Values: map[string]Role{"x": "root"}},
		{Values: map[string]Role{"x": RoleOperator}},
	} {
		if bad.check() == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func TestParseRoleMap(t *testing.T) {
	m, err := ParseRoleMap([]string{"spawnit-admins=operator", "a=b=deployer", "dev=deployer", "dev=deployer"})
	if err != nil || m["spawnit-admins"] != RoleOperator || m["a=b"] != RoleDeployer || m["dev"] != RoleDeployer || len(m) != 3 {
		t.Fatalf("%v, %v", m, err)
	}
	for _, bad := range [][]string{{"ops"}, {"=operator"}, {"ops=admin"}, {"ops=operator", "ops=viewer"}} {
		if _, err := ParseRoleMap(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestRequire(t *testing.T) {
	e := echo.New()
	c := e.NewContext(httptest.NewRequest(http.MethodGet, "/", nil), httptest.NewRecorder())
	if err := Require(c, RoleViewer); !errors.Is(err, ErrForbidden) {
		t.Errorf("no principal: %v, want forbidden", err)
	}
	SetPrincipal(c, authn.Principal{Subject: "s", Tenant: "t", Role: RoleDeployer})
	if err := Require(c, RoleDeployer); err != nil {
		t.Errorf("deployer needs deployer: %v", err)
	}
	err := Require(c, RoleOperator)
	var denied *authn.DeniedError
	if !errors.Is(err, ErrForbidden) || !errors.As(err, &denied) || denied.Need != RoleOperator || denied.Have != RoleDeployer {
		t.Fatalf("deployer needs operator: %v", err)
	}
	if err.Error() != "forbidden: this needs the operator role (yours: deployer)" {
		t.Errorf("message %q", err)
	}
	if authn.Role("root").Allows(RoleViewer) || authn.Role("").Allows(RoleViewer) {
		t.Error("an unknown role allows something")
	}
}

// The role claim is read from every kind of credential the real OP issues: an opaque
// access token (introspected), an ID token (a JWT, without the claim here) and a browser
// session, which keeps the role read at sign-in (ID token and userinfo).
func TestRoleClaimAgainstRealOP(t *testing.T) {
	roles := RoleMapping{Claim: "email", Values: map[string]Role{"test-user@zitadel.ch": RoleOperator}}
	e := newEnv(t, func(c *Config) { c.Roles = roles })
	web := e.op.CodeFlowTokens(t, testservers.OPWebClient, testservers.OPClientSecret, e.redirect, testservers.OPUser, testservers.OPPassword)
	if p, err := e.auth.Authenticate(bearerRequest(web.AccessToken)); err != nil || p.Role != RoleOperator {
		t.Errorf("opaque token: %+v, %v; want operator", p, err)
	}
	// This OP's ID tokens carry no profile or email claims: the claim is missing, so
	// the caller has the default role, never a stronger one.
	if p, err := e.auth.Authenticate(bearerRequest(web.IDToken)); err != nil || p.Role != RoleViewer {
		t.Errorf("ID token without the claim: %+v, %v; want viewer", p, err)
	}
	p, err := e.auth.Authenticate(cookieRequest(e.signIn(t)))
	if err != nil || p.Role != RoleOperator {
		t.Errorf("browser session: %+v, %v; want operator", p, err)
	}
	// Another mapping: the same user's claim maps to nothing, so it has the default.
	other := e.newAuth(t, func(c *Config) {
		c.Roles = RoleMapping{Claim: "email", Values: map[string]Role{"boss@example.com": RoleOperator}}
	})
	if p, err := other.Authenticate(bearerRequest(web.AccessToken)); err != nil || p.Role != RoleViewer {
		t.Errorf("unmapped: %+v, %v; want viewer", p, err)
	}
}
