package auth

// Integration tests against the real zitadel/oidc example OpenID Provider
// (testservers.OIDCProvider; skipped without the binary, failed in CI).
//
// Configuration under test, matching how that OP behaves: SpawnIt is the confidential
// client "web"/"secret" and the audience is "web". The OP issues only opaque access
// tokens and introspects them as active for the client that obtained them, so bearer
// tokens obtained by "web" (code flow) are the valid opaque tokens. Its ID tokens are
// the only JWTs it signs (aud [web] for web's sign-ins): the JWT cases are built from a
// real one.

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/spawnit/spawnit/api/authn"
	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/internal/testservers"
)

// lockedBuffer collects log output written from the server's goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// countingTransport counts requests per path, to see introspection round-trips.
type countingTransport struct {
	mu     sync.Mutex
	counts map[string]int
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	if c.counts == nil {
		c.counts = map[string]int{}
	}
	c.counts[r.URL.Path]++
	c.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

func (c *countingTransport) count(path string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.counts[path]
}

// env is a SpawnIt-like server: the auth handlers at /auth/*, and /api/probe which
// authenticates like the API does (401, then 403 on CSRF failure, else the principal).
type env struct {
	op       *testservers.OP
	srv      *httptest.Server
	redirect string
	auth     *OIDC
	logs     *lockedBuffer
	rt       *countingTransport
	store    Store // where every OIDC the env makes keeps its sessions
}

func newEnv(t *testing.T, mutate func(*Config)) *env {
	t.Helper()
	e := &env{logs: &lockedBuffer{}, rt: &countingTransport{}}
	var handler atomic.Value
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handler.Load().(http.Handler).ServeHTTP(w, r)
	}))
	t.Cleanup(e.srv.Close)
	e.redirect = e.srv.URL + "/auth/callback"
	e.op = testservers.OIDCProvider(t, e.redirect)
	e.auth = e.newAuth(t, mutate)
	handler.Store(e.mux(e.auth))
	return e
}

func (e *env) newAuth(t *testing.T, mutate func(*Config)) *OIDC {
	t.Helper()
	if e.store == nil {
		e.store = fsStore(t)
	}
	cfg := Config{
		Store:        e.store,
		Issuer:       e.op.Issuer,
		ClientID:     testservers.OPWebClient,
		ClientSecret: testservers.OPClientSecret,
		RedirectURL:  e.redirect,
		HTTPClient:   &http.Client{Transport: e.rt, Timeout: 10 * time.Second},
		Logger:       slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if mutate != nil {
		mutate(&cfg)
	}
	a, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return a
}

func (e *env) mux(a *OIDC) http.Handler {
	login, callback, logout := a.Handlers()
	mux := http.NewServeMux()
	mux.Handle("/auth/login", login)
	mux.Handle("/auth/callback", callback)
	mux.Handle("/auth/logout", logout)
	mux.HandleFunc("/api/probe", func(w http.ResponseWriter, r *http.Request) {
		p, err := a.Authenticate(r)
		if err != nil {
			http.Error(w, "unauthenticated", http.StatusUnauthorized)
			return
		}
		if err := a.CheckCSRF(r); err != nil {
			http.Error(w, "csrf_failed", http.StatusForbidden)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{
			"subject": p.Subject, "tenant": p.Tenant, "name": p.Name, "email": p.Email,
			"csrf_token": a.CSRFToken(r),
		})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "home") })
	return mux
}

func bearerRequest(token string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/api/v1/services", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	return r
}

func mustUnauthenticated(t *testing.T, a *OIDC, name string, r *http.Request, want ...error) {
	t.Helper()
	p, err := a.Authenticate(r)
	if err == nil {
		t.Errorf("%s: accepted as %+v", name, p)
		return
	}
	if !errors.Is(err, authn.ErrUnauthenticated) {
		t.Errorf("%s: error %v does not wrap ErrUnauthenticated", name, err)
	}
	// The API may log this error: it must not quote the credential.
	_, cred, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	for _, piece := range strings.Split(cred, ".") {
		if len(piece) >= 16 && strings.Contains(err.Error(), piece) {
			t.Errorf("%s: the error message quotes the token", name)
		}
	}
	for _, w := range want {
		if !errors.Is(err, w) {
			t.Errorf("%s: error %q, want it to be %q", name, err, w)
		}
	}
}

