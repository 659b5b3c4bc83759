// Package auth verifies SpawnIt callers against an OpenID Connect issuer. It implements
// authn.Authenticator for the API and serves the browser sign-in (/auth/login,
// /auth/callback, /auth/logout).
//
// A request is authenticated by exactly one of:
//
//   - Authorization: Bearer <token>. A token shaped like a JWS (three base64url parts) is
//     verified locally: signature against the issuer's JWKS (only asymmetric algorithms,
//     and only with a key whose published alg matches the token's; never "none" or HMAC),
//     issuer, audience and expiry. Any other token is introspected (RFC 7662) with the
//     client's credentials: it must be active, carry an exp that has not passed, and
//     the expected issuer and audience when the answer names them. Positive introspection answers are cached
//     for at most 30 s and never past the token's expiry, keyed by the token's SHA-256.
//   - The session cookie set by /auth/callback after an authorization-code + PKCE
//     sign-in. Sessions are records in Config.Store, encrypted, named by a hash of the
//     cookie's id, with a cookie bound to Config.SessionSecret by an HMAC: every
//     replica sharing the store and the secret knows every session, a restart keeps
//     them, and a sign-out on one replica holds on all. They expire after
//     Config.SessionTTL. State-changing requests made with the cookie must echo the
//     session's CSRF token in X-CSRF-Token.
//
// Tokens are never read from URLs: a request with an access_token query parameter is
// refused. Tokens, codes, cookies and secrets are never logged.
//
// Roles: with Config.Roles.Claim set, the caller's role (viewer, deployer, operator) is
// the strongest that the claim's values map to (Config.Roles.Values), else
// Config.Roles.Default. Require is the one check of a role for the API's handlers.
//
// Tenants: with Config.TenantClaim set, the tenant is that (string) claim of the token,
// refused unless it already is a valid id (spawnit.ValidateID) other than "local", the
// single-user tenant. Otherwise it is derived from the subject by TenantFromSubject.
package auth

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/zitadel/oidc/v3/pkg/client"
	"github.com/zitadel/oidc/v3/pkg/client/rp"
	"github.com/zitadel/oidc/v3/pkg/client/rs"
	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/spawnit/spawnit/api/authn"
)

// Config configures New. Issuer and ClientID are required; ClientSecret is needed to
// introspect opaque tokens and to redeem codes; RedirectURL enables the browser sign-in.
type Config struct {
	// Issuer is the issuer URL exactly as the provider writes it in "iss" (trailing
	// slash included when it has one).
	Issuer string
	// Audience a bearer token must be issued for. Default: ClientID.
	Audience string
	// CLIClientID is a public client (PKCE, no secret) users sign in with from the
	// command line; JWT bearer tokens issued for it (its ID tokens) are accepted too.
	// Empty: only Audience.
	CLIClientID  string
	ClientID     string
	ClientSecret string
	// RedirectURL is this server's /auth/callback as registered with the provider,
	// e.g. https://spawnit.example.com/auth/callback. Empty: no browser sign-in.
	RedirectURL string
	// Scopes requested at sign-in. Default: openid profile email ("openid" is always
	// added).
	Scopes []string
	// TenantClaim names a top-level string claim holding the tenant; a value that is
	// not a valid id (spawnit.ValidateID), or is "local", is refused, never rewritten.
	// Empty: the tenant is derived from "sub" (TenantFromSubject).
	TenantClaim string
	// Roles says how a caller's role is read from its claims (RoleMapping). The zero
	// value makes every caller a deployer of its own tenant.
	Roles RoleMapping
	// CookieSecure marks cookies Secure (and names them with the __Host-/__Secure-
	// prefixes); set it whenever the server is reached over HTTPS.
	CookieSecure bool
	// SessionTTL is how long a browser session lasts. Default: 8 h.
	SessionTTL time.Duration
	// Store keeps browser sessions; required with a RedirectURL. Replicas that share it
	// (and SessionSecret) share the sessions.
	Store Store
	// SessionSecret keys the session cookies, the session records and the login cookie
	// (the state and PKCE verifier between /auth/login and /auth/callback); at least
	// MinSessionSecretLen bytes. Every replica must be given the same one. Empty: one is
	// drawn and kept in Store (auth/session-secret) by the first replica, and read from
	// there by the others.
	SessionSecret []byte
	// HTTPClient talks to the provider. Default: a client with a 10 s timeout.
	HTTPClient *http.Client
	// Logger receives sign-in and verification events. Default: discard.
	Logger *slog.Logger
}

