package auth

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/client/rp"
	httphelper "github.com/zitadel/oidc/v3/pkg/http"
	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/spawnit/spawnit/api/authn"
	"github.com/spawnit/spawnit/pkg/truncate"
)

const (
	// loginTimeout is how long a user has between /auth/login and /auth/callback.
	loginTimeout    = 10 * time.Minute
	maxReturnToLen  = 1024
	returnToParam   = "return_to"
	defaultReturnTo = "/"
)

type cookieNames struct{ session, login string }

// The prefixes make browsers refuse these cookies unless they are Secure (and, for
// __Host-, host-only with Path=/), so a sibling subdomain or plain-HTTP page cannot
// plant them.
func newCookieNames(secure bool) cookieNames {
	if secure {
		return cookieNames{session: "__Host-spawnit_session", login: "__Secure-spawnit_login"}
	}
	return cookieNames{session: "spawnit_session", login: "spawnit_login"}
}

// loginState carries what /auth/login chose (state, PKCE verifier, nonce, return_to)
// to /auth/callback in one cookie, encrypted and authenticated with keys derived from
// the session secret: the callback may reach another replica than the login did, or
// the same one restarted. Nothing is stored server-side before sign-in completes.
type loginState struct {
	cookies *httphelper.CookieHandler
}

type pendingLogin struct {
	State    string `json:"s"`
	Verifier string `json:"v"`
	Nonce    string `json:"n"`
	ReturnTo string `json:"r"`
}

type nonceKey struct{}

func (o *OIDC) setupBrowser(ctx context.Context) error {
	redirect, err := url.Parse(o.cfg.RedirectURL)
	if err != nil || redirect.Scheme == "" || redirect.Host == "" {
		return fmt.Errorf("auth: redirect URL %q is not an absolute URL", o.cfg.RedirectURL)
	}
	if o.cfg.Store == nil {
		return errors.New("auth: browser sign-in needs a store to keep sessions in")
	}
	secret := o.cfg.SessionSecret
	if len(secret) == 0 {
		if secret, err = storedSessionSecret(ctx, o.cfg.Store); err != nil {
			return err
		}
		o.log.Warn("browser sessions are sealed with a key kept in the store: give every replica the same --session-secret to keep it out of the bucket")
	}
	keys, err := deriveSessionKeys(secret)
	if err != nil {
		return err
	}
	o.sessions = &sessionStore{st: o.cfg.Store, keys: keys}
	cookiePath := redirect.Path
	if cookiePath == "" {
		cookiePath = "/"
	}
	opts := []httphelper.CookieHandlerOpt{
		httphelper.WithPath(cookiePath), // only the callback ever needs it
		httphelper.WithMaxAge(int(loginTimeout.Seconds())),
		httphelper.WithSameSite(http.SameSiteLaxMode), // sent on the top-level redirect back from the provider
	}
	if !o.cfg.CookieSecure {
		opts = append(opts, httphelper.WithUnsecure())
	}
	o.login = &loginState{cookies: httphelper.NewCookieHandler(keys.loginHash, keys.loginEnc, opts...)}

	o.party, err = rp.NewRelyingPartyOIDC(ctx, o.cfg.Issuer, o.cfg.ClientID, o.cfg.ClientSecret, o.cfg.RedirectURL, o.cfg.Scopes,
		rp.WithHTTPClient(o.cfg.HTTPClient),
		rp.WithVerifierOpts(
			func(v *rp.IDTokenVerifier) {
				// Same keys and algorithm rules as bearer JWTs.
				v.KeySet = o.keys
				v.SupportedSignAlgs = o.algs
			},
			rp.WithNonce(func(ctx context.Context) string {
				n, _ := ctx.Value(nonceKey{}).(string)
				return n
			}),
		),
	)
	if err != nil {
		return fmt.Errorf("auth: relying party: %w", err)
	}
	return nil
}

// Handlers returns the browser sign-in endpoints, to be mounted at /auth/login (GET,
// optional return_to=<relative path>), /auth/callback (GET, the RedirectURL) and
// /auth/logout (POST with X-CSRF-Token; answers 204). Without a RedirectURL, login and
// callback answer 404.
func (o *OIDC) Handlers() (login, callback, logout http.Handler) {
	return http.HandlerFunc(o.handleLogin), http.HandlerFunc(o.handleCallback), http.HandlerFunc(o.handleLogout)
}