func TestBearerTokensAgainstRealOP(t *testing.T) {
	e := newEnv(t, nil)
	a := e.auth
	webAsked := time.Now()
	web := e.op.CodeFlowTokens(t, testservers.OPWebClient, testservers.OPClientSecret, e.redirect, testservers.OPUser, testservers.OPPassword)
	webGot := time.Now()
	if looksLikeJWT(web.AccessToken) {
		t.Fatalf("the example OP now issues JWT access tokens; revisit these tests")
	}
	if !looksLikeJWT(web.IDToken) {
		t.Fatalf("ID token is not a compact JWS")
	}
	secrets := []string{web.AccessToken, web.IDToken}

	t.Run("opaque access token, introspected", func(t *testing.T) {
		p, err := a.Authenticate(bearerRequest(web.AccessToken))
		if err != nil {
			t.Fatal(err)
		}
		want := authn.Principal{Subject: testservers.OPUserSubject, Tenant: testservers.OPUserSubject, Name: "Test User", Email: "test-user@zitadel.ch", Role: authn.RoleDeployer}
		if p != want {
			t.Errorf("principal %+v, want %+v", p, want)
		}
		before := e.rt.count("/oauth/introspect")
		for i := 0; i < 5; i++ {
			if _, err := a.Authenticate(bearerRequest(web.AccessToken)); err != nil {
				t.Fatal(err)
			}
		}
		if after := e.rt.count("/oauth/introspect"); after != before {
			t.Errorf("%d introspections for cached token, want 0", after-before)
		}
	})

	t.Run("concurrent use", func(t *testing.T) {
		var wg sync.WaitGroup
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := 0; j < 20; j++ {
					tok := web.AccessToken
					if j%2 == 1 {
						tok = web.IDToken
					}
					if _, err := a.Authenticate(bearerRequest(tok)); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
	})

	t.Run("JWT (the OP's ID token, aud web)", func(t *testing.T) {
		p, err := a.Authenticate(bearerRequest(web.IDToken))
		if err != nil {
			t.Fatal(err)
		}
		if p.Subject != testservers.OPUserSubject || p.Tenant != testservers.OPUserSubject {
			t.Errorf("principal %+v", p)
		}
	})

	t.Run("opaque token of another client (wrong audience)", func(t *testing.T) {
		other := e.op.CodeFlowTokens(t, testservers.OPAPIClient, testservers.OPClientSecret, e.redirect, testservers.OPUser, testservers.OPPassword)
		secrets = append(secrets, other.AccessToken, other.IDToken)
		mustUnauthenticated(t, a, "api's access token", bearerRequest(other.AccessToken), errInactive)
		mustUnauthenticated(t, a, "api's ID token", bearerRequest(other.IDToken), oidc.ErrAudience)
	})

	t.Run("client-credentials token of the service user", func(t *testing.T) {
		tok := e.op.ClientCredentialsToken(t, testservers.OPServiceUser, testservers.OPServiceSecret)
		secrets = append(secrets, tok)
		mustUnauthenticated(t, a, "sid1 token", bearerRequest(tok), errInactive)
	})

	t.Run("wrong audience (JWT)", func(t *testing.T) {
		apiAudience := e.newAuth(t, func(c *Config) { c.Audience = testservers.OPAPIClient })
		mustUnauthenticated(t, apiAudience, "web's ID token for audience api", bearerRequest(web.IDToken), oidc.ErrAudience)
	})

	t.Run("wrong issuer, key trusted", func(t *testing.T) {
		// A discovery document naming another issuer but the real OP's keys: the token's
		// signature verifies, only its iss is wrong.
		other := fakeIssuer(t, e.op)
		a2, err := New(context.Background(), Config{Issuer: other, ClientID: testservers.OPWebClient, ClientSecret: testservers.OPClientSecret})
		if err != nil {
			t.Fatal(err)
		}
		mustUnauthenticated(t, a2, "real token, other issuer", bearerRequest(web.IDToken), oidc.ErrIssuerInvalid)
	})

	t.Run("token of another real issuer", func(t *testing.T) {
		op2 := testservers.OIDCProvider(t, e.redirect)
		foreign := op2.CodeFlowTokens(t, testservers.OPWebClient, testservers.OPClientSecret, e.redirect, testservers.OPUser, testservers.OPPassword)
		secrets = append(secrets, foreign.AccessToken, foreign.IDToken)
		mustUnauthenticated(t, a, "foreign ID token", bearerRequest(foreign.IDToken), oidc.ErrIssuerInvalid)
		mustUnauthenticated(t, a, "foreign access token", bearerRequest(foreign.AccessToken), errInactive)
	})

	t.Run("expired", func(t *testing.T) {
		late := e.newAuth(t, nil)
		late.now = func() time.Time { return time.Now().Add(2 * time.Hour) }
		mustUnauthenticated(t, late, "expired ID token", bearerRequest(web.IDToken), errExpired)
		mustUnauthenticated(t, late, "expired access token", bearerRequest(web.AccessToken), errExpired)
	})

	t.Run("cache never outlives the token", func(t *testing.T) {
		a3 := e.newAuth(t, nil)
		// The access token expires its lifetime (the OP gives 5 minutes) after it was
		// issued, between webAsked and webGot (the exp claim has whole seconds). The
		// clock is set from those instants, not from now: the subtests before this one
		// may have taken a while on a loaded machine.
		life := 5 * time.Minute
		if web.ExpiresIn > 0 {
			life = time.Duration(web.ExpiresIn) * time.Second
		}
		var clock atomic.Int64
		clock.Store(webAsked.Add(life - 10*time.Second).UnixNano()) // ten seconds before exp
		a3.now = func() time.Time { return time.Unix(0, clock.Load()) }
		if _, err := a3.Authenticate(bearerRequest(web.AccessToken)); err != nil {
			t.Fatal(err)
		}
		clock.Store(webGot.Add(life + 5*time.Second).UnixNano()) // past exp
		before := e.rt.count("/oauth/introspect")
		mustUnauthenticated(t, a3, "token past exp", bearerRequest(web.AccessToken), errExpired)
		if e.rt.count("/oauth/introspect") == before {
			t.Error("answered from a cache entry past the token's exp")
		}
	})

	header, payload, sig := splitJWT(t, web.IDToken)
	var claims map[string]any
	decodeSegment(t, payload, &claims)
	var hdr map[string]any
	decodeSegment(t, header, &hdr)

	t.Run("tampered payload", func(t *testing.T) {
		forged := cloneMap(claims)
		forged["sub"] = testservers.OPUser2Subject
		tok := header + "." + encodeSegment(t, forged) + "." + sig
		mustUnauthenticated(t, a, "sub changed", bearerRequest(tok), oidc.ErrSignatureInvalid)

		flipped := []byte(payload)
		flipped[len(flipped)/2] ^= 0x01
		mustUnauthenticated(t, a, "payload byte flipped", bearerRequest(header+"."+string(flipped)+"."+sig))
	})

	t.Run("tampered signature", func(t *testing.T) {
		raw, err := base64.RawURLEncoding.DecodeString(sig)
		if err != nil {
			t.Fatal(err)
		}
		raw[len(raw)/2] ^= 0x01
		tok := header + "." + payload + "." + base64.RawURLEncoding.EncodeToString(raw)
		mustUnauthenticated(t, a, "signature byte flipped", bearerRequest(tok), oidc.ErrSignatureInvalid)
	})

	t.Run("alg none", func(t *testing.T) {
		for _, alg := range []string{"none", "None", "NONE", ""} {
			h := encodeSegment(t, map[string]any{"alg": alg, "typ": "JWT"})
			mustUnauthenticated(t, a, "alg "+alg, bearerRequest(h+"."+payload+"."), errAlgRefused)
			mustUnauthenticated(t, a, "alg "+alg+" with the real signature", bearerRequest(h+"."+payload+"."+sig), errAlgRefused)
		}
	})

	t.Run("HS256 keyed with the public key", func(t *testing.T) {
		h := encodeSegment(t, map[string]any{"alg": "HS256", "typ": "JWT", "kid": hdr["kid"]})
		mac := hmac.New(sha256.New, []byte(e.jwks(t)))
		mac.Write([]byte(h + "." + payload))
		tok := h + "." + payload + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
		mustUnauthenticated(t, a, "HS256", bearerRequest(tok), errAlgRefused)
	})

	t.Run("alg not the key's", func(t *testing.T) {
		// PS256 fits an RSA key, but the OP publishes its key for RS256 only.
		key, _ := rsa.GenerateKey(rand.Reader, 2048)
		tok := signJWT(t, key, jose.PS256, hdr["kid"].(string), claims)
		mustUnauthenticated(t, a, "PS256 with the RS256 key's kid", bearerRequest(tok), oidc.ErrSignatureInvalid, errNoKey)
	})

	t.Run("right claims, other key", func(t *testing.T) {
		key, _ := rsa.GenerateKey(rand.Reader, 2048)
		sameKid := signJWT(t, key, jose.RS256, hdr["kid"].(string), claims)
		mustUnauthenticated(t, a, "signed by another key, same kid", bearerRequest(sameKid), oidc.ErrSignatureInvalid)
		otherKid := signJWT(t, key, jose.RS256, "attacker-key", claims)
		mustUnauthenticated(t, a, "signed by another key, own kid", bearerRequest(otherKid), oidc.ErrSignatureInvalid, errNoKey)
		noKid := signJWT(t, key, jose.RS256, "", claims)
		mustUnauthenticated(t, a, "signed by another key, no kid", bearerRequest(noKid), oidc.ErrSignatureInvalid)
	})

	t.Run("garbage", func(t *testing.T) {
		for _, tok := range []string{"garbage", "a.b.c", "eyJhbGciOiJSUzI1NiJ9.e30.c2ln", "x" + web.AccessToken, strings.Repeat("A", 300), randomToken()} {
			mustUnauthenticated(t, a, "garbage "+tok[:min(len(tok), 12)], bearerRequest(tok))
		}
		for _, h := range []string{"Bearer", "Bearer a b", "Basic dXNlcjpwYXNz", "Bearer \x01", web.AccessToken} {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set("Authorization", h)
			mustUnauthenticated(t, a, "header "+h[:min(len(h), 12)], r)
		}
	})

	t.Run("token in the URL", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodGet, "/api/v1/services?access_token="+url.QueryEscape(web.AccessToken), nil)
		mustUnauthenticated(t, a, "access_token query", r)
		r = bearerRequest(web.AccessToken)
		r.URL.RawQuery = "access_token=" + url.QueryEscape(web.AccessToken)
		mustUnauthenticated(t, a, "access_token query next to a valid header", r)
	})

	t.Run("no credentials", func(t *testing.T) {
		mustUnauthenticated(t, a, "no header", httptest.NewRequest(http.MethodGet, "/", nil))
	})

	t.Run("bearer requests need no CSRF token", func(t *testing.T) {
		r := bearerRequest(web.AccessToken)
		r.Method = http.MethodPost
		if err := a.CheckCSRF(r); err != nil {
			t.Errorf("CheckCSRF on bearer POST: %v", err)
		}
		if tok := a.CSRFToken(r); tok != "" {
			t.Errorf("CSRFToken for bearer = %q, want empty", tok)
		}
	})

	t.Run("over HTTP", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/api/probe", nil)
		req.Header.Set("Authorization", "Bearer "+web.AccessToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("bearer POST: %s", resp.Status)
		}
	})

	assertNoSecretsLogged(t, e.logs.String(), secrets...)
}

