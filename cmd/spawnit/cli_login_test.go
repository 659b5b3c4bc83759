//go:build linux

package main

import (
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spawnit/spawnit/internal/testservers"
)

// TestLoginAgainstRealOP signs in with the test OpenID Provider's public client (PKCE,
// loopback redirect), uses the saved context, refreshes its token, and logs out
// (revoking the refresh token).
func TestLoginAgainstRealOP(t *testing.T) {
	op := testservers.OIDCProvider(t, "http://127.0.0.1/callback")
	base, _ := startServe(t, "--oidc-issuer", op.Issuer, "--oidc-client-id", testservers.OPWebClient,
		"--oidc-client-secret", testservers.OPClientSecret, "--oidc-cli-client-id", testservers.OPNativeClient)
	cli := newCLIRun(t, "")
	urls := make(chan string, 1)
	cli.openBrowser = func(u string) error { urls <- u; return nil }

	// Not signed in: the server refuses, and says how to sign in.
	if _, errOut, code := cli.run("--server", base, "services"); code != 1 || !strings.Contains(errOut, "spawnit login") {
		t.Fatalf("before login: exit %d %s", code, errOut)
	}

	type result struct {
		out, errOut string
		code        int
	}
	done := make(chan result, 1)
	go func() {
		out, errOut, code := cli.run("login", base, "--context", "test")
		done <- result{out, errOut, code}
	}()
	var authURL string
	select {
	case authURL = <-urls:
	case r := <-done:
		t.Fatalf("login ended before the browser: %+v", r)
	}
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	callback := op.SignIn(t, browser, authURL, testservers.OPUser, testservers.OPPassword)
	if !strings.HasPrefix(callback.String(), "http://127.0.0.1:") {
		t.Fatalf("the provider redirected to %s", callback.Host)
	}
	res, err := browser.Get(callback.String())
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	r := <-done
	if r.code != 0 || res.StatusCode != 200 || !strings.HasPrefix(r.out, "Signed in to "+base+" as ") || !strings.Contains(r.out, "Context test is now current.") {
		t.Fatalf("login: exit %d, callback %d\n%s\n%s", r.code, res.StatusCode, r.out, r.errOut)
	}

	path := filepath.Join(cli.config, "config.json")
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("config file: %v %v", st, err)
	}
	cfg := readCLIConfig(t, path)
	cc := cfg.Contexts["test"]
	if cfg.Current != "test" || cc == nil || cc.Server != base || cc.Token == "" || cc.RefreshToken == "" || cc.Subject != testservers.OPUserSubject {
		t.Fatalf("config: %+v %+v", cfg, cc)
	}

	// The saved context is used without --server or a token.
	if out := cli.ok("whoami"); !strings.Contains(out, "Signed in to "+base+" as ") || !strings.Contains(out, "Role: deployer.") {
		t.Fatalf("whoami:\n%s", out)
	}
	// A deployer is refused the operators' list of tenants, with the reason.
	if _, errOut, code := cli.run("tenants"); code != 1 || !strings.Contains(errOut, "operator") {
		t.Fatalf("tenants as a deployer: exit %d: %s", code, errOut)
	}
	if out := cli.ok("context", "list"); !strings.Contains(out, "*        test  "+base) {
		t.Fatalf("context list:\n%s", out)
	}
	cli.ok("services")
	if out := cli.ok("context", "use", "test"); !strings.HasPrefix(out, "Context test ("+base+") is now current.") {
		t.Fatalf("context use:\n%s", out)
	}
	if _, _, code := cli.run("context", "use", "nope"); code != 1 {
		t.Fatalf("context use of an unknown context: exit %d", code)
	}

	// An expired token is refreshed before the call, and saved.
	oldToken, oldRefresh := cc.Token, cc.RefreshToken
	cc.Expiry = time.Now().Add(-time.Minute)
	writeCLIConfig(t, path, cfg)
	cli.ok("whoami")
	cfg = readCLIConfig(t, path)
	if n := cfg.Contexts["test"]; n.Token == oldToken || !n.Expiry.After(time.Now()) {
		t.Fatalf("not refreshed: %+v", n)
	}

	// SPAWNIT_TOKEN wins over the saved login.
	cli.vars["SPAWNIT_TOKEN"] = "not-a-valid-token"
	if _, _, code := cli.run("whoami"); code != 1 {
		t.Fatalf("SPAWNIT_TOKEN did not win: exit %d", code)
	}
	delete(cli.vars, "SPAWNIT_TOKEN")
	// A context's token never goes to another server.
	if _, errOut, code := cli.run("--server", "http://127.0.0.1:1", "whoami"); code != 1 || strings.Contains(errOut, "Bearer") {
		t.Fatalf("other server: exit %d %s", code, errOut)
	}

	// logout revokes the refresh token and forgets the tokens.
	refresh := readCLIConfig(t, path).Contexts["test"].RefreshToken
	if out := cli.ok("logout"); !strings.HasPrefix(out, "Signed out of "+base) {
		t.Fatalf("logout:\n%s", out)
	}
	cfg = readCLIConfig(t, path)
	if n := cfg.Contexts["test"]; n.Token != "" || n.RefreshToken != "" || n.Server != base {
		t.Fatalf("after logout: %+v", n)
	}
	if _, errOut, code := cli.run("whoami"); code != 1 || !strings.Contains(errOut, "spawnit login") {
		t.Fatalf("whoami after logout: exit %d %s", code, errOut)
	}
	// The provider no longer honours the revoked refresh token.
	for _, rt := range []string{refresh, oldRefresh} {
		n := cfg.Contexts["test"]
		n.Token, n.RefreshToken, n.Expiry = oldToken, rt, time.Now().Add(-time.Minute)
		writeCLIConfig(t, path, cfg)
		if _, errOut, code := cli.run("whoami"); code != 1 || !strings.Contains(errOut, "has ended") {
			t.Fatalf("revoked refresh token still works: exit %d %s", code, errOut)
		}
	}
}

func readCLIConfig(t *testing.T, path string) *cliConfig {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cfg cliConfig
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	return &cfg
}

func writeCLIConfig(t *testing.T, path string, cfg *cliConfig) {
	t.Helper()
	data, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
