package supervisor_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spawnit/spawnit/catalog"
	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/internal/testservers"
	"github.com/spawnit/spawnit/pkg/apiv1"
	"github.com/spawnit/spawnit/pkg/cluster"
	"github.com/spawnit/spawnit/pkg/platform"
	"github.com/spawnit/spawnit/pkg/store"
	"github.com/spawnit/spawnit/pkg/supervisor"
)

// jobCounter is a platform.Observer counting, per service, the jobs that ended on one
// replica: drift checks (each one a tofu run) and applies.
type jobCounter struct {
	logf   func(format string, args ...any)
	mu     sync.Mutex
	checks map[engine.ServiceRef][]engine.JobInfo
	// applies are the applies that ended, in order.
	applies map[engine.ServiceRef][]engine.JobInfo
}

func newJobCounter(logf func(string, ...any)) *jobCounter {
	return &jobCounter{logf: logf, checks: map[engine.ServiceRef][]engine.JobInfo{}, applies: map[engine.ServiceRef][]engine.JobInfo{}}
}

func (c *jobCounter) JobEnded(info engine.JobInfo) {
	c.logf("job ended: %s %s of %s: %s %s", info.ID, info.Operation, info.Service, info.State, info.Error)
	c.mu.Lock()
	defer c.mu.Unlock()
	switch info.Operation {
	case engine.OpDrift:
		c.checks[info.Service] = append(c.checks[info.Service], info)
	case engine.OpApply:
		c.applies[info.Service] = append(c.applies[info.Service], info)
	}
}

func (c *jobCounter) DriftChecked(engine.DriftReport) {}

func (c *jobCounter) counts(ref engine.ServiceRef) (checks, applies int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.checks[ref]), len(c.applies[ref])
}

// lastCheck is the status the newest check of ref on this replica found ("" for none).
func (c *jobCounter) lastCheck(ref engine.ServiceRef) engine.ServiceStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	cs := c.checks[ref]
	if len(cs) == 0 || cs[len(cs)-1].Drift == nil {
		return ""
	}
	return cs[len(cs)-1].Drift.Status
}

// mortalStore is the store as one replica's registry sees it: once killed, its writes
// and deletes fail, as they would for a replica killed with SIGKILL, so its heartbeat
// record stays behind and goes stale.
type mortalStore struct {
	cluster.Store
	dead atomic.Bool
}

var errKilled = errors.New("replica killed")

func (m *mortalStore) Put(ctx context.Context, key string, data []byte, opts store.PutOptions) (store.Object, error) {
	if m.dead.Load() {
		return store.Object{}, errKilled
	}
	return m.Store.Put(ctx, key, data, opts)
}

func (m *mortalStore) Delete(ctx context.Context, key string) error {
	if m.dead.Load() {
		return errKilled
	}
	return m.Store.Delete(ctx, key)
}

// replica is one SpawnIt server of several on one store: its own engine, platform,
// cluster registry and supervisor.
type replica struct {
	name     string
	reg      *cluster.Registry
	regStore *mortalStore
	p        *platform.Platform
	eng      *engine.Engine
	sup      *supervisor.Supervisor
	jobs     *jobCounter
	stop     func() // kills the replica: supervisor stopped, heartbeat silent
}

// waitUntil polls cond until it holds, failing the test after patience.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	const patience = 3 * time.Minute
	for start := time.Now(); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Since(start) > patience {
			t.Fatalf("still waiting after %s: %s", patience, what)
		}
	}
}