func TestTenantClaimAgainstRealOP(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.TenantClaim = "client_id" })
	web := e.op.CodeFlowTokens(t, testservers.OPWebClient, testservers.OPClientSecret, e.redirect, testservers.OPUser, testservers.OPPassword)
	for name, tok := range map[string]string{"opaque": web.AccessToken, "JWT": web.IDToken} {
		p, err := e.auth.Authenticate(bearerRequest(tok))
		if err != nil || p.Tenant != testservers.OPWebClient || p.Subject != testservers.OPUserSubject {
			t.Errorf("%s: got %+v, %v; want tenant %q from client_id", name, p, err, testservers.OPWebClient)
		}
	}
	// A claim that is not a valid id is refused, not rewritten.
	bad := e.newAuth(t, func(c *Config) { c.TenantClaim = "preferred_username" })
	mustUnauthenticated(t, bad, "tenant claim test-user@localhost", bearerRequest(web.AccessToken), errTenantClaim)
	missing := e.newAuth(t, func(c *Config) { c.TenantClaim = "org" })
	mustUnauthenticated(t, missing, "missing tenant claim", bearerRequest(web.IDToken), errTenantClaim)
}

func TestBrowserSignInAgainstRealOP(t *testing.T) {
	e := newEnv(t, nil)
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	noFollow := &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	base, _ := url.Parse(e.srv.URL)

	// The login redirect carries PKCE and a nonce, and sets the login cookie on the
	// callback path only.
	resp, err := noFollow.Get(e.srv.URL + "/auth/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := resp.Location()
	if resp.StatusCode != http.StatusFound || loc == nil || !strings.HasPrefix(loc.String(), e.op.Issuer) {
		t.Fatalf("login: %s to %v", resp.Status, loc)
	}
	for _, p := range []string{"code_challenge", "state", "nonce"} {
		if loc.Query().Get(p) == "" {
			t.Errorf("authorization request without %s", p)
		}
	}
	if m := loc.Query().Get("code_challenge_method"); m != "S256" {
		t.Errorf("code_challenge_method %q, want S256", m)
	}
	loginCookie := findCookie(resp, "spawnit_login")
	if loginCookie == nil || !loginCookie.HttpOnly || loginCookie.Path != "/auth/callback" || loginCookie.SameSite != http.SameSiteLaxMode {
		t.Errorf("login cookie missing or not HttpOnly, Path=/auth/callback, SameSite=Lax")
	}

	// Sign in for real, coming back to a deep link.
	back := e.op.SignIn(t, browser, e.srv.URL+"/auth/login?return_to="+url.QueryEscape("/services/web-1?tab=jobs"), testservers.OPUser, testservers.OPPassword)
	if back.Host != base.Host || back.Path != "/auth/callback" || back.Query().Get("code") == "" {
		t.Fatalf("OP sent the browser to %s%s", back.Host, back.Path)
	}
	code := back.Query().Get("code")
	resp, err = noFollow.Get(back.String())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("callback: %s: %s\nlogs:\n%s", resp.Status, body, e.logs.String())
	}
	if got := resp.Header.Get("Location"); got != "/services/web-1?tab=jobs" {
		t.Errorf("callback redirects to %q, want the return_to path", got)
	}
	sc := findCookie(resp, "spawnit_session")
	if sc == nil {
		t.Fatal("callback set no session cookie")
	}
	if !sc.HttpOnly || sc.SameSite != http.SameSiteLaxMode || sc.Path != "/" || sc.Secure || sc.MaxAge <= 0 {
		t.Errorf("session cookie HttpOnly=%v SameSite=%v Path=%q Secure=%v MaxAge=%d: want HttpOnly, SameSite=Lax, Path=/, not Secure (CookieSecure off), MaxAge>0",
			sc.HttpOnly, sc.SameSite, sc.Path, sc.Secure, sc.MaxAge)
	}
	sessionID := sc.Value
	if strings.Contains(sessionID, testservers.OPUserSubject) || len(sessionID) < 40 {
		t.Errorf("session id does not look opaque and random")
	}

	// The cookie authenticates; the tenant is the derived one.
	withCookie := func(method string) *http.Request {
		r := httptest.NewRequest(method, "/api/v1/services", nil)
		r.AddCookie(&http.Cookie{Name: "spawnit_session", Value: sessionID})
		return r
	}
	p, err := e.auth.Authenticate(withCookie(http.MethodGet))
	if err != nil {
		t.Fatal(err)
	}
	want := authn.Principal{Subject: testservers.OPUserSubject, Tenant: TenantFromSubject(e.op.Issuer, testservers.OPUserSubject), Name: "Test User", Email: "test-user@zitadel.ch", Role: authn.RoleDeployer}
	if p != want {
		t.Errorf("principal %+v, want %+v", p, want)
	}

	// CSRF.
	csrf := e.auth.CSRFToken(withCookie(http.MethodGet))
	if csrf == "" || csrf == sessionID {
		t.Fatalf("CSRF token %q", csrf)
	}
	if err := e.auth.CheckCSRF(withCookie(http.MethodGet)); err != nil {
		t.Errorf("GET needs no CSRF token: %v", err)
	}
	post := withCookie(http.MethodPost)
	if err := e.auth.CheckCSRF(post); !errors.Is(err, authn.ErrCSRF) {
		t.Errorf("POST without X-CSRF-Token: %v, want ErrCSRF", err)
	}
	post.Header.Set("X-CSRF-Token", csrf[:len(csrf)-1]+"x")
	if err := e.auth.CheckCSRF(post); !errors.Is(err, authn.ErrCSRF) {
		t.Errorf("POST with a wrong X-CSRF-Token: %v, want ErrCSRF", err)
	}
	post.Header.Set("X-CSRF-Token", csrf)
	if err := e.auth.CheckCSRF(post); err != nil {
		t.Errorf("POST with the right X-CSRF-Token: %v", err)
	}
	for _, m := range []string{http.MethodPut, http.MethodPatch, http.MethodDelete} {
		if err := e.auth.CheckCSRF(withCookie(m)); !errors.Is(err, authn.ErrCSRF) {
			t.Errorf("%s without X-CSRF-Token: %v, want ErrCSRF", m, err)
		}
	}

	// The same through HTTP with the browser's cookie jar.
	probe := func(method, csrfHeader string) int {
		req, _ := http.NewRequest(method, e.srv.URL+"/api/probe", nil)
		if csrfHeader != "" {
			req.Header.Set("X-CSRF-Token", csrfHeader)
		}
		resp, err := browser.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := probe(http.MethodGet, ""); got != http.StatusOK {
		t.Errorf("GET with the session cookie: %d", got)
	}
	if got := probe(http.MethodPost, ""); got != http.StatusForbidden {
		t.Errorf("POST without CSRF header: %d, want 403", got)
	}
	if got := probe(http.MethodPost, csrf); got != http.StatusOK {
		t.Errorf("POST with CSRF header: %d, want 200", got)
	}

	// The callback URL cannot be replayed.
	resp, err = noFollow.Get(back.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || findCookie(resp, "spawnit_session") != nil {
		t.Errorf("replayed callback: %s, want 400 and no session", resp.Status)
	}

	// Logout needs POST and the CSRF header.
	logout := func(method, csrfHeader string) *http.Response {
		req, _ := http.NewRequest(method, e.srv.URL+"/auth/logout", nil)
		if csrfHeader != "" {
			req.Header.Set("X-CSRF-Token", csrfHeader)
		}
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if r := logout(http.MethodGet, csrf); r.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /auth/logout: %s, want 405", r.Status)
	}
	if r := logout(http.MethodPost, ""); r.StatusCode != http.StatusForbidden {
		t.Errorf("logout without CSRF: %s, want 403", r.Status)
	}
	if _, err := e.auth.Authenticate(withCookie(http.MethodGet)); err != nil {
		t.Fatalf("session gone after a refused logout: %v", err)
	}
	r := logout(http.MethodPost, csrf)
	if r.StatusCode != http.StatusNoContent {
		t.Errorf("logout: %s, want 204", r.Status)
	}
	if c := findCookie(r, "spawnit_session"); c == nil || c.MaxAge >= 0 || c.Value != "" {
		t.Errorf("logout does not clear the session cookie")
	}
	mustUnauthenticated(t, e.auth, "cookie after logout", withCookie(http.MethodGet))
	if got := probe(http.MethodGet, ""); got != http.StatusUnauthorized {
		t.Errorf("GET after logout: %d, want 401", got)
	}

	// Tokens in URLs are refused even with a valid session.
	second := e.signIn(t)
	r2 := httptest.NewRequest(http.MethodGet, "/api/v1/services?access_token=x", nil)
	r2.AddCookie(second)
	mustUnauthenticated(t, e.auth, "access_token query with a session", r2)

	assertNoSecretsLogged(t, e.logs.String(), sessionID, csrf, code, second.Value)
}

func TestBrowserSignInRefusals(t *testing.T) {
	e := newEnv(t, nil)
	noFollow := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}

	t.Run("open redirects", func(t *testing.T) {
		for _, rt := range []string{"https://evil.example/", "//evil.example/x", "/\\evil.example", "\\\\evil.example", "/\t/evil.example", "javascript:alert(1)", "evil.example"} {
			resp, err := noFollow.Get(e.srv.URL + "/auth/login?return_to=" + url.QueryEscape(rt))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest || findCookie(resp, "spawnit_login") != nil {
				t.Errorf("return_to %q: %s, want 400 before any redirect", rt, resp.Status)
			}
		}
	})

	t.Run("state mismatch", func(t *testing.T) {
		jar, _ := cookiejar.New(nil)
		browser := &http.Client{Jar: jar, Timeout: 10 * time.Second}
		back := e.op.SignIn(t, browser, e.srv.URL+"/auth/login", testservers.OPUser, testservers.OPPassword)
		q := back.Query()
		q.Set("state", "forged")
		back.RawQuery = q.Encode()
		stop := *browser
		stop.CheckRedirect = noFollow.CheckRedirect
		resp, err := stop.Get(back.String())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || findCookie(resp, "spawnit_session") != nil {
			t.Errorf("forged state: %s, want 400 and no session", resp.Status)
		}
	})

	t.Run("callback without login cookie", func(t *testing.T) {
		jar, _ := cookiejar.New(nil)
		browser := &http.Client{Jar: jar, Timeout: 10 * time.Second}
		back := e.op.SignIn(t, browser, e.srv.URL+"/auth/login", testservers.OPUser, testservers.OPPassword)
		resp, err := noFollow.Get(back.String()) // another browser: no cookie
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || findCookie(resp, "spawnit_session") != nil {
			t.Errorf("callback in another browser: %s, want 400 and no session", resp.Status)
		}
	})

	t.Run("error from the provider", func(t *testing.T) {
		jar, _ := cookiejar.New(nil)
		browser := &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: noFollow.CheckRedirect}
		resp, err := browser.Get(e.srv.URL + "/auth/login")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, _ := resp.Location()
		resp, err = browser.Get(e.redirect + "?error=access_denied&state=" + url.QueryEscape(loc.Query().Get("state")))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || findCookie(resp, "spawnit_session") != nil {
			t.Errorf("provider error: %s, want 401 and no session", resp.Status)
		}
	})
}

