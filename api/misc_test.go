package api_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/spawnit/spawnit/pkg/apiv1"
)

// syncBuffer is a bytes.Buffer safe for the server's concurrent log writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestLogs: one structured line per request with its request id; credentials, cookies,
// bodies and queries never reach the log.
func TestLogs(t *testing.T) {
	var logs syncBuffer
	h := newHarness(t, harnessOptions{logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	secrets := map[string]string{
		"Authorization": "Bearer eyJ-very-secret-token",
		"Cookie":        "spawnit_session=cookie-secret-value",
		"X-CSRF-Token":  "csrf-secret-value",
	}
	res := h.must(201, req{method: "POST", path: "/api/v1/services?access_token=query-secret-value", headers: secrets,
		body: map[string]any{"template": "bulk", "inputs": map[string]any{"token": "body-secret-value", "note": "body-note-value"}}})
	rid := res.header.Get("X-Request-Id")
	if len(rid) < 16 {
		t.Fatalf("generated request id %q", rid)
	}
	// A client's request id is kept when plausible, replaced when not.
	if got := h.do(req{method: "GET", path: "/healthz", headers: map[string]string{"X-Request-Id": "client-id-1"}}).header.Get("X-Request-Id"); got != "client-id-1" {
		t.Fatalf("client request id became %q", got)
	}
	if got := h.do(req{method: "GET", path: "/healthz", headers: map[string]string{"X-Request-Id": "bad id <script>"}}).header.Get("X-Request-Id"); strings.ContainsAny(got, " <") {
		t.Fatalf("hostile request id echoed: %q", got)
	}
	out := logs.String()
	for _, s := range []string{"very-secret-token", "cookie-secret-value", "csrf-secret-value", "query-secret-value", "body-secret-value", "body-note-value"} {
		if strings.Contains(out, s) {
			t.Errorf("log contains %q:\n%s", s, out)
		}
	}
	found := false
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %s", line)
		}
		if rec["msg"] == "http request" && rec["request_id"] == rid {
			found = rec["route"] == "/api/v1/services" && rec["status"] == float64(201) && rec["tenant"] == "tenant-a"
		}
	}
	if !found {
		t.Fatalf("no request log line for %s:\n%s", rid, out)
	}
}

func TestHealthReadyMe(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.must(200, req{method: "GET", path: "/healthz"})
	// The stand-in tofu exits 1: not ready, and says which check fails (not why).
	var ready struct {
		Status string            `json:"status"`
		Checks map[string]string `json:"checks"`
	}
	h.must(503, req{method: "GET", path: "/readyz"}).decode(t, &ready)
	if ready.Checks["tofu"] != "failing" || ready.Checks["store"] != "ok" {
		t.Fatalf("readyz: %+v", ready)
	}
	var me apiv1.Me
	h.must(200, req{method: "GET", path: "/api/v1/me", tenant: "tenant-z"}).decode(t, &me)
	if me.Tenant != "tenant-z" || me.Subject != "user-of-tenant-z" || me.SingleUser {
		t.Fatalf("me: %+v", me)
	}
	var cat apiv1.TemplateList
	h.must(200, req{method: "GET", path: "/api/v1/catalog"}).decode(t, &cat)
	found := false
	for _, tpl := range cat.Templates {
		if tpl.ID == "httpecho" && slices.Contains(tpl.Providers, "docker") && len(tpl.Inputs) == 3 {
			found = true
		}
	}
	if !found {
		t.Fatalf("catalog lacks httpecho with its docker provider: %+v", cat.Templates)
	}
	var tpl apiv1.Template
	h.must(200, req{method: "GET", path: "/api/v1/catalog/bulk"}).decode(t, &tpl)
	if tpl.ID != "bulk" || tpl.Inputs[0].Name != "items" {
		t.Fatalf("template: %+v", tpl)
	}
	h.must(404, req{method: "GET", path: "/api/v1/catalog/nothing-here"})
	doc := h.must(200, req{method: "GET", path: "/api/v1/openapi.json", headers: map[string]string{"X-Test-Unauthenticated": "1"}})
	if !json.Valid(doc.body) || !strings.Contains(string(doc.body), `"openapi"`) {
		t.Fatal("openapi.json is not served")
	}
}

func TestDriftNotChecked(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	svc := h.createService("", "bulk", nil)
	var rep apiv1.Drift
	h.must(200, req{method: "GET", path: "/api/v1/services/" + svc.ID + "/drift"}).decode(t, &rep)
	if rep.Status != "not_checked" || rep.Resources == nil {
		t.Fatalf("drift of a new service: %+v", rep)
	}
}

// TestTargetAndProvider: target is the documented field of a service's target and
// provider, its older name, is still accepted and still sent with the same value.
func TestTargetAndProvider(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	for _, body := range []map[string]any{
		{"template": "bulk", "target": "docker", "inputs": map[string]any{}},
		{"template": "bulk", "provider": "docker", "inputs": map[string]any{}},
		{"template": "bulk", "target": "docker", "provider": "docker", "inputs": map[string]any{}},
		{"template": "bulk", "inputs": map[string]any{}},
	} {
		var svc apiv1.Service
		h.must(201, req{method: "POST", path: "/api/v1/services", tenant: "tenant-t", body: body}).decode(t, &svc)
		if svc.Target != "docker" || svc.Provider != "docker" {
			t.Fatalf("%v: target %q, provider %q", body, svc.Target, svc.Provider)
		}
	}
	var tpl apiv1.Template
	h.must(200, req{method: "GET", path: "/api/v1/catalog/bulk"}).decode(t, &tpl)
	if !slices.Equal(tpl.Targets, tpl.Providers) || !tpl.HasTarget("docker") {
		t.Fatalf("template targets %v, providers %v", tpl.Targets, tpl.Providers)
	}
}
