package testservers

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// What the zitadel/oidc example OpenID Provider (example/server of
// github.com/zitadel/oidc/v3, built as .tools/bin/oidc-op) has built in. These were read
// from its source (example/server/main.go and example/server/storage) and checked against
// the running binary; the OP's behaviour is the contract, so they are spelled out here
// rather than rediscovered in every test.
//
//   - Every access token it issues is opaque (a JWE with five dot-separated parts): no
//     client has AccessTokenTypeJWT. Introspection answers active:true only to a client
//     listed in the token's audience, and the audience of a code-flow token is exactly
//     the client that obtained it. So tokens obtained by "web" introspect as active for
//     "web" only. The introspection response has no iss and no aud.
//   - ID tokens are JWTs signed RS256 with a key generated at start (JWKS at /keys),
//     aud [client], lifetime 1 h; access tokens live 5 minutes.
//   - The service user sid1/verysecret gets client-credentials tokens with audience
//     [sid1], but sid1 is not a client that may call introspection, so those tokens
//     never introspect as active for anyone.
//   - The login UI is /login/username?authRequestID=ID: a form POSTing id, username and
//     password back to /login/username, which redirects to the OP's /auth/callback and
//     then to the client's redirect_uri with code and state.
const (
	OPUser            = "test-user@localhost" // subject OPUserSubject
	OPPassword        = "verysecure"
	OPUserSubject     = "id1"
	OPUser2           = "test-user2" // subject OPUser2Subject, same password
	OPUser2Subject    = "id2"
	OPWebClient       = "web" // confidential, client_secret_basic, http redirect URIs allowed
	OPAPIClient       = "api" // same kind as web, a distinct audience
	OPClientSecret    = "secret"
	OPNativeClient    = "native" // public, PKCE
	OPServiceUser     = "sid1"   // client credentials only
	OPServiceSecret   = "verysecret"
	opReadyTimeout    = 20 * time.Second
	opLoginFormAction = "/login/username"
)

// OPAccount is one user of a USERS_FILE (see OIDCProviderWithUsers). ID becomes the
// subject of the user's tokens.
type OPAccount struct {
	ID                string
	Username          string
	Password          string
	FirstName         string
	LastName          string
	Email             string
	EmailVerified     bool
	PreferredLanguage string
	IsAdmin           bool
}

// OP is a running example OpenID Provider.
type OP struct {
	Issuer  string // http://localhost:PORT/ (with the trailing slash, as in its tokens)
	Port    string
	LogFile string
	cmd     *exec.Cmd
	exited  chan struct{}
}

// OIDCProvider starts the zitadel/oidc example OpenID Provider on a free port with its
// built-in users, registering redirectURIs for its web, api and native clients, and
// stops it when the test ends. The binary is the one `go -C tools tool task tools` builds; when
// it is missing the test skips, or fails in CI.
func OIDCProvider(t testing.TB, redirectURIs ...string) *OP {
	t.Helper()
	return startOP(t, "", redirectURIs)
}

// OIDCProviderWithUsers is OIDCProvider with users of the test's choosing instead of
// the built-in ones (for subjects a test needs, such as hostile ones).
func OIDCProviderWithUsers(t testing.TB, users []OPAccount, redirectURIs ...string) *OP {
	t.Helper()
	byID := make(map[string]OPAccount, len(users))
	for _, u := range users {
		if u.PreferredLanguage == "" {
			u.PreferredLanguage = "en"
		}
		byID[u.ID] = u
	}
	data, err := json.Marshal(byID)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "users.json")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return startOP(t, file, redirectURIs)
}

func startOP(t testing.TB, usersFile string, redirectURIs []string) *OP {
	t.Helper()
	bin := Tool(t, "oidc-op")
	port := FreePort(t)
	op := &OP{
		Issuer:  "http://localhost:" + port + "/",
		Port:    port,
		LogFile: filepath.Join(t.TempDir(), "oidc-op.log"),
		exited:  make(chan struct{}),
	}
	logf, err := os.Create(op.LogFile)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin)
	// The OP reads its configuration only from these variables; an inherited USERS_FILE
	// would silently replace the users the test expects.
	env := make([]string, 0, len(os.Environ())+3)
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); k != "PORT" && k != "REDIRECT_URI" && k != "USERS_FILE" {
			env = append(env, kv)
		}
	}
	env = append(env, "PORT="+port)
	if len(redirectURIs) > 0 {
		env = append(env, "REDIRECT_URI="+strings.Join(redirectURIs, ","))
	}
	if usersFile != "" {
		env = append(env, "USERS_FILE="+usersFile)
	}
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("start oidc-op: %v", err)
	}
	op.cmd = cmd
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(op.exited)
	}()
	t.Cleanup(func() {
		op.stop()
		if t.Failed() {
			t.Logf("oidc-op log (%s):\n%s", op.LogFile, tail(op.LogFile, 4000))
		}
	})
	if err := op.waitReady(); err != nil {
		t.Fatalf("%v\n%s", err, tail(op.LogFile, 4000))
	}
	return op
}