func TestSecureCookies(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.CookieSecure = true })
	noFollow := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	resp, err := noFollow.Get(e.srv.URL + "/auth/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	login := findCookie(resp, "__Secure-spawnit_login")
	if login == nil || !login.Secure || !login.HttpOnly {
		t.Fatal("login cookie missing, or not __Secure-, Secure and HttpOnly")
	}
	authURL, _ := resp.Location()

	// Go's cookie jar keeps Secure cookies off plain HTTP, as browsers do, so the
	// login cookie is carried by hand over the test's HTTP server.
	jar, _ := cookiejar.New(nil)
	back := e.op.SignIn(t, &http.Client{Jar: jar, Timeout: 10 * time.Second}, authURL.String(), testservers.OPUser, testservers.OPPassword)
	req, _ := http.NewRequest(http.MethodGet, back.String(), nil)
	req.AddCookie(login)
	resp, err = noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	sc := findCookie(resp, "__Host-spawnit_session")
	if resp.StatusCode != http.StatusSeeOther || sc == nil {
		t.Fatalf("callback: %s, session cookie present: %v", resp.Status, sc != nil)
	}
	if !sc.Secure || !sc.HttpOnly || sc.Path != "/" || sc.Domain != "" || sc.SameSite != http.SameSiteLaxMode {
		t.Errorf("__Host- session cookie must be Secure, HttpOnly, Path=/, host-only, SameSite=Lax")
	}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.AddCookie(sc)
	if _, err := e.auth.Authenticate(r); err != nil {
		t.Errorf("secure session cookie refused: %v", err)
	}
	r = httptest.NewRequest(http.MethodGet, "/", nil)
	r.AddCookie(&http.Cookie{Name: "spawnit_session", Value: sc.Value})
	mustUnauthenticated(t, e.auth, "session id under the unprefixed name", r)
}

