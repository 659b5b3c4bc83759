package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/spawnit/spawnit/internal/testservers"
	"github.com/spawnit/spawnit/pkg/store"
	"github.com/spawnit/spawnit/pkg/store/s3store"
)

// harness is an engine wired to the real tools: tofu, the mirrored Docker provider, a
// Docker engine and (optionally) a versitygw S3 backend.
type harness struct {
	t      testing.TB
	e      *Engine
	src    string // DirSource root
	s3     *testservers.S3
	bucket string
	prefix string // unique name prefix for Docker objects
}

func newHarness(t testing.TB, s3Backend bool, mutate func(*Config)) *harness {
	t.Helper()
	tofu := testservers.Tofu(t)
	mirror := testservers.ProviderMirror(t)
	testservers.BuildTestImage(t)
	h := &harness{t: t, src: t.TempDir(), prefix: fmt.Sprintf("spawnit-it-%d", time.Now().UnixNano()%1_000_000_000)}
	records, err := store.NewFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{TofuPath: tofu, DataDir: t.TempDir(), ProviderMirror: mirror, Source: DirSource(h.src), Store: records}
	if s3Backend {
		h.s3 = testservers.Versitygw(t)
		h.bucket = "spawnit"
		if err := os.Mkdir(filepath.Join(h.s3.Dir, h.bucket), 0o755); err != nil {
			t.Fatal(err)
		}
		cfg.Backend.S3 = &S3Backend{Bucket: h.bucket, Endpoint: h.s3.URL(), PathStyle: true, AccessKey: h.s3.AccessKey, SecretKey: h.s3.SecretKey}
	}
	if mutate != nil {
		mutate(&cfg)
	}
	h.e, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = h.e.Shutdown(ctx)
		h.removeDockerObjects()
	})
	return h
}

func (h *harness) removeDockerObjects() {
	out, _ := exec.Command("docker", "ps", "-aq", "--filter", "name="+h.prefix).Output()
	if ids := strings.Fields(string(out)); len(ids) > 0 {
		_ = exec.Command("docker", append([]string{"rm", "-f"}, ids...)...).Run()
	}
	out, _ = exec.Command("docker", "volume", "ls", "-q", "--filter", "name="+h.prefix).Output()
	if ids := strings.Fields(string(out)); len(ids) > 0 {
		_ = exec.Command("docker", append([]string{"volume", "rm", "-f"}, ids...)...).Run()
	}
}

// service writes a service's module and tfvars into the DirSource.
func (h *harness) service(ref ServiceRef, module string, vars map[string]any) {
	h.t.Helper()
	dir := filepath.Join(h.src, ref.Client, ref.Service)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		h.t.Fatal(err)
	}
	mainTF, err := os.ReadFile(filepath.Join("..", "testdata", "modules", module, "main.tf"))
	if err != nil {
		h.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), mainTF, 0o644); err != nil {
		h.t.Fatal(err)
	}
	b, _ := json.Marshal(vars)
	if err := os.WriteFile(filepath.Join(dir, TfvarsFile), b, 0o644); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) echoService(ref ServiceRef) (name string, port int) {
	name = h.prefix + "-" + ref.Service
	port, _ = strconv.Atoi(testservers.FreePort(h.t))
	h.service(ref, "httpecho", map[string]any{"name": name, "port": port})
	return name, port
}

func (h *harness) run(op func(context.Context, ServiceRef, ...RunOption) (*Job, error), ref ServiceRef, want JobState) JobInfo {
	h.t.Helper()
	j, err := op(context.Background(), ref)
	if err != nil {
		h.t.Fatal(err)
	}
	return h.wait(j, want)
}

func (h *harness) wait(j *Job, want JobState) JobInfo {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	info, err := j.Wait(ctx)
	if err != nil {
		h.t.Fatalf("job %s did not finish: %v", j.ID(), err)
	}
	if info.State != want {
		h.t.Fatalf("%s job ended %s (want %s): %s\n%s", info.Operation, info.State, want, info.Error, eventText(j.Events(0)))
	}
	return info
}

func eventText(evs []Event) string {
	var b strings.Builder
	for _, ev := range evs {
		fmt.Fprintf(&b, "  %d %s %s %s\n", ev.Seq, ev.Type, ev.Level, ev.Message)
	}
	return b.String()
}

