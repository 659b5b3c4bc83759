package faults

import (
	"encoding/json"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/internal/testservers"
	"github.com/spawnit/spawnit/pkg/apiv1"
	"github.com/spawnit/spawnit/pkg/store"
)

// TestServerKilledDuringApply: the server is SIGKILLed while tofu applies (a local-exec
// sleep, the Docker provider running). tofu dies with it; the provider and the sleep,
// which do not, are killed when the server starts again on the same data directory and
// bucket. Then the job reads interrupted, never running; the service's lease and
// OpenTofu's state lock are free; the state is the last one tofu saved; nothing re-runs
// on its own; the next apply works.
func TestServerKilledDuringApply(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.startServer("a", serverOptions{})
	svc := s.createService(map[string]any{"seconds": 1})
	s.waitState(svc.ID, s.run(svc.ID, "apply").ID, engine.StateSucceeded, 3*time.Minute)
	saved := e.state(svc.ID)
	// The next apply replaces the wait resource: a 120 s sleep.
	s.setInputs(svc.ID, map[string]any{"seconds": 120})
	job := s.run(svc.ID, "apply")
	s.waitSleeping(svc.ID, job.ID)
	work := s.dataDir + "/work"
	// The sleep starts a moment after tofu reports the resource's apply.
	looking := time.Now()
	before, ok := waitProcs(work, time.Minute, "bin/tofu", "terraform-provider-docker", "sleep")
	t.Logf("processes of the apply before the kill (after %s):\n%v", time.Since(looking).Round(time.Millisecond), before)
	if !ok {
		t.Fatalf("expected tofu, the docker provider and the sleep under %s, got %v", work, before)
	}
	s.kill()
	// tofu dies with the server (the engine starts it with Pdeathsig); its providers and the
	// provisioner's commands are reparented and live on until the restart cleans up.
	tofuLeft := func(ps []proc) (proc, bool) {
		for _, p := range ps {
			if strings.Contains(p.cmdline, "bin/tofu") {
				return p, true
			}
		}
		return proc{}, false
	}
	var left []proc
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		left = procsUnder(work)
		p, ok := tofuLeft(left)
		if !ok {
			break
		}
		if time.Now().After(deadline) {
			killProcs(left)
			t.Fatalf("tofu outlived the killed server: %v", p)
		}
	}
	t.Logf("left running after the kill, until the restart: %v", left)

	s.restart()
	if left := waitNoProcs(work, 30*time.Second); len(left) > 0 {
		killProcs(left)
		t.Fatalf("after the restart, processes of the killed server still run: %v", left)
	}
	j := s.job(svc.ID, job.ID)
	if j.State != engine.StateInterrupted {
		t.Fatalf("after the restart the job reads %s (%s)", j.State, j.Error)
	}
	if e.exists(serviceKey(svc.ID, "lease.json")) {
		t.Fatalf("the killed job's lease is still there: %s", e.get(serviceKey(svc.ID, "lease.json")))
	}
	if e.exists(serviceKey(svc.ID, "terraform.tfstate.tflock")) {
		t.Fatalf("the killed tofu's state lock is still there: %s", e.get(serviceKey(svc.ID, "terraform.tfstate.tflock")))
	}
	if st := e.state(svc.ID); st.Lineage != saved.Lineage || st.Serial < saved.Serial {
		t.Fatalf("state after the kill: lineage %s serial %d; before: lineage %s serial %d", st.Lineage, st.Serial, saved.Lineage, saved.Serial)
	}
	// Nothing re-runs on its own.
	time.Sleep(3 * time.Second)
	if jobs := s.jobs(svc.ID); len(jobs) != 2 || jobs[0].State != engine.StateInterrupted {
		t.Fatalf("after the restart the service has %d jobs", len(jobs))
	}
	if ps := procsUnder(work); len(ps) > 0 {
		t.Fatalf("tofu runs after the restart although nobody asked: %v", ps)
	}
	s.setInputs(svc.ID, map[string]any{"seconds": 1})
	next := s.run(svc.ID, "apply")
	s.waitState(svc.ID, next.ID, engine.StateSucceeded, 3*time.Minute)
}