func TestBrowserSignInHostileSubjects(t *testing.T) {
	users := []testservers.OPAccount{
		{ID: "Alice@Example.COM", Username: "alice", Password: "pw-alice", FirstName: "Alice", Email: "alice@example.com", EmailVerified: true},
		{ID: "../../etc/passwd", Username: "mallory", Password: "pw-mallory", FirstName: "Mallory"},
		{ID: "local", Username: "local", Password: "pw-local"},
	}
	e := &env{logs: &lockedBuffer{}, rt: &countingTransport{}}
	var handler atomic.Value
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handler.Load().(http.Handler).ServeHTTP(w, r)
	}))
	t.Cleanup(e.srv.Close)
	e.redirect = e.srv.URL + "/auth/callback"
	e.op = testservers.OIDCProviderWithUsers(t, users, e.redirect)
	e.auth = e.newAuth(t, nil)
	handler.Store(e.mux(e.auth))

	tenants := map[string]string{}
	for _, u := range users {
		jar, _ := cookiejar.New(nil)
		browser := &http.Client{Jar: jar, Timeout: 10 * time.Second}
		back := e.op.SignIn(t, browser, e.srv.URL+"/auth/login", u.Username, u.Password)
		stop := *browser
		stop.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		resp, err := stop.Get(back.String())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		sc := findCookie(resp, "spawnit_session")
		if sc == nil {
			t.Fatalf("%s: no session (%s)", u.Username, resp.Status)
		}
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.AddCookie(sc)
		p, err := e.auth.Authenticate(r)
		if err != nil {
			t.Fatal(err)
		}
		if p.Subject != u.ID {
			t.Errorf("subject %q, want %q", p.Subject, u.ID)
		}
		if err := engine.ValidateID(p.Tenant); err != nil || !strings.HasPrefix(p.Tenant, "u-") || p.Tenant != TenantFromSubject(e.op.Issuer, u.ID) {
			t.Errorf("sub %q: tenant %q, want the hashed form", u.ID, p.Tenant)
		}
		if prev, ok := tenants[p.Tenant]; ok {
			t.Errorf("subs %q and %q share tenant %q", prev, u.ID, p.Tenant)
		}
		tenants[p.Tenant] = u.ID
	}
}