func (o *OP) waitReady() error {
	client := &http.Client{Timeout: 2 * time.Second}
	wellKnown := o.Issuer + ".well-known/openid-configuration"
	deadline := time.Now().Add(opReadyTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-o.exited:
			return errors.New("oidc-op exited before it answered")
		default:
		}
		resp, err := client.Get(wellKnown)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	o.stop()
	return fmt.Errorf("oidc-op did not answer %s within %s", wellKnown, opReadyTimeout)
}

func (o *OP) stop() {
	if o.cmd != nil && o.cmd.Process != nil {
		_ = o.cmd.Process.Kill()
		<-o.exited
	}
}

// URL is the OP's base URL joined with path (which must not start with "/").
func (o *OP) URL(path string) string { return o.Issuer + path }

// ClientCredentialsToken returns an access token from the client-credentials grant.
func (o *OP) ClientCredentialsToken(t testing.TB, clientID, secret string) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"openid"}}
	return o.token(t, clientID, secret, form).AccessToken
}

// Tokens is a token endpoint answer.
type Tokens struct {
	AccessToken string `json:"access_token"`
	IDToken     string `json:"id_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
}

// CodeFlowTokens signs username in through the OP's login form as clientID (a
// confidential client) and redeems the code, returning the client's tokens. The
// redirect URI must be one the OP was started with; nothing has to listen there.
func (o *OP) CodeFlowTokens(t testing.TB, clientID, secret, redirectURI, username, password string) Tokens {
	t.Helper()
	q := url.Values{
		"client_id":     {clientID},
		"redirect_uri":  {redirectURI},
		"response_type": {"code"},
		"scope":         {"openid profile email"},
		"state":         {"test-state"},
	}
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	back := o.SignIn(t, client, o.URL("auth?"+q.Encode()), username, password)
	code := back.Query().Get("code")
	if code == "" {
		t.Fatalf("OP redirected back without a code (error %q)", back.Query().Get("error"))
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI}}
	return o.token(t, clientID, secret, form)
}

func (o *OP) token(t testing.TB, clientID, secret string, form url.Values) Tokens {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, o.URL("oauth/token"), strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("token endpoint: %s: %s", resp.Status, body)
	}
	var tok Tokens
	if err := json.Unmarshal(body, &tok); err != nil {
		t.Fatalf("token endpoint answer: %v", err)
	}
	return tok
}

// SignIn plays the browser: it GETs start (an application's login URL, or the OP's
// authorization URL) following redirects to the OP's login form, submits username and
// password, and follows the OP's redirects until one leaves the OP. It returns that
// redirect target (the application's redirect URI with code and state) without
// requesting it, so the caller decides how to call its callback. client should carry a
// cookie jar so the application's login cookies survive.
func (o *OP) SignIn(t testing.TB, client *http.Client, start, username, password string) *url.URL {
	t.Helper()
	resp, err := client.Get(start)
	if err != nil {
		t.Fatalf("sign-in: GET %s: %v", redact(start), err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	page := resp.Request.URL
	if resp.StatusCode != http.StatusOK || page.Path != opLoginFormAction {
		t.Fatalf("sign-in: expected the OP login form, got %s at %s", resp.Status, redact(page.String()))
	}
	authRequestID := page.Query().Get("authRequestID")
	if authRequestID == "" {
		t.Fatalf("sign-in: login form without authRequestID")
	}

	opHost := strings.TrimSuffix(strings.TrimPrefix(o.Issuer, "http://"), "/")
	stopAtApp := *client
	stopAtApp.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if req.URL.Host != opHost {
			return http.ErrUseLastResponse
		}
		if len(via) >= 10 {
			return errors.New("too many redirects")
		}
		return nil
	}
	form := url.Values{"id": {authRequestID}, "username": {username}, "password": {password}}
	resp, err = stopAtApp.PostForm(o.URL(strings.TrimPrefix(opLoginFormAction, "/")), form)
	if err != nil {
		t.Fatalf("sign-in: submit login form: %v", err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	if resp.StatusCode/100 != 3 {
		t.Fatalf("sign-in: login form answered %s (wrong credentials?): %.300s", resp.Status, body)
	}
	loc, err := resp.Location()
	if err != nil {
		t.Fatalf("sign-in: redirect without Location: %v", err)
	}
	return loc
}

// redact drops the query, which may carry codes or state, from URLs in messages.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<unparsable URL>"
	}
	u.RawQuery = ""
	return u.String()
}

func tail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > n {
		_, _ = f.Seek(-n, io.SeekEnd)
	}
	b, _ := io.ReadAll(f)
	return string(b)
}