func (o *OIDC) handleLogin(w http.ResponseWriter, r *http.Request) {
	if o.party == nil {
		http.Error(w, "browser sign-in is not configured", http.StatusNotFound)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, "GET, HEAD")
		return
	}
	returnTo := defaultReturnTo
	if v := r.URL.Query().Get(returnToParam); v != "" {
		if !safeReturnTo(v) {
			http.Error(w, "return_to must be a path on this site", http.StatusBadRequest)
			return
		}
		returnTo = v
	}
	pl := pendingLogin{State: randomToken(), Verifier: randomToken(), Nonce: randomToken(), ReturnTo: returnTo}
	data, err := json.Marshal(pl)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if err := o.login.cookies.SetCookie(w, o.cookies.login, string(data)); err != nil {
		o.log.Error("cannot set the login cookie", "error", err.Error())
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	target := rp.AuthURL(pl.State, o.party,
		rp.WithCodeChallenge(oidc.NewSHACodeChallenge(pl.Verifier)),
		rp.AuthURLOpt(rp.WithURLParam("nonce", pl.Nonce)))
	noStore(w)
	http.Redirect(w, r, target, http.StatusFound)
}

func (o *OIDC) handleCallback(w http.ResponseWriter, r *http.Request) {
	if o.party == nil {
		http.Error(w, "browser sign-in is not configured", http.StatusNotFound)
		return
	}
	if r.Method != http.MethodGet {
		methodNotAllowed(w, "GET")
		return
	}
	noStore(w)
	raw, err := o.login.cookies.CheckCookie(r, o.cookies.login)
	// One callback per login, successful or not: a replayed callback URL finds no state.
	o.login.cookies.DeleteCookie(w, o.cookies.login)
	var pl pendingLogin
	if err == nil {
		err = json.Unmarshal([]byte(raw), &pl)
	}
	q := r.URL.Query()
	if err != nil || pl.State == "" || subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(pl.State)) != 1 {
		o.log.Info("sign-in callback refused: missing, expired or mismatched state")
		http.Error(w, "sign-in expired or was started elsewhere; please sign in again", http.StatusBadRequest)
		return
	}
	if e := q.Get("error"); e != "" {
		o.log.Info("provider refused sign-in", "error", truncate.String(e, 64))
		http.Error(w, "sign-in failed", http.StatusUnauthorized)
		return
	}
	code := q.Get("code")
	if code == "" {
		http.Error(w, "sign-in failed: no code", http.StatusBadRequest)
		return
	}

	ctx := context.WithValue(r.Context(), nonceKey{}, pl.Nonce)
	tokens, err := rp.CodeExchange[*oidc.IDTokenClaims](ctx, code, o.party, rp.WithCodeVerifier(pl.Verifier))
	if err != nil {
		o.log.Warn("sign-in failed: code exchange or ID token verification", "error", err.Error())
		http.Error(w, "sign-in failed", http.StatusUnauthorized)
		return
	}
	p, err := o.principalFromSignIn(ctx, tokens)
	if err != nil {
		o.log.Warn("sign-in failed: identity refused", "error", err.Error())
		http.Error(w, "sign-in failed", http.StatusUnauthorized)
		return
	}

	// A fresh id at every sign-in: a session id planted before sign-in is worthless.
	if old, err := r.Cookie(o.cookies.session); err == nil && old.Value != "" {
		if err := o.sessions.delete(r.Context(), old.Value); err != nil {
			o.log.Warn("the previous session could not be ended", "error", err.Error())
		}
	}
	cookie, _, err := o.sessions.create(r.Context(), p, o.cfg.SessionTTL, o.now())
	if err != nil {
		o.log.Error("sign-in could not be recorded", "error", err.Error())
		http.Error(w, "sign-in could not be recorded; please sign in again later", http.StatusServiceUnavailable)
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name:     o.cookies.session,
		Value:    cookie,
		Path:     "/",
		MaxAge:   int(o.cfg.SessionTTL.Seconds()),
		HttpOnly: true,
		Secure:   o.cfg.CookieSecure,
		SameSite: http.SameSiteLaxMode,
	})
	o.log.Info("signed in", "subject", p.Subject, "tenant", p.Tenant)
	http.Redirect(w, r, pl.ReturnTo, http.StatusSeeOther)
}

