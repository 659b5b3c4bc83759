package api_test

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/internal/testservers"
	"github.com/spawnit/spawnit/pkg/apiv1"
	"github.com/spawnit/spawnit/pkg/supervisor"
)

// gatedChecks is the platform as the supervisor sees it, with drift checks that wait,
// while the gate is closed, until the test opens it: what the service shows between a
// Docker event and the check it called for is then asserted without a race.
type gatedChecks struct {
	supervisor.Platform
	closed atomic.Bool
	gate   chan struct{}
}

func (g *gatedChecks) Check(ctx context.Context, ref engine.ServiceRef) (*engine.DriftReport, error) {
	if g.closed.Load() {
		select {
		case <-g.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return g.Platform.Check(ctx, ref)
}

func (g *gatedChecks) Signal(ctx context.Context, ref engine.ServiceRef, sig supervisor.Signal) error {
	return g.Platform.(supervisor.Signals).Signal(ctx, ref, sig)
}

// TestDriftSignal: a Docker event that removes a deployed service's container shows at
// once, on /api/v1/events and in the service's status, as drift "missing" awaiting
// confirmation, with what the event said; the drift check that follows confirms it and
// the status is no longer unconfirmed. SpawnIt's own actions raise no signal: a restart
// and a stop through the API, and an apply that replaces the container.
func TestDriftSignal(t *testing.T) {
	testservers.BuildTestImage(t)
	h := newHarness(t, harnessOptions{realTofu: true})
	port, _ := strconv.Atoi(testservers.FreePort(t))
	svc := h.createService("", "httpecho", map[string]any{"port": port})
	t.Cleanup(func() { removeContainer(svc) })
	base := "/api/v1/services/" + svc.ID
	container := "spawnit-tenant-a-" + svc.ID
	h.wait("", svc.ID, h.run("", svc.ID, "apply", nil).ID, engine.StateSucceeded)
	events := h.statusStream(t)

	gated := &gatedChecks{Platform: h.p.Supervised(), gate: make(chan struct{})}
	sup := supervisor.New(supervisor.Config{Interval: 1000 * time.Hour, DockerEvents: true, Refresh: time.Second,
		BusyRetry: 2 * time.Second, Logger: slog.New(slog.NewTextHandler(testLogWriter{t}, nil))}, gated)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = sup.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait(); t.Logf("supervisor stats: %+v", sup.Stats()) })
	followingDocker(t, sup, container)
	events.drain()

	ignored := func(n int) func() bool {
		return func() bool { st := sup.Stats(); return st.SignalsIgnored >= n && sup.Idle() }
	}
	// A restart and a stop through the API: Docker says the container died, and then
	// runs it again, or the service's stopped mark says a user stopped it.
	h.must(200, req{method: "POST", path: base + "/restart"})
	waitFor(t, "the restart's events to be handled", ignored(1))
	n := sup.Stats().SignalsIgnored
	h.must(200, req{method: "POST", path: base + "/stop"})
	waitFor(t, "the stop's events to be handled", ignored(n+1))
	h.must(200, req{method: "POST", path: base + "/start"})

	// An apply that replaces the container (another port): its removal happens while
	// the job holds the service.
	n = sup.Stats().SignalsIgnored
	cur := getService(t, h, svc.ID)
	port2, _ := strconv.Atoi(testservers.FreePort(t))
	h.must(200, req{method: "PUT", path: base + "/inputs", headers: map[string]string{"If-Match": `"` + cur.ETag + `"`},
		body: map[string]any{"inputs": map[string]any{"port": port2}}})
	h.wait("", svc.ID, h.run("", svc.ID, "apply", nil).ID, engine.StateSucceeded)
	waitFor(t, "the replacement's events to be handled", ignored(n+1))
	if st := sup.Stats(); st.Signals != 0 {
		t.Fatalf("SpawnIt's own restart, stop and apply raised %d drift signals (stats %+v)", st.Signals, st)
	}
	if st := getService(t, h, svc.ID).Status; st.DriftUnconfirmed || st.DriftSignal != "" {
		t.Fatalf("after SpawnIt's own actions the status shows a signal: %+v", st)
	}

	// docker rm -f: first the signal, then (once the check may run) its confirmation.
	// No check queued or running from the steps before (one the gate held could look
	// while Docker is still removing the container).
	waitFor(t, "the supervisor to be idle", sup.Idle)
	gated.closed.Store(true)
	dockerRm(t, container)
	ev := events.wait("unconfirmed drift missing", 2*time.Minute, func(ev apiv1.StatusEvent) bool {
		return ev.Kind == "drift" && ev.Service == svc.ID && ev.Unconfirmed
	})
	for _, e := range events.held {
		if e.Kind == "drift" && e.Unconfirmed {
			t.Errorf("a drift signal came before the removal's: %+v", e)
		}
	}
	if ev.Drift != engine.StatusMissing || ev.Message != "container "+container+" was removed" {
		t.Fatalf("signal event %+v", ev)
	}
	if st := getService(t, h, svc.ID).Status; st.Drift != engine.StatusMissing || !st.DriftUnconfirmed || st.DriftSignal != ev.Message {
		t.Fatalf("status while the check waits: %+v", st)
	}
	gated.closed.Store(false)
	close(gated.gate)
	ev = events.wait("confirmed drift missing", 2*time.Minute, func(ev apiv1.StatusEvent) bool {
		return ev.Kind == "drift" && ev.Service == svc.ID && !ev.Unconfirmed && ev.Drift == engine.StatusMissing
	})
	if ev.Drift != engine.StatusMissing {
		t.Fatalf("confirmed drift event %+v", ev)
	}
	if st := getService(t, h, svc.ID).Status; st.Drift != engine.StatusMissing || st.DriftUnconfirmed || st.DriftSignal != "" || st.DriftAt == nil {
		t.Fatalf("status after the check: %+v", st)
	}
}