func (h *harness) drift(ref ServiceRef, want ServiceStatus) *DriftReport {
	h.t.Helper()
	info := h.run(h.e.CheckDrift, ref, StateSucceeded)
	if info.Drift == nil || info.Drift.Status != want {
		j, _ := h.e.Job(info.ID)
		h.t.Fatalf("drift status %+v, want %s\n%s", info.Drift, want, eventText(j.Events(0)))
	}
	return info.Drift
}

func docker(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("docker", args...).CombinedOutput(); err != nil {
		t.Fatalf("docker %v: %v: %s", args, err, out)
	}
}

func getBody(t *testing.T, url string) string {
	t.Helper()
	deadline := time.Now().Add(time.Minute) // a container starting on a loaded machine
	for {
		resp, err := http.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v", url, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func resourceStatus(r *DriftReport, addr string) ResourceDrift {
	for _, d := range r.Resources {
		if d.Address == addr {
			return d
		}
	}
	return ResourceDrift{}
}

// TestLifecycleAndDrift walks a service through every drift status with real tofu,
// Docker and an S3 backend.
func TestLifecycleAndDrift(t *testing.T) {
	h := newHarness(t, true, nil)
	ref := ServiceRef{Client: "acme", Service: "web"}
	name, port := h.echoService(ref)

	h.drift(ref, StatusPending) // configured, never applied
	plan := h.run(h.e.Plan, ref, StateSucceeded)
	if p := plan.Plan; p == nil || !p.HasChanges || p.Add != 3 || len(p.Resources) != 3 || p.Resources[0].Action != "create" {
		t.Fatalf("plan of a new service: %+v", plan.Plan)
	}

	info := h.run(h.e.Apply, ref, StateSucceeded)
	if info.Changes == nil || info.Changes.Add != 3 {
		t.Fatalf("apply changes %+v", info.Changes)
	}
	if string(info.Outputs["endpoint"].Value) != strconv.Quote(fmt.Sprintf("http://127.0.0.1:%d", port)) {
		t.Fatalf("endpoint output %s", info.Outputs["endpoint"].Value)
	}
	if tok := info.Outputs["token"]; !tok.Sensitive || len(tok.Value) != 0 {
		t.Fatalf("the apply job must flag the sensitive output without its value: %+v", tok)
	}
	outs, err := h.e.Outputs(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	if tok := outs["token"]; !tok.Sensitive || !strings.Contains(string(tok.Value), "s3cr3t") {
		t.Fatalf("Outputs must give the sensitive value to its caller: %+v", tok)
	}
	plan = h.run(h.e.Plan, ref, StateSucceeded)
	if plan.Plan == nil || plan.Plan.HasChanges || len(plan.Plan.Resources) != 0 {
		t.Fatalf("plan of an applied service: %+v", plan.Plan)
	}
	j, _ := h.e.Job(info.ID)
	allEvents, _ := json.Marshal(j.Events(0))
	if strings.Contains(string(allEvents), "s3cr3t") {
		t.Fatalf("a sensitive output reached the event log: %s", allEvents)
	}
	_, persisted, err := h.e.LoadJob(context.Background(), ref, info.ID)
	if err != nil || len(persisted) == 0 {
		t.Fatalf("persisted events: %v", err)
	}
	rec, _, _ := h.e.cfg.Store.Get(context.Background(), jobKey(ref, info.ID))
	if strings.Contains(string(rec), "s3cr3t") {
		t.Fatal("a sensitive output reached the job record")
	}
	if got := getBody(t, fmt.Sprintf("http://127.0.0.1:%d/", port)); !strings.Contains(got, "hello from spawnit") {
		t.Fatalf("container answered %q", got)
	}
	// State lives in the bucket under the service's key, not in the workdir.
	if _, err := os.Stat(filepath.Join(h.s3.Dir, h.bucket, "clients", "acme", "web", "terraform.tfstate")); err != nil {
		t.Fatalf("state not in S3: %v", err)
	}

	h.drift(ref, StatusInSync)

	docker(t, "rm", "-f", name)
	r := h.drift(ref, StatusMissing)
	if resourceStatus(r, "docker_container.app").Status != ResourceDeleted {
		t.Fatalf("container should be deleted: %+v", r.Resources)
	}

	h.run(h.e.Apply, ref, StateSucceeded)
	h.drift(ref, StatusInSync)

	docker(t, "update", "--restart=always", name)
	r = h.drift(ref, StatusDrifted)
	if d := resourceStatus(r, "docker_container.app"); d.Status != ResourceModified || !strings.Contains(strings.Join(d.Paths, ","), "restart") {
		t.Fatalf("container should be modified at restart: %+v", d)
	}
	// Accepting the drift records reality as the state: nothing drifted any more, but the
	// stored configuration still asks for the old value, so applying it is pending.
	h.run(h.e.Accept, ref, StateSucceeded)
	h.drift(ref, StatusPending)
	h.run(h.e.Apply, ref, StateSucceeded)
	h.drift(ref, StatusInSync)

	// Deleting the workdir loses nothing: the next operation rebuilds it.
	if err := os.RemoveAll(filepath.Join(h.e.cfg.WorkDir, "acme", "web")); err != nil {
		t.Fatal(err)
	}
	h.drift(ref, StatusInSync)

	h.run(h.e.Destroy, ref, StateSucceeded)
	h.drift(ref, StatusInSync) // destroyed, and nothing left
	if in, _ := h.e.Intent(context.Background(), ref); in.Kind != IntentDestroyed {
		t.Fatalf("intent %+v", in)
	}

	docker(t, "volume", "create", "--label", "spawnit.service="+name, name+"-data")
	r = h.drift(ref, StatusOrphaned)
	if resourceStatus(r, "docker_volume.data").Status != ResourceUnexpected {
		t.Fatalf("recreated volume should be unexpected: %+v", r.Resources)
	}
}

// TestApplyNeverOverlaps submits two applies on one service at once, many times.
func TestApplyNeverOverlaps(t *testing.T) {
	h := newHarness(t, false, nil)
	ref := ServiceRef{Client: "acme", Service: "one"}
	h.echoService(ref)
	for round := range 4 {
		a, err := h.e.Apply(context.Background(), ref)
		if err != nil {
			t.Fatal(err)
		}
		b, err := h.e.Apply(context.Background(), ref)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.e.Apply(context.Background(), ref, FailIfLocked()); !errors.Is(err, ErrLocked) {
			t.Fatalf("round %d: fail-fast apply on a busy service: %v", round, err)
		}
		if holder, ok := h.e.LockHolder(ref); !ok || holder.JobID != a.ID() || holder.PID != os.Getpid() {
			t.Fatalf("lock holder %+v", holder)
		}
		ai, bi := h.wait(a, StateSucceeded), h.wait(b, StateSucceeded)
		if bi.StartedAt.Before(*ai.EndedAt) {
			t.Fatalf("round %d: second apply started %v before the first ended %v", round, bi.StartedAt, ai.EndedAt)
		}
	}
	if _, ok := h.e.LockHolder(ref); ok {
		t.Fatal("lock still held after all jobs")
	}
	h.run(h.e.Destroy, ref, StateSucceeded)
}

// TestParallelServices applies 10 services at once.
func TestParallelServices(t *testing.T) {
	h := newHarness(t, false, func(c *Config) { c.MaxParallel = 10 })
	var refs []ServiceRef
	for i := range 10 {
		ref := ServiceRef{Client: "acme", Service: fmt.Sprintf("p%d", i)}
		h.echoService(ref)
		refs = append(refs, ref)
	}
	jobs := make([]*Job, len(refs))
	for i, ref := range refs {
		var err error
		if jobs[i], err = h.e.Apply(context.Background(), ref); err != nil {
			t.Fatal(err)
		}
	}
	infos := make([]JobInfo, len(jobs))
	for i, j := range jobs {
		infos[i] = h.wait(j, StateSucceeded)
	}
	// Their run windows overlap: they did not run one after another.
	overlaps := 0
	for i := range infos {
		for k := i + 1; k < len(infos); k++ {
			if infos[i].StartedAt.Before(*infos[k].EndedAt) && infos[k].StartedAt.Before(*infos[i].EndedAt) {
				overlaps++
			}
		}
	}
	if overlaps == 0 {
		t.Fatal("no two services ran at the same time")
	}
	var wg sync.WaitGroup
	for _, ref := range refs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			j, err := h.e.Destroy(context.Background(), ref)
			if err != nil {
				t.Error(err)
				return
			}
			h.wait(j, StateSucceeded)
		}()
	}
	wg.Wait()
}

