package platform

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spawnit/spawnit/catalog"
	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/pkg/dockerapi"
)

func TestReadinessTargets(t *testing.T) {
	for _, c := range []struct{ addr, path, want string }{
		{"http://127.0.0.1:8080/", "", "http://127.0.0.1:8080/"},
		{"http://127.0.0.1:8080", "", "http://127.0.0.1:8080/"},
		{"http://127.0.0.1:8080/app/", "/api/healthz?x=1", "http://127.0.0.1:8080/api/healthz?x=1"},
		{"https://u:p@example.test/a#frag", "", "https://example.test/a"},
		{"127.0.0.1:3000", "/", "http://127.0.0.1:3000/"},
	} {
		got, err := httpTarget(c.addr, c.path)
		if err != nil || got != c.want {
			t.Errorf("httpTarget(%q, %q) = %q, %v; want %q", c.addr, c.path, got, err, c.want)
		}
	}
	for _, bad := range []string{"ftp://x/", "http://", "just-a-host", "postgresql://u:p@h:5432/db"} {
		if got, err := httpTarget(bad, ""); err == nil {
			t.Errorf("httpTarget(%q) = %q, want an error", bad, got)
		}
	}
	for _, c := range []struct{ addr, want string }{
		{"127.0.0.1:5432", "127.0.0.1:5432"},
		{"http://127.0.0.1:8080/", "127.0.0.1:8080"},
		{"https://example.test/", "example.test:443"},
		{"redis://:pw@127.0.0.1:6379/0", "127.0.0.1:6379"},
		{"http://[::1]/", "[::1]:80"},
	} {
		got, err := tcpTarget(c.addr)
		if err != nil || got != c.want {
			t.Errorf("tcpTarget(%q) = %q, %v; want %q", c.addr, got, err, c.want)
		}
	}
	for _, bad := range []string{"no-port", "postgresql://h/db"} {
		if got, err := tcpTarget(bad); err == nil {
			t.Errorf("tcpTarget(%q) = %q, want an error", bad, got)
		}
	}
	outs := map[string]engine.Output{
		"endpoint": {Value: json.RawMessage(`"127.0.0.1:1"`)},
		"secret":   {Sensitive: true},
		"number":   {Value: json.RawMessage(`5`)},
	}
	for name, want := range map[string]string{"missing": "has no output", "secret": "is sensitive", "number": "not an address"} {
		if _, err := outputString(outs, name); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("output %s: %v, want %q", name, err, want)
		}
	}
}

func TestWaitReadyHTTP(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) < 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		if r.URL.Path == "/moved" {
			http.Redirect(w, r, "/", http.StatusFound)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	p := &Platform{}
	ref := engine.ServiceRef{Client: "c", Service: "s"}
	outs := map[string]engine.Output{"endpoint": {Value: json.RawMessage(`"` + srv.URL + `/"`)}}
	var msgs []string
	progress := func(m string) { msgs = append(msgs, m) }

	pr, err := p.resolveProbe(ref, catalog.ReadinessCheck{Type: catalog.ReadyHTTP, Output: "endpoint"}, outs)
	if err != nil {
		t.Fatal(err)
	}
	if err := waitReady(context.Background(), pr, progress); err != nil {
		t.Fatal(err)
	}
	// Two 503s, one progress message (at most one per progressEvery), then the pass.
	if len(msgs) != 2 || !strings.Contains(msgs[0], "waiting for "+srv.URL+"/ (status 503, want 200)") || !strings.Contains(msgs[1], "http check passed") {
		t.Fatalf("progress %q", msgs)
	}

	// A status that never comes: the error names the check, its target, the last result.
	msgs = nil
	pr, _ = p.resolveProbe(ref, catalog.ReadinessCheck{Type: catalog.ReadyHTTP, Output: "endpoint", Path: "/moved", Status: 418, Timeout: "1s"}, outs)
	start := time.Now()
	err = waitReady(context.Background(), pr, progress)
	if err == nil || !strings.Contains(err.Error(), "http check of "+srv.URL+"/moved: not ready after 1s; last result: status 302, want 418") {
		t.Fatalf("err %v", err)
	}
	if d := time.Since(start); d < time.Second || d > 3*time.Second {
		t.Fatalf("gave up after %s, timeout 1s", d)
	}

	// Cancelling the job stops the wait with the context's error (long before the
	// check's own timeout, even on a loaded machine).
	pr, _ = p.resolveProbe(ref, catalog.ReadinessCheck{Type: catalog.ReadyHTTP, Output: "endpoint", Path: "/moved", Status: 418, Timeout: "2m"}, outs)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	if err := waitReady(ctx, pr, progress); err != context.Canceled {
		t.Fatalf("cancelled wait: %v", err)
	}
}

func TestTCPProbe(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if r := tryTCP(context.Background(), addr); !r.ok {
		t.Fatalf("listening port: %+v", r)
	}
	l.Close()
	if r := tryTCP(context.Background(), addr); r.ok || r.detail != "connection refused" {
		t.Fatalf("closed port: %+v", r)
	}
}

// TestDockerHealthProbe speaks to a fake Docker Engine API on a unix socket.
func TestDockerHealthProbe(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "docker.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]string{
		"spawnit-c-healthy":   `{"State":{"Status":"running","Running":true,"Health":{"Status":"healthy"}}}`,
		"spawnit-c-starting":  `{"State":{"Status":"running","Running":true,"Health":{"Status":"starting"}}}`,
		"spawnit-c-exited":    `{"State":{"Status":"exited","Running":false,"ExitCode":3,"Health":{"Status":"starting"}}}`,
		"spawnit-c-unhealthy": `{"State":{"Status":"running","Running":true,"Health":{"Status":"unhealthy","Log":[{"ExitCode":1,"Output":"first"},{"ExitCode":2,"Output":"pg_isready: no response\n"}]}}}`,
		"spawnit-c-nocheck":   `{"State":{"Status":"running","Running":true}}`,
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/containers/"), "/json")
		s, ok := states[name]
		if !ok {
			http.Error(w, `{"message":"No such container"}`, http.StatusNotFound)
			return
		}
		_, _ = w.Write([]byte(s))
	}))
	srv.Listener = l
	srv.Start()
	defer srv.Close()
	d, err := newDockerAPI(dockerapi.Overlay(map[string]string{"DOCKER_HOST": "unix://" + sock}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for name, want := range map[string]probeResult{
		"spawnit-c-healthy":   {ok: true, detail: "healthy"},
		"spawnit-c-starting":  {detail: "health starting"},
		"spawnit-c-exited":    {detail: "container exited (exit code 3)"},
		"spawnit-c-unhealthy": {fatal: true, detail: "unhealthy: pg_isready: no response (exit code 2)"},
		"spawnit-c-nocheck":   {fatal: true, detail: "the container has no healthcheck"},
		"spawnit-c-gone":      {detail: "no such container"},
	} {
		if got := d.tryHealth(ctx, name); got != want {
			t.Errorf("%s: %+v, want %+v", name, got, want)
		}
	}
	// An engine the client cannot speak to: every probe says why, at once.
	d, err = newDockerAPI(dockerapi.Overlay(map[string]string{"DOCKER_HOST": "ssh://me@engine.example"}))
	if err == nil {
		t.Fatal("ssh:// accepted")
	}
	if got := d.tryHealth(ctx, "x"); !got.fatal || !got.unknown || !strings.Contains(got.detail, "ssh:// is not supported") {
		t.Errorf("ssh DOCKER_HOST: %+v", got)
	}
}
