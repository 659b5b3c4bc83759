package api_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/pkg/apiv1"
	"github.com/spawnit/spawnit/pkg/platform"
)

// TestLifecycle runs a service of the provider-less bulk template through the API:
// hostile-looking values arrive literally in OpenTofu, secrets never show, delete obeys
// its rules, and every state-changing action is audited without values.
func TestLifecycle(t *testing.T) {
	h := newHarness(t, harnessOptions{realTofu: true})
	literal := "${path.cwd} %{ if true }x%{ endif }\n\"quoted\" -var=evil"
	const secret = "s3cret-token-value-42"
	svc := h.createService("", "bulk", map[string]any{"items": 3, "note": literal, "token": secret})
	if svc.Inputs["note"] != literal || svc.Inputs["token"] != "********" {
		t.Fatalf("inputs as created: %#v", svc.Inputs)
	}
	if svc.Status.Intent != engine.IntentNone || svc.Status.Drift != engine.StatusNotChecked {
		t.Fatalf("status of a new service: %+v", svc.Status)
	}
	path := "/api/v1/services/" + svc.ID

	job := h.run("", svc.ID, "apply", nil)
	if job.Operation != engine.OpApply || job.Service.Service != svc.ID {
		t.Fatalf("job %+v", job)
	}
	done := h.wait("", svc.ID, job.ID, engine.StateSucceeded)
	var note string
	if err := json.Unmarshal(done.Outputs["note"].Value, &note); err != nil || note != literal {
		t.Fatalf("output note = %q (%v), want the input literally", done.Outputs["note"].Value, err)
	}
	if v := done.Outputs["token"]; !v.Sensitive || len(v.Value) != 0 {
		t.Fatalf("sensitive output shown without reveal: %+v", v)
	}
	var revealed apiv1.Job
	h.must(200, req{method: "GET", path: path + "/jobs/" + job.ID + "?reveal=true"}).decode(t, &revealed)
	if string(revealed.Outputs["token"].Value) != strconv.Quote(secret) {
		t.Fatalf("revealed token = %s", revealed.Outputs["token"].Value)
	}
	events := h.must(200, req{method: "GET", path: path + "/jobs/" + job.ID + "/events", headers: map[string]string{"Accept": "application/json"}})
	if strings.Contains(string(events.body), secret) {
		t.Fatal("the secret appears in the job's events")
	}

	var got apiv1.Service
	h.must(200, req{method: "GET", path: path}).decode(t, &got)
	if got.Status.Intent != engine.IntentApplied || got.Status.Busy || got.Status.LastJob == nil ||
		got.Status.LastJob.ID != job.ID || got.Status.LastJob.State != engine.StateSucceeded {
		t.Fatalf("status after apply: %+v last=%+v", got.Status, got.Status.LastJob)
	}

	// Deployed: delete is refused unless it destroys first.
	if e := h.must(409, req{method: "DELETE", path: path}).apiError(t); e.Error.Code != apiv1.CodeResourcesExist {
		t.Fatalf("delete of a deployed service: %+v", e)
	}
	var destroyJob apiv1.Job
	h.must(202, req{method: "DELETE", path: path + "?destroy=true"}).decode(t, &destroyJob)
	if destroyJob.Operation != engine.OpDestroy {
		t.Fatalf("delete?destroy=true started %+v", destroyJob)
	}
	h.wait("", svc.ID, destroyJob.ID, engine.StateSucceeded)
	waitFor(t, "configuration removed after the destroy", func() bool {
		return h.do(req{method: "GET", path: path}).status == 404
	})
	// The jobs of the deleted service stay readable (a client follows the destroy).
	h.must(200, req{method: "GET", path: path + "/jobs/" + destroyJob.ID})

	// Metrics count the jobs.
	m := string(h.must(200, req{method: "GET", path: "/metrics"}).body)
	for _, want := range []string{
		`spawnit_jobs_total{operation="apply",state="succeeded"} 1`,
		`spawnit_jobs_total{operation="destroy",state="succeeded"} 1`,
		`spawnit_job_duration_seconds_count{operation="apply"} 1`,
		`spawnit_http_requests_total{method="POST",route="/api/v1/services/:service/apply",status="202"} 1`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}

	// The audit log has every action, with tenant and subject, and no value. The
	// service.deleted entry is written once the configuration is gone, so it may come
	// just after the 404 seen above: wait for it.
	var entries []platform.AuditEntry
	missing := func() []string {
		entries = auditEntries(t, h)
		want := map[string]bool{platform.ActionServiceCreate: false, platform.ActionJobSubmit + "/apply": false,
			platform.ActionOutputsReveal: false, platform.ActionServiceDelete: false, platform.ActionServiceDeleted: false}
		for _, e := range entries {
			key := e.Action
			if e.Action == platform.ActionJobSubmit {
				key += "/" + string(e.Operation)
			}
			if _, ok := want[key]; ok && e.Service == svc.ID && e.Tenant == "tenant-a" && e.Subject == "user-of-tenant-a" && e.Error == "" {
				want[key] = true
			}
		}
		var out []string
		for k, seen := range want {
			if !seen {
				out = append(out, k)
			}
		}
		return out
	}
	deadline := time.Now().Add(time.Minute)
	for len(missing()) > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	for _, k := range missing() {
		t.Errorf("no audit entry for %s (entries: %+v)", k, entries)
	}
}

