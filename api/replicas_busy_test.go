package api_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/pkg/apiv1"
	"github.com/spawnit/spawnit/pkg/store"
	"github.com/spawnit/spawnit/pkg/storekey"
)

// TestAnotherReplicasJob: a job another replica runs on a service (its record and live
// lease in the shared store) makes the service busy here: the delete is refused, and a
// cancel is answered as a local one (202, the job cancelling) by recording a request for
// the replica holding it, not refused as locked.
func TestAnotherReplicasJob(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	svc := h.createService("", "bulk", nil)
	ctx := context.Background()
	keys := storekey.For("tenant-a", svc.ID)
	id := uuid.NewString()
	now := time.Now().UTC()
	put := func(key string, v any) {
		b, _ := json.Marshal(v)
		if _, err := h.st.Put(ctx, key, b, store.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	ref := map[string]string{"client": "tenant-a", "service": svc.ID}
	put(keys.RunningJob(id), map[string]any{"host": "replica-x", "operation": "apply", "record": keys.Job(id)})
	put(keys.Job(id), map[string]any{"id": id, "operation": "apply", "service": ref, "state": "running",
		"created_at": now, "started_at": now, "host": "replica-x", "pid": 7, "replica": "replica-x", "last_seq": 0, "events": []any{}})
	put(keys.Lease(), map[string]any{"job_id": id, "host": "replica-x", "pid": 7, "since": now, "operation": "apply",
		"expires": now.Add(time.Hour), "renewed": now, "replica": "replica-x"})

	h.must(409, req{method: "DELETE", path: "/api/v1/services/" + svc.ID})
	var job apiv1.Job
	h.must(202, req{method: "POST", path: "/api/v1/services/" + svc.ID + "/jobs/" + id + "/cancel"}).decode(t, &job)
	if job.ID != id || job.State != engine.StateCancelling {
		t.Fatalf("cancel of another replica's job answered %s %s", job.ID, job.State)
	}
	if _, _, err := h.st.Get(ctx, keys.CancelRequest(id)); err != nil {
		t.Fatalf("no cancel request recorded for the replica holding the job: %v", err)
	}
}
