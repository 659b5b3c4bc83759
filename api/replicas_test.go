package api_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/internal/testservers"
	"github.com/spawnit/spawnit/pkg/apiv1"
	"github.com/spawnit/spawnit/pkg/cluster"
	"github.com/spawnit/spawnit/pkg/store"
	"github.com/spawnit/spawnit/pkg/store/s3store"
)

// joinCluster gives a test server its own replica registry on st, beating until the
// test ends.
func joinCluster(t testing.TB, st store.Store) *cluster.Registry {
	t.Helper()
	reg, err := cluster.New(st, cluster.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := reg.Join(ctx); err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); reg.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return reg
}

// sharedBucket is a store on a real versitygw bucket, for several servers.
func sharedBucket(t testing.TB) store.Store {
	t.Helper()
	s3 := testservers.Versitygw(t)
	st, err := s3store.New(context.Background(), s3store.Config{Endpoint: s3.Endpoint, Bucket: "spawnit",
		AccessKey: s3.AccessKey, SecretKey: s3.SecretKey, PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// collector gathers a stream's events from a goroutine.
type collector struct {
	mu   sync.Mutex
	evs  []sseEvent
	done chan struct{}
}

func collect(t *testing.T, h *harness, ctx context.Context, path string, headers map[string]string) *collector {
	t.Helper()
	res := h.openStream(ctx, path, "acme", headers)
	c := &collector{done: make(chan struct{})}
	go func() {
		defer close(c.done)
		defer res.Body.Close()
		_ = readSSE(res.Body, func(ev sseEvent) bool {
			if ev.comment != "" {
				return true
			}
			c.mu.Lock()
			c.evs = append(c.evs, ev)
			c.mu.Unlock()
			return ev.event != apiv1.SSEEnd
		})
	}()
	return c
}

func (c *collector) has(match func(sseEvent) bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ev := range c.evs {
		if match(ev) {
			return true
		}
	}
	return false
}

func (c *collector) events() []sseEvent {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]sseEvent(nil), c.evs...)
}

// checkIDs checks that a job stream's events are numbered first, first+1, ... and
// returns the last number.
func checkIDs(t *testing.T, evs []sseEvent, first int64) int64 {
	t.Helper()
	want := first
	for _, ev := range evs {
		if ev.event == apiv1.SSEEnd {
			continue
		}
		id, err := strconv.ParseInt(ev.id, 10, 64)
		if err != nil || id != want {
			t.Fatalf("event %q (%s) where id %d was due: a gap or a repeat", ev.id, ev.event, want)
		}
		want++
	}
	return want - 1
}

// TestLiveEventsAcrossReplicas: two servers on one bucket, each a replica. A job run on
// A is streamed through B while it runs (its events arrive before it ends), a resume
// from the middle through B gets exactly the rest, and B's tenant stream shows the
// job's state changes made on A, each once.
func TestLiveEventsAcrossReplicas(t *testing.T) {
	st := sharedBucket(t)
	a := newHarness(t, harnessOptions{realTofu: true, store: st, replica: true})
	b := newHarness(t, harnessOptions{realTofu: true, store: st, replica: true})
	installTemplate(t, st, "gate")
	gate := filepath.Join(t.TempDir(), "open")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	tenantB := collect(t, b, ctx, "/api/v1/events", nil)
	svc := a.createService("acme", "gate", map[string]any{"gate": gate})
	job := a.run("acme", svc.ID, "apply", nil)
	path := "/api/v1/services/" + svc.ID + "/jobs/" + job.ID + "/events"
	live := collect(t, b, ctx, path, nil)

	// The apply waits at the gate: B streams what A's job did so far.
	waitFor(t, "the gate's apply_start through B", func() bool {
		return live.has(func(ev sseEvent) bool {
			return ev.event == string(engine.EventApplyStart) && json.Valid([]byte(ev.data)) &&
				containsAddr(ev.data, "terraform_data.gate")
		})
	})
	var onA apiv1.Job
	a.must(200, req{method: "GET", path: "/api/v1/services/" + svc.ID + "/jobs/" + job.ID, tenant: "acme"}).decode(t, &onA)
	if onA.State.Final() {
		t.Fatalf("the job is %s on A although its apply waits at the gate", onA.State)
	}
	// A's state change reaches B's tenant stream.
	isRunning := func(ev sseEvent) bool {
		var s apiv1.StatusEvent
		return json.Unmarshal([]byte(ev.data), &s) == nil && s.Job != nil && s.Job.ID == job.ID && s.Job.State == engine.StateRunning
	}
	waitFor(t, "A's running status on B's tenant stream", func() bool { return tenantB.has(isRunning) })
	middle := live.events()
	mid, _ := strconv.ParseInt(middle[len(middle)/2].id, 10, 64)

	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	<-live.done
	all := live.events()
	if all[len(all)-1].event != apiv1.SSEEnd {
		t.Fatalf("B's stream ended without the end event: %+v", all[len(all)-1])
	}
	last := checkIDs(t, all, 1)
	var evs apiv1.EventList
	a.must(200, req{method: "GET", path: path, tenant: "acme", headers: map[string]string{"Accept": "application/json"}}).decode(t, &evs)
	if n := len(evs.Events); int64(n) != last {
		t.Fatalf("B streamed %d events, A recorded %d", last, n)
	}

	// Resume through B from the middle: exactly the rest.
	rest := collect(t, b, ctx, path, map[string]string{"Last-Event-ID": strconv.FormatInt(mid, 10)})
	<-rest.done
	if got := checkIDs(t, rest.events(), mid+1); got != last {
		t.Fatalf("the resumed stream ended at %d, want %d", got, last)
	}

	isDone := func(ev sseEvent) bool {
		var s apiv1.StatusEvent
		return json.Unmarshal([]byte(ev.data), &s) == nil && s.Job != nil && s.Job.ID == job.ID && s.Job.State == engine.StateSucceeded
	}
	waitFor(t, "A's succeeded status on B's tenant stream", func() bool { return tenantB.has(isDone) })
	// Each of A's status events once on B (B's own feed entries are not read back).
	seen := map[string]int{}
	for _, ev := range tenantB.events() {
		seen[ev.data]++
		if seen[ev.data] > 1 {
			t.Fatalf("B's tenant stream delivered twice: %s", ev.data)
		}
	}
}

func containsAddr(data, addr string) bool {
	var ev apiv1.Event
	return json.Unmarshal([]byte(data), &ev) == nil && ev.Resource != nil && ev.Resource.Address == addr
}
