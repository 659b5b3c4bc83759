//go:build linux

package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/spawnit/spawnit/internal/testservers"
	"github.com/spawnit/spawnit/pkg/apiv1"
)

// TestServeSessionsAcrossReplicas: two `serve` replicas on one store behind a proxy
// that the test switches between them, with no --session-secret (the secret is kept in
// the store). A sign-in started on A ends on B; the session works on both, and on B
// restarted; a sign-out on the restarted B is refused on A.
func TestServeSessionsAcrossReplicas(t *testing.T) {
	var backend atomic.Pointer[url.URL]
	proxy := httptest.NewServer(&httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(backend.Load())
		r.Out.Host = r.In.Host // the replicas see the address the browser used
	}})
	t.Cleanup(proxy.Close)
	op := testservers.OIDCProvider(t, proxy.URL+"/auth/callback")
	dir := t.TempDir()
	tofu := writeFile(t, dir, "bin/tofu", "")

	start := func(name string) (base *url.URL, stop func()) {
		t.Helper()
		cfg, err := parseServeFlags([]string{"--data-dir", filepath.Join(dir, "data"), "--tofu", tofu,
			"--listen", "127.0.0.1:0", "--drift-interval", "0", "--shutdown-grace", "5s",
			"--oidc-issuer", op.Issuer, "--oidc-client-id", testservers.OPWebClient,
			"--oidc-redirect-url", proxy.URL + "/auth/callback"},
			env(map[string]string{"SPAWNIT_OIDC_CLIENT_SECRET": testservers.OPClientSecret}), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		a, err := newApp(context.Background(), cfg, slog.New(slog.DiscardHandler), io.Discard)
		if err != nil {
			t.Fatalf("replica %s: %v", name, err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		served := make(chan error, 1)
		go func() { served <- a.serve(ctx) }()
		var once atomic.Bool
		stop = func() {
			if once.CompareAndSwap(false, true) {
				cancel()
				if err := <-served; err != nil {
					t.Errorf("replica %s: %v", name, err)
				}
			}
		}
		t.Cleanup(stop)
		base, _ = url.Parse("http://" + a.listener.Addr().String())
		return base, stop
	}
	a, _ := start("A")
	b, stopB := start("B")

	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	noFollow := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	me := func(replica *url.URL) (int, apiv1.Me) {
		t.Helper()
		backend.Store(replica)
		resp, err := noFollow.Get(proxy.URL + "/api/v1/me")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m apiv1.Me
		if resp.StatusCode == http.StatusOK {
			if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
				t.Fatal(err)
			}
		}
		return resp.StatusCode, m
	}

	backend.Store(a)
	back := op.SignIn(t, browser, proxy.URL+"/auth/login", testservers.OPUser, testservers.OPPassword)
	backend.Store(b)
	resp, err := noFollow.Get(back.String())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("callback on B after login on A: %s %s", resp.Status, body)
	}

	status, onB := me(b)
	if status != http.StatusOK || onB.Subject != testservers.OPUserSubject || onB.CSRFToken == "" {
		t.Fatalf("me on B: %d %+v", status, onB)
	}
	if status, onA := me(a); status != http.StatusOK || onA != onB {
		t.Fatalf("me on A: %d %+v, want %+v", status, onA, onB)
	}

	stopB()
	b, _ = start("B restarted")
	if status, again := me(b); status != http.StatusOK || again != onB {
		t.Fatalf("me on B restarted: %d %+v, want %+v", status, again, onB)
	}

	backend.Store(b)
	req, _ := http.NewRequest(http.MethodPost, proxy.URL+"/auth/logout", nil)
	req.Header.Set("X-CSRF-Token", onB.CSRFToken)
	out, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	out.Body.Close()
	if out.StatusCode != http.StatusNoContent {
		t.Fatalf("sign-out on B: %s", out.Status)
	}
	// The jar dropped the cookie on sign-out; the one the browser had is replayed on A.
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "spawnit_session" {
			cookie = c
		}
	}
	if cookie == nil {
		t.Fatal("the callback set no session cookie")
	}
	replay, _ := http.NewRequest(http.MethodGet, a.String()+"/api/v1/me", nil)
	replay.AddCookie(&http.Cookie{Name: cookie.Name, Value: cookie.Value})
	res, err := http.DefaultClient.Do(replay)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("cookie signed out on B, on A: %s, want 401", res.Status)
	}
}

func TestServeSessionSecretFlags(t *testing.T) {
	dir := t.TempDir()
	long := strings.Repeat("s3cr3t-", 6)
	file := writeFile(t, dir, "secret", long+"\n")
	for _, c := range []struct {
		name string
		args []string
		env  map[string]string
		want string // the secret read; "" for none
		err  string // in the usage error; "" for none
	}{
		{"none", nil, nil, "", ""},
		{"flag", []string{"--session-secret", long}, nil, long, ""},
		{"variable", nil, map[string]string{"SPAWNIT_SESSION_SECRET": long}, long, ""},
		{"file, trailing newline dropped", nil, map[string]string{"SPAWNIT_SESSION_SECRET_FILE": file}, long, ""},
		{"flag wins over the file", []string{"--session-secret", long + "x"}, map[string]string{"SPAWNIT_SESSION_SECRET_FILE": file}, long + "x", ""},
		{"variable and file", nil, map[string]string{"SPAWNIT_SESSION_SECRET": long, "SPAWNIT_SESSION_SECRET_FILE": file}, "", "keep one"},
		{"missing file", nil, map[string]string{"SPAWNIT_SESSION_SECRET_FILE": filepath.Join(dir, "nope")}, "", "SPAWNIT_SESSION_SECRET_FILE"},
		{"empty file", nil, map[string]string{"SPAWNIT_SESSION_SECRET_FILE": writeFile(t, dir, "empty", "\n")}, "", "is empty"},
		{"too short", []string{"--session-secret", "short-secret"}, nil, "", "at least 32 characters"},
		{"too short in a file", nil, map[string]string{"SPAWNIT_SESSION_SECRET_FILE": writeFile(t, dir, "short", "short-secret")}, "", "at least 32 characters"},
	} {
		cfg, err := parseServeFlags(c.args, env(c.env), io.Discard)
		if c.err != "" {
			var ue usageError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), c.err) || strings.Contains(err.Error(), "short-secret") {
				t.Errorf("%s: %v, want a usage error with %q that does not quote the secret", c.name, err, c.err)
			}
			continue
		}
		if err != nil || cfg.oidc.sessionSecret != c.want {
			t.Errorf("%s: err %v, secret read %v", c.name, err, err == nil && cfg.oidc.sessionSecret == c.want)
		}
	}
	var help strings.Builder
	if _, err := parseServeFlags([]string{"-h"}, env(nil), &help); !errors.Is(err, flag.ErrHelp) || !strings.Contains(help.String(), "$SPAWNIT_SESSION_SECRET_FILE") {
		t.Errorf("help does not name the file variable:\n%s", help.String())
	}
}