// TestSIGTERMDuringApply: SIGTERM while tofu applies. The server accepts no new job
// (503 shutting_down), interrupts tofu once, gives it the grace period, then kills its
// process group; the job ends in a recorded final state (cancelled or failed, never
// running), nothing is left running, the service is free, and the process exits 0.
//
// "graceful": tofu stops at the interrupt (it kills its local-exec command).
// "grace-expires": the Docker provider is stuck on a registry that never answers, so
// tofu's graceful stop waits for it; the grace period ends in a kill.
func TestSIGTERMDuringApply(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		hang bool
	}{{"graceful", false}, {"grace-expires", true}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			const grace = 6 * time.Second
			s := e.startServer("a", serverOptions{shutdownGrace: grace})
			inputs := map[string]any{"seconds": 120}
			var probing <-chan struct{}
			if tc.hang {
				var registry string
				registry, probing = hangingListener(t)
				inputs = map[string]any{"seconds": 1, "probe": true, "registry": registry}
			}
			svc := s.createService(inputs)
			other := s.createService(map[string]any{"seconds": 1})
			job := s.run(svc.ID, "apply")
			if tc.hang {
				s.waitProbing(svc.ID, job.ID, probing)
			} else {
				s.waitSleeping(svc.ID, job.ID)
			}
			work := s.dataDir + "/work"
			sent := time.Now()
			if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			// The server handles the signal in the background: once it drains, /readyz
			// says so (or, a graceful stop being quick, the server is gone already).
			for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				if r := s.request("GET", "/readyz", nil, nil, 10*time.Second); r.err != nil || r.status == 503 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the server did not start draining within 30s of SIGTERM")
				}
			}
			// While the running job gets its grace period, new jobs are refused. A graceful
			// stop may be over (and the listener closed) before this request.
			r := s.request("POST", "/api/v1/services/"+other.ID+"/apply", nil, nil, 10*time.Second)
			refused := r.err == nil && r.status == 503 && r.code() == "shutting_down"
			if !refused && (tc.hang || r.err == nil) {
				t.Fatalf("apply during shutdown: %s", r)
			}
			if !s.waitExit(grace + time.Minute) {
				t.Fatalf("the server did not exit %s after SIGTERM", time.Since(sent))
			}
			took := time.Since(sent)
			t.Logf("exited %s after SIGTERM (%v); new apply: %s", took.Round(time.Millisecond), s.waitErr, r)
			if s.waitErr != nil {
				t.Fatalf("exit status after SIGTERM: %v", s.waitErr)
			}
			if tc.hang && took < grace {
				t.Fatalf("the server exited after %s, before the grace period ended", took)
			}
			if left := waitNoProcs(work, 30*time.Second); len(left) > 0 {
				killProcs(left)
				t.Fatalf("processes left after the server exited: %v", left)
			}
			var rec struct {
				engine.JobInfo
				Events []apiv1.Event `json:"events"`
			}
			if err := json.Unmarshal(e.get(serviceKey(svc.ID, "jobs/"+job.ID+".json")), &rec); err != nil {
				t.Fatal(err)
			}
			if rec.State != engine.StateCancelled && rec.State != engine.StateFailed {
				t.Fatalf("job recorded %s after the shutdown: %s\n%s", rec.State, rec.Error, eventText(rec.Events))
			}
			t.Logf("job recorded %s: %s", rec.State, rec.Error)
			interrupts := 0
			for _, ev := range rec.Events {
				if strings.Contains(ev.Message, "Interrupt received") {
					interrupts++
				}
			}
			if interrupts != 1 {
				t.Fatalf("tofu saw %d interrupts, want 1:\n%s", interrupts, eventText(rec.Events))
			}
			if e.exists(serviceKey(svc.ID, "lease.json")) || e.exists(serviceKey(svc.ID, "terraform.tfstate.tflock")) {
				t.Fatal("lease or state lock left after the shutdown")
			}
			if jobs := e.list(serviceKey(other.ID, "jobs/")); len(jobs) != 0 {
				t.Fatalf("a job was created during the shutdown: %v", jobs)
			}
			// A restart finds nothing to recover and the service works.
			s.restart()
			if j := s.job(svc.ID, job.ID); j.State != rec.State {
				t.Fatalf("after the restart the job reads %s, recorded %s", j.State, rec.State)
			}
			s.setInputs(svc.ID, map[string]any{"seconds": 1})
			s.waitState(svc.ID, s.run(svc.ID, "apply").ID, engine.StateSucceeded, 3*time.Minute)
		})
	}
}

