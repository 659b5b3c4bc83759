package api_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/internal/testservers"
	"github.com/spawnit/spawnit/pkg/apiv1"
	"github.com/spawnit/spawnit/pkg/platform"
	"github.com/spawnit/spawnit/pkg/store"
	"github.com/spawnit/spawnit/pkg/supervisor"
)

// cloneTemplate copies the stored template from into a new template to, with its
// template.json changed by edit (the id is set to to).
func cloneTemplate(t *testing.T, st store.Store, from, to string, edit func(map[string]any)) {
	t.Helper()
	ctx := context.Background()
	objs, err := st.List(ctx, "templates/"+from+"/")
	if err != nil {
		t.Fatal(err)
	}
	var meta []byte
	for _, o := range objs {
		b, _, err := st.Get(ctx, o.Key)
		if err != nil {
			t.Fatal(err)
		}
		rel := strings.TrimPrefix(o.Key, "templates/"+from+"/")
		if strings.HasPrefix(rel, "versions/") {
			continue // the copy is published as its own template's version
		}
		if rel == "template.json" {
			meta = b
			continue
		}
		if _, err := st.Put(ctx, "templates/"+to+"/"+rel, b, store.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	var doc map[string]any
	if err := json.Unmarshal(meta, &doc); err != nil {
		t.Fatal(err)
	}
	doc["id"] = to
	edit(doc)
	b, _ := json.Marshal(doc)
	if _, err := st.Put(ctx, "templates/"+to+"/template.json", b, store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
}

// statusStream follows the tenant's status stream (GET /api/v1/events) until the test
// ends, handing each event to waitStatus.
type statusStream struct {
	t  *testing.T
	ch chan apiv1.StatusEvent
	// held keeps the events received that no wait has matched yet, in order: two
	// changes can come in either order (a health probe may see a removed container
	// before the drift check does), and each later wait must still find its own.
	held []apiv1.StatusEvent
}

func (h *harness) statusStream(t *testing.T) *statusStream {
	ctx, cancel := context.WithCancel(context.Background())
	res := h.openStream(ctx, "/api/v1/events", "", nil)
	s := &statusStream{t: t, ch: make(chan apiv1.StatusEvent, 1000)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer res.Body.Close()
		_ = readSSE(res.Body, func(ev sseEvent) bool {
			if ev.event != apiv1.SSEStatus {
				return true
			}
			var se apiv1.StatusEvent
			if json.Unmarshal([]byte(ev.data), &se) == nil {
				s.ch <- se
			}
			return true
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	return s
}

// wait returns the first event since the last drain that matches match and that no
// earlier wait took, failing after timeout.
func (s *statusStream) wait(what string, timeout time.Duration, match func(apiv1.StatusEvent) bool) apiv1.StatusEvent {
	s.t.Helper()
	for i, ev := range s.held {
		if match(ev) {
			s.held = append(s.held[:i], s.held[i+1:]...)
			return ev
		}
	}
	deadline := time.After(timeout)
	for {
		select {
		case ev := <-s.ch:
			if match(ev) {
				return ev
			}
			s.held = append(s.held, ev)
		case <-deadline:
			s.t.Fatalf("no status event within %s: %s (unmatched: %+v)", timeout, what, s.held)
		}
	}
}

// drain forgets the events received so far.
func (s *statusStream) drain() {
	s.held = nil
	for {
		select {
		case <-s.ch:
		default:
			return
		}
	}
}

func driftIs(service string, st engine.ServiceStatus) func(apiv1.StatusEvent) bool {
	return func(ev apiv1.StatusEvent) bool { return ev.Kind == "drift" && ev.Service == service && ev.Drift == st }
}

func healthIs(service, st string) func(apiv1.StatusEvent) bool {
	return func(ev apiv1.StatusEvent) bool {
		return ev.Kind == "health" && ev.Service == service && ev.Health == st
	}
}

// startSupervisor runs a drift supervisor over the harness's platform, as `spawnit
// serve` does; the returned function stops it and waits for it.
func (h *harness) startSupervisor(t *testing.T, cfg supervisor.Config) (func(), *supervisor.Supervisor) {
	t.Helper()
	cfg.Logger = slog.New(slog.NewTextHandler(testLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	sup := supervisor.New(cfg, h.p.Supervised())
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = sup.Run(ctx) })
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); wg.Wait(); t.Logf("supervisor stats: %+v", sup.Stats()) }) }
	t.Cleanup(stop)
	return stop, sup
}

// followingDocker waits until the supervisor follows Docker's event stream, which it
// connects to in the background: it signals the service's container with SIGWINCH
// (ignored by the test image; Docker reports a "kill" event, one the supervisor acts on)
// until an event-driven check starts, then waits for that check to end, so that it
// cannot overlap what the test does next.
func followingDocker(t *testing.T, sup *supervisor.Supervisor, container string) {
	t.Helper()
	waitFor(t, "the supervisor to act on a Docker event", func() bool {
		if sup.Stats().EventChecks > 0 {
			return true
		}
		if out, err := exec.Command("docker", "kill", "-s", "WINCH", container).CombinedOutput(); err != nil {
			t.Fatalf("docker kill -s WINCH %s: %v: %s", container, err, out)
		}
		// The event, then the supervisor's debounce (500ms), on a loaded machine.
		for start := time.Now(); time.Since(start) < 5*time.Second; time.Sleep(50 * time.Millisecond) {
			if sup.Stats().EventChecks > 0 {
				return true
			}
		}
		return false
	})
	waitFor(t, "the event-driven check to end", func() bool {
		st := sup.Stats()
		return st.FullChecks+st.Busy+st.Failures >= st.EventChecks
	})
}

type testLogWriter struct{ t *testing.T }

func (w testLogWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

func containerRunning(name string) bool {
	out, err := exec.Command("docker", "ps", "-q", "--filter", "name=^/"+name+"$").Output()
	return err == nil && len(strings.TrimSpace(string(out))) > 0
}

func dockerRm(t *testing.T, name string) {
	t.Helper()
	if out, err := exec.Command("docker", "rm", "-f", name).CombinedOutput(); err != nil {
		t.Fatalf("docker rm -f %s: %v: %s", name, err, out)
	}
}

func jobEvents(t *testing.T, h *harness, service, job string) []apiv1.Event {
	t.Helper()
	var evs apiv1.EventList
	h.must(200, req{method: "GET", path: "/api/v1/services/" + service + "/jobs/" + job + "/events",
		headers: map[string]string{"Accept": "application/json"}}).decode(t, &evs)
	return evs.Events
}

func getService(t *testing.T, h *harness, id string) apiv1.Service {
	t.Helper()
	var svc apiv1.Service
	h.must(200, req{method: "GET", path: "/api/v1/services/" + id}).decode(t, &svc)
	return svc
}

// findAudit returns the audit entries matching match.
func findAudit(t *testing.T, h *harness, match func(platform.AuditEntry) bool) []platform.AuditEntry {
	t.Helper()
	var out []platform.AuditEntry
	for _, e := range auditEntries(t, h) {
		if match(e) {
			out = append(out, e)
		}
	}
	return out
}

// TestReadiness: an apply succeeds only after the template's readiness checks passed
// (their messages come before the job's final state), and a check that never passes
// fails the apply with the check's message, keeping the container. Health follows; a
// template with "accept_drift": false refuses to accept drift.
func TestReadiness(t *testing.T) {
	testservers.BuildTestImage(t)
	h := newHarness(t, harnessOptions{realTofu: true})
	cloneTemplate(t, h.st, "httpecho", "teapot", func(doc map[string]any) {
		doc["readiness"] = []any{map[string]any{"type": "http", "output": "endpoint", "path": "/", "status": 418, "timeout": "6s"}}
		doc["accept_drift"] = false
	})
	portReady, _ := strconv.Atoi(testservers.FreePort(t))
	portTeapot, _ := strconv.Atoi(testservers.FreePort(t))
	ready := h.createService("", "httpecho", map[string]any{"port": portReady})
	teapot := h.createService("", "teapot", map[string]any{"port": portTeapot})
	t.Cleanup(func() { removeContainer(ready); removeContainer(teapot) })
	// Accepting drift needs a deployed service.
	if e := h.must(409, req{method: "POST", path: "/api/v1/services/" + ready.ID + "/accept"}).apiError(t); e.Error.Code != apiv1.CodeNotDeployed {
		t.Fatalf("accept before any apply: %+v", e)
	}

	jobReady := h.run("", ready.ID, "apply", nil)
	jobTeapot := h.run("", teapot.ID, "apply", nil)
	h.wait("", ready.ID, jobReady.ID, engine.StateSucceeded)
	failed := h.wait("", teapot.ID, jobTeapot.ID, engine.StateFailed)

	// The ready service: the check passed, then the job ended.
	evs := jobEvents(t, h, ready.ID, jobReady.ID)
	passed, readyMsg, final := -1, -1, -1
	for i, ev := range evs {
		switch {
		case strings.Contains(ev.Message, "http check passed: http://127.0.0.1:"+strconv.Itoa(portReady)+"/ (status 200)"):
			passed = i
		case ev.Message == "the service is ready":
			readyMsg = i
		case ev.Type == engine.EventJobState && ev.State == engine.StateSucceeded:
			final = i
		}
	}
	if passed < 0 || readyMsg < passed || final < readyMsg {
		t.Fatalf("events: check passed at %d, ready at %d, succeeded at %d", passed, readyMsg, final)
	}

	// The teapot: a failed apply whose error names the check, its target and the last
	// result; progress was reported while waiting; the container is kept.
	target := "http://127.0.0.1:" + strconv.Itoa(portTeapot) + "/"
	for _, want := range []string{"not ready", "http check of " + target, "not ready after 6s", "last result: status 200, want 418"} {
		if !strings.Contains(failed.Error, want) {
			t.Errorf("error %q does not say %q", failed.Error, want)
		}
	}
	// The first try may find the container not answering yet (the progress message then
	// says so, and the next one is due only 5s later): any result counts; the error
	// above holds the last one.
	waiting := 0
	for _, ev := range jobEvents(t, h, teapot.ID, jobTeapot.ID) {
		if strings.HasPrefix(ev.Message, "waiting for "+target+" (") {
			waiting++
		}
	}
	if waiting < 1 || waiting > 3 {
		t.Errorf("%d progress messages in 6s (at most one every 5s)", waiting)
	}
	if !containerRunning("spawnit-tenant-a-" + teapot.ID) {
		t.Error("the container of a service that is not ready was removed")
	}

	// Health in the listing.
	var list apiv1.ServiceList
	h.must(200, req{method: "GET", path: "/api/v1/services"}).decode(t, &list)
	health := map[string]apiv1.ServiceStatus{}
	for _, s := range list.Services {
		health[s.ID] = s.Status
	}
	if st := health[ready.ID]; st.Health != platform.HealthHealthy || st.HealthAt == nil {
		t.Errorf("ready service: %+v", st)
	}
	if st := health[teapot.ID]; st.Health != platform.HealthNotReady || !strings.Contains(st.HealthMessage, "want 418") {
		t.Errorf("teapot service: %+v", st)
	}

	// Accepting drift: refused by the teapot's template, allowed for httpecho.
	if e := h.must(409, req{method: "POST", path: "/api/v1/services/" + teapot.ID + "/accept"}).apiError(t); e.Error.Code != apiv1.CodeAcceptDisabled {
		t.Fatalf("accept of an accept_drift=false template: %+v", e)
	}
	acc := h.run("", ready.ID, "accept", nil)
	if acc.Operation != engine.OpAccept {
		t.Fatalf("accept started %+v", acc)
	}
	h.wait("", ready.ID, acc.ID, engine.StateSucceeded)
	if svc := getService(t, h, ready.ID); svc.Status.Intent != engine.IntentApplied || svc.Status.LastJob.Operation != engine.OpAccept {
		t.Fatalf("after accept: %+v", svc.Status)
	}
	refused := findAudit(t, h, func(e platform.AuditEntry) bool {
		return e.Service == teapot.ID && e.Operation == engine.OpAccept && e.Error == "accept_disabled"
	})
	accepted := findAudit(t, h, func(e platform.AuditEntry) bool {
		return e.Service == ready.ID && e.Operation == engine.OpAccept && e.Result == platform.ResultAccepted && e.Job == acc.ID
	})
	if len(refused) != 1 || len(accepted) != 1 {
		t.Fatalf("audit: %d refused accepts, %d accepted", len(refused), len(accepted))
	}
}

// TestSupervision follows one deployed service through what the supervisor does:
// detection of a removed container through Docker events and through sweeps, health,
// remediation (asked for, and automatic), a user's apply preempting a check, and
// expiry.
func TestSupervision(t *testing.T) {
	testservers.BuildTestImage(t)
	h := newHarness(t, harnessOptions{realTofu: true})
	port, _ := strconv.Atoi(testservers.FreePort(t))
	svc := h.createService("", "httpecho", map[string]any{"port": port})
	t.Cleanup(func() { removeContainer(svc) })
	ref := engine.ServiceRef{Client: "tenant-a", Service: svc.ID}
	container := "spawnit-tenant-a-" + svc.ID
	h.wait("", svc.ID, h.run("", svc.ID, "apply", nil).ID, engine.StateSucceeded)
	events := h.statusStream(t)

	// 1. Docker events: a removed container is reported missing within seconds, with no
	// sweep due for a thousand hours (the first sweep of a service comes at a random
	// time within one interval: it must not fall within the test, where it could run
	// while the container is removed and report it still there).
	stop, sup := h.startSupervisor(t, supervisor.Config{Interval: 1000 * time.Hour, DockerEvents: true, Refresh: time.Second, BusyRetry: 2 * time.Second})
	followingDocker(t, sup, container)
	events.drain()
	start := time.Now()
	dockerRm(t, container)
	// Seconds on an idle machine (a debounce and one check); a loaded CI machine may
	// need several times that, still far from any sweep.
	events.wait("drift missing (Docker events)", 2*time.Minute, driftIs(svc.ID, engine.StatusMissing))
	latency := time.Since(start)
	t.Logf("Docker events: missing reported %s after docker rm -f", latency.Round(time.Millisecond))
	if latency > time.Minute {
		t.Errorf("missing reported after %s, want < 1m", latency)
	}
	ev := events.wait("health unhealthy", time.Minute, healthIs(svc.ID, platform.HealthUnhealthy))
	if !strings.Contains(ev.Message, "connection refused") {
		t.Errorf("health message %q", ev.Message)
	}
	stop()

	// 2. Remediate on request: an apply, audited as a remediation; healthy again.
	rem := h.run("", svc.ID, "remediate", nil)
	if rem.Operation != engine.OpApply {
		t.Fatalf("remediate started %+v", rem)
	}
	h.wait("", svc.ID, rem.ID, engine.StateSucceeded)
	if !containerRunning(container) {
		t.Fatal("remediation did not recreate the container")
	}
	events.wait("health healthy after remediation", time.Minute, healthIs(svc.ID, platform.HealthHealthy))
	if n := len(findAudit(t, h, func(e platform.AuditEntry) bool {
		return e.Job == rem.ID && e.Reason == platform.ReasonRemediate && e.Subject == "user-of-tenant-a" && e.Operation == engine.OpApply
	})); n != 1 {
		t.Fatalf("%d audit entries for the remediation", n)
	}
	h.wait("", svc.ID, h.run("", svc.ID, "drift", nil).ID, engine.StateSucceeded)
	events.wait("drift in_sync after remediation", time.Minute, driftIs(svc.ID, engine.StatusInSync))

	// 3. A user's apply during a background check waits only for the check to stop.
	checked := make(chan error, 1)
	go func() { _, err := h.p.CheckDriftNow(context.Background(), ref); checked <- err }()
	var check *engine.Job
	waitFor(t, "the background check to run", func() bool {
		holder, ok := h.eng.LockHolder(ref)
		if !ok {
			return false
		}
		j, ok := h.eng.Job(holder.JobID)
		if ok && j.Info().Operation == engine.OpDrift && j.Info().State == engine.StateRunning {
			check = j
		}
		return check != nil
	})
	asked := time.Now()
	apply := h.run("", svc.ID, "apply", nil)
	var started time.Time
	waitFor(t, "the apply to start", func() bool {
		j, ok := h.eng.Job(apply.ID)
		if ok && j.Info().StartedAt != nil {
			started = *j.Info().StartedAt
		}
		return !started.IsZero()
	})
	<-checked
	ci := check.Info()
	t.Logf("user's apply started %s after it was asked for, a check running (the check ended %s: %s)",
		started.Sub(asked).Round(time.Millisecond), ci.State, ci.Error)
	// The check is killed at once (no cool-off): seconds at most, but a loaded machine
	// may take a while to reap tofu and record the check. That the apply did not wait
	// for the check to finish is what the state and end time below show.
	if d := started.Sub(asked); d > 15*time.Second {
		t.Errorf("the apply waited %s for a check", d)
	}
	if ci.State != engine.StateCancelled || ci.EndedAt.After(started) {
		t.Errorf("the check ended %s at %s, the apply started at %s: not preempted", ci.State, ci.EndedAt, started)
	}
	h.wait("", svc.ID, apply.ID, engine.StateSucceeded)

	// 4. Sweeps only: missing within one interval (plus the check's own time).
	const interval = 3 * time.Second
	stop, sup = h.startSupervisor(t, supervisor.Config{Interval: interval, DockerEvents: false, Refresh: time.Second, BusyRetry: 2 * time.Second, Debounce: 100 * time.Millisecond})
	waitFor(t, "the supervisor's first check", func() bool { return sup.Stats().FullChecks > 0 })
	events.drain()
	start = time.Now()
	dockerRm(t, container)
	events.wait("drift missing (sweep)", 2*time.Minute, driftIs(svc.ID, engine.StatusMissing))
	latency = time.Since(start)
	t.Logf("sweeps every %s: missing reported %s after docker rm -f", interval, latency.Round(time.Millisecond))
	// At worst a check that began just before the removal, then one interval, then a
	// check: seconds when idle. A minute leaves a loaded machine room and still tells
	// one interval from the default five minutes.
	if latency > interval+interval/10+time.Minute {
		t.Errorf("missing reported after %s, want within one interval plus a check", latency)
	}

	// 5. Auto-remediation: turned on, it brings the container back with no request.
	var patched apiv1.Service
	h.must(200, req{method: "PATCH", path: "/api/v1/services/" + svc.ID, body: map[string]any{"auto_remediate": true}}).decode(t, &patched)
	if !patched.AutoRemediate {
		t.Fatalf("PATCH answered %+v", patched)
	}
	start = time.Now()
	waitFor(t, "the container to be recreated", func() bool { return containerRunning(container) })
	t.Logf("auto-remediation: container back %s after auto_remediate was turned on", time.Since(start).Round(time.Millisecond))
	events.wait("drift in_sync after auto-remediation", 2*time.Minute, driftIs(svc.ID, engine.StatusInSync))
	auto := findAudit(t, h, func(e platform.AuditEntry) bool {
		return e.Service == svc.ID && e.Reason == platform.ReasonAutoRemediate && e.Subject == platform.SystemSubject && e.Operation == engine.OpApply
	})
	if len(auto) != 1 || auto[0].Result != platform.ResultAccepted {
		t.Fatalf("audit entries of the auto-remediation: %+v", auto)
	}
	h.wait("", svc.ID, auto[0].Job, engine.StateSucceeded)

	// 6. Expiry: the supervisor destroys the service as a job, audited as SpawnIt's,
	// and the service shows it.
	expires := time.Now().Add(2 * time.Second).UTC()
	h.must(200, req{method: "PATCH", path: "/api/v1/services/" + svc.ID, body: map[string]any{"expires_at": expires, "auto_remediate": false}})
	var got apiv1.Service
	deadline := time.Now().Add(3 * time.Minute)
	for {
		got = getService(t, h, svc.ID)
		if got.Status.Intent == engine.IntentDestroyed && !got.Status.Busy {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not destroyed three minutes after its expiry: %+v", got.Status)
		}
		time.Sleep(200 * time.Millisecond)
	}
	stop()
	t.Logf("expiry: destroyed %s after expires_at", time.Since(expires).Round(time.Millisecond))
	if got.Status.LastJob == nil || got.Status.LastJob.Operation != engine.OpDestroy || got.Status.LastJob.State != engine.StateSucceeded ||
		!got.Status.Expired || got.Status.Health != "" {
		t.Fatalf("expired service shows %+v (last job %+v)", got.Status, got.Status.LastJob)
	}
	expired := findAudit(t, h, func(e platform.AuditEntry) bool {
		return e.Service == svc.ID && e.Reason == platform.ReasonExpired && e.Subject == platform.SystemSubject &&
			e.Operation == engine.OpDestroy && e.Result == platform.ResultAccepted
	})
	if len(expired) != 1 || expired[0].Job != got.Status.LastJob.ID || expired[0].Tenant != "tenant-a" {
		t.Fatalf("audit entries of the expiry: %+v", expired)
	}
	if containerRunning(container) {
		t.Fatal("the expired service's container still runs")
	}
	h.must(200, req{method: "GET", path: "/api/v1/services/" + svc.ID + "/jobs/" + got.Status.LastJob.ID})
}

// TestUpdateServiceSettings: PATCH sets and clears the expiry and auto-remediation,
// checks what it is given, and is audited by setting names.
func TestUpdateServiceSettings(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	var created apiv1.Service
	h.must(201, req{method: "POST", path: "/api/v1/services", body: map[string]any{"template": "bulk", "name": "s", "inputs": map[string]any{}, "auto_remediate": true}}).decode(t, &created)
	if !created.AutoRemediate {
		t.Fatalf("created %+v", created)
	}
	path := "/api/v1/services/" + created.ID
	exp := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	var svc apiv1.Service
	res := h.must(200, req{method: "PATCH", path: path, body: map[string]any{"expires_at": exp}})
	res.decode(t, &svc)
	if svc.ExpiresAt == nil || !svc.ExpiresAt.Equal(exp) || !svc.AutoRemediate || res.header.Get("ETag") != `"`+created.ETag+`"` {
		t.Fatalf("after setting the expiry: %+v, ETag %s", svc, res.header.Get("ETag"))
	}
	var cleared apiv1.Service
	h.must(200, req{method: "PATCH", path: path, body: `{"expires_at": null, "auto_remediate": false}`}).decode(t, &cleared)
	if cleared.ExpiresAt != nil || cleared.AutoRemediate {
		t.Fatalf("after clearing: %+v", cleared)
	}
	for _, c := range []struct {
		body    string
		headers map[string]string
		status  int
		field   string
	}{
		{`{"expires_at": "2001-01-01T00:00:00Z"}`, nil, 400, "expires_at"},
		{`{"expires_at": "tomorrow"}`, nil, 400, "expires_at"},
		{`{"auto_remediate": "yes"}`, nil, 400, "auto_remediate"},
		{`{"name": "renamed"}`, nil, 400, ""},
		{`{}`, nil, 400, ""},
		{`{"auto_remediate": true}`, map[string]string{"If-Match": `"` + created.ETag + `"`}, 400, ""},
	} {
		e := h.must(c.status, req{method: "PATCH", path: path, body: c.body, headers: c.headers}).apiError(t)
		if c.field != "" && (len(e.Error.Fields) != 1 || e.Error.Fields[0].Field != c.field) {
			t.Errorf("%s: %+v", c.body, e)
		}
	}
	h.must(404, req{method: "PATCH", path: path, tenant: "tenant-b", body: `{"auto_remediate": true}`})
	entries := findAudit(t, h, func(e platform.AuditEntry) bool {
		return e.Action == platform.ActionServiceSettings && e.Service == created.ID && e.Result == platform.ResultOK
	})
	if len(entries) != 2 || strings.Join(entries[1].Settings, ",") != "expires_at,auto_remediate" {
		t.Fatalf("audit entries %+v", entries)
	}
}
