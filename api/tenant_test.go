package api_test

import (
	"context"
	"encoding/json"
	"io"
	"testing"
	"time"

	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/pkg/apiv1"
)

// TestTenantIsolation: tenant A reaches none of tenant B's objects, on any route (404,
// as if they did not exist), and B's job is untouched by A's attempts.
func TestTenantIsolation(t *testing.T) {
	h := newHarness(t, harnessOptions{realTofu: true})
	const a, b = "tenant-a", "tenant-b"
	svcB := h.createService(b, "bulk", map[string]any{"items": 1})
	// A job B owns, live in the engine (the lookup by id is global there).
	jobB := h.run(b, svcB.ID, "plan", nil)
	s := "/api/v1/services/" + svcB.ID
	j := s + "/jobs/" + jobB.ID

	// B sees its objects: the 404s below are about the tenant, not the ids.
	h.must(200, req{method: "GET", path: s, tenant: b})
	h.must(200, req{method: "GET", path: j, tenant: b})
	h.must(200, req{method: "GET", path: j + "/events", tenant: b, headers: map[string]string{"Accept": "application/json"}})

	ifMatch := map[string]string{"If-Match": `"` + svcB.ETag + `"`}
	routes := []req{
		{method: "GET", path: s},
		{method: "PUT", path: s + "/inputs", body: map[string]any{"inputs": map[string]any{"items": 2}}, headers: ifMatch},
		{method: "DELETE", path: s},
		{method: "DELETE", path: s + "?destroy=true"},
		{method: "POST", path: s + "/plan"},
		{method: "POST", path: s + "/apply"},
		{method: "POST", path: s + "/destroy"},
		{method: "POST", path: s + "/apply", headers: map[string]string{"Idempotency-Key": "k1"}},
		{method: "GET", path: s + "/drift"},
		{method: "POST", path: s + "/drift"},
		{method: "GET", path: s + "/jobs"},
		{method: "GET", path: j},
		{method: "GET", path: j + "?reveal=true"},
		{method: "GET", path: j + "/events", headers: map[string]string{"Accept": "application/json"}},
		{method: "GET", path: j + "/events", headers: map[string]string{"Accept": "text/event-stream"}},
		{method: "POST", path: j + "/cancel"},
		{method: "POST", path: j + "/cancel", body: map[string]any{"force": true}},
	}
	for _, r := range routes {
		r.tenant = a
		res := h.do(r)
		if res.status != 404 || res.apiError(t).Error.Code != apiv1.CodeNotFound {
			t.Errorf("tenant A: %s %s → %d %s", r.method, r.path, res.status, res.body)
		}
	}
	// B's job, even when reached through A's own service id.
	svcA := h.createService(a, "bulk", nil)
	for _, path := range []string{"/jobs/" + jobB.ID, "/jobs/" + jobB.ID + "/events", "/jobs/" + jobB.ID + "/cancel"} {
		method := "GET"
		if path[len(path)-6:] == "cancel" {
			method = "POST"
		}
		if res := h.do(req{method: method, path: "/api/v1/services/" + svcA.ID + path, tenant: a,
			headers: map[string]string{"Accept": "application/json"}}); res.status != 404 {
			t.Errorf("B's job through A's service: %s %s → %d %s", method, path, res.status, res.body)
		}
	}
	var list apiv1.ServiceList
	h.must(200, req{method: "GET", path: "/api/v1/services", tenant: a}).decode(t, &list)
	if len(list.Services) != 1 || list.Services[0].ID != svcA.ID {
		t.Fatalf("tenant A lists %+v", list.Services)
	}

	// Nothing A did changed B's service or job.
	done := h.wait(b, svcB.ID, jobB.ID, engine.StateSucceeded)
	if done.CancelRequestedAt != nil {
		t.Fatal("tenant A's cancel reached B's job")
	}
	var jobs apiv1.JobList
	h.must(200, req{method: "GET", path: s + "/jobs", tenant: b}).decode(t, &jobs)
	if len(jobs.Jobs) != 1 {
		t.Fatalf("B's service has %d jobs, want its own 1", len(jobs.Jobs))
	}
	var got apiv1.Service
	h.must(200, req{method: "GET", path: s, tenant: b}).decode(t, &got)
	if got.ETag != svcB.ETag {
		t.Fatal("tenant A's update changed B's configuration")
	}
}

// TestTenantStatusStream: a tenant's status stream carries its own changes only.
func TestTenantStatusStream(t *testing.T) {
	h := newHarness(t, harnessOptions{keepAlive: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	streamA := h.openStream(ctx, "/api/v1/events", "tenant-a", nil)
	defer streamA.Body.Close()
	streamB := h.openStream(ctx, "/api/v1/events", "tenant-b", nil)
	defer streamB.Body.Close()

	svcB := h.createService("tenant-b", "bulk", nil)
	svcA := h.createService("tenant-a", "bulk", nil)
	for _, c := range []struct {
		stream io.Reader
		want   string
	}{{streamA.Body, svcA.ID}, {streamB.Body, svcB.ID}} {
		var first apiv1.StatusEvent
		_ = readSSE(c.stream, func(ev sseEvent) bool {
			if ev.event != apiv1.SSEStatus {
				return true
			}
			if err := json.Unmarshal([]byte(ev.data), &first); err != nil {
				t.Fatal(err)
			}
			return false
		})
		if first.Kind != "service" || first.Service != c.want {
			t.Fatalf("first status event %+v, want the tenant's own service %s", first, c.want)
		}
	}
}
