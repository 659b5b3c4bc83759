//go:build linux

package main

import (
	"context"
	"log/slog"
	"strings"

	"github.com/spawnit/spawnit/api"
	"github.com/spawnit/spawnit/api/auth"
	"github.com/spawnit/spawnit/api/authn"
	"github.com/spawnit/spawnit/pkg/apiv1"
	"github.com/spawnit/spawnit/pkg/store"
)

// newOIDCAuthenticator connects to the configured OIDC issuer and returns the
// Authenticator with its browser sign-in handlers. Cookies are Secure when the
// redirect URL is https (the browser reaches the server over TLS). Browser sessions
// are kept in st, sealed with the session secret (or, without one, with a key kept in
// st: see auth.Config.SessionSecret).
func newOIDCAuthenticator(ctx context.Context, c oidcConfig, st store.Store, log *slog.Logger) (*auth.OIDC, *api.AuthHandlers, error) {
	o, err := auth.New(ctx, auth.Config{
		Store:         st,
		SessionSecret: []byte(c.sessionSecret),
		Issuer:        c.issuer,
		Audience:      c.audience,
		ClientID:      c.clientID,
		ClientSecret:  c.clientSecret,
		RedirectURL:   c.redirectURL,
		TenantClaim:   c.tenantClaim,
		Roles:         c.roles,
		CLIClientID:   c.cliClientID,
		CookieSecure:  strings.HasPrefix(c.redirectURL, "https://"),
		Logger:        log,
	})
	if err != nil {
		return nil, nil, err
	}
	login, callback, logout := o.Handlers()
	return o, &api.AuthHandlers{Login: login, Callback: callback, Logout: logout}, nil
}

// parseRoles reads --oidc-role-claim, --oidc-role-map and --oidc-default-role.
func parseRoles(c *oidcConfig) error {
	var pairs []string
	for _, p := range strings.Split(c.roleMap, ",") {
		if p = strings.TrimSpace(p); p != "" {
			pairs = append(pairs, p)
		}
	}
	values, err := auth.ParseRoleMap(pairs)
	if err != nil {
		return usageError{"--oidc-role-map: " + err.Error()}
	}
	if len(values) > 0 && c.roleClaim == "" {
		return usageError{"--oidc-role-map needs --oidc-role-claim"}
	}
	c.roles = auth.RoleMapping{Claim: c.roleClaim, Values: values}
	if c.defaultRole != "" {
		r, err := authn.ParseRole(c.defaultRole)
		if err != nil {
			return usageError{"--oidc-default-role: " + err.Error()}
		}
		c.roles.Default = r
	}
	return nil
}

// cliLogin is what GET /api/v1/cli-login tells spawnit login: nil without a CLI client.
func cliLogin(c oidcConfig) *apiv1.CLILogin {
	if c.issuer == "" || c.cliClientID == "" {
		return nil
	}
	// offline_access asks for a refresh token, so the CLI stays signed in.
	return &apiv1.CLILogin{Issuer: c.issuer, ClientID: c.cliClientID, Scopes: []string{"openid", "profile", "email", "offline_access"}}
}