func waitForEvent(t *testing.T, j *Job, match func(Event) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for ev := range j.Follow(ctx, 0) {
		if match(ev) {
			return
		}
	}
	t.Fatalf("event not seen; job %s:\n%s", j.Info().State, eventText(j.Events(0)))
}

func provisioning(ev Event) bool {
	return ev.Type == EventApplyStart && ev.Resource != nil && ev.Resource.Address == "terraform_data.wait"
}

// groupMembers lists live processes in process group pgid. Zombies are dead already
// (they wait for a reaper outside our control, e.g. a container's PID 1) and are skipped.
func groupMembers(pgid int) []string {
	var out []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if g, err := syscall.Getpgid(pid); err == nil && g == pgid {
			stat, _ := os.ReadFile("/proc/" + e.Name() + "/stat")
			if i := strings.LastIndexByte(string(stat), ')'); i > 0 && len(stat) > i+2 && stat[i+2] == 'Z' {
				continue
			}
			cmd, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
			out = append(out, fmt.Sprintf("%d:%s", pid, strings.ReplaceAll(string(cmd), "\x00", " ")))
		}
	}
	return out
}

// TestCancelDuringApply cancels gracefully, then checks the service is usable.
func TestCancelDuringApply(t *testing.T) {
	h := newHarness(t, false, func(c *Config) { c.CancelCoolOff = time.Second })
	ref := ServiceRef{Client: "acme", Service: "slow"}
	h.service(ref, "slow", map[string]any{"seconds": 120, "name": h.prefix + "-" + ref.Service})
	j, err := h.e.Apply(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	waitForEvent(t, j, provisioning)
	pgid := j.proc.get()
	if err := h.e.Cancel(j.ID(), false); err != nil {
		t.Fatal(err)
	}
	if s := j.Info().State; s != StateCancelling && !s.Final() {
		t.Fatalf("after the first cancel the job shows %s", s)
	}
	info := h.wait(j, StateCancelled)
	if info.Duration() > time.Minute {
		t.Fatalf("graceful cancel took %s", info.Duration())
	}
	if err := h.e.Cancel(j.ID(), false); !errors.Is(err, ErrJobFinished) {
		t.Fatalf("cancel after the end: %v", err)
	}
	if _, ok := h.e.LockHolder(ref); ok {
		t.Fatal("lock held after cancel")
	}
	if m := groupMembers(pgid); len(m) > 0 {
		t.Fatalf("processes left in tofu's group: %v", m)
	}
	// State is consistent: a short apply afterwards succeeds.
	h.service(ref, "slow", map[string]any{"seconds": 1, "name": h.prefix + "-" + ref.Service})
	h.run(h.e.Apply, ref, StateSucceeded)
}

// TestForcedCancelAfterCoolOff: force is refused before the cool-off, kills after it.
func TestForcedCancelAfterCoolOff(t *testing.T) {
	h := newHarness(t, false, func(c *Config) { c.CancelCoolOff = 2 * time.Second })
	ref := ServiceRef{Client: "acme", Service: "stuck"}
	// A provisioner that ignores SIGINT stands in for a hung provider.
	h.service(ref, "slow", map[string]any{"seconds": 120, "name": h.prefix + "-" + ref.Service})
	j, err := h.e.Apply(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	waitForEvent(t, j, provisioning)
	pgid := j.proc.get()
	if err := h.e.Cancel(j.ID(), true); !errors.Is(err, ErrCoolOff) {
		t.Fatalf("force as the first cancel: %v", err)
	}
	if err := h.e.Cancel(j.ID(), true); !errors.Is(err, ErrCoolOff) && !errors.Is(err, ErrJobFinished) {
		t.Fatalf("force within the cool-off: %v", err)
	}
	time.Sleep(2100 * time.Millisecond)
	if err := h.e.Cancel(j.ID(), true); err != nil && !errors.Is(err, ErrJobFinished) {
		t.Fatalf("force after the cool-off: %v", err)
	}
	h.wait(j, StateCancelled)
	if m := groupMembers(pgid); len(m) > 0 {
		t.Fatalf("processes left in tofu's group: %v", m)
	}
	if _, ok := h.e.LockHolder(ref); ok {
		t.Fatal("lock held after forced cancel")
	}
}

// TestTofuKilled: SIGKILL to the tofu child fails the job, leaves no provider process
// and frees the lock; the next apply works.
func TestTofuKilled(t *testing.T) {
	// State in S3 with OpenTofu's lockfile, and the engine's records in the same bucket:
	// the killed tofu leaves its lockfile, which the engine must release.
	h := newHarness(t, true, func(c *Config) {
		st, err := s3store.New(context.Background(), s3store.Config{Endpoint: strings.TrimPrefix(c.Backend.S3.Endpoint, "http://"),
			Bucket: c.Backend.S3.Bucket, AccessKey: c.Backend.S3.AccessKey, SecretKey: c.Backend.S3.SecretKey, PathStyle: true})
		if err != nil {
			t.Fatal(err)
		}
		c.Store = st
	})
	ref := ServiceRef{Client: "acme", Service: "killed"}
	h.service(ref, "slow", map[string]any{"seconds": 120, "name": h.prefix + "-" + ref.Service})
	j, err := h.e.Apply(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	waitForEvent(t, j, provisioning)
	pid := j.proc.get()
	var members []string
	for start := time.Now(); time.Since(start) < time.Minute; time.Sleep(50 * time.Millisecond) {
		if members = groupMembers(pid); len(members) >= 3 && strings.Contains(strings.Join(members, " "), "terraform-provider-docker") {
			break
		}
	}
	if !strings.Contains(strings.Join(members, " "), "terraform-provider-docker") {
		t.Fatalf("expected tofu (pid %d) with the docker provider in its group, got %v", pid, members)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	info := h.wait(j, StateFailed)
	if info.Error == "" {
		t.Fatal("failed job without an error message")
	}
	if m := groupMembers(pid); len(m) > 0 {
		t.Fatalf("provider processes left behind: %v", m)
	}
	if _, ok := h.e.LockHolder(ref); ok {
		t.Fatal("lock held after the tofu child died")
	}
	if _, _, err := h.e.cfg.Store.Get(context.Background(), StateKey(ref)+".tflock"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the killed tofu's S3 lockfile is still there: %v", err)
	}
	h.service(ref, "slow", map[string]any{"seconds": 1, "name": h.prefix + "-" + ref.Service})
	h.run(h.e.Apply, ref, StateSucceeded)
}

// TestCancelQueued removes a queued job without running it.
func TestCancelQueued(t *testing.T) {
	h := newHarness(t, false, nil)
	ref := ServiceRef{Client: "acme", Service: "queue"}
	h.service(ref, "slow", map[string]any{"seconds": 3, "name": h.prefix + "-" + ref.Service})
	first, err := h.e.Apply(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	queued, err := h.e.Apply(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.e.Cancel(queued.ID(), false); err != nil {
		t.Fatal(err)
	}
	qi := h.wait(queued, StateCancelled)
	if qi.StartedAt != nil {
		t.Fatal("a cancelled queued job must never start")
	}
	h.wait(first, StateSucceeded)
	jobs, err := h.e.ListJobs(context.Background(), ref)
	if err != nil || len(jobs) != 2 {
		t.Fatalf("listed %d jobs: %v", len(jobs), err)
	}
}

// hangingRegistry accepts connections on loopback and never answers; connected is
// closed once a first connection was accepted.
func hangingRegistry(t *testing.T) (addr string, connected <-chan struct{}) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	first := make(chan struct{})
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			if len(conns) == 0 {
				close(first)
			}
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return l.Addr().String(), first
}

// TestUserJobPreemptsCheck: a user's apply arriving during a drift check stops the check
// and runs as soon as it has stopped; the check never holds up or frees the user's lock.
func TestUserJobPreemptsCheck(t *testing.T) {
	h := newHarness(t, false, nil)
	ref := ServiceRef{Client: "acme", Service: "checked"}
	registry, connected := hangingRegistry(t)
	h.service(ref, "hang", map[string]any{"registry": registry, "probe": true})

	check, err := h.e.CheckDrift(context.Background(), ref, Background())
	if err != nil {
		t.Fatal(err)
	}
	waitForEvent(t, check, func(ev Event) bool { return ev.Type == EventJobState && ev.State == StateRunning })
	// Tofu is now waiting on the registry: the check read its configuration (which
	// the test changes next) and hangs.
	select {
	case <-connected:
	case <-time.After(2 * time.Minute):
		t.Fatalf("the check never reached the registry; job %s:\n%s", check.Info().State, eventText(check.Events(0)))
	}
	if _, err := h.e.CheckDrift(context.Background(), ref, Background()); !errors.Is(err, ErrLocked) {
		t.Fatalf("a second background check must not queue: %v", err)
	}
	// The user's configuration no longer probes, so their apply is quick.
	h.service(ref, "hang", map[string]any{"registry": registry, "probe": false})
	apply, err := h.e.Apply(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	ai := h.wait(apply, StateSucceeded)
	ci := h.wait(check, StateCancelled)
	if !strings.Contains(ci.Error, "user's job") {
		t.Fatalf("check ended with %q", ci.Error)
	}
	if ai.StartedAt.Before(*ci.EndedAt) {
		t.Fatal("the apply started before the check released the service")
	}
	// The check is killed at once: seconds, or more on a loaded machine; the check
	// itself would hang until the job timeout.
	if wait := ai.StartedAt.Sub(ai.CreatedAt); wait > time.Minute {
		t.Fatalf("the apply waited %s for the check to stop", wait)
	}
	t.Logf("apply waited %s for the check to stop", ai.StartedAt.Sub(ai.CreatedAt).Round(time.Millisecond))

	// Background checks are not the service's job history: the store keeps the latest.
	again, err := h.e.CheckDrift(context.Background(), ref, Background())
	if err != nil {
		t.Fatal(err)
	}
	h.wait(again, StateSucceeded)
	jobs, err := h.e.ListJobs(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 1 || jobs[0].ID != apply.ID() {
		t.Fatalf("job history %+v, want the apply only", jobs)
	}
	h.e.jobs.mu.Lock() // as if both had left memory: the store answers
	delete(h.e.jobs.m, again.ID())
	delete(h.e.jobs.m, check.ID())
	h.e.jobs.mu.Unlock()
	if info, _, err := h.e.LoadJob(context.Background(), ref, again.ID()); err != nil || !info.Background || info.State != StateSucceeded {
		t.Fatalf("latest check: %+v, %v", info, err)
	}
	if _, _, err := h.e.LoadJob(context.Background(), ref, check.ID()); !errors.Is(err, ErrNotFound) {
		t.Fatalf("an older check's record must be replaced by the latest: %v", err)
	}
}

func s3Records(t testing.TB) func(c *Config) {
	return func(c *Config) {
		st, err := s3store.New(context.Background(), s3store.Config{Endpoint: strings.TrimPrefix(c.Backend.S3.Endpoint, "http://"),
			Bucket: c.Backend.S3.Bucket, AccessKey: c.Backend.S3.AccessKey, SecretKey: c.Backend.S3.SecretKey, PathStyle: true})
		if err != nil {
			t.Fatal(err)
		}
		c.Store = st
	}
}

// TestTwoEnginesOneStore: two SpawnIt processes (engines with their own workdirs and
// hosts) sharing one S3 store run one operation per service between them.
func TestTwoEnginesOneStore(t *testing.T) {
	h := newHarness(t, true, s3Records(t))
	cfgB := h.e.cfg
	cfgB.DataDir, cfgB.WorkDir, cfgB.PluginCacheDir = t.TempDir(), "", ""
	cfgB.Host = "replica-b"
	b, err := New(cfgB)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Shutdown(context.Background())
	ref := ServiceRef{Client: "acme", Service: "shared"}
	h.service(ref, "slow", map[string]any{"seconds": 6, "name": h.prefix + "-shared"})
	ja, err := h.e.Apply(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	waitForEvent(t, ja, func(ev Event) bool { return ev.Type == EventJobState && ev.State == StateRunning })
	holder, _, ok, err := b.Lease(context.Background(), ref)
	if err != nil || !ok || holder.JobID != ja.ID() {
		t.Fatalf("replica B sees lease %+v ok=%v err=%v", holder, ok, err)
	}
	// B's apply waits for A's job, then runs.
	jb, err := b.Apply(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	waitForEvent(t, jb, func(ev Event) bool { return strings.Contains(ev.Message, "waiting for job "+ja.ID()) })
	ai := h.wait(ja, StateSucceeded)
	bi := h.wait(jb, StateSucceeded)
	if bi.StartedAt.Before(*ai.EndedAt) {
		t.Fatalf("B's apply started at %s, before A's ended at %s", bi.StartedAt, ai.EndedAt)
	}
	if _, _, ok, _ := b.Lease(context.Background(), ref); ok {
		t.Fatal("lease left after the jobs")
	}
}

// TestReadiness: an apply succeeds only once its readiness check passes, and a check
// that never passes fails the job with its message, keeping the resources.
func TestReadiness(t *testing.T) {
	h := newHarness(t, false, nil)
	ref := ServiceRef{Client: "acme", Service: "ready"}
	name, port := h.echoService(ref)
	var answeredAt time.Time
	httpReady := func(ctx context.Context, outs map[string]Output, progress func(string)) error {
		var url string
		if err := json.Unmarshal(outs["endpoint"].Value, &url); err != nil {
			return err
		}
		for {
			resp, err := http.Get(url)
			if err == nil {
				resp.Body.Close()
				answeredAt = time.Now()
				return nil
			}
			progress("not answering yet: " + err.Error())
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	j, err := h.e.Apply(context.Background(), ref, WithReadiness(httpReady))
	if err != nil {
		t.Fatal(err)
	}
	info := h.wait(j, StateSucceeded)
	if answeredAt.IsZero() || info.EndedAt.Before(answeredAt) {
		t.Fatal("the job succeeded before the readiness check passed")
	}
	never := func(ctx context.Context, outs map[string]Output, progress func(string)) error {
		return fmt.Errorf("GET %s answered 200, want 418", outs["endpoint"].Value)
	}
	h.service(ref, "httpecho", map[string]any{"name": name, "port": port, "greeting": "changed"})
	j, err = h.e.Apply(context.Background(), ref, WithReadiness(never))
	if err != nil {
		t.Fatal(err)
	}
	info = h.wait(j, StateFailed)
	if !strings.Contains(info.Error, "not ready") || !strings.Contains(info.Error, "want 418") {
		t.Fatalf("error %q", info.Error)
	}
	if out, _ := exec.Command("docker", "ps", "-q", "--filter", "name="+name).Output(); len(strings.TrimSpace(string(out))) == 0 {
		t.Fatal("the resources of a service that is not ready must be kept")
	}
}

// TestFailedApplyTellsWhy: an apply whose image cannot be pulled fails with one plain
// sentence first, counts what happened (the volume created, the image failed, the
// container never reached), and no job's log carries tofu's warning about an
// incomplete lock file (the engine records the providers' checksums from the mirror
// before init). Applied again with an image that exists, it succeeds.
func TestFailedApplyTellsWhy(t *testing.T) {
	h := newHarness(t, false, nil)
	ref := ServiceRef{Client: "acme", Service: "noimage"}
	name := h.prefix + "-" + ref.Service
	port, _ := strconv.Atoi(testservers.FreePort(t))
	image := "spawnit-test/never-built-" + h.prefix + ":1"
	h.service(ref, "httpecho", map[string]any{"name": name, "port": port, "image": image})
	noLockWarning := func(info JobInfo) {
		t.Helper()
		j, _ := h.e.Job(info.ID)
		for _, ev := range j.Events(0) {
			if strings.Contains(ev.Message, "Incomplete lock file") || (ev.Diagnostic != nil && strings.Contains(ev.Diagnostic.Summary, "Incomplete lock file")) {
				t.Fatalf("%s job's log warns about the lock file: %s", info.Operation, ev.Message)
			}
		}
	}

	info := h.run(h.e.Apply, ref, StateFailed)
	noLockWarning(info)
	first, details, _ := strings.Cut(info.Error, "\n")
	if want := "The image " + image + " could not be downloaded from any registry."; first != want {
		t.Fatalf("error leads with %q, want %q", first, want)
	}
	if !strings.Contains(details, "tofu apply failed") || !strings.Contains(details, image) {
		t.Fatalf("tofu's message is not kept after the sentence: %q", details)
	}
	if c := info.Changes; c == nil || c.Add != 1 || c.Failed != 1 || c.NotReached != 1 || c.Change != 0 || c.Remove != 0 {
		t.Fatalf("changes %+v, want 1 added, 1 failed, 1 not reached", info.Changes)
	}

	h.service(ref, "httpecho", map[string]any{"name": name, "port": port})
	info = h.run(h.e.Apply, ref, StateSucceeded)
	noLockWarning(info)
	if c := info.Changes; c == nil || c.Add != 2 || c.Failed != 0 || c.NotReached != 0 {
		t.Fatalf("changes of the successful apply %+v", info.Changes)
	}
	h.run(h.e.Destroy, ref, StateSucceeded)
}
