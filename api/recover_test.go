package api_test

import (
	"context"
	"testing"

	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/pkg/apiv1"
	"github.com/spawnit/spawnit/pkg/client"
	"github.com/spawnit/spawnit/pkg/store"
)

// TestRecoverRoute: a service marked as needing recovery refuses applies until an
// operator marks it recovered; another tenant cannot.
func TestRecoverRoute(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	svc := h.createService("", "bulk", map[string]any{"items": 1})
	key := "clients/tenant-a/" + svc.ID + "/intent.json"
	if _, err := h.st.Put(context.Background(), key, []byte(`{"kind":"applied","needs_recovery":true,"recovery_note":"test"}`), store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if e := h.must(409, req{method: "POST", path: "/api/v1/services/" + svc.ID + "/apply"}).apiError(t); e.Error.Code != apiv1.CodeNeedsRecovery {
		t.Fatalf("apply of a service needing recovery: %+v", e)
	}
	var got apiv1.Service
	h.must(200, req{method: "GET", path: "/api/v1/services/" + svc.ID}).decode(t, &got)
	if !got.Status.NeedsRecovery || got.Status.RecoveryNote != "test" {
		t.Fatalf("service does not show needs_recovery and its note: %+v", got.Status)
	}
	h.must(404, req{method: "POST", path: "/api/v1/services/" + svc.ID + "/recover", tenant: "tenant-b"})
	var after apiv1.Service // fresh: needs_recovery is omitted when false
	h.must(200, req{method: "POST", path: "/api/v1/services/" + svc.ID + "/recover"}).decode(t, &after)
	got = after
	// The Go client reaches the same route.
	c, err := client.New(h.url)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Recover(context.Background(), svc.ID); err != nil {
		t.Fatal(err)
	}
	if got.Status.NeedsRecovery || got.Status.RecoveryNote != "" || got.Status.Intent != engine.IntentApplied {
		t.Fatalf("after recover: %+v", got.Status)
	}
}
