package engine

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/spawnit/spawnit/pkg/cluster"
	"github.com/spawnit/spawnit/pkg/store"
)

// clusterEngine is a unit engine (no tofu) on st, a replica with id in a cluster whose
// TTL is the default.
func clusterEngine(t *testing.T, st Store, id, host string) *Engine {
	t.Helper()
	reg, err := cluster.New(st, cluster.Options{ID: id, Host: host})
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Join(context.Background()); err != nil {
		t.Fatal(err)
	}
	cfg := Config{TofuPath: "/bin/true", DataDir: t.TempDir(), Source: DirSource(t.TempDir()), Store: st, Host: host, Cluster: reg,
		Backend: Backend{S3: &S3Backend{Bucket: "b", Endpoint: "http://127.0.0.1:1", PathStyle: true}}}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Shutdown(context.Background()) })
	return e
}

// joinAt writes the heartbeat of replica id as of seen (a live or a dead replica).
func joinAt(t *testing.T, st Store, id string, seen time.Time) {
	t.Helper()
	reg, err := cluster.New(st, cluster.Options{ID: id, Host: id, Now: func() time.Time { return seen }})
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Join(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// foreignJob writes the record (and index entry) of a job another replica holds, and
// its lease when leaseExpires is set.
func foreignJob(t *testing.T, st Store, ref ServiceRef, replica string, state JobState, leaseExpires *time.Time, lockCreated *time.Time) string {
	t.Helper()
	id := uuid.NewString()
	started := timeNow().Add(-time.Minute)
	info := JobInfo{ID: id, Operation: OpApply, Service: ref, State: state, CreatedAt: started, Host: replica + "-host", PID: 7}
	if state == StateRunning {
		info.StartedAt = &started
	}
	putJSON(t, st, storeKeys(ref).RunningJob(id), unfinishedEntry{Host: info.Host, Operation: OpApply, Record: jobKey(ref, id)})
	putJSON(t, st, jobKey(ref, id), jobRecord{JobInfo: info, Replica: replica})
	if leaseExpires != nil {
		putJSON(t, st, leaseKey(ref), lease{LockHolder: LockHolder{JobID: id, Host: info.Host, PID: 7, Since: started},
			Operation: OpApply, Expires: *leaseExpires, Renewed: leaseExpires.Add(-10 * time.Second), Replica: replica})
	}
	if lockCreated != nil {
		putJSON(t, st, StateKey(ref)+".tflock", lockInfo{ID: uuid.NewString(), Who: "root@" + info.Host, Created: *lockCreated})
	}
	return id
}

// TestSweepInterruptsDeadReplicasJobs: the sweeper interrupts a job whose lease expired
// (releasing the state lock its tofu created, but not an older one) and a queued job of a
// replica the registry no longer sees; it leaves a live lease's job and a live replica's
// queued job alone, and counts them busy.
func TestSweepInterruptsDeadReplicasJobs(t *testing.T) {
	fsStore, err := store.NewFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	st := &flakyStore{FS: fsStore}
	e := clusterEngine(t, st, "sweeper", "host-s")
	ctx := context.Background()
	now := timeNow()
	expired, live := now.Add(-time.Second), now.Add(time.Hour)
	recent, old := now.Add(-30*time.Second), now.Add(-time.Hour)
	joinAt(t, st, "gone", now.Add(-time.Minute))
	joinAt(t, st, "alive", now)

	ownLock := ServiceRef{Client: "acme", Service: "own-lock"}
	oldLock := ServiceRef{Client: "acme", Service: "old-lock"}
	running := ServiceRef{Client: "acme", Service: "running"}
	queuedDead := ServiceRef{Client: "acme", Service: "queued-dead"}
	queuedLive := ServiceRef{Client: "acme", Service: "queued-live"}
	ownID := foreignJob(t, st, ownLock, "gone", StateRunning, &expired, &recent)
	oldID := foreignJob(t, st, oldLock, "gone", StateRunning, &expired, &old)
	runningID := foreignJob(t, st, running, "alive", StateRunning, &live, &recent)
	deadQueuedID := foreignJob(t, st, queuedDead, "gone", StateQueued, nil, nil)
	liveQueuedID := foreignJob(t, st, queuedLive, "alive", StateQueued, nil, nil)

	e.ledger.sweep(ctx)

	for _, c := range []struct {
		ref  ServiceRef
		id   string
		want JobState
		why  string
	}{
		{ownLock, ownID, StateInterrupted, "replica gone stopped renewing its lease"},
		{oldLock, oldID, StateInterrupted, "replica gone stopped renewing its lease"},
		{running, runningID, StateRunning, ""},
		{queuedDead, deadQueuedID, StateInterrupted, "replica gone stopped"},
		{queuedLive, liveQueuedID, StateQueued, ""},
	} {
		info, evs, err := e.LoadJob(ctx, c.ref, c.id)
		if err != nil || info.State != c.want || !strings.Contains(info.Error, c.why) {
			t.Errorf("%s: %s %q %v, want %s %q", c.ref, info.State, info.Error, err, c.want, c.why)
		}
		if c.want == StateInterrupted && exists(st, storeKeys(c.ref).RunningJob(c.id)) {
			t.Errorf("%s: the interrupted job is still in the index of unfinished jobs", c.ref)
		}
		if c.ref == ownLock && !strings.Contains(eventText(evs), "released the state lock") {
			t.Errorf("the release of the job's state lock is not in its events:\n%s", eventText(evs))
		}
	}
	if exists(st, leaseKey(ownLock)) || exists(st, StateKey(ownLock)+".tflock") {
		t.Error("the dead job's lease or its own state lock is left")
	}
	if exists(st, leaseKey(oldLock)) || !exists(st, StateKey(oldLock)+".tflock") {
		t.Error("a state lock older than the interrupted job must stay (and its lease go)")
	}
	if !exists(st, leaseKey(running)) || !exists(st, StateKey(running)+".tflock") {
		t.Error("a live lease or its state lock was removed")
	}
	if !e.Busy(running) || !e.Busy(queuedLive) || e.Busy(queuedDead) {
		t.Errorf("busy after the sweep: running %v, queued on a live replica %v, queued on a dead one %v",
			e.Busy(running), e.Busy(queuedLive), e.Busy(queuedDead))
	}
	if busy, err := e.ServiceBusy(ctx, running); err != nil || !busy {
		t.Errorf("ServiceBusy of another replica's running job: %v %v", busy, err)
	}
	if _, err := e.Apply(ctx, running, FailIfLocked()); !errors.Is(err, ErrLocked) {
		t.Errorf("an apply that must not queue, on a service another replica runs: %v", err)
	}
}

// TestInterruptIsConditional: two sweepers judging the same dead job write once; the
// second finds the record changed and writes nothing.
func TestInterruptIsConditional(t *testing.T) {
	fsStore, err := store.NewFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	st := &flakyStore{FS: fsStore}
	a := clusterEngine(t, st, "sweeper-a", "host-a")
	b := clusterEngine(t, st, "sweeper-b", "host-b")
	ctx := context.Background()
	ref := ServiceRef{Client: "acme", Service: "web"}
	expired := timeNow().Add(-time.Second)
	id := foreignJob(t, st, ref, "gone", StateRunning, &expired, nil)
	key, rec, etag, err := a.ledger.readRecord(ctx, ref, id)
	if err != nil {
		t.Fatal(err)
	}
	_, recB, etagB, _ := b.ledger.readRecord(ctx, ref, id)
	if !a.ledger.interrupt(ctx, key, rec, etag, "by a") {
		t.Fatal("the first sweeper did not write")
	}
	if b.ledger.interrupt(ctx, key, recB, etagB, "by b") {
		t.Fatal("the second sweeper wrote over the first")
	}
	if info, _, _ := a.LoadJob(ctx, ref, id); info.Error != "by a" {
		t.Fatalf("record reads %q", info.Error)
	}
}

// TestRecoverPredecessorByLiveness: a replica starting with a new name and host
// recovers the jobs of a predecessor the registry sees dead, not those of a live one.
func TestRecoverPredecessorByLiveness(t *testing.T) {
	fsStore, err := store.NewFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	st := &flakyStore{FS: fsStore}
	now := timeNow()
	joinAt(t, st, "pod-old", now.Add(-time.Minute))
	joinAt(t, st, "pod-live", now)
	dead := ServiceRef{Client: "acme", Service: "dead"}
	live := ServiceRef{Client: "acme", Service: "live"}
	lapsed := now.Add(-5 * time.Second)
	holding := now.Add(time.Hour)
	created := now.Add(-30 * time.Second)
	deadID := foreignJob(t, st, dead, "pod-old", StateRunning, &lapsed, &created)
	liveID := foreignJob(t, st, live, "pod-live", StateRunning, &holding, &created)

	e := clusterEngine(t, st, "pod-new", "another-host")
	fixed, err := e.RecoverInterrupted(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(fixed) != 1 || fixed[0].ID != deadID {
		t.Fatalf("recovered %+v, want the dead predecessor's job only", fixed)
	}
	info, _, _ := e.LoadJob(context.Background(), dead, deadID)
	if info.State != StateInterrupted || !strings.Contains(info.Error, "pod-old") {
		t.Fatalf("predecessor's job: %s %q", info.State, info.Error)
	}
	if exists(st, leaseKey(dead)) || exists(st, StateKey(dead)+".tflock") {
		t.Fatal("the predecessor's lease or state lock is left")
	}
	if info, _, _ := e.LoadJob(context.Background(), live, liveID); info.State != StateRunning {
		t.Fatalf("a live replica's job reads %s", info.State)
	}
}