// signIn runs a whole browser sign-in as the default user and returns the session cookie.
func (e *env) signIn(t *testing.T) *http.Cookie {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	back := e.op.SignIn(t, browser, e.srv.URL+"/auth/login", testservers.OPUser, testservers.OPPassword)
	stop := *browser
	stop.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := stop.Get(back.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	sc := findCookie(resp, "spawnit_session")
	if sc == nil {
		t.Fatalf("sign-in: no session cookie (%s)", resp.Status)
	}
	return sc
}

func (e *env) jwks(t *testing.T) string {
	t.Helper()
	resp, err := http.Get(e.op.URL("keys"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// fakeIssuer serves a discovery document for an issuer of its own whose keys and
// endpoints are the real OP's.
func fakeIssuer(t *testing.T, op *testservers.OP) string {
	t.Helper()
	var issuer string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/openid-configuration" {
			http.NotFound(w, r)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer":                 issuer,
			"jwks_uri":               op.URL("keys"),
			"token_endpoint":         op.URL("oauth/token"),
			"introspection_endpoint": op.URL("oauth/introspect"),
			"authorization_endpoint": op.URL("auth"),
		})
	}))
	t.Cleanup(srv.Close)
	issuer = srv.URL + "/"
	return issuer
}

func assertNoSecretsLogged(t *testing.T, logs string, secrets ...string) {
	t.Helper()
	if logs == "" {
		t.Error("no log output captured; the leak check would prove nothing")
	}
	for _, s := range secrets {
		if s == "" {
			continue
		}
		// Any long enough piece would do: a token's signature or payload alone is
		// as sensitive as the whole.
		for _, piece := range strings.Split(s, ".") {
			if len(piece) >= 16 && strings.Contains(logs, piece) {
				t.Errorf("a secret (%d chars, starting %.6s…) appears in the logs", len(s), s)
				break
			}
		}
	}
}

