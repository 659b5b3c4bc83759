//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spawnit/spawnit/internal/testservers"
	"github.com/spawnit/spawnit/pkg/apiv1"
	"github.com/spawnit/spawnit/pkg/store"
	"github.com/spawnit/spawnit/pkg/storekey"
)

// testEncryptionKey is the operator key of tests that run serve on S3 (where one is required).
const testEncryptionKey = "test-encryption-key-0123456789abcdef"

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// TestSingleUserLoopbackOnly: without an OIDC issuer, serve says it is single-user and
// refuses an address reachable from other machines, before creating anything.
func TestSingleUserLoopbackOnly(t *testing.T) {
	for _, listen := range []string{"0.0.0.0:8080", ":8080", "[::]:8080", "192.168.1.10:8080", "example.com:80", "nonsense"} {
		dir := filepath.Join(t.TempDir(), "data")
		cfg, err := parseServeFlags([]string{"--listen", listen, "--data-dir", dir}, env(nil), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		_, err = newApp(context.Background(), cfg, slog.New(slog.DiscardHandler), &out)
		if err == nil || !strings.Contains(err.Error(), "loopback") {
			t.Fatalf("listen %s: err %v", listen, err)
		}
		if !strings.Contains(out.String(), "single-user mode: no OIDC issuer configured; listening on loopback only") {
			t.Fatalf("listen %s: printed %q", listen, out.String())
		}
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("listen %s: the data directory was created before the refusal", listen)
		}
	}
	for _, listen := range []string{"127.0.0.1:8080", "localhost:0", "[::1]:9000", "127.0.0.2:1"} {
		if !loopbackListen(listen) {
			t.Errorf("%s is loopback", listen)
		}
	}
}

// TestServeFlagsAndEnv: every flag has a SPAWNIT_* variable, a flag on the command
// line wins, bad values are usage errors that never echo a value, and help never
// prints a secret taken from the environment.
func TestServeFlagsAndEnv(t *testing.T) {
	e := env(map[string]string{
		"SPAWNIT_LISTEN":        "127.0.0.1:9999",
		"SPAWNIT_MAX_PARALLEL":  "7",
		"SPAWNIT_S3_SECRET_KEY": "env-secret-key",
		"SPAWNIT_JOB_TIMEOUT":   "5m",
		"SPAWNIT_S3_PATH_STYLE": "false",
	})
	cfg, err := parseServeFlags([]string{"--listen", "127.0.0.1:1234", "--shutdown-grace=3s"}, e, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.listen != "127.0.0.1:1234" || cfg.maxParallel != 7 || cfg.s3.secretKey != "env-secret-key" ||
		cfg.jobTimeout != 5*time.Minute || cfg.shutdownGrace != 3*time.Second || cfg.s3.pathStyle {
		t.Fatalf("config %+v", cfg)
	}
	var help bytes.Buffer
	if _, err := parseServeFlags([]string{"-h"}, e, &help); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
	if strings.Contains(help.String(), "env-secret-key") || !strings.Contains(help.String(), "$SPAWNIT_OIDC_CLIENT_SECRET") {
		t.Fatalf("help output:\n%s", help.String())
	}
	_, err = parseServeFlags(nil, env(map[string]string{"SPAWNIT_MAX_PARALLEL": "lots-of-secret"}), io.Discard)
	var ue usageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "SPAWNIT_MAX_PARALLEL") || strings.Contains(err.Error(), "lots-of-secret") {
		t.Fatalf("bad env value: %v", err)
	}
	for _, args := range [][]string{{"--log-level", "loud"}, {"--max-parallel", "0"}, {"--job-history", "0"}, {"extra"}, {"--nope"}} {
		if _, err := parseServeFlags(args, env(nil), io.Discard); !errors.As(err, &ue) {
			t.Errorf("%v: %v", args, err)
		}
	}
	for in, want := range map[string]string{"127.0.0.1:7070": "127.0.0.1:7070 false", "http://s3:9000": "s3:9000 false", "https://s3.example.com": "s3.example.com true"} {
		hp, tls, err := splitEndpoint(in, false)
		if err != nil || hp+" "+map[bool]string{true: "true", false: "false"}[tls] != want {
			t.Errorf("%s: %s %v %v", in, hp, tls, err)
		}
	}
	if _, _, err := splitEndpoint("ftp://x/y", false); err == nil {
		t.Error("ftp endpoint accepted")
	}
}

func TestCommandRegistry(t *testing.T) {
	if commands["serve"] == nil {
		t.Fatal("command serve not registered")
	}
	var stderr bytes.Buffer
	if code := run(context.Background(), []string{"no-such-command"}, &stderr); code != 2 || !strings.Contains(stderr.String(), "serve") {
		t.Fatalf("unknown command: exit %d, %q", code, stderr.String())
	}
}