func auditEntries(t *testing.T, h *harness) []platform.AuditEntry {
	t.Helper()
	objs, err := h.st.List(context.Background(), platform.AuditPrefix)
	if err != nil {
		t.Fatal(err)
	}
	var out []platform.AuditEntry
	for _, o := range objs {
		b, _, err := h.st.Get(context.Background(), o.Key)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{"s3cret", "hunter2", "${", "%{"} {
			if strings.Contains(string(b), s) {
				t.Errorf("audit entry %s contains a value (%q): %s", o.Key, s, b)
			}
		}
		var e platform.AuditEntry
		if err := json.Unmarshal(b, &e); err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

// TestDrift: a check through the API records the service's status; the supervisor's
// entry points see the service and check it in the background; the tenant stream hears
// of a drift status only when it changes.
func TestDrift(t *testing.T) {
	h := newHarness(t, harnessOptions{realTofu: true, keepAlive: time.Hour})
	svc := h.createService("", "bulk", map[string]any{"items": 2})
	path := "/api/v1/services/" + svc.ID
	h.wait("", svc.ID, h.run("", svc.ID, "apply", nil).ID, engine.StateSucceeded)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	stream := h.openStream(ctx, "/api/v1/events", "", nil)
	defer stream.Body.Close()

	check := h.run("", svc.ID, "drift", map[string]string{"Idempotency-Key": "check-1"})
	done := h.wait("", svc.ID, check.ID, engine.StateSucceeded)
	if done.Drift == nil || done.Drift.Status != engine.StatusInSync {
		t.Fatalf("drift job: %+v", done.Drift)
	}
	var rep apiv1.Drift
	waitFor(t, "the report to be kept", func() bool {
		h.must(200, req{method: "GET", path: path + "/drift"}).decode(t, &rep)
		return rep.Status == engine.StatusInSync
	})
	var got apiv1.Service
	h.must(200, req{method: "GET", path: path}).decode(t, &got)
	if got.Status.Drift != engine.StatusInSync || got.Status.DriftAt == nil {
		t.Fatalf("service status: %+v", got.Status)
	}

	watched, err := h.p.WatchedServices(ctx)
	if err != nil || len(watched) != 1 || watched[0].Ref.Service != svc.ID || watched[0].Intent != engine.IntentApplied || watched[0].Target != "docker" {
		t.Fatalf("watched services: %+v %v", watched, err)
	}
	ref := engine.ServiceRef{Client: "tenant-a", Service: svc.ID}
	r, err := h.p.CheckDriftNow(ctx, ref)
	if err != nil || r.Status != engine.StatusInSync {
		t.Fatalf("background check: %+v %v", r, err)
	}
	// A report of its own (the supervisor saw something tofu cannot) changes the status.
	if err := h.p.RecordDrift(ctx, ref, engine.DriftReport{Status: engine.StatusDrifted, CheckedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}

	var drift []engine.ServiceStatus
	_ = readSSE(stream.Body, func(ev sseEvent) bool {
		var se apiv1.StatusEvent
		if ev.event == apiv1.SSEStatus && json.Unmarshal([]byte(ev.data), &se) == nil && se.Kind == "drift" {
			drift = append(drift, se.Drift)
		}
		return len(drift) < 2
	})
	// Two in_sync checks, then drifted: two changes, not three events.
	if len(drift) != 2 || drift[0] != engine.StatusInSync || drift[1] != engine.StatusDrifted {
		t.Fatalf("drift events: %v", drift)
	}
	m := string(h.must(200, req{method: "GET", path: "/metrics"}).body)
	if !strings.Contains(m, `spawnit_drift_checks_total{status="in_sync"} 2`) {
		t.Errorf("metrics lack two in_sync checks:\n%s", m)
	}
}
