package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/pkg/apiv1"
	"github.com/spawnit/spawnit/pkg/store"
)

// TestIdempotencyKey: retries with one key, one after the other or all at once, get the
// job the first created, and exactly one job exists per key.
func TestIdempotencyKey(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	svc := h.createService("", "bulk", nil)
	key := map[string]string{"Idempotency-Key": "retry-1"}
	first := h.run("", svc.ID, "plan", key)
	again := h.run("", svc.ID, "plan", key)
	if again.ID != first.ID {
		t.Fatalf("retry got job %s, first was %s", again.ID, first.ID)
	}

	const n = 12
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			res := h.do(req{method: "POST", path: "/api/v1/services/" + svc.ID + "/apply", headers: map[string]string{"Idempotency-Key": "concurrent-1"}})
			var j apiv1.Job
			if res.status == 202 && json.Unmarshal(res.body, &j) == nil {
				ids[i] = j.ID
			} else {
				ids[i] = fmt.Sprintf("status %d: %s", res.status, res.body)
			}
		})
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] || len(id) != 36 {
			t.Fatalf("concurrent retries got different answers: %q", ids)
		}
	}

	var jobs apiv1.JobList
	h.must(200, req{method: "GET", path: "/api/v1/services/" + svc.ID + "/jobs"}).decode(t, &jobs)
	if len(jobs.Jobs) != 2 {
		t.Fatalf("%d jobs for 2 keys", len(jobs.Jobs))
	}
	// A key is bound to its operation.
	if e := h.must(409, req{method: "POST", path: "/api/v1/services/" + svc.ID + "/destroy", headers: key}).apiError(t); e.Error.Code != apiv1.CodeConflict {
		t.Fatalf("%+v", e)
	}
	// Without a key, each request is a new job.
	a, b := h.run("", svc.ID, "plan", nil), h.run("", svc.ID, "plan", nil)
	if a.ID == b.ID {
		t.Fatal("two requests without a key share a job")
	}
}