// TestHungProviderJobTimeout: the Docker provider hangs on a registry that never
// answers, with a short --job-timeout. The job is interrupted at the timeout, given
// the kill grace, then killed: it ends failed with the timeout in its error, nothing is
// left running, the service's lease and state lock are free, and the next apply works.
func TestHungProviderJobTimeout(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// The timeout must end the job while the provider hangs, not before: init and the
	// plan up to the registry call take seconds on a loaded machine.
	const timeout = 30 * time.Second
	s := e.startServer("a", serverOptions{jobTimeout: timeout})
	registry, probing := hangingListener(t)
	svc := s.createService(map[string]any{"seconds": 1, "probe": true, "registry": registry})
	job := s.run(svc.ID, "apply")
	s.waitProbing(svc.ID, job.ID, probing)
	work := s.dataDir + "/work"
	// The engine's kill grace is 30 s (spawnit serve does not set it).
	j := s.waitState(svc.ID, job.ID, engine.StateFailed, timeout+2*time.Minute)
	took := j.EndedAt.Sub(*j.StartedAt)
	t.Logf("job failed after %s: %s", took.Round(time.Millisecond), j.Error)
	if !strings.Contains(j.Error, "timed out after "+timeout.String()) {
		t.Fatalf("error %q does not name the timeout", j.Error)
	}
	evs := eventText(s.events(svc.ID, job.ID))
	for _, want := range []string{"job timed out after", "Interrupt received", "did not stop within the grace period: killing it"} {
		if !strings.Contains(evs, want) {
			t.Fatalf("events lack %q:\n%s", want, evs)
		}
	}
	if left := waitNoProcs(work, 30*time.Second); len(left) > 0 {
		killProcs(left)
		t.Fatalf("processes left after the timeout: %v", left)
	}
	if e.exists(serviceKey(svc.ID, "lease.json")) || e.exists(serviceKey(svc.ID, "terraform.tfstate.tflock")) {
		t.Fatal("lease or state lock left after the timeout")
	}
	if svc := s.service(svc.ID); svc.Status.Busy {
		t.Fatal("the service is still busy")
	}
	s.setInputs(svc.ID, map[string]any{"seconds": 1, "probe": false})
	s.waitState(svc.ID, s.run(svc.ID, "apply").ID, engine.StateSucceeded, 3*time.Minute)
}

