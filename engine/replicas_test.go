package engine

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/spawnit/spawnit/pkg/cluster"
	"github.com/spawnit/spawnit/pkg/store"
	"github.com/spawnit/spawnit/pkg/store/s3store"
)

// testTTL is the lease and heartbeat TTL of the replicas in these tests (heartbeats every
// 500ms, leases renewed every second, sweeps every 1.5s).
const testTTL = 3 * time.Second

// killableStore is the store as one replica reaches it: once killed, every call fails,
// as for a process that is gone.
type killableStore struct {
	Store
	killed atomic.Bool
}

func (k *killableStore) err(key string) error {
	return fmt.Errorf("%w: %s: the replica is dead", store.ErrUnavailable, key)
}

func (k *killableStore) Get(ctx context.Context, key string) ([]byte, store.Object, error) {
	if k.killed.Load() {
		return nil, store.Object{}, k.err(key)
	}
	return k.Store.Get(ctx, key)
}

func (k *killableStore) Put(ctx context.Context, key string, data []byte, opts store.PutOptions) (store.Object, error) {
	if k.killed.Load() {
		return store.Object{}, k.err(key)
	}
	return k.Store.Put(ctx, key, data, opts)
}

func (k *killableStore) List(ctx context.Context, prefix string) ([]store.Object, error) {
	if k.killed.Load() {
		return nil, k.err(prefix)
	}
	return k.Store.List(ctx, prefix)
}

func (k *killableStore) Delete(ctx context.Context, key string) error {
	if k.killed.Load() {
		return k.err(key)
	}
	return k.Store.Delete(ctx, key)
}

// replica is one engine of a cluster sharing the harness's bucket, with its own
// workdirs, host name and cluster registry.
type replica struct {
	e   *Engine
	st  *killableStore
	reg *cluster.Registry
}

func (h *harness) replica(name string) *replica {
	t := h.t
	t.Helper()
	st := &killableStore{Store: h.e.cfg.Store}
	reg, err := cluster.New(st, cluster.Options{ID: name, Host: name, Interval: testTTL / 6, TTL: testTTL})
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Join(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, stopBeats := context.WithCancel(context.Background())
	go reg.Run(ctx)
	cfg := h.e.cfg
	cfg.DataDir, cfg.WorkDir, cfg.PluginCacheDir = t.TempDir(), "", ""
	cfg.Host, cfg.Store, cfg.Cluster = name, st, reg
	if os.Getenv("SPAWNIT_TEST_LOG") != "" {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil)).With("replica", name)
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = e.Shutdown(ctx)
		stopBeats()
	})
	return &replica{e: e, st: st, reg: reg}
}

// die stops the replica abruptly, as kill -9 would: its store calls fail from now on
// (no heartbeat, no lease renewal, no record), its loops stop, and the process group of
// job j's tofu is killed, leaving the state lock tofu held.
func (r *replica) die(t *testing.T, j *Job) {
	t.Helper()
	r.st.killed.Store(true)
	r.e.ledger.loops.dead.Store(true)
	if pgid := j.proc.get(); pgid > 0 {
		if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
	}
}