const (
	defaultSessionTTL   = 8 * time.Hour
	defaultHTTPTimeout  = 10 * time.Second
	introspectionTTL    = 30 * time.Second
	introspectionMax    = 4096
	maxBearerLen        = 16 << 10
	csrfHeader          = "X-CSRF-Token"
	forbiddenQueryToken = "access_token"
)

// OIDC authenticates requests against one OpenID Connect issuer. It is safe for
// concurrent use.
type OIDC struct {
	cfg      Config
	log      *slog.Logger
	keys     *keySet
	algs     []string
	intro    rs.ResourceServer // nil: the issuer offers no introspection
	cache    *introspectionCache
	party    rp.RelyingParty // nil: no browser sign-in
	sessions *sessionStore   // nil: no browser sign-in
	cookies  cookieNames
	login    *loginState
	now      func() time.Time
}

var _ authn.Authenticator = (*OIDC)(nil)

// New discovers the issuer, loads its signing keys and prepares the relying party.
// It fails when the issuer cannot be reached or does not call itself cfg.Issuer.
func New(ctx context.Context, cfg Config) (*OIDC, error) {
	if cfg.Issuer == "" || cfg.ClientID == "" {
		return nil, errors.New("auth: issuer and client id are required")
	}
	if cfg.Audience == "" {
		cfg.Audience = cfg.ClientID
	}
	if err := cfg.Roles.check(); err != nil {
		return nil, err
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = defaultSessionTTL
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: defaultHTTPTimeout}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Scopes = slices.Clone(cfg.Scopes)
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = []string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail}
	}
	if !slices.Contains(cfg.Scopes, oidc.ScopeOpenID) {
		cfg.Scopes = append([]string{oidc.ScopeOpenID}, cfg.Scopes...)
	}

	disco, err := client.Discover(ctx, cfg.Issuer, cfg.HTTPClient)
	if err != nil {
		return nil, fmt.Errorf("auth: discover %s: %w", cfg.Issuer, err)
	}
	if disco.JwksURI == "" {
		return nil, fmt.Errorf("auth: issuer %s publishes no jwks_uri", cfg.Issuer)
	}
	o := &OIDC{
		cfg:     cfg,
		log:     cfg.Logger,
		keys:    newKeySet(cfg.HTTPClient, disco.JwksURI),
		algs:    acceptedAlgorithms,
		cache:   newIntrospectionCache(introspectionMax),
		cookies: newCookieNames(cfg.CookieSecure),
		now:     time.Now,
	}
	// Loading the keys now turns a wrong jwks_uri into a start-up error instead of a
	// 401 on the first request.
	if err := o.keys.refresh(ctx); err != nil {
		return nil, fmt.Errorf("auth: load signing keys: %w", err)
	}

	if disco.IntrospectionEndpoint != "" && cfg.ClientSecret != "" {
		o.intro, err = rs.NewResourceServerClientCredentials(ctx, cfg.Issuer, cfg.ClientID, cfg.ClientSecret,
			rs.WithClient(cfg.HTTPClient),
			rs.WithStaticEndpoints(disco.TokenEndpoint, disco.IntrospectionEndpoint))
		if err != nil {
			return nil, fmt.Errorf("auth: introspection client: %w", err)
		}
	} else {
		o.log.Warn("opaque bearer tokens will be refused: no introspection endpoint or no client secret",
			"issuer", cfg.Issuer)
	}

	if cfg.RedirectURL != "" {
		if err := o.setupBrowser(ctx); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// Authenticate implements authn.Authenticator. A request carrying an Authorization
// header is judged by that header alone: a bad bearer token is not rescued by a cookie.
func (o *OIDC) Authenticate(r *http.Request) (authn.Principal, error) {
	if r.URL.Query().Has(forbiddenQueryToken) {
		return authn.Principal{}, unauthenticated("tokens are not accepted in URLs", nil)
	}
	if r.Header.Get("Authorization") != "" {
		token, err := bearerToken(r)
		if err != nil {
			return authn.Principal{}, unauthenticated("authorization header", err)
		}
		p, err := o.verifyBearer(r.Context(), token)
		if err != nil {
			o.log.Debug("bearer token refused", "reason", err.Error())
			return authn.Principal{}, unauthenticated("bearer token", err)
		}
		return p, nil
	}
	s, ok, err := o.session(r)
	if err != nil {
		// Not a 401: the browser is still signed in, the store did not answer.
		return authn.Principal{}, err
	}
	if !ok {
		return authn.Principal{}, unauthenticated("no bearer token or session", nil)
	}
	if s.principal.Role == "" {
		s.principal.Role = o.cfg.Roles.role(nil) // a session from before roles: the default
	}
	return s.principal, nil
}

// CSRFToken implements authn.Authenticator.
func (o *OIDC) CSRFToken(r *http.Request) string {
	if r.Header.Get("Authorization") != "" {
		return ""
	}
	if s, ok, _ := o.session(r); ok {
		return s.csrf
	}
	return ""
}

// CheckCSRF implements authn.Authenticator: a cookie-authenticated request with a
// method other than GET, HEAD or OPTIONS must carry the session's token in
// X-CSRF-Token. Bearer requests need none, since browsers never attach bearer tokens
// on their own.
func (o *OIDC) CheckCSRF(r *http.Request) error {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return nil
	}
	if r.Header.Get("Authorization") != "" {
		return nil
	}
	s, ok, err := o.session(r)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: no session", authn.ErrCSRF)
	}
	got := r.Header.Get(csrfHeader)
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(s.csrf)) != 1 {
		return authn.ErrCSRF
	}
	return nil
}