// TestIdempotencyKeyExpires: past its time to live a key starts a new job.
func TestIdempotencyKeyExpires(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	svc := h.createService("", "bulk", nil)
	key := map[string]string{"Idempotency-Key": "old"}
	first := h.run("", svc.ID, "plan", key)
	h.wait("", svc.ID, first.ID, engine.StateFailed) // the stand-in tofu fails
	// Age the record by rewriting its creation time a day and a minute back.
	objs, err := h.st.List(context.Background(), "clients/tenant-a/"+svc.ID+"/idempotency/")
	if err != nil || len(objs) != 1 {
		t.Fatalf("idempotency records: %v %v", objs, err)
	}
	if strings.Contains(objs[0].Key, "old") {
		t.Fatal("the key itself is in the store key")
	}
	b, _, _ := h.st.Get(context.Background(), objs[0].Key)
	var rec map[string]any
	_ = json.Unmarshal(b, &rec)
	rec["created"] = time.Now().Add(-24*time.Hour - time.Minute).UTC()
	b, _ = json.Marshal(rec)
	if _, err := h.st.Put(context.Background(), objs[0].Key, b, store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if second := h.run("", svc.ID, "plan", key); second.ID == first.ID {
		t.Fatal("an expired key still returned its old job")
	}
	if n, err := h.p.SweepIdempotencyKeys(context.Background()); err != nil || n != 0 {
		t.Fatalf("sweep removed %d (%v); the fresh record must stay", n, err)
	}
}

// TestConcurrentUpdates: two updates made with the same ETag: one wins, the other is
// refused (409 when it lost the race, 412 when it came after), nothing is lost.
func TestConcurrentUpdates(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	svc := h.createService("", "bulk", map[string]any{"token": "initial-token-value"})
	etag := svc.ETag
	for round := range 10 {
		var wg sync.WaitGroup
		results := make([]resp, 2)
		for i := range 2 {
			wg.Go(func() {
				results[i] = h.do(req{method: "PUT", path: "/api/v1/services/" + svc.ID + "/inputs",
					headers: map[string]string{"If-Match": `"` + etag + `"`},
					body:    map[string]any{"inputs": map[string]any{"note": fmt.Sprintf("r%d-w%d", round, i), "items": i}}})
			})
		}
		wg.Wait()
		winner := -1
		for i, r := range results {
			switch r.status {
			case 200:
				if winner >= 0 {
					t.Fatalf("round %d: both updates succeeded with one ETag", round)
				}
				winner = i
			case 409, 412:
				if code := r.apiError(t).Error.Code; code != apiv1.CodeConflict && code != apiv1.CodePreconditionFailed {
					t.Fatalf("round %d: loser code %s", round, code)
				}
			default:
				t.Fatalf("round %d: status %d: %s", round, r.status, r.body)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: no update succeeded: %s / %s", round, results[0].body, results[1].body)
		}
		var got apiv1.Service
		res := h.must(200, req{method: "GET", path: "/api/v1/services/" + svc.ID})
		res.decode(t, &got)
		if want := fmt.Sprintf("r%d-w%d", round, winner); got.Inputs["note"] != want {
			t.Fatalf("round %d: stored note %v, want the winner's %s", round, got.Inputs["note"], want)
		}
		if res.header.Get("ETag") != `"`+got.ETag+`"` || got.ETag == etag {
			t.Fatalf("round %d: ETag header %q, body %q, previous %q", round, res.header.Get("ETag"), got.ETag, etag)
		}
		etag = got.ETag
	}
	// The generated-or-given secret survived every update that did not send it.
	b, _, err := h.st.Get(context.Background(), "clients/tenant-a/"+svc.ID+"/terraform.tfvars.json")
	if err != nil || !strings.Contains(string(b), "initial-token-value") {
		t.Fatalf("the secret was lost by an update: %v", err)
	}
}

// TestInterruptedAtStartup: a job record left "running" by a dead process reads
// "interrupted" once the server has started, and nothing re-runs it.
func TestInterruptedAtStartup(t *testing.T) {
	host, _ := os.Hostname()
	const id = "7d2b8f3c-1111-4222-8333-444455556666"
	now := time.Now().UTC().Add(-time.Minute)
	h := newHarness(t, harnessOptions{before: func(st store.Store) {
		rec := map[string]any{
			"id": id, "operation": "apply", "service": map[string]string{"client": "tenant-a", "service": "svc-crashed"},
			"state": "running", "created_at": now, "started_at": now, "host": host, "pid": 1, "last_seq": 2,
			"events": []map[string]any{
				{"seq": 1, "time": now, "type": "job_state", "state": "queued"},
				{"seq": 2, "time": now, "type": "job_state", "state": "running"},
			},
		}
		b, _ := json.Marshal(rec)
		if _, err := st.Put(context.Background(), "clients/tenant-a/svc-crashed/jobs/"+id+".json", b, store.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}})
	var j apiv1.Job
	h.must(200, req{method: "GET", path: "/api/v1/services/svc-crashed/jobs/" + id}).decode(t, &j)
	if j.State != engine.StateInterrupted || j.EndedAt == nil {
		t.Fatalf("job after start-up: %s (ended %v)", j.State, j.EndedAt)
	}
	var evs apiv1.EventList
	h.must(200, req{method: "GET", path: "/api/v1/services/svc-crashed/jobs/" + id + "/events?after=2",
		headers: map[string]string{"Accept": "application/json"}}).decode(t, &evs)
	if len(evs.Events) != 1 || evs.Events[0].Seq != 3 || evs.Events[0].State != engine.StateInterrupted {
		t.Fatalf("events after 2: %+v", evs.Events)
	}
	if h.eng.Busy(engine.ServiceRef{Client: "tenant-a", Service: "svc-crashed"}) {
		t.Fatal("the interrupted job was re-run")
	}
	h.must(404, req{method: "GET", path: "/api/v1/services/svc-crashed/jobs/" + id, tenant: "tenant-b"})
}

// TestDrain: once the server drains (SIGTERM), new jobs are refused with 503 and the
// server reports itself not ready, while reads keep working.
func TestDrain(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	svc := h.createService("", "bulk", nil)
	h.api.Drain()
	for _, r := range []req{
		{method: "POST", path: "/api/v1/services/" + svc.ID + "/apply"},
		{method: "POST", path: "/api/v1/services/" + svc.ID + "/drift"},
		{method: "DELETE", path: "/api/v1/services/" + svc.ID + "?destroy=true"},
	} {
		if e := h.must(503, r).apiError(t); e.Error.Code != apiv1.CodeShuttingDown {
			t.Fatalf("%s %s: %+v", r.method, r.path, e)
		}
	}
	h.must(200, req{method: "GET", path: "/api/v1/services/" + svc.ID})
	h.must(503, req{method: "GET", path: "/readyz"})
	// The platform refuses too once it shut down, whatever the API layer does.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if e := h.must(503, req{method: "POST", path: "/api/v1/services/" + svc.ID + "/plan"}).apiError(t); e.Error.Code != apiv1.CodeShuttingDown {
		t.Fatalf("%+v", e)
	}
}

// TestBusyAndCancel: while a job runs, the service cannot be deleted (409 busy) and a
// job that must not queue is refused (409 locked); a cancel stops the job, and a cancel
// of a finished job says so (409 job_finished).
func TestBusyAndCancel(t *testing.T) {
	h := newHarness(t, harnessOptions{realTofu: true})
	svc := h.createService("", "bulk", map[string]any{"items": 4000})
	p := "/api/v1/services/" + svc.ID
	job := h.run("", svc.ID, "plan", nil)

	if e := h.must(409, req{method: "DELETE", path: p}).apiError(t); e.Error.Code != apiv1.CodeBusy {
		t.Fatalf("delete while busy: %+v", e)
	}
	if e := h.must(409, req{method: "POST", path: p + "/apply?wait=false"}).apiError(t); e.Error.Code != apiv1.CodeLocked {
		t.Fatalf("apply?wait=false while busy: %+v", e)
	}
	var got apiv1.Service
	h.must(200, req{method: "GET", path: p}).decode(t, &got)
	if !got.Status.Busy || got.Status.LastJob == nil || got.Status.LastJob.ID != job.ID {
		t.Fatalf("status while the job runs: %+v", got.Status)
	}

	var cancelled apiv1.Job
	h.must(202, req{method: "POST", path: p + "/jobs/" + job.ID + "/cancel", body: map[string]any{"force": false}}).decode(t, &cancelled)
	if cancelled.ID != job.ID {
		t.Fatalf("cancel answered %+v", cancelled)
	}
	h.wait("", svc.ID, job.ID, engine.StateCancelled)
	if e := h.must(409, req{method: "POST", path: p + "/jobs/" + job.ID + "/cancel"}).apiError(t); e.Error.Code != apiv1.CodeJobFinished {
		t.Fatalf("cancel of a finished job: %+v", e)
	}
	// Free again: the never-deployed service is deleted at once.
	waitFor(t, "the service to be free", func() bool {
		var s apiv1.Service
		h.must(200, req{method: "GET", path: p}).decode(t, &s)
		return !s.Status.Busy
	})
	h.must(204, req{method: "DELETE", path: p})
	h.must(404, req{method: "GET", path: p})
}
