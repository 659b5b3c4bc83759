package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/spawnit/spawnit/pkg/store"
)

// TestHelperSibling is not a test: run as a child with SPAWNIT_SIBLING_HELPER=1, it
// stands in for another SpawnIt process (same executable) on this host.
func TestHelperSibling(t *testing.T) {
	if os.Getenv("SPAWNIT_SIBLING_HELPER") != "1" {
		t.Skip("helper process")
	}
	time.Sleep(time.Minute)
	os.Exit(0)
}

// flakyStore is a file store whose writes fail while down is set, as S3 does when it is
// unreachable.
type flakyStore struct {
	*store.FS
	down atomic.Bool
}

func (f *flakyStore) Put(ctx context.Context, key string, data []byte, opts store.PutOptions) (store.Object, error) {
	if f.down.Load() {
		return store.Object{}, fmt.Errorf("%w: put %s: connection refused", store.ErrUnavailable, key)
	}
	return f.FS.Put(ctx, key, data, opts)
}

func (f *flakyStore) Delete(ctx context.Context, key string) error {
	if f.down.Load() {
		return fmt.Errorf("%w: delete %s: connection refused", store.ErrUnavailable, key)
	}
	return f.FS.Delete(ctx, key)
}

// unitEngine is an engine that runs no tofu (the tests call its internals), with its
// records (and "state bucket", for S3) in a flaky file store.
func unitEngine(t testing.TB, s3 bool) (*Engine, *flakyStore) {
	t.Helper()
	fsStore, err := store.NewFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	st := &flakyStore{FS: fsStore}
	cfg := Config{TofuPath: "/bin/true", DataDir: t.TempDir(), Source: DirSource(t.TempDir()), Store: st}
	if s3 {
		cfg.Backend.S3 = &S3Backend{Bucket: "b", Endpoint: "http://127.0.0.1:1", PathStyle: true}
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Shutdown(context.Background()) })
	return e, st
}