// TestOneSupervisorPerServiceAcrossReplicas runs three replicas on one store, each with
// its own cluster registry and supervisor following the same Docker engine's events:
// a `docker rm -f` of a service's container leads to exactly one drift check across
// the three, and for a service with auto-remediation to exactly one remediation (and
// the one check that follows it). When the owner of a service dies (its heartbeat goes
// stale), a survivor takes the service over at its next heartbeat refresh and is the
// only one to act on the next removal.
func TestOneSupervisorPerServiceAcrossReplicas(t *testing.T) {
	testservers.Docker(t)
	testservers.BuildTestImage(t)
	ctx := context.Background()
	root := t.TempDir()
	st, err := store.NewFS(filepath.Join(root, "store"))
	if err != nil {
		t.Fatal(err)
	}
	if err := catalog.New(st, nil).Seed(ctx); err != nil {
		t.Fatal(err)
	}
	tenant := fmt.Sprintf("ha%d", time.Now().UnixNano()%1000000)
	t.Cleanup(func() { removeTenantObjects(tenant) })
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))

	// A heartbeat every 200 ms and a TTL of 1 s, so that a death is noticed quickly.
	const beat, ttl = 200 * time.Millisecond, time.Second
	var replicas []*replica
	for i := range 3 {
		r := &replica{name: "replica-" + strconv.Itoa(i), regStore: &mortalStore{Store: st}}
		r.jobs = newJobCounter(func(format string, args ...any) { t.Logf(r.name+": "+format, args...) })
		r.reg, err = cluster.New(r.regStore, cluster.Options{ID: r.name, Interval: beat, TTL: ttl, Log: log})
		if err != nil {
			t.Fatal(err)
		}
		if err := r.reg.Join(ctx); err != nil {
			t.Fatal(err)
		}
		cat := catalog.New(st, nil)
		dir := filepath.Join(root, r.name)
		// Each replica its own work directories; the state in the shared store.
		r.eng, err = engine.New(engine.Config{DataDir: dir, Store: st, TofuPath: testservers.Tofu(t),
			Backend:        engine.Backend{LocalStateRoot: filepath.Join(root, "store")},
			ProviderMirror: testservers.ProviderMirror(t), Source: catalog.NewServiceSource(cat), Cluster: r.reg})
		if err != nil {
			t.Fatal(err)
		}
		r.p, err = platform.New(platform.Config{Store: st, Catalog: cat, Engine: r.eng, Cluster: r.reg, Observer: r.jobs,
			Logger: log.With("replica", r.name)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			sctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_ = r.p.Shutdown(sctx)
		})
		replicas = append(replicas, r)
	}
	a := platform.Actor{Tenant: tenant, Subject: "alice"}
	deploy := func(name string, auto bool) engine.ServiceRef {
		t.Helper()
		port, _ := strconv.Atoi(testservers.FreePort(t))
		svc, err := replicas[0].p.CreateService(ctx, a, apiv1.CreateService{Template: "httpecho", Name: name,
			Inputs: map[string]any{"port": port}, AutoRemediate: auto})
		if err != nil {
			t.Fatal(err)
		}
		info, err := replicas[0].p.Run(ctx, a, svc.ID, platform.RunRequest{Operation: engine.OpApply})
		if err != nil {
			t.Fatal(err)
		}
		j, _ := replicas[0].eng.Job(info.ID)
		if done, err := j.Wait(ctx); err != nil || done.State != engine.StateSucceeded {
			t.Fatalf("apply of %s: %s %s %v", name, done.State, done.Error, err)
		}
		return engine.ServiceRef{Client: tenant, Service: svc.ID}
	}
	plain, auto := deploy("plain", false), deploy("auto", true)

	// Every replica beats and supervises; a very long interval, so that no periodic
	// check falls within the test: every check below comes from Docker events (or from
	// a service changing hands).
	for _, r := range replicas {
		hctx, stopBeat := context.WithCancel(context.Background())
		beating := make(chan struct{})
		go func() { defer close(beating); r.reg.Run(hctx) }()
		r.sup = supervisor.New(supervisor.Config{Interval: 1000 * time.Hour, DockerEvents: true, Refresh: 500 * time.Millisecond,
			BusyRetry: 2 * time.Second, Cluster: r.reg, OwnershipEvery: 100 * time.Millisecond, Handover: 200 * time.Millisecond,
			Logger: log.With("replica", r.name)}, r.p.Supervised())
		sctx, stopSup := context.WithCancel(context.Background())
		supervising := make(chan struct{})
		go func() { defer close(supervising); _ = r.sup.Run(sctx) }()
		var once sync.Once
		r.stop = func() {
			once.Do(func() {
				stopSup()
				<-supervising
				r.regStore.dead.Store(true)
				stopBeat()
				<-beating
			})
		}
		t.Cleanup(r.stop)
	}
	waitUntil(t, "every replica to see the three", func() bool {
		for _, r := range replicas {
			if len(r.reg.Members()) != 3 {
				return false
			}
		}
		return true
	})
	ownerOf := func(ref engine.ServiceRef, live []*replica) *replica {
		ids := make([]string, 0, len(live))
		for _, r := range live {
			ids = append(ids, r.name)
		}
		id := cluster.Owner(ids, supervisor.OwnerKey(ref))
		for _, r := range live {
			if r.name == id {
				return r
			}
		}
		t.Fatalf("no owner of %s among %v", ref, ids)
		return nil
	}
	container := func(ref engine.ServiceRef) string { return "spawnit-" + ref.Client + "-" + ref.Service }

	// Every supervisor follows Docker's events before the test counts: a signal the test
	// image ignores (SIGWINCH: a "kill" event, which the supervisors act on) is sent
	// until the owner has checked the service on it and the others have left it.
	owner := ownerOf(plain, replicas)
	waitUntil(t, "every supervisor to follow Docker events", func() bool {
		heard := true
		for _, r := range replicas {
			st := r.sup.Stats()
			heard = heard && (r == owner && st.EventChecks > 0 || r != owner && st.NotOwned > 0)
		}
		if !heard {
			_ = exec.Command("docker", "kill", "-s", "WINCH", container(plain)).Run()
			time.Sleep(300 * time.Millisecond) // between signals, not an assertion
		}
		return heard
	})
	idle := func(live []*replica) func() bool {
		return func() bool {
			for _, r := range live {
				if !r.sup.Idle() {
					return false
				}
			}
			return true
		}
	}
	waitUntil(t, "the supervisors to be idle", idle(replicas))

	type count struct{ checks, applies int }
	total := func(ref engine.ServiceRef, live []*replica) (c count, per []string) {
		for _, r := range live {
			ch, ap := r.jobs.counts(ref)
			c.checks += ch
			c.applies += ap
			per = append(per, fmt.Sprintf("%s: %d checks, %d applies", r.name, ch, ap))
		}
		return c, per
	}
	var duplicated, driftEvents int
	// removal removes ref's container and waits until the owner has reported it
	// missing (and, when remediate, has remediated it and checked it in sync again),
	// every replica has heard of the removal and all are idle; it returns what the
	// replicas ran meanwhile.
	removal := func(ref engine.ServiceRef, live []*replica, remediate bool) count {
		t.Helper()
		before, _ := total(ref, live)
		owner := ownerOf(ref, live)
		notOwned := map[*replica]int{}
		for _, r := range live {
			notOwned[r] = r.sup.Stats().NotOwned
		}
		if out, err := exec.Command("docker", "rm", "-f", container(ref)).CombinedOutput(); err != nil {
			t.Fatalf("docker rm -f: %v: %s", err, out)
		}
		want, wantChecks, wantApplies := engine.StatusMissing, 1, 0
		if remediate {
			// The removal's check, the remediation, and the check after it.
			want, wantChecks, wantApplies = engine.StatusInSync, 2, 1
		}
		waitUntil(t, fmt.Sprintf("%s: checked %s by its owner %s", ref, want, owner.name), func() bool {
			now, _ := total(ref, live)
			if now.checks-before.checks < wantChecks || now.applies-before.applies < wantApplies || owner.jobs.lastCheck(ref) != want {
				return false
			}
			for _, r := range live {
				if r != owner && r.sup.Stats().NotOwned == notOwned[r] {
					return false // has not heard of the removal yet
				}
			}
			return idle(live)()
		})
		after, per := total(ref, live)
		got := count{after.checks - before.checks, after.applies - before.applies}
		driftEvents++
		duplicated += max(0, got.checks-wantChecks)
		t.Logf("docker rm -f %s (owner %s, auto-remediation %v): %d checks, %d applies across the replicas (%s); owner's supervisor: %+v",
			container(ref), owner.name, remediate, got.checks, got.applies, strings.Join(per, "; "), owner.sup.Stats())
		return got
	}

	// 1. Without auto-remediation: one check, by the owner.
	if got := removal(plain, replicas, false); got.checks != 1 || got.applies != 0 {
		t.Errorf("removal of %s: %d checks and %d applies, want 1 check", plain, got.checks, got.applies)
	}
	// 2. With auto-remediation: one check, one remediation, one check after it.
	if got := removal(auto, replicas, true); got.checks != 2 || got.applies != 1 {
		t.Errorf("removal of %s: %d checks and %d applies, want 1 check, 1 remediation and 1 check after it", auto, got.checks, got.applies)
	}
	if !containerRunning(container(auto)) {
		t.Errorf("%s was not recreated", container(auto))
	}

	// 3. The owner of the auto-remediated service dies: its heartbeat record goes
	// stale. The survivors drop it at a heartbeat refresh after one TTL, and the new
	// owner takes the service (a first check within Handover), then is the only one to
	// check and remediate it.
	dead := ownerOf(auto, replicas)
	var live []*replica
	for _, r := range replicas {
		if r != dead {
			live = append(live, r)
		}
	}
	heir := ownerOf(auto, live)
	gained, checks := heir.sup.Stats().Gained, heir.sup.Stats().FullChecks
	died := time.Now()
	dead.stop()
	waitUntil(t, "the survivors to drop the dead replica", func() bool {
		for _, r := range live {
			if len(r.reg.Members()) != 2 {
				return false
			}
		}
		return true
	})
	waitUntil(t, heir.name+" to take the service over", func() bool { return heir.sup.Stats().Gained > gained })
	moved := time.Since(died)
	waitUntil(t, heir.name+" to check the service it gained", func() bool {
		return heir.sup.Stats().FullChecks > checks && idle(live)()
	})
	t.Logf("%s died; %s took its services over %s later (heartbeat %s, TTL %s)", dead.name, heir.name, moved.Round(time.Millisecond), beat, ttl)
	if got := removal(auto, live, true); got.checks != 2 || got.applies != 1 {
		t.Errorf("removal after %s died: %d checks and %d applies, want 2 checks and 1 remediation (by %s)", dead.name, got.checks, got.applies, heir.name)
	}
	t.Logf("duplicated checks per drift event: %.2f (%d extra checks over %d removals, goal 0)",
		float64(duplicated)/float64(driftEvents), duplicated, driftEvents)
}

func containerRunning(name string) bool {
	out, err := exec.Command("docker", "ps", "-q", "--filter", "name=^/"+name+"$").Output()
	return err == nil && len(strings.TrimSpace(string(out))) > 0
}

// removeTenantObjects removes the containers and volumes of a test's tenant.
func removeTenantObjects(tenant string) {
	out, _ := exec.Command("docker", "ps", "-aq", "--filter", "label=spawnit.client="+tenant).Output()
	if ids := strings.Fields(string(out)); len(ids) > 0 {
		_ = exec.Command("docker", append([]string{"rm", "-f"}, ids...)...).Run()
	}
	out, _ = exec.Command("docker", "volume", "ls", "-q", "--filter", "label=spawnit.client="+tenant).Output()
	if ids := strings.Fields(string(out)); len(ids) > 0 {
		_ = exec.Command("docker", append([]string{"volume", "rm", "-f"}, ids...)...).Run()
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}