// principalFromSignIn reads the verified ID token's claims, completed by userinfo
// (providers often leave name and email out of the ID token when they issue an access
// token). ID token claims win where both have one.
func (o *OIDC) principalFromSignIn(ctx context.Context, tokens *oidc.Tokens[*oidc.IDTokenClaims]) (authn.Principal, error) {
	claims, err := jwtClaims(tokens.IDToken)
	if err != nil {
		return authn.Principal{}, err
	}
	sub := tokens.IDTokenClaims.GetSubject()
	if tokens.AccessToken != "" {
		info, err := rp.Userinfo[*oidc.UserInfo](ctx, tokens.AccessToken, tokens.Type(), sub, o.party)
		if err != nil {
			o.log.Info("userinfo unavailable; using ID token claims only", "error", err.Error())
		} else if extra, err := asClaims(info); err == nil {
			maps.Copy(extra, claims)
			claims = extra
		}
	}
	return o.principal(sub, claims)
}

func jwtClaims(token string) (map[string]any, error) {
	_, rest, _ := strings.Cut(token, ".")
	payload, _, _ := strings.Cut(rest, ".")
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return nil, fmt.Errorf("%w: ID token payload", oidc.ErrParse)
	}
	var claims map[string]any
	if err := json.Unmarshal(raw, &claims); err != nil {
		return nil, fmt.Errorf("%w: ID token payload", oidc.ErrParse)
	}
	return claims, nil
}

func asClaims(v any) (map[string]any, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	return m, json.Unmarshal(data, &m)
}

func (o *OIDC) handleLogout(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		methodNotAllowed(w, "POST")
		return
	}
	if c, err := r.Cookie(o.cookies.session); err == nil && c.Value != "" && o.sessions != nil {
		s, ok, err := o.sessions.get(r.Context(), c.Value, o.now())
		if err != nil {
			o.log.Error("sign-out: the session could not be read", "error", err.Error())
			http.Error(w, "sign-out could not be recorded; retry", http.StatusServiceUnavailable)
			return
		}
		if ok {
			// Compared here rather than through CheckCSRF, which waives the check for
			// requests carrying an Authorization header.
			got := r.Header.Get(csrfHeader)
			if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(s.csrf)) != 1 {
				http.Error(w, authn.ErrCSRF.Error(), http.StatusForbidden)
				return
			}
			// The record goes: every replica refuses the cookie from now on.
			if err := o.sessions.delete(r.Context(), c.Value); err != nil {
				o.log.Error("sign-out could not be recorded", "error", err.Error())
				http.Error(w, "sign-out could not be recorded; retry", http.StatusServiceUnavailable)
				return
			}
			o.log.Info("signed out", "subject", s.principal.Subject, "tenant", s.principal.Tenant)
		}
	}
	http.SetCookie(w, &http.Cookie{
		Name:     o.cookies.session,
		Value:    "",
		Path:     "/",
		MaxAge:   -1,
		HttpOnly: true,
		Secure:   o.cfg.CookieSecure,
		SameSite: http.SameSiteLaxMode,
	})
	noStore(w)
	w.WriteHeader(http.StatusNoContent)
}

// safeReturnTo accepts only a path on this site: it must start with a single "/", and
// carry no scheme, host, backslash or control character (browsers strip tabs and
// newlines and read "\" as "/", which would turn "/\tevil" or "/\evil" into
// "//evil", another host).
func safeReturnTo(v string) bool {
	if v == "" || len(v) > maxReturnToLen || v[0] != '/' {
		return false
	}
	if len(v) > 1 && (v[1] == '/' || v[1] == '\\') {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c == 0x7f || c == '\\' {
			return false
		}
	}
	u, err := url.Parse(v)
	return err == nil && u.Scheme == "" && u.Host == "" && u.User == nil && u.Opaque == ""
}

func methodNotAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
}

func noStore(w http.ResponseWriter) { w.Header().Set("Cache-Control", "no-store") }
