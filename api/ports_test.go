package api_test

import (
	"testing"

	"github.com/spawnit/spawnit/pkg/apiv1"
)

// TestTakenPortIsAFieldError: a port another tenant's service holds is refused at
// create and update with a 400 naming the input, before anything runs; a port left
// empty is chosen by the server.
func TestTakenPortIsAFieldError(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	auto := h.createService("tenant-a", "httpecho", map[string]any{})
	port, ok := auto.Inputs["port"].(float64)
	if !ok || port < 20000 || port > 29999 {
		t.Fatalf("an empty port became %v, want one of the default range", auto.Inputs["port"])
	}
	taken := func(res resp) {
		t.Helper()
		e := res.apiError(t).Error
		if e.Code != apiv1.CodeValidation || len(e.Fields) != 1 || e.Fields[0].Field != "inputs.port" || e.Fields[0].Code != "taken" {
			t.Fatalf("want a field error on inputs.port, got %s", res.body)
		}
	}
	taken(h.must(400, req{method: "POST", path: "/api/v1/services", tenant: "tenant-b",
		body: map[string]any{"template": "httpecho", "inputs": map[string]any{"port": port}}}))
	other := h.createService("tenant-b", "httpecho", map[string]any{})
	if other.Inputs["port"] == port {
		t.Fatalf("two services got port %v", port)
	}
	taken(h.must(400, req{method: "PUT", path: "/api/v1/services/" + other.ID + "/inputs", tenant: "tenant-b",
		headers: map[string]string{"If-Match": `"` + other.ETag + `"`}, body: map[string]any{"inputs": map[string]any{"port": port}}}))
}
