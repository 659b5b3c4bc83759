package apiv1

// CLILogin is GET /api/v1/cli-login: what a command-line client needs to sign its
// user in, asked before it has a token. A single-user server needs no sign-in. A
// server with OIDC names its issuer and, when it accepts command-line sign-ins, the
// public client (PKCE, no secret) to sign in with and the scopes to ask for.
type CLILogin struct {
	SingleUser bool     `json:"single_user"`
	Issuer     string   `json:"issuer,omitempty"`
	ClientID   string   `json:"client_id,omitempty"`
	Scopes     []string `json:"scopes,omitempty"`
}