func putJSON(t testing.TB, st Store, key string, v any) {
	t.Helper()
	b, _ := json.Marshal(v)
	if _, err := st.Put(context.Background(), key, b, store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
}

func exists(st Store, key string) bool {
	_, _, err := st.Get(context.Background(), key)
	return err == nil
}

// TestKillOrphans: processes left in a workdir by a dead tofu (their group leader is
// gone) are killed; a live tofu's group is left alone, and so is anything elsewhere.
func TestKillOrphans(t *testing.T) {
	work := t.TempDir()
	dir := filepath.Join(work, "acme", "web")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	start := func(cwd, script string) *exec.Cmd {
		cmd := exec.Command("/bin/sh", "-c", script)
		cmd.Dir = cwd
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	// The leader (standing in for tofu) exits at once, leaving its child (a provider).
	pidFile := filepath.Join(t.TempDir(), "orphan.pid")
	leader := start(dir, "sleep 60 & echo $! > "+pidFile+"; exit 0")
	_ = leader.Wait()
	var orphan int
	for start := time.Now(); orphan == 0 && time.Since(start) < 5*time.Second; time.Sleep(10 * time.Millisecond) {
		b, _ := os.ReadFile(pidFile)
		_, _ = fmt.Sscan(strings.TrimSpace(string(b)), &orphan)
	}
	if orphan == 0 || !alive(orphan) {
		t.Fatal("the orphan did not start")
	}
	live := start(dir, "sleep 60")                     // a live tofu in the workdir
	elsewhere := start(t.TempDir(), "sleep 60 & wait") // not in a workdir
	t.Cleanup(func() {
		for _, c := range []*exec.Cmd{live, elsewhere} {
			_ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
			_ = c.Wait()
		}
		_ = syscall.Kill(orphan, syscall.SIGKILL)
	})
	killed := killOrphans(work)
	if len(killed) != 1 || !strings.HasPrefix(killed[0], fmt.Sprint(orphan)+" ") {
		t.Fatalf("killed %v, want only the orphan %d", killed, orphan)
	}
	for start := time.Now(); groupLeaderAlive(orphan) && time.Since(start) < 5*time.Second; time.Sleep(10 * time.Millisecond) {
	}
	if groupLeaderAlive(orphan) {
		t.Fatal("the orphan still runs")
	}
	if !alive(live.Process.Pid) || !alive(elsewhere.Process.Pid) {
		t.Fatal("a live group or a process outside the workdirs was killed")
	}
}

// TestLeaseLeftByEndedJob: a lease whose job has ended (its release failed, or its
// write landed after the job gave up on it) does not block the service; a lease whose
// job still runs does.
func TestLeaseLeftByEndedJob(t *testing.T) {
	e, st := unitEngine(t, false)
	ref := ServiceRef{Client: "acme", Service: "web"}
	ctx := context.Background()
	newApply := func() *Job {
		return newJob(JobInfo{ID: uuid.NewString(), Operation: OpApply, Service: ref, State: StateQueued, CreatedAt: timeNow()})
	}
	holdLease := func(jobID, instance string) {
		putJSON(t, st, leaseKey(ref), lease{LockHolder: LockHolder{JobID: jobID, Host: "other-host", PID: 42, Since: timeNow()},
			Operation: OpApply, Expires: timeNow().Add(time.Hour), Instance: instance})
	}
	leaseHolder := func() string {
		b, _, err := st.Get(ctx, leaseKey(ref))
		if err != nil {
			t.Fatal(err)
		}
		var l lease
		_ = json.Unmarshal(b, &l)
		return l.JobID
	}

	// Another process's job, still running by its record: refused.
	other := uuid.NewString()
	putJSON(t, st, jobKey(ref, other), jobRecord{JobInfo: JobInfo{ID: other, Service: ref, State: StateRunning}})
	holdLease(other, "another-engine")
	if err := e.ledger.acquireLease(ctx, newApply()); !errors.Is(err, ErrLeaseHeld) || !strings.Contains(err.Error(), other) {
		t.Fatalf("lease of a running job: %v", err)
	}
	// The same job, ended (its record is final): taken over.
	putJSON(t, st, jobKey(ref, other), jobRecord{JobInfo: JobInfo{ID: other, Service: ref, State: StateFailed}})
	j := newApply()
	if err := e.ledger.acquireLease(ctx, j); err != nil {
		t.Fatalf("lease of an ended job: %v", err)
	}
	if leaseHolder() != j.ID() {
		t.Fatal("the lease was not taken over")
	}
	// One of this engine's own jobs that ended, whose record the store did not take.
	mine := newApply()
	_ = mine.transition(StateRunning, "")
	mine.finish(StateFailed, "lease write timed out")
	e.jobs.mu.Lock()
	e.jobs.m[mine.ID()] = mine
	e.jobs.mu.Unlock()
	holdLease(mine.ID(), e.ledger.instance)
	j = newApply()
	if err := e.ledger.acquireLease(ctx, j); err != nil || leaseHolder() != j.ID() {
		t.Fatalf("lease of this engine's ended job: %v", err)
	}
	// ...unless its errored state is not kept yet.
	mine.erroredPending.Store(true)
	holdLease(mine.ID(), e.ledger.instance)
	if err := e.ledger.acquireLease(ctx, newApply()); !errors.Is(err, ErrLeaseHeld) {
		t.Fatalf("lease of a job whose errored state is pending: %v", err)
	}
}

// TestRecoverInterrupted: at start-up, a job of a dead process on this host is marked
// interrupted, its lease and the state lock its tofu created are removed; a lock that
// predates the job stays; a job of another live SpawnIt process on this host (same
// executable) is left alone, lease and lock included.
func TestRecoverInterrupted(t *testing.T) {
	e, st := unitEngine(t, true)
	ctx := context.Background()
	started := timeNow().Add(-time.Minute)
	record := func(ref ServiceRef, pid int, lockCreated time.Time) string {
		id := uuid.NewString()
		putJSON(t, st, jobKey(ref, id), jobRecord{JobInfo: JobInfo{ID: id, Operation: OpApply, Service: ref, State: StateRunning,
			CreatedAt: started, StartedAt: &started, Host: e.cfg.Host, PID: pid, LastSeq: 0}})
		putJSON(t, st, leaseKey(ref), lease{LockHolder: LockHolder{JobID: id, Host: e.cfg.Host, PID: pid, Since: started},
			Operation: OpApply, Expires: timeNow().Add(time.Hour)})
		putJSON(t, st, StateKey(ref)+".tflock", lockInfo{ID: uuid.NewString(), Who: "root@" + e.cfg.Host, Created: lockCreated})
		return id
	}
	sibling := exec.Command(os.Args[0], "-test.run=^TestHelperSibling$")
	sibling.Env = append(os.Environ(), "SPAWNIT_SIBLING_HELPER=1")
	if err := sibling.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sibling.Process.Kill(); _ = sibling.Wait() })
	for start := time.Now(); !siblingAlive(sibling.Process.Pid) && time.Since(start) < 5*time.Second; time.Sleep(10 * time.Millisecond) {
	}

	dead := ServiceRef{Client: "acme", Service: "dead"}
	old := ServiceRef{Client: "acme", Service: "old-lock"}
	live := ServiceRef{Client: "acme", Service: "live"}
	deadID := record(dead, 1<<22+12345, started.Add(time.Second)) // a pid that does not exist
	record(old, 1<<22+12346, started.Add(-time.Hour))
	liveID := record(live, sibling.Process.Pid, started.Add(time.Second))

	fixed, err := e.RecoverInterrupted(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(fixed) != 2 {
		t.Fatalf("recovered %d jobs, want 2: %+v", len(fixed), fixed)
	}
	info, evs, err := e.LoadJob(ctx, dead, deadID)
	if err != nil || info.State != StateInterrupted {
		t.Fatalf("dead job: %s %v", info.State, err)
	}
	if !strings.Contains(eventText(evs), "released the state lock") {
		t.Fatalf("the release of the lock is not in the job's events:\n%s", eventText(evs))
	}
	if exists(st, leaseKey(dead)) || exists(st, StateKey(dead)+".tflock") {
		t.Fatal("the dead job's lease or state lock is left")
	}
	if exists(st, leaseKey(old)) || !exists(st, StateKey(old)+".tflock") {
		t.Fatal("a state lock older than the interrupted job must stay (and its lease go)")
	}
	if info, _, _ := e.LoadJob(ctx, live, liveID); info.State != StateRunning {
		t.Fatalf("the sibling's running job reads %s", info.State)
	}
	if !exists(st, leaseKey(live)) || !exists(st, StateKey(live)+".tflock") {
		t.Fatal("the sibling's lease or state lock was removed")
	}
}

// TestErroredStateKeptLater: errored.tfstate that the store could not take stays in the
// workdir; state-changing jobs are refused meanwhile (needs recovery) and keep it as
// soon as the store takes it; so does the start-up recovery.
func TestErroredStateKeptLater(t *testing.T) {
	e, st := unitEngine(t, false)
	ctx := context.Background()
	ref := ServiceRef{Client: "acme", Service: "web"}
	dir := filepath.Join(e.cfg.WorkDir, ref.Client, ref.Service)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	errored := []byte(`{"version":4,"serial":3,"lineage":"l","resources":[{"type":"terraform_data"}]}`)
	if err := os.WriteFile(filepath.Join(dir, erroredStateFile), errored, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := e.ledger.saveIntent(ctx, ref, Intent{Kind: IntentApplied, JobID: "j"}); err != nil {
		t.Fatal(err)
	}
	st.down.Store(true)
	if _, err := e.Apply(ctx, ref); !errors.Is(err, ErrNeedsRecovery) || !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("apply with errored state left in the workdir, store down: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, erroredStateFile)); err != nil {
		t.Fatal("errored.tfstate must stay in the workdir until the store takes it")
	}
	st.down.Store(false)
	for _, op := range []func(context.Context, ServiceRef, ...RunOption) (*Job, error){e.Apply, e.Destroy, e.Accept} {
		if _, err := op(ctx, ref); !errors.Is(err, ErrNeedsRecovery) {
			t.Fatalf("state-changing job on a service needing recovery: %v", err)
		}
	}
	b, _, err := st.Get(ctx, erroredKey(ref))
	if err != nil || string(b) != string(errored) {
		t.Fatalf("errored.tfstate in the store: %q %v", b, err)
	}
	in, err := e.Intent(ctx, ref)
	if err != nil || !in.NeedsRecovery || in.Kind != IntentApplied || !strings.Contains(in.RecoveryNote, erroredKey(ref)) {
		t.Fatalf("intent %+v %v", in, err)
	}
	if _, err := os.Stat(filepath.Join(dir, erroredStateFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("errored.tfstate is still in the workdir after it was kept")
	}

	// Left by a previous process: kept at start-up.
	other := ServiceRef{Client: "acme", Service: "other"}
	odir := filepath.Join(e.cfg.WorkDir, other.Client, other.Service)
	_ = os.MkdirAll(odir, 0o700)
	if err := os.WriteFile(filepath.Join(odir, erroredStateFile), errored, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := e.RecoverInterrupted(ctx); err != nil {
		t.Fatal(err)
	}
	if in, _ := e.Intent(ctx, other); !in.NeedsRecovery || !exists(st, erroredKey(other)) {
		t.Fatalf("errored state left by a previous process was not kept: %+v", in)
	}
}

// TestStateCheckRefusesForeignState: an operation that changes state refuses to run on
// a stored state that is not the one the last successful operation left (missing,
// corrupt, another lineage, an older serial): the state is left untouched and the
// service needs recovery, until an operator clears it.
func TestStateCheckRefusesForeignState(t *testing.T) {
	e, _ := unitEngine(t, false)
	ctx := context.Background()
	ref := ServiceRef{Client: "acme", Service: "web"}
	statePath := e.runner.localStatePath(ref)
	if err := os.MkdirAll(filepath.Dir(statePath), 0o700); err != nil {
		t.Fatal(err)
	}
	good := `{"version":4,"serial":5,"lineage":"lineage-a","resources":[]}`
	for _, tc := range []struct{ name, state, want string }{
		{"same", good, ""},
		{"newer", `{"version":4,"serial":9,"lineage":"lineage-a"}`, ""},
		{"older", `{"version":4,"serial":4,"lineage":"lineage-a"}`, "serial 4, older"},
		{"other lineage", `{"version":4,"serial":7,"lineage":"lineage-b"}`, "lineage lineage-b"},
		{"corrupt", `{"version":4,"seri`, "not a valid OpenTofu state"},
		{"missing", "", "missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := e.ledger.saveIntent(ctx, ref, Intent{Kind: IntentApplied, JobID: "job-1", StateLineage: "lineage-a", StateSerial: 5}); err != nil {
				t.Fatal(err)
			}
			_ = os.Remove(statePath)
			if tc.state != "" {
				if err := os.WriteFile(statePath, []byte(tc.state), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			err := e.runner.checkState(ctx, ref)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrNeedsRecovery) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "serial 5") {
				t.Fatalf("err = %v, want needs recovery with %q", err, tc.want)
			}
			if b, _ := os.ReadFile(statePath); string(b) != tc.state {
				t.Fatal("the stored state was changed")
			}
			if _, err := e.Apply(ctx, ref); !errors.Is(err, ErrNeedsRecovery) {
				t.Fatalf("apply after the refusal: %v", err)
			}
			if err := e.ClearRecovery(ctx, ref); err != nil {
				t.Fatal(err)
			}
			if err := e.runner.checkState(ctx, ref); err != nil {
				t.Fatalf("after the operator cleared it: %v", err)
			}
		})
	}
}

// TestCancelRacesCompletion: cancels arriving while jobs start, run and end (a stand-in
// tofu that fails at once), many times: every job ends in exactly one final state,
// recorded as such, and the service's lock is released once, so the next job runs.
func TestCancelRacesCompletion(t *testing.T) {
	e, st := unitEngine(t, false)
	ref := ServiceRef{Client: "acme", Service: "race"}
	dir := filepath.Join(string(e.cfg.Source.(DirSource)), ref.Client, ref.Service)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"main.tf": "", TfvarsFile: "{}"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	outcomes := map[JobState]int{}
	defer func() { t.Logf("outcomes: %v", outcomes) }()
	for i := range 100 {
		j, err := e.Plan(ctx, ref)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			if i%3 != 0 {
				time.Sleep(time.Duration(i%7) * 200 * time.Microsecond)
			}
			_ = e.Cancel(j.ID(), false)
			_ = e.Cancel(j.ID(), true)
		}()
		info, err := j.Wait(ctx)
		<-done
		if err != nil || (info.State != StateFailed && info.State != StateCancelled) {
			t.Fatalf("round %d: job ended %s (%v): %s", i, info.State, err, info.Error)
		}
		finals := 0
		for _, ev := range j.Events(0) {
			if ev.Type == EventJobState && ev.State.Final() {
				finals++
			}
		}
		if finals != 1 {
			t.Fatalf("round %d: %d final events:\n%s", i, finals, eventText(j.Events(0)))
		}
		outcomes[info.State]++
		if err := e.Cancel(j.ID(), false); !errors.Is(err, ErrJobFinished) {
			t.Fatalf("round %d: cancel after the end: %v", i, err)
		}
		if _, ok := e.LockHolder(ref); ok {
			t.Fatalf("round %d: the lock is still held", i)
		}
		b, _, err := st.Get(ctx, jobKey(ref, j.ID()))
		var rec jobRecord
		if err != nil || json.Unmarshal(b, &rec) != nil || rec.State != info.State {
			t.Fatalf("round %d: record %s, job %s (%v)", i, rec.State, info.State, err)
		}
		if exists(st, leaseKey(ref)) {
			t.Fatalf("round %d: lease left", i)
		}
	}
}