// TestServe starts the real server on a free loopback port with the pinned tofu, uses
// it over HTTP, and stops it as SIGTERM would.
func TestServe(t *testing.T) {
	tofu := testservers.Tofu(t)
	dir := t.TempDir()
	cfg, err := parseServeFlags([]string{"--listen", "127.0.0.1:0", "--data-dir", dir, "--tofu", tofu, "--shutdown-grace", "5s",
		"--metrics-listen", "127.0.0.1:0"}, env(map[string]string{"SPAWNIT_METRICS_TOKEN": "scrape-token"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	var logs bytes.Buffer
	a, err := newApp(context.Background(), cfg, slog.New(slog.NewJSONHandler(&logs, nil)), &out)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- a.serve(ctx) }()
	base := "http://" + a.listener.Addr().String()
	if !strings.Contains(out.String(), "data directory: "+dir) || !strings.Contains(out.String(), "listening on "+base) {
		t.Fatalf("start-up output: %q", out.String())
	}
	get := func(path string, v any) int {
		t.Helper()
		res, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if v != nil {
			_ = json.NewDecoder(res.Body).Decode(v)
		}
		return res.StatusCode
	}
	if code := get("/readyz", nil); code != 200 {
		t.Fatalf("readyz %d", code)
	}
	var me apiv1.Me
	if get("/api/v1/me", &me); !me.SingleUser || me.Tenant != "local" {
		t.Fatalf("me %+v", me)
	}
	var cat apiv1.TemplateList
	if get("/api/v1/catalog", &cat); len(cat.Templates) < 5 {
		t.Fatalf("the built-in catalog was not seeded: %+v", cat)
	}
	// The browser app answers pages; unknown API paths stay JSON 404s.
	res, err := http.Get(base + "/services")
	if err != nil || res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("UI page: %v %v", res, err)
	}
	res.Body.Close()
	var apiErr apiv1.Error
	if code := get("/api/v1/no-such-route", &apiErr); code != 404 || apiErr.Error.Code != apiv1.CodeNotFound {
		t.Fatalf("unknown API route: %d %+v", code, apiErr)
	}
	// /metrics is on its own listener, behind the token, and not on the API's.
	if code := get("/metrics", nil); code != 404 {
		t.Errorf("/metrics on the API's listener: %d, want 404", code)
	}
	scrape := func(token string) int {
		t.Helper()
		r, _ := http.NewRequest(http.MethodGet, "http://"+a.metricsListener.Addr().String()+"/metrics", nil)
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if no, wrong, right := scrape(""), scrape("scrape-tokem"), scrape("scrape-token"); no != 401 || wrong != 401 || right != 200 {
		t.Errorf("metrics listener: no token %d, wrong token %d, the token %d; want 401, 401, 200", no, wrong, right)
	}
	stop()
	select {
	case err := <-served:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Fatal("still answering after shutdown")
	}
	if !strings.Contains(logs.String(), `"msg":"stopped"`) {
		t.Fatalf("logs: %s", logs.String())
	}
}

// TestServeS3: with an S3 endpoint, the store and OpenTofu's state both live in the
// bucket; a service applied over HTTP leaves its configuration, job record and state
// there. The template is the provider-less test one of package api.
func TestServeS3(t *testing.T) {
	tofu := testservers.Tofu(t)
	s3 := testservers.Versitygw(t)
	dir := t.TempDir()
	cfg, err := parseServeFlags([]string{"--listen", "127.0.0.1:0", "--data-dir", dir, "--tofu", tofu, "--drift-interval", "0"},
		env(map[string]string{
			"SPAWNIT_S3_ENDPOINT": s3.URL(), "SPAWNIT_S3_BUCKET": "spawnit-test",
			"SPAWNIT_S3_ACCESS_KEY": s3.AccessKey, "SPAWNIT_S3_SECRET_KEY": s3.SecretKey,
			"SPAWNIT_ENCRYPTION_KEY": testEncryptionKey,
		}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var out, logs bytes.Buffer
	a, err := newApp(context.Background(), cfg, slog.New(slog.NewJSONHandler(&logs, nil)), &out)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String()+logs.String(), s3.SecretKey) {
		t.Fatal("the S3 secret key was printed")
	}
	// versitygw passed the start-up check of conditional writes, which left nothing.
	if left, err := a.store.List(context.Background(), storekey.ProbesPrefix); err != nil || len(left) > 0 {
		t.Fatalf("the store check left %v (%v)", left, err)
	}
	installBulk(t, a)
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- a.serve(ctx) }()
	defer func() { stop(); <-served }()
	base := "http://" + a.listener.Addr().String()

	post := func(path, body string, v any) int {
		t.Helper()
		res, err := http.Post(base+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		_ = json.NewDecoder(res.Body).Decode(v)
		return res.StatusCode
	}
	var svc apiv1.Service
	if code := post("/api/v1/services", `{"template":"bulk","inputs":{"items":2}}`, &svc); code != 201 {
		t.Fatalf("create: %d", code)
	}
	var job apiv1.Job
	if code := post("/api/v1/services/"+svc.ID+"/apply", "", &job); code != 202 {
		t.Fatalf("apply: %d", code)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for !job.State.Final() {
		if time.Now().After(deadline) {
			t.Fatal("apply did not finish")
		}
		time.Sleep(100 * time.Millisecond)
		res, err := http.Get(base + "/api/v1/services/" + svc.ID + "/jobs/" + job.ID)
		if err != nil {
			t.Fatal(err)
		}
		_ = json.NewDecoder(res.Body).Decode(&job)
		res.Body.Close()
	}
	if job.State != "succeeded" {
		t.Fatalf("apply over S3 ended %s: %s", job.State, job.Error)
	}
	prefix := "clients/local/" + svc.ID + "/"
	for _, key := range []string{prefix + "info.json", prefix + "terraform.tfvars.json", prefix + "jobs/" + job.ID + ".json", prefix + "terraform.tfstate"} {
		if _, err := a.store.Stat(context.Background(), key); err != nil {
			t.Errorf("bucket lacks %s: %v", key, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "store")); !errors.Is(err, os.ErrNotExist) {
		t.Error("a local store was created although S3 is configured")
	}
}

// installBulk copies package api's provider-less test template into the app's store.
func installBulk(t *testing.T, a *app) {
	t.Helper()
	root := filepath.Join("..", "..", "api", "testdata", "bulk")
	for _, f := range []string{"modules/docker/main.tf", "template.json"} {
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(f)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.store.Put(context.Background(), "templates/bulk/"+f, b, store.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}
