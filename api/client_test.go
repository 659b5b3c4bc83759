package api_test

import (
	"context"
	"testing"
	"time"

	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/pkg/apiv1"
	"github.com/spawnit/spawnit/pkg/client"
)

// TestGoClient drives the server with the project's Go client (pkg/client): both sides
// of the contract in docs/api.md, end to end.
func TestGoClient(t *testing.T) {
	h := newHarness(t, harnessOptions{realTofu: true})
	c, err := client.New(h.url)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := c.Health(ctx); err != nil {
		t.Fatal(err)
	}
	me, err := c.Me(ctx)
	if err != nil || me.Tenant != "tenant-a" {
		t.Fatalf("me %+v %v", me, err)
	}
	svc, etag, err := c.CreateService(ctx, apiv1.CreateService{Template: "bulk", Name: "client", Inputs: map[string]any{"items": 2}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.UpdateInputs(ctx, svc.ID, map[string]any{"items": 3}, `"stale"`); !client.IsPreconditionFailed(err) {
		t.Fatalf("stale update: %v", err)
	}
	svc, _, err = c.UpdateInputs(ctx, svc.ID, map[string]any{"items": 3}, etag)
	if err != nil || svc.Inputs["items"] != float64(3) {
		t.Fatalf("update: %+v %v", svc, err)
	}
	if _, _, err := c.CreateService(ctx, apiv1.CreateService{Template: "bulk", Inputs: map[string]any{"nope": 1}}); !client.IsValidation(err) {
		t.Fatalf("bad create: %v", err)
	}

	job, err := c.Apply(ctx, svc.ID)
	if err != nil {
		t.Fatal(err)
	}
	var last int64
	for ev, err := range c.FollowJob(ctx, svc.ID, job.ID, 0) {
		if err != nil {
			t.Fatal(err)
		}
		if ev.Seq != last+1 {
			t.Fatalf("event %d after %d", ev.Seq, last)
		}
		last = ev.Seq
	}
	done, err := c.Job(ctx, svc.ID, job.ID, true)
	if err != nil || done.State != engine.StateSucceeded || done.LastSeq != last || len(done.Outputs["token"].Value) == 0 {
		t.Fatalf("job after its stream: %+v %v", done, err)
	}
	evs, err := c.JobEvents(ctx, svc.ID, job.ID, last-2)
	if err != nil || len(evs) != 2 {
		t.Fatalf("events after %d: %d %v", last-2, len(evs), err)
	}
	jobs, err := c.Jobs(ctx, svc.ID)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("jobs: %v %v", jobs, err)
	}
	if _, err := c.DeleteService(ctx, svc.ID, false); !client.HasCode(err, apiv1.CodeResourcesExist) {
		t.Fatalf("delete of a deployed service: %v", err)
	}
	destroy, err := c.DeleteService(ctx, svc.ID, true)
	if err != nil || destroy == nil {
		t.Fatalf("delete with destroy: %v %v", destroy, err)
	}
	for _, err := range c.FollowJob(ctx, svc.ID, destroy.ID, 0) {
		if err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the service to be deleted", func() bool {
		_, _, err := c.Service(ctx, svc.ID)
		return client.IsNotFound(err)
	})
}