// TestS3DownAndBack: S3 stops and comes back while the server runs. While it is down,
// reads answer 503 unavailable and a new job request fails fast with a clear error,
// creating no job and leaving no lock; once S3 is back the server recovers by itself
// (no restart), nothing was lost (configuration, state, job records) and the next
// apply works.
func TestS3DownAndBack(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.startServer("a", serverOptions{})
	svc := s.createService(map[string]any{"seconds": 1})
	first := s.waitState(svc.ID, s.run(svc.ID, "apply").ID, engine.StateSucceeded, 3*time.Minute)
	saved := e.state(svc.ID)
	tfvars := e.get(serviceKey(svc.ID, "terraform.tfvars.json"))

	e.s3.Stop()
	const fast = 15 * time.Second
	for _, path := range []string{"/api/v1/services", "/api/v1/services/" + svc.ID} {
		r := s.request("GET", path, nil, nil, time.Minute)
		t.Logf("GET %s with S3 down: %s after %s", path, r, r.took.Round(time.Millisecond))
		if r.err != nil || r.status != 503 || r.code() != "unavailable" || r.took > fast {
			t.Fatalf("GET %s with S3 down: %s after %s (want 503 unavailable within %s)", path, r, r.took, fast)
		}
	}
	if r := s.request("GET", "/readyz", nil, nil, time.Minute); r.status != 503 {
		t.Fatalf("readyz with S3 down: %s", r)
	}
	for _, op := range []string{"apply", "plan"} {
		r := s.request("POST", "/api/v1/services/"+svc.ID+"/"+op, nil, nil, time.Minute)
		t.Logf("POST %s with S3 down: %s after %s", op, r, r.took.Round(time.Millisecond))
		if r.err != nil || r.status != 503 || r.code() != "unavailable" || r.took > fast {
			t.Fatalf("POST %s with S3 down: %s after %s (want 503 unavailable within %s)", op, r, r.took, fast)
		}
	}
	if ps := procsUnder(s.dataDir + "/work"); len(ps) > 0 {
		t.Fatalf("tofu runs although S3 is down: %v", ps)
	}

	e.s3.Restart(t)
	deadline := time.Now().Add(time.Minute)
	for {
		r := s.request("GET", "/api/v1/services", nil, nil, 30*time.Second)
		if r.err == nil && r.status == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server did not recover after S3 came back: %s", r)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// /readyz caches its checks for a few seconds: it turns ready within that time.
	for ready := time.Now().Add(time.Minute); ; time.Sleep(250 * time.Millisecond) {
		r := s.request("GET", "/readyz", nil, nil, 30*time.Second)
		if r.status == 200 {
			break
		}
		if time.Now().After(ready) {
			t.Fatalf("readyz after S3 came back: %s", r)
		}
	}
	// Nothing was created while S3 was down, and nothing was lost.
	if jobs := s.jobs(svc.ID); len(jobs) != 1 || jobs[0].ID != first.ID || jobs[0].State != engine.StateSucceeded {
		t.Fatalf("jobs after the outage: %+v", jobs)
	}
	if e.exists(serviceKey(svc.ID, "lease.json")) || e.exists(serviceKey(svc.ID, "terraform.tfstate.tflock")) {
		t.Fatal("a lease or state lock was left by the refused requests")
	}
	if got := e.get(serviceKey(svc.ID, "terraform.tfvars.json")); string(got) != string(tfvars) {
		t.Fatal("the service's tfvars changed")
	}
	if st := e.state(svc.ID); st.Serial != saved.Serial || st.Lineage != saved.Lineage || len(st.Resources) == 0 {
		t.Fatalf("state after the outage: %+v, before: %+v", st, saved)
	}
	s.setInputs(svc.ID, map[string]any{"seconds": 2})
	s.waitState(svc.ID, s.run(svc.ID, "apply").ID, engine.StateSucceeded, 3*time.Minute)
}

// TestErroredStateKept: S3 stops while an apply sleeps, after it created resources, so
// tofu cannot save the final state and writes errored.tfstate. Once S3 is back, that
// file is in the store beside the state, the service shows needs_recovery, and applies
// are refused (409 needs_recovery) until an operator resolves it.
func TestErroredStateKept(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.startServer("a", serverOptions{})
	svc := s.createService(map[string]any{"seconds": 8})
	job := s.run(svc.ID, "apply")
	s.waitSleeping(svc.ID, job.ID)
	e.s3.Stop()
	stopped := time.Now()
	j := s.wait(svc.ID, job.ID, 3*time.Minute)
	t.Logf("job ended %s %s after S3 stopped: %s", j.State, time.Since(stopped).Round(time.Millisecond), j.Error)
	if j.State != engine.StateFailed {
		t.Fatalf("the apply that could not save its state ended %s", j.State)
	}
	workdir := s.dataDir + "/work/" + tenant + "/" + svc.ID
	t.Logf("errored.tfstate in the workdir while S3 is down: %v", fileExists(workdir+"/errored.tfstate"))

	e.s3.Restart(t)
	restarted := time.Now()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		r := s.request("GET", "/api/v1/services/"+svc.ID, nil, nil, 30*time.Second)
		var got apiv1.Service
		if r.err == nil && r.status == 200 && json.Unmarshal(r.body, &got) == nil && got.Status.NeedsRecovery {
			t.Logf("needs_recovery shown %s after S3 came back", time.Since(restarted).Round(time.Millisecond))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the service does not show needs_recovery after S3 came back: %s", r)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if !e.exists(serviceKey(svc.ID, "errored.tfstate")) {
		t.Fatal("errored.tfstate is not in the store")
	}
	if !strings.Contains(string(e.get(serviceKey(svc.ID, "errored.tfstate"))), `"encrypted_data"`) {
		t.Fatal("errored.tfstate is stored in clear")
	}
	var errored tfstate
	if err := json.Unmarshal(e.plainState(svc.ID, "errored.tfstate"), &errored); err != nil || len(errored.Resources) == 0 {
		t.Fatalf("errored.tfstate does not hold the created resources: %v", err)
	}
	r := s.request("POST", "/api/v1/services/"+svc.ID+"/apply", nil, nil, 30*time.Second)
	if r.err != nil || r.status != 409 || r.code() != "needs_recovery" {
		t.Fatalf("apply of a service that needs recovery: %s", r)
	}
	// The end of the job is recorded once the store takes it, and its lease released.
	deadline = time.Now().Add(2 * time.Minute)
	for e.exists(serviceKey(svc.ID, "lease.json")) || !strings.Contains(string(e.get(serviceKey(svc.ID, "jobs/"+job.ID+".json"))), `"state":"failed"`) {
		if time.Now().After(deadline) {
			t.Fatalf("the job's final record or its lease's release never reached the store: lease %v, record %.300s",
				e.exists(serviceKey(svc.ID, "lease.json")), e.get(serviceKey(svc.ID, "jobs/"+job.ID+".json")))
		}
		time.Sleep(500 * time.Millisecond)
	}
	if fileExists(workdir + "/errored.tfstate") {
		t.Fatal("errored.tfstate is still in the workdir after it was kept")
	}
	// tofu could not release its state lock either: it stays for the operator, whom the
	// recovery note tells.
	t.Logf("state lock left: %v", e.exists(serviceKey(svc.ID, "terraform.tfstate.tflock")))
	var intent engine.Intent
	if err := json.Unmarshal(e.get(serviceKey(svc.ID, "intent.json")), &intent); err != nil || !intent.NeedsRecovery || !strings.Contains(intent.RecoveryNote, "errored.tfstate") {
		t.Fatalf("intent %+v (%v)", intent, err)
	}
}

// TestS3Slow: S3 behind a proxy that delays or swallows requests.
//
//   - The answer to an apply is lost (a slow write after the job was created makes the
//     client give up): retries with the same Idempotency-Key, one of them concurrent
//     with the first request, get the job the first request created; no second job.
//   - The lease's conditional write takes longer than the engine waits for it (30 s),
//     and then lands anyway (its answer lost): the job fails cleanly with the reason,
//     and the lease it left does not block the next apply.
//   - S3 blackholed: requests fail within the client's timeout and leave nothing
//     behind; once S3 answers again, the same Idempotency-Key creates one job.
func TestS3Slow(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	proxy := testservers.NewProxy(t, e.s3.Endpoint)
	s := e.startServer("a", serverOptions{endpoint: proxy.URL()})
	svc := s.createService(map[string]any{"seconds": 1})
	applyWithKey := func(key string, timeout time.Duration) resp {
		return s.request("POST", "/api/v1/services/"+svc.ID+"/apply", nil, map[string]string{"Idempotency-Key": key}, timeout)
	}
	jobID := func(r resp) string {
		t.Helper()
		var j apiv1.Job
		if r.err != nil || r.status != 202 || json.Unmarshal(r.body, &j) != nil || j.ID == "" {
			t.Fatalf("apply: %s", r)
		}
		return j.ID
	}

	// Lost answer: the audit entry written after the job is created is slow.
	proxy.DelayMatching("PUT /"+e.bucket+"/audit/", 6*time.Second)
	if r := applyWithKey("first-apply", 2*time.Second); r.err == nil {
		t.Fatalf("the first apply answered before its client gave up: %s", r)
	}
	retried := jobID(applyWithKey("first-apply", 30*time.Second)) // concurrent with the first
	proxy.Reset()
	if again := jobID(applyWithKey("first-apply", 30*time.Second)); again != retried {
		t.Fatalf("retries with one Idempotency-Key got jobs %s and %s", retried, again)
	}
	if jobs := s.jobs(svc.ID); len(jobs) != 1 || jobs[0].ID != retried {
		t.Fatalf("jobs after the retries: %+v", jobs)
	}
	s.waitState(svc.ID, retried, engine.StateSucceeded, 3*time.Minute)

	// The lease's write outlasts the engine's patience, then lands.
	s.setInputs(svc.ID, map[string]any{"seconds": 2})
	leasePut := "PUT /" + e.bucket + "/" + serviceKey(svc.ID, "lease.json")
	proxy.DelayMatching(leasePut, 35*time.Second)
	slow := s.run(svc.ID, "apply")
	j := s.waitState(svc.ID, slow.ID, engine.StateFailed, 2*time.Minute)
	took := j.EndedAt.Sub(j.CreatedAt)
	t.Logf("apply failed after %s: %s", took.Round(time.Millisecond), j.Error)
	// The engine gives up after 30 s; the write it gave up on lands at 35 s and would
	// have let the apply run. A minute leaves a loaded machine room.
	if !strings.Contains(j.Error, "lease") || took > time.Minute {
		t.Fatalf("apply with a stuck lease write failed after %s with %q", took, j.Error)
	}
	if ps := procsUnder(s.dataDir + "/work"); len(ps) > 0 {
		t.Fatalf("tofu ran without the lease: %v", ps)
	}
	proxy.DelayMatching(leasePut, 0)
	deadline := time.Now().Add(time.Minute)
	for !e.exists(serviceKey(svc.ID, "lease.json")) && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	if !e.exists(serviceKey(svc.ID, "lease.json")) {
		t.Fatal("the delayed lease write never landed")
	}
	if e.exists(serviceKey(svc.ID, "terraform.tfstate.tflock")) {
		t.Fatal("a state lock was left")
	}
	next := s.run(svc.ID, "apply")
	s.waitState(svc.ID, next.ID, engine.StateSucceeded, 3*time.Minute)
	if e.exists(serviceKey(svc.ID, "lease.json")) {
		t.Fatalf("lease left after the apply: %s", e.get(serviceKey(svc.ID, "lease.json")))
	}

	// Blackhole.
	before := len(s.jobs(svc.ID))
	proxy.Blackhole(true)
	for _, try := range []func() resp{
		func() resp { return s.request("GET", "/api/v1/services", nil, nil, 5*time.Second) },
		func() resp { return applyWithKey("blackholed-apply", 5*time.Second) },
	} {
		r := try()
		if r.err == nil || r.took > 10*time.Second {
			t.Fatalf("request with S3 blackholed: %s after %s", r, r.took)
		}
	}
	proxy.Reset()
	first := jobID(applyWithKey("blackholed-apply", 30*time.Second))
	if again := jobID(applyWithKey("blackholed-apply", 30*time.Second)); again != first {
		t.Fatalf("retries with one Idempotency-Key got jobs %s and %s", first, again)
	}
	if n := len(s.jobs(svc.ID)); n != before+1 {
		t.Fatalf("%d jobs after the blackhole, %d before", n, before)
	}
	s.waitState(svc.ID, first, engine.StateSucceeded, 3*time.Minute)
	requests, stalled := proxy.Stats()
	t.Logf("proxy: %d requests, %d stalled", requests, stalled)
}

// TestTwoServersOneBucket: two SpawnIt processes share one bucket. The same service is
// applied through both at once: one proceeds, the other's job waits for it ("waiting for
// job ... on replica ...") and runs after it, their tofu runs never overlapping.
// Afterwards either can apply. OpenTofu's own S3 lockfile also stops a run on its own:
// a lock left by someone else is reported and left alone.
func TestTwoServersOneBucket(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.startServer("a", serverOptions{})
	b := e.startServer("b", serverOptions{})
	svc := a.createService(map[string]any{"seconds": 6})
	if got := b.service(svc.ID); got.ID != svc.ID {
		t.Fatalf("server b does not see the service: %+v", got)
	}
	jobs := make(chan struct {
		srv *server
		job apiv1.Job
	}, 2)
	for _, srv := range []*server{a, b} {
		go func() {
			var j apiv1.Job
			r := srv.request("POST", "/api/v1/services/"+svc.ID+"/apply", nil, nil, 30*time.Second)
			if r.err == nil && r.status == 202 {
				_ = json.Unmarshal(r.body, &j)
			} else {
				t.Errorf("apply through %s: %s", srv.name, r)
			}
			jobs <- struct {
				srv *server
				job apiv1.Job
			}{srv, j}
		}()
	}
	var won, lost apiv1.Job
	var wonOn, lostOn *server
	var ended []apiv1.Job
	var on []*server
	for range 2 {
		r := <-jobs
		if r.job.ID == "" {
			t.FailNow()
		}
		j := r.srv.wait(svc.ID, r.job.ID, 3*time.Minute)
		if j.State != engine.StateSucceeded {
			t.Fatalf("apply through %s ended %s: %s", r.srv.name, j.State, j.Error)
		}
		ended, on = append(ended, j), append(on, r.srv)
	}
	won, wonOn, lost, lostOn = ended[0], on[0], ended[1], on[1]
	if ended[1].StartedAt.Before(*ended[0].StartedAt) {
		won, wonOn, lost, lostOn = ended[1], on[1], ended[0], on[0]
	}
	t.Logf("%s ran first; the other waited and ran after it", wonOn.name)
	if lost.StartedAt.Before(*won.EndedAt) {
		t.Fatalf("the applies overlapped: the second started at %s, before the first ended at %s", lost.StartedAt, won.EndedAt)
	}
	waited := false
	for _, ev := range lostOn.events(svc.ID, lost.ID) {
		waited = waited || strings.Contains(ev.Message, "waiting for job "+won.ID)
	}
	if !waited {
		t.Fatalf("the second apply did not say it waited for job %s", won.ID)
	}
	// The service is free for both.
	lostOn.setInputs(svc.ID, map[string]any{"seconds": 1})
	lostOn.waitState(svc.ID, lostOn.run(svc.ID, "apply").ID, engine.StateSucceeded, 3*time.Minute)

	// One server restarts (on the same host) while the other applies: the start-up
	// recovery leaves the other's running job, its lease and its state lock alone. The
	// apply sleeps long enough for a restart and a plan on a loaded machine.
	wonOn.setInputs(svc.ID, map[string]any{"seconds": 30})
	running := wonOn.run(svc.ID, "apply")
	wonOn.waitSleeping(svc.ID, running.ID)
	lostOn.kill()
	lostOn.restart()
	if j := lostOn.job(svc.ID, running.ID); j.State != engine.StateRunning {
		t.Fatalf("after %s restarted, %s's running job reads %s: %s", lostOn.name, wonOn.name, j.State, j.Error)
	}
	if !e.exists(serviceKey(svc.ID, "lease.json")) || !e.exists(serviceKey(svc.ID, "terraform.tfstate.tflock")) {
		t.Fatalf("after %s restarted, the running job's lease or state lock is gone", lostOn.name)
	}
	r := lostOn.request("POST", "/api/v1/services/"+svc.ID+"/plan", nil, nil, 30*time.Second)
	var meanwhile apiv1.Job
	if r.err != nil || r.status != 202 || json.Unmarshal(r.body, &meanwhile) != nil {
		t.Fatalf("plan through %s: %s", lostOn.name, r)
	}
	done := wonOn.waitState(svc.ID, running.ID, engine.StateSucceeded, 3*time.Minute)
	if j := lostOn.wait(svc.ID, meanwhile.ID, 3*time.Minute); j.State != engine.StateSucceeded || j.StartedAt.Before(*done.EndedAt) {
		t.Fatalf("a plan through %s while %s applies: %s %s (it must wait for the apply, then run)", lostOn.name, wonOn.name, j.State, j.Error)
	}

	// OpenTofu's lockfile, held by someone outside SpawnIt (an operator's tofu):
	// the apply fails on it and leaves it in place.
	lock := serviceKey(svc.ID, "terraform.tfstate.tflock")
	foreign := `{"ID":"00000000-0000-0000-0000-000000000001","Operation":"OperationTypeApply","Who":"operator@elsewhere","Version":"1.12.6","Created":"` +
		time.Now().Add(-time.Hour).UTC().Format(time.RFC3339Nano) + `","Path":"` + e.bucket + "/" + serviceKey(svc.ID, "terraform.tfstate") + `"}`
	if _, err := e.st.Put(t.Context(), lock, []byte(foreign), store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	j := a.waitState(svc.ID, a.run(svc.ID, "plan").ID, engine.StateFailed, 3*time.Minute)
	t.Logf("plan against a foreign state lock: %s", j.Error)
	if !strings.Contains(j.Error, "lock") {
		t.Fatalf("plan against a foreign state lock failed with %q", j.Error)
	}
	if string(e.get(lock)) != foreign {
		t.Fatal("SpawnIt removed or changed a state lock it did not take")
	}
}

// TestStateTampered: the stored state is replaced behind SpawnIt's back by an older
// copy (lower serial), another service's state (another lineage) or garbage. The next
// apply refuses to run tofu, the stored state is never overwritten, and the service
// needs recovery (409 needs_recovery on later applies).
func TestStateTampered(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.startServer("a", serverOptions{})
	older, foreign, corrupt := s.createService(map[string]any{"seconds": 0}), s.createService(map[string]any{"seconds": 0}), s.createService(map[string]any{"seconds": 0})
	var applies []apiv1.Job
	for _, svc := range []apiv1.Service{older, foreign, corrupt} {
		applies = append(applies, s.run(svc.ID, "apply"))
	}
	for i, svc := range []apiv1.Service{older, foreign, corrupt} {
		s.waitState(svc.ID, applies[i].ID, engine.StateSucceeded, 3*time.Minute)
	}
	put := func(id string, b []byte) {
		t.Helper()
		if _, err := e.st.Put(t.Context(), serviceKey(id, "terraform.tfstate"), b, store.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	var m map[string]any
	if err := json.Unmarshal(e.get(serviceKey(older.ID, "terraform.tfstate")), &m); err != nil {
		t.Fatal(err)
	}
	m["serial"] = m["serial"].(float64) - 1
	oldCopy, _ := json.Marshal(m)
	put(older.ID, oldCopy)
	otherState := e.get(serviceKey(older.ID, "terraform.tfstate"))
	put(foreign.ID, otherState)
	garbage := []byte(`{"version": 4, "serial": 3, "lin`)
	put(corrupt.ID, garbage)

	for _, tc := range []struct {
		svc   apiv1.Service
		state []byte
		want  string
	}{{older, oldCopy, "older than the last one saved"}, {foreign, otherState, "lineage"}, {corrupt, garbage, "not a valid OpenTofu state"}} {
		j := s.waitState(tc.svc.ID, s.run(tc.svc.ID, "apply").ID, engine.StateFailed, 3*time.Minute)
		t.Logf("apply refused: %s", j.Error)
		if !strings.Contains(j.Error, tc.want) || !strings.Contains(j.Error, "needs recovery") {
			t.Fatalf("apply on a tampered state failed with %q, want %q", j.Error, tc.want)
		}
		for _, ev := range s.events(tc.svc.ID, j.ID) {
			if tofuRan(ev) {
				t.Fatalf("tofu ran on a tampered state: %s", ev.Message)
			}
		}
		if got := e.get(serviceKey(tc.svc.ID, "terraform.tfstate")); string(got) != string(tc.state) {
			t.Fatal("the tampered state was overwritten")
		}
		if !s.service(tc.svc.ID).Status.NeedsRecovery {
			t.Fatal("the service does not show needs_recovery")
		}
		if r := s.request("POST", "/api/v1/services/"+tc.svc.ID+"/destroy", nil, nil, 30*time.Second); r.status != 409 || r.code() != "needs_recovery" {
			t.Fatalf("destroy of a service that needs recovery: %s", r)
		}
	}
}

// TestProviderCrashDuringApply: the Docker provider process dies during an apply. The
// job fails with the reason, the state keeps what was created before the crash, the
// state lock and the lease are released, the job's output is kept, nothing is left
// running, and the next apply works.
func TestProviderCrashDuringApply(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.startServer("a", serverOptions{})
	// The provider is killed during the sleep: long enough for the test to get there.
	svc := s.createService(map[string]any{"seconds": 10})
	job := s.run(svc.ID, "apply")
	s.waitSleeping(svc.ID, job.ID)
	work := s.dataDir + "/work"
	running, ok := waitProcs(work, time.Minute, "terraform-provider-docker")
	if !ok {
		t.Fatalf("no Docker provider runs under %s: %v", work, running)
	}
	killed := 0
	for _, p := range running {
		if strings.Contains(p.cmdline, "terraform-provider-docker") {
			if err := syscall.Kill(p.pid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed++
		}
	}
	if killed != 1 {
		t.Fatalf("killed %d provider processes, want 1", killed)
	}
	j := s.waitState(svc.ID, job.ID, engine.StateFailed, 3*time.Minute)
	t.Logf("apply failed: %s", j.Error)
	if !strings.Contains(j.Error, "plugin") && !strings.Contains(j.Error, "provider") {
		t.Fatalf("error %q does not say the provider failed", j.Error)
	}
	st := e.state(svc.ID)
	saved := string(e.plainState(svc.ID, "terraform.tfstate"))
	if !strings.Contains(saved, `"docker_image"`) || !strings.Contains(saved, `"terraform_data"`) {
		t.Fatalf("the partial state (serial %d) lacks what was created before the crash:\n%.2000s", st.Serial, saved)
	}
	if e.exists(serviceKey(svc.ID, "lease.json")) || e.exists(serviceKey(svc.ID, "terraform.tfstate.tflock")) {
		t.Fatal("lease or state lock left after the crash")
	}
	var rec struct {
		Events []apiv1.Event `json:"events"`
	}
	if err := json.Unmarshal(e.get(serviceKey(svc.ID, "jobs/"+job.ID+".json")), &rec); err != nil || !strings.Contains(eventText(rec.Events), "Creation complete") {
		t.Fatalf("the job's output was not kept (%v):\n%s", err, eventText(rec.Events))
	}
	if left := waitNoProcs(work, 30*time.Second); len(left) > 0 {
		killProcs(left)
		t.Fatalf("processes left after the crash: %v", left)
	}
	s.setInputs(svc.ID, map[string]any{"seconds": 1})
	s.waitState(svc.ID, s.run(svc.ID, "apply").ID, engine.StateSucceeded, 3*time.Minute)
}

// TestCancelDuringPlan: a plan stuck on a provider that never answers is cancelled: the
// first cancel asks tofu to stop (it cannot: the provider call hangs), a forced cancel
// before the cool-off is refused, one after it kills tofu. The state is unchanged, the
// state lock and the lease are released, nothing is left running.
func TestCancelDuringPlan(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.startServer("a", serverOptions{})
	registry, probing := hangingListener(t)
	svc := s.createService(map[string]any{"seconds": 0, "registry": registry})
	s.waitState(svc.ID, s.run(svc.ID, "apply").ID, engine.StateSucceeded, 3*time.Minute)
	before := e.get(serviceKey(svc.ID, "terraform.tfstate"))
	s.setInputs(svc.ID, map[string]any{"seconds": 0, "registry": registry, "probe": true})
	plan := s.run(svc.ID, "plan")
	s.waitProbing(svc.ID, plan.ID, probing)
	cancel := func(force bool) resp {
		return s.request("POST", "/api/v1/services/"+svc.ID+"/jobs/"+plan.ID+"/cancel", map[string]any{"force": force}, nil, 30*time.Second)
	}
	if r := cancel(false); r.status != 202 {
		t.Fatalf("cancel: %s", r)
	}
	first := time.Now()
	if j := s.job(svc.ID, plan.ID); j.State != engine.StateCancelling {
		t.Fatalf("after the first cancel the plan is %s", j.State)
	}
	if r := cancel(true); r.status != 409 || r.code() != "cool_off" {
		t.Fatalf("forced cancel within the cool-off: %s", r)
	}
	var forced resp
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		if forced = cancel(true); forced.status == 202 {
			break
		}
	}
	t.Logf("forced cancel accepted %s after the first", time.Since(first).Round(time.Millisecond))
	if forced.status != 202 {
		t.Fatalf("forced cancel after the cool-off: %s", forced)
	}
	j := s.waitState(svc.ID, plan.ID, engine.StateCancelled, 2*time.Minute)
	t.Logf("plan cancelled: %s", j.Error)
	if got := e.get(serviceKey(svc.ID, "terraform.tfstate")); string(got) != string(before) {
		t.Fatal("the cancelled plan changed the state")
	}
	if e.exists(serviceKey(svc.ID, "lease.json")) || e.exists(serviceKey(svc.ID, "terraform.tfstate.tflock")) {
		t.Fatal("lease or state lock left after the cancel")
	}
	if left := waitNoProcs(s.dataDir+"/work", 30*time.Second); len(left) > 0 {
		killProcs(left)
		t.Fatalf("processes left after the cancel: %v", left)
	}
}