func findCookie(resp *http.Response, name string) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func splitJWT(t *testing.T, tok string) (header, payload, sig string) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %d parts", len(parts))
	}
	return parts[0], parts[1], parts[2]
}

func decodeSegment(t *testing.T, seg string, v any) {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatal(err)
	}
}

func encodeSegment(t *testing.T, v any) string {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(raw)
}

func cloneMap(m map[string]any) map[string]any {
	c := make(map[string]any, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func signJWT(t *testing.T, key *rsa.PrivateKey, alg jose.SignatureAlgorithm, kid string, claims map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if kid != "" {
		opts = opts.WithHeader("kid", kid)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestBrowserSessionsAcrossReplicas: two replicas on one store behind one address (the
// load balancer swaps which one answers). A sign-in started on A and finished on B
// works; its session works on A, on B and on a replica started later (a restart); a
// sign-out on B is refused on A; a replica with another secret, and a tampered cookie,
// are refused. Run with the operator's secret and with the secret kept in the store.
func TestBrowserSessionsAcrossReplicas(t *testing.T) {
	for _, mode := range []struct {
		name   string
		secret []byte
	}{
		{"operator's secret", []byte("an operator's secret, long enough for HKDF")},
		{"secret kept in the store", nil},
	} {
		t.Run(mode.name, func(t *testing.T) {
			withSecret := func(c *Config) { c.SessionSecret = mode.secret }
			e := newEnv(t, withSecret)
			var lb atomic.Value
			lb.Store(e.mux(e.auth))
			e.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				lb.Load().(http.Handler).ServeHTTP(w, r)
			})
			a := e.auth
			b := e.newAuth(t, withSecret)
			route := func(o *OIDC) { lb.Store(e.mux(o)) }

			jar, _ := cookiejar.New(nil)
			browser := &http.Client{Jar: jar, Timeout: 10 * time.Second}
			noFollow := *browser
			noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

			// /auth/login on A, the provider's redirect back lands on B.
			route(a)
			back := e.op.SignIn(t, browser, e.srv.URL+"/auth/login?return_to=/services", testservers.OPUser, testservers.OPPassword)
			route(b)
			resp, err := noFollow.Get(back.String())
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/services" {
				t.Fatalf("callback on B after login on A: %s %s\nlogs:\n%s", resp.Status, body, e.logs.String())
			}
			sc := findCookie(resp, "spawnit_session")
			if sc == nil {
				t.Fatal("no session cookie")
			}

			probe := func(o *OIDC, method, csrf string) (int, map[string]string) {
				t.Helper()
				route(o)
				req, _ := http.NewRequest(method, e.srv.URL+"/api/probe", nil)
				if csrf != "" {
					req.Header.Set("X-CSRF-Token", csrf)
				}
				resp, err := noFollow.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				var got map[string]string
				if resp.StatusCode == http.StatusOK {
					if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
						t.Fatal(err)
					}
				}
				return resp.StatusCode, got
			}
			status, me := probe(b, http.MethodGet, "")
			if status != http.StatusOK || me["subject"] != testservers.OPUserSubject || me["csrf_token"] == "" {
				t.Fatalf("B, where the sign-in ended: %d %v", status, me)
			}
			csrf := me["csrf_token"]
			if status, onA := probe(a, http.MethodGet, ""); status != http.StatusOK || onA["subject"] != me["subject"] || onA["csrf_token"] != csrf {
				t.Fatalf("A: %d %v, want the same session as on B", status, onA)
			}
			// The CSRF token is the session's, on every replica.
			if status, _ := probe(a, http.MethodPost, csrf); status != http.StatusOK {
				t.Errorf("POST on A with the token B gave: %d", status)
			}

			// A restart: a new process on the same store, with the same configuration.
			restarted := e.newAuth(t, withSecret)
			if status, _ := probe(restarted, http.MethodGet, ""); status != http.StatusOK {
				t.Errorf("after a restart: %d, want the session to survive", status)
			}

			// Another secret (an operator's mistake, or a rotation) refuses the cookie.
			other := e.newAuth(t, func(c *Config) { c.SessionSecret = []byte("another secret, also long enough for HKDF") })
			mustUnauthenticated(t, other, "cookie under another secret", cookieRequest(sc))
			if status, _ := probe(other, http.MethodGet, ""); status != http.StatusUnauthorized {
				t.Errorf("replica with another secret: %d, want 401", status)
			}

			// A tampered cookie is refused.
			id, mac, _ := strings.Cut(sc.Value, ".")
			differ := map[bool]string{true: "B", false: "A"}
			for _, v := range []string{id, id + "." + differ[mac[0] == 'A'] + mac[1:], differ[id[0] == 'A'] + id[1:] + "." + mac} {
				mustUnauthenticated(t, a, "tampered cookie", cookieRequest(&http.Cookie{Name: sc.Name, Value: v}))
			}

			// Sign-out on B: A refuses the cookie at once.
			route(b)
			req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/auth/logout", nil)
			req.Header.Set("X-CSRF-Token", csrf)
			out, err := noFollow.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			out.Body.Close()
			if out.StatusCode != http.StatusNoContent {
				t.Fatalf("logout on B: %s", out.Status)
			}
			mustUnauthenticated(t, a, "cookie signed out on B, on A", cookieRequest(sc))
			mustUnauthenticated(t, restarted, "cookie signed out on B, after a restart", cookieRequest(sc))
			assertNoSecretsLogged(t, e.logs.String(), sc.Value, csrf)
		})
	}
}

func cookieRequest(c *http.Cookie) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/api/v1/services", nil)
	r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	return r
}