// clusterHarness is a harness whose state and records share one versitygw bucket.
func clusterHarness(t *testing.T) *harness {
	return newHarness(t, true, s3Records(t))
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (r *replica) submit(t *testing.T, op func(context.Context, ServiceRef, ...RunOption) (*Job, error), ref ServiceRef, opts ...RunOption) *Job {
	t.Helper()
	j, err := op(context.Background(), ref, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// TestReplicaDeathTakeover: replica A dies (kill -9) during an apply; replica B, whose
// apply waits for A's job, finds A's lease expired, marks the job interrupted with the
// reason, releases the state lock A's tofu left, and runs its apply: the service is
// usable again without A coming back.
func TestReplicaDeathTakeover(t *testing.T) {
	h := clusterHarness(t)
	a, b := h.replica("replica-a"), h.replica("replica-b")
	ref := ServiceRef{Client: "acme", Service: "takeover"}
	h.service(ref, "slow", map[string]any{"seconds": 120, "name": h.prefix + "-takeover"})
	ja := a.submit(t, a.e.Apply, ref)
	waitForEvent(t, ja, provisioning)
	lockKey := StateKey(ref) + ".tflock"
	waitFor(t, "tofu's state lock", func() bool { return exists(h.e.cfg.Store, lockKey) })

	died := time.Now()
	a.die(t, ja)
	h.service(ref, "slow", map[string]any{"seconds": 1, "name": h.prefix + "-takeover"})
	jb := b.submit(t, b.e.Apply, ref)
	var interrupted time.Duration
	waitFor(t, "A's job to read interrupted", func() bool {
		info, _, err := b.e.LoadJob(context.Background(), ref, ja.ID())
		if err == nil && info.State == StateInterrupted {
			interrupted = time.Since(died)
			return true
		}
		return false
	})
	info, evs, _ := b.e.LoadJob(context.Background(), ref, ja.ID())
	if !strings.Contains(info.Error, "replica replica-a stopped renewing its lease") {
		t.Fatalf("interrupted with %q", info.Error)
	}
	if !strings.Contains(eventText(evs), "released the state lock") {
		t.Fatalf("the release of the state lock is not in the job's events:\n%s", eventText(evs))
	}
	bi := h.wait(jb, StateSucceeded)
	if !strings.Contains(eventText(jb.Events(0)), "waiting for job "+ja.ID()) {
		t.Fatalf("B's apply did not show what it waited for:\n%s", eventText(jb.Events(0)))
	}
	t.Logf("replica died; its job read interrupted %s later; the next apply started %s after the death (lease TTL %s)",
		interrupted.Round(time.Millisecond), bi.StartedAt.Sub(died).Round(time.Millisecond), testTTL)
}

// TestReplicasShareBusyQueueAndCancel: with two replicas on one bucket, a service one
// replica works on is busy on the other (no delete, no second run when asked not to
// queue); applies submitted on both run one after the other in order of arrival; and a
// job is cancelled from the replica that does not hold it, as a local cancel would.
func TestReplicasShareBusyQueueAndCancel(t *testing.T) {
	h := clusterHarness(t)
	a, b := h.replica("replica-a"), h.replica("replica-b")
	ctx := context.Background()
	ref := ServiceRef{Client: "acme", Service: "shared"}
	h.service(ref, "slow", map[string]any{"seconds": 4, "name": h.prefix + "-shared"})

	// Busy across replicas, and applies in order: A1, then B1 (waits for A1), then A2
	// (queued on A behind A1, then waits for B1).
	a1 := a.submit(t, a.e.Apply, ref)
	waitForEvent(t, a1, func(ev Event) bool { return ev.Type == EventJobState && ev.State == StateRunning })
	if busy, err := b.e.ServiceBusy(ctx, ref); err != nil || !busy {
		t.Fatalf("B: ServiceBusy during A's apply = %v, %v", busy, err)
	}
	if _, err := b.e.Destroy(ctx, ref, FailIfLocked()); !errors.Is(err, ErrLocked) {
		t.Fatalf("B: a destroy that must not queue, during A's apply: %v", err)
	}
	waitFor(t, "B's sweep to see A's job", func() bool { return b.e.Busy(ref) })
	b1 := b.submit(t, b.e.Apply, ref)
	waitForEvent(t, b1, func(ev Event) bool { return strings.Contains(ev.Message, "waiting for job "+a1.ID()) })
	a2 := a.submit(t, a.e.Apply, ref)
	i1, ib, i2 := h.wait(a1, StateSucceeded), h.wait(b1, StateSucceeded), h.wait(a2, StateSucceeded)
	if ib.StartedAt.Before(*i1.EndedAt) || i2.StartedAt.Before(*ib.EndedAt) {
		t.Fatalf("applies overlapped or ran out of order: A1 %s–%s, B1 %s–%s, A2 %s–%s",
			i1.StartedAt, i1.EndedAt, ib.StartedAt, ib.EndedAt, i2.StartedAt, i2.EndedAt)
	}
	if busy, err := b.e.ServiceBusy(ctx, ref); err != nil || busy {
		t.Fatalf("B: ServiceBusy after every job ended = %v, %v", busy, err)
	}

	// Cancel from the other replica: a queued job, then a running one.
	ref = ServiceRef{Client: "acme", Service: "shared-cancel"}
	h.service(ref, "slow", map[string]any{"seconds": 120, "name": h.prefix + "-shared-cancel"})
	long := a.submit(t, a.e.Apply, ref)
	waitForEvent(t, long, provisioning)
	queued := b.submit(t, b.e.Apply, ref)
	waitForEvent(t, queued, func(ev Event) bool { return strings.Contains(ev.Message, "waiting for job "+long.ID()) })
	if _, err := a.e.CancelJob(ctx, ref, queued.ID(), false); err != nil {
		t.Fatalf("A cancels B's queued job: %v", err)
	}
	h.wait(queued, StateCancelled)
	if _, err := b.e.CancelJob(ctx, ref, long.ID(), true); !errors.Is(err, ErrCoolOff) {
		t.Fatalf("B forces the cancel of A's running job first: %v (want the cool-off, as locally)", err)
	}
	h.wait(long, StateCancelled)
	if _, err := b.e.CancelJob(ctx, ref, long.ID(), false); !errors.Is(err, ErrJobFinished) {
		t.Fatalf("B cancels A's finished job: %v", err)
	}
}

// helperReplicaConfig is what TestHelperReplica needs to join the parent's cluster.
type helperReplicaConfig struct {
	Tofu, Mirror, Source, DataDir    string
	Endpoint, Bucket, Access, Secret string
	Replica, Tenant, Service         string
}

// TestHelperReplica is not a test: run as a child with SPAWNIT_REPLICA_HELPER set, it is
// a replica of the parent's cluster that starts an apply, prints the job's id once tofu
// runs its long step, and waits to be killed.
func TestHelperReplica(t *testing.T) {
	raw := os.Getenv("SPAWNIT_REPLICA_HELPER")
	if raw == "" {
		t.Skip("helper process")
	}
	var c helperReplicaConfig
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := s3store.New(ctx, s3store.Config{Endpoint: strings.TrimPrefix(c.Endpoint, "http://"), Bucket: c.Bucket,
		AccessKey: c.Access, SecretKey: c.Secret, PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := cluster.New(st, cluster.Options{ID: c.Replica, Host: c.Replica, Interval: testTTL / 6, TTL: testTTL})
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Join(ctx); err != nil {
		t.Fatal(err)
	}
	go reg.Run(ctx)
	e, err := New(Config{TofuPath: c.Tofu, ProviderMirror: c.Mirror, DataDir: c.DataDir, Source: DirSource(c.Source), Store: st,
		Host: c.Replica, Cluster: reg, Backend: Backend{S3: &S3Backend{Bucket: c.Bucket, Endpoint: c.Endpoint, PathStyle: true, AccessKey: c.Access, SecretKey: c.Secret}}})
	if err != nil {
		t.Fatal(err)
	}
	j, err := e.Apply(ctx, ServiceRef{Client: c.Tenant, Service: c.Service})
	if err != nil {
		t.Fatal(err)
	}
	waitForEvent(t, j, provisioning)
	fmt.Printf("JOB %s\n", j.ID())
	select {}
}

// TestReplicaKilledProcess: a replica running in its own process is killed with SIGKILL
// during an apply (its tofu dies with it, leaving the state lock); the replica in this
// process interrupts the job within a lease TTL, releases the lock and applies.
func TestReplicaKilledProcess(t *testing.T) {
	h := clusterHarness(t)
	b := h.replica("replica-b")
	ref := ServiceRef{Client: "acme", Service: "killed-replica"}
	h.service(ref, "slow", map[string]any{"seconds": 120, "name": h.prefix + "-killed-replica"})
	s3 := h.e.cfg.Backend.S3
	childData := t.TempDir()
	cfg, _ := json.Marshal(helperReplicaConfig{Tofu: h.e.cfg.TofuPath, Mirror: h.e.cfg.ProviderMirror, Source: h.src, DataDir: childData,
		Endpoint: s3.Endpoint, Bucket: s3.Bucket, Access: s3.AccessKey, Secret: s3.SecretKey,
		Replica: "replica-a", Tenant: ref.Client, Service: ref.Service})
	child := exec.Command(os.Args[0], "-test.run=^TestHelperReplica$", "-test.timeout=5m")
	child.Env = append(os.Environ(), "SPAWNIT_REPLICA_HELPER="+string(cfg))
	child.Stderr = os.Stderr
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = child.Process.Kill(); _ = child.Wait() })
	jobID := ""
	for sc := bufio.NewScanner(out); jobID == "" && sc.Scan(); {
		jobID, _ = strings.CutPrefix(sc.Text(), "JOB ")
	}
	if _, err := parseJobID(jobID); err != nil {
		t.Fatalf("the child replica did not start its job: %q", jobID)
	}
	lockKey := StateKey(ref) + ".tflock"
	waitFor(t, "tofu's state lock", func() bool { return exists(h.e.cfg.Store, lockKey) })

	died := time.Now()
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()
	// tofu died with its replica; its provider outlives it, as on a real host, until the
	// replica's next start kills what is left in its workdirs.
	t.Cleanup(func() { killOrphans(filepath.Join(childData, "work")) })
	h.service(ref, "slow", map[string]any{"seconds": 1, "name": h.prefix + "-killed-replica"})
	jb := b.submit(t, b.e.Apply, ref)
	bi := h.wait(jb, StateSucceeded)
	info, evs, err := b.e.LoadJob(context.Background(), ref, jobID)
	if err != nil || info.State != StateInterrupted || !strings.Contains(info.Error, "replica replica-a stopped renewing its lease") {
		t.Fatalf("the killed replica's job: %s %q %v", info.State, info.Error, err)
	}
	if !strings.Contains(eventText(evs), "released the state lock") {
		t.Fatalf("the release of the state lock is not in the job's events:\n%s", eventText(evs))
	}
	t.Logf("replica process killed; the job read interrupted at %s and the next apply started %s after the kill (lease TTL %s)",
		info.EndedAt.Sub(died).Round(time.Millisecond), bi.StartedAt.Sub(died).Round(time.Millisecond), testTTL)
}