// session returns the request's session; err means the store could not say. A
// request made by WithSessionMemo reads it from the store once.
func (o *OIDC) session(r *http.Request) (session, bool, error) {
	if o.sessions == nil {
		return session{}, false, nil
	}
	c, err := r.Cookie(o.cookies.session)
	if err != nil || c.Value == "" {
		return session{}, false, nil
	}
	m, _ := r.Context().Value(sessionMemoKey{}).(*sessionMemo)
	if m == nil {
		return o.sessions.get(r.Context(), c.Value, o.now())
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.read && m.cookie == c.Value {
		return m.s, m.ok, nil
	}
	s, ok, err := o.sessions.get(r.Context(), c.Value, o.now())
	if err == nil { // a store that did not answer is asked again
		m.read, m.cookie, m.s, m.ok = true, c.Value, s, ok
	}
	return s, ok, err
}

type sessionMemoKey struct{}

// sessionMemo is the session one request names, once read.
type sessionMemo struct {
	mu     sync.Mutex
	read   bool
	cookie string
	s      session
	ok     bool
}

// WithSessionMemo returns r with room for its session once read: Authenticate,
// CheckCSRF and CSRFToken of that request (and of requests made from it) then read
// the session from the store once between them, not once each.
func WithSessionMemo(r *http.Request) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), sessionMemoKey{}, &sessionMemo{}))
}

// SweepSessions deletes the records of browser sessions that have ended (whoever
// created them; one replica sweeping is enough) and returns how many it deleted.
// Sessions end without it; it only bounds what the store keeps.
func (o *OIDC) SweepSessions(ctx context.Context) (int, error) {
	if o.sessions == nil {
		return 0, nil
	}
	return o.sessions.sweep(ctx, o.now())
}

// bearerToken extracts an RFC 6750 token: scheme "Bearer" (any case), one token of
// b64token characters.
func bearerToken(r *http.Request) (string, error) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", errors.New("not a bearer token")
	}
	token = strings.TrimLeft(token, " ")
	if token == "" || len(token) > maxBearerLen {
		return "", errors.New("empty or oversized bearer token")
	}
	for i := 0; i < len(token); i++ {
		if !isB64TokenChar(token[i]) {
			return "", errors.New("malformed bearer token")
		}
	}
	return token, nil
}

func isB64TokenChar(c byte) bool {
	switch {
	case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("-._~+/=", c) >= 0
}

func unauthenticated(reason string, err error) error {
	if err == nil {
		return fmt.Errorf("%w: %s", authn.ErrUnauthenticated, reason)
	}
	return fmt.Errorf("%w: %s: %w", authn.ErrUnauthenticated, reason, err)
}
