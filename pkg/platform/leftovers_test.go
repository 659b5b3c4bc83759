package platform

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/internal/testservers"
	"github.com/spawnit/spawnit/pkg/apiv1"
	"github.com/spawnit/spawnit/pkg/dockerapi"
	"github.com/spawnit/spawnit/pkg/store"
)

// defaultCancelRounds is how many cancelled applies TestCancelLeavesNothingBehind runs
// (SPAWNIT_CANCEL_ROUNDS overrides it, for a quicker run while developing).
const defaultCancelRounds = 50

// TestCancelLeavesNothingBehind cancels applies of the test service at spread instants
// (first creations after a destroy, and replacements of its container by a changed
// input), on a machine loaded by a CPU burner, and after each round checks that every
// Docker object carrying the service's labels is known to SpawnIt: in the service's
// state, or reported on the service as a leftover. A round that needs the service
// deployed applies it to the end first (after a cancel, the service is never stuck),
// and every fourth round destroys it first, which must succeed and leave nothing with
// its labels. It ends with a destroy that must succeed and leave nothing.
func TestCancelLeavesNothingBehind(t *testing.T) {
	testservers.BuildTestImage(t)
	rounds := defaultCancelRounds
	if s := os.Getenv("SPAWNIT_CANCEL_ROUNDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("SPAWNIT_CANCEL_ROUNDS=%q: want a positive count", s)
		}
		rounds = n
	}
	ctx := context.Background()
	p := targetsPlatform(t, nil)
	a := Actor{Tenant: "stress", Subject: "tester"}
	port, _ := strconv.Atoi(testservers.FreePort(t))
	created, err := p.CreateService(ctx, a, apiv1.CreateService{
		Template: "httpecho",
		Name:     "cancel stress",
		Inputs:   map[string]any{"port": port, "greeting": "round 0"},
	})
	if err != nil {
		t.Fatal(err)
	}
	id := created.ID
	ref := engine.ServiceRef{Client: a.Tenant, Service: id}
	labels := []string{"spawnit.client=" + a.Tenant, "spawnit.service=" + id}
	t.Cleanup(func() { removeLabelled(t, labels) })

	stopBurner := burnCPU()
	defer stopBurner()

	cancelled, replacements, creations := 0, 0, 0
	for round := 1; round <= rounds; round++ {
		start := time.Now()
		kind := "replace"
		if round%4 == 1 {
			kind = "create"
			// A first creation: nothing deployed, nothing labelled.
			runToEnd(t, p, a, id, engine.OpDestroy, engine.StateSucceeded)
			if left := dockerLabelled(t, labels); len(left) > 0 {
				t.Fatalf("round %d: a successful destroy left %v", round, left)
			}
		} else if !stateHas(t, p, ref, "docker_container.httpecho") {
			// A replacement needs the container in the state: apply to the end, which
			// also shows the service is not stuck after the last cancel.
			runToEnd(t, p, a, id, engine.OpApply, engine.StateSucceeded)
		}
		if kind == "replace" {
			svc, err := p.GetService(ctx, a, id)
			if err != nil {
				t.Fatal(err)
			}
			inputs := map[string]any{"port": port, "greeting": fmt.Sprintf("round %d", round)}
			if _, err := p.UpdateInputs(ctx, a, id, inputs, svc.ETag); err != nil {
				t.Fatal(err)
			}
			replacements++
		} else {
			creations++
		}
		info := cancelApply(t, p, a, id, round)
		if info.State == engine.StateCancelled {
			cancelled++
		}
		checkAllKnown(t, p, a, ref, labels, fmt.Sprintf("round %d (%s, job %s %s)", round, kind, info.State, info.ID))
		t.Logf("round %d (%s): apply %s after %s, round took %s", round, kind, info.State, info.Duration().Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	}
	runToEnd(t, p, a, id, engine.OpDestroy, engine.StateSucceeded)
	if left := dockerLabelled(t, labels); len(left) > 0 {
		t.Fatalf("the final destroy succeeded but left %v", left)
	}
	t.Logf("%d rounds (%d first creations, %d replacements): %d applies ended cancelled", rounds, creations, replacements, cancelled)
}

// burnCPU keeps every CPU busy until the returned stop is called.
func burnCPU() (stop func()) {
	var done atomic.Bool
	var wg sync.WaitGroup
	for range runtime.NumCPU() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			x := uint64(1)
			for !done.Load() {
				for i := 0; i < 1_000_000; i++ {
					x = x*6364136223846793005 + 1442695040888963407
				}
			}
			_ = x
		}()
	}
	return func() { done.Store(true); wg.Wait() }
}

// cancelApply starts an apply and cancels it gracefully at an instant that depends on
// the round: on even rounds just after the provider starts creating the container
// (the narrow window where a cut create leaves an unrecorded container), on odd ones
// at a delay spread over the whole apply. It returns the job's final record.
func cancelApply(t *testing.T, p *Platform, a Actor, service string, round int) engine.JobInfo {
	t.Helper()
	ctx := context.Background()
	info, err := p.Run(ctx, a, service, RunRequest{Operation: engine.OpApply})
	if err != nil {
		t.Fatalf("round %d: apply: %v", round, err)
	}
	j, ok := p.eng.Job(info.ID)
	if !ok {
		t.Fatalf("round %d: job %s unknown", round, info.ID)
	}
	cancel := func() {
		if _, err := p.Cancel(ctx, a, service, info.ID, false); err != nil && !errors.Is(err, engine.ErrJobFinished) {
			t.Errorf("round %d: cancel: %v", round, err)
		}
	}
	if round%2 == 0 {
		jitter := time.Duration(round*7%60) * time.Millisecond
		for ev := range j.Follow(ctx, 0) {
			if ev.Type == engine.EventApplyStart && ev.Resource != nil && ev.Resource.Type == "docker_container" && ev.Resource.Action == "create" {
				time.AfterFunc(jitter, cancel)
				break
			}
		}
	} else {
		time.AfterFunc(time.Duration(round*397%3000)*time.Millisecond, cancel)
	}
	return waitJob(t, j, round)
}

func waitJob(t *testing.T, j *engine.Job, round int) engine.JobInfo {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	info, err := j.Wait(ctx)
	if err != nil {
		t.Fatalf("round %d: job %s %s did not end: %v (state %s)", round, info.ID, info.Operation, err, info.State)
	}
	return info
}

// runToEnd runs an operation to its end and checks its final state.
func runToEnd(t *testing.T, p *Platform, a Actor, service string, op engine.Operation, want engine.JobState) {
	t.Helper()
	info, err := p.Run(context.Background(), a, service, RunRequest{Operation: op})
	if err != nil {
		t.Fatalf("%s: %v", op, err)
	}
	j, ok := p.eng.Job(info.ID)
	if !ok {
		t.Fatalf("job %s unknown", info.ID)
	}
	info = waitJob(t, j, 0)
	if info.State != want {
		t.Fatalf("%s job %s ended %s, want %s: %s", op, info.ID, info.State, want, info.Error)
	}
}

// checkAllKnown fails when a Docker object with the service's labels is neither in
// its state nor among the leftovers the service reports, or when the service is
// left busy.
func checkAllKnown(t *testing.T, p *Platform, a Actor, ref engine.ServiceRef, labels []string, what string) {
	t.Helper()
	svc, err := p.GetService(context.Background(), a, ref.Service)
	if err != nil {
		t.Fatal(err)
	}
	if svc.Status.Busy {
		t.Fatalf("%s: the service is still busy after its job ended", what)
	}
	known := stateIDs(t, p, ref)
	for _, l := range svc.Status.Leftovers {
		known[l.ID] = true
	}
	for _, o := range dockerLabelled(t, labels) {
		if !known[o.id] {
			t.Fatalf("%s: %s %s (%s) carries the service's labels but is neither in its state nor reported as a leftover", what, o.kind, o.id, o.name)
		}
	}
}

// stateIDs reads the ids of every object of the service's state file (deposed ones
// included), straight from the store.
func stateIDs(t *testing.T, p *Platform, ref engine.ServiceRef) map[string]bool {
	t.Helper()
	ids := map[string]bool{}
	for _, r := range readState(t, p, ref) {
		for _, in := range r.Instances {
			ids[in.Attributes.ID] = true
		}
	}
	return ids
}

type rawResource struct {
	Mode      string `json:"mode"`
	Type      string `json:"type"`
	Name      string `json:"name"`
	Instances []struct {
		Attributes struct {
			ID string `json:"id"`
		} `json:"attributes"`
	} `json:"instances"`
}

func readState(t *testing.T, p *Platform, ref engine.ServiceRef) []rawResource {
	t.Helper()
	b, _, err := p.st.Get(context.Background(), engine.StateKey(ref))
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Resources []rawResource `json:"resources"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatalf("state of %s: %v", ref, err)
	}
	return st.Resources
}

// stateHas reports whether the service's state holds an object at address (type.name).
func stateHas(t *testing.T, p *Platform, ref engine.ServiceRef, address string) bool {
	t.Helper()
	for _, r := range readState(t, p, ref) {
		if r.Mode == "managed" && r.Type+"."+r.Name == address && len(r.Instances) > 0 {
			return true
		}
	}
	return false
}

// dockerLabelled lists the Docker objects carrying every label, with the docker CLI
// (independently of the code under test).
func dockerLabelled(t *testing.T, labels []string) []dockerObject {
	t.Helper()
	var out []dockerObject
	for kind, args := range map[string][]string{
		kindContainer: {"ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Names}}"},
		kindVolume:    {"volume", "ls", "--format", "{{.Name}} {{.Name}}"},
		kindNetwork:   {"network", "ls", "--no-trunc", "--format", "{{.ID}} {{.Name}}"},
	} {
		for _, l := range labels {
			args = append(args, "--filter", "label="+l)
		}
		b, err := exec.Command("docker", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("docker %s: %v: %s", strings.Join(args, " "), err, b)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if id, name, ok := strings.Cut(line, " "); ok {
				out = append(out, dockerObject{kind: kind, id: id, name: name})
			}
		}
	}
	return out
}

// removeLabelled removes whatever carries the labels (a failed run's remains).
func removeLabelled(t *testing.T, labels []string) {
	for _, o := range dockerLabelled(t, labels) {
		var args []string
		switch o.kind {
		case kindContainer:
			args = []string{"rm", "-f", "-v", o.id}
		default:
			args = []string{o.kind, "rm", o.id}
		}
		if out, err := exec.Command("docker", args...).CombinedOutput(); err != nil {
			t.Logf("cleanup: docker %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
}

// TestSweepDocker: labelled objects the state records stay; the others are reported,
// removed only when asked (containers before the volumes they hold), and an object
// already gone counts as removed.
func TestSweepDocker(t *testing.T) {
	img := testservers.BuildTestImage(t)
	api, err := dockerapi.New()
	if err != nil {
		t.Fatal(err)
	}
	ref := engine.ServiceRef{Client: "sweep", Service: fmt.Sprintf("svc-%d", time.Now().UnixNano()%1_000_000_000)}
	labels := []string{"spawnit.client=" + ref.Client, "spawnit.service=" + ref.Service}
	t.Cleanup(func() { removeLabelled(t, labels) })
	name := "spawnit-" + ref.Client + "-" + ref.Service
	docker := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("docker", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("docker %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	docker("volume", "create", "--label", labels[0], "--label", labels[1], name+"-data")
	// Created, never started: what a create cut by a cancel leaves.
	cid := docker("create", "--name", name, "--label", labels[0], "--label", labels[1], "-v", name+"-data:/data", img)
	ctx := context.Background()

	state := []engine.StateResource{{Address: "docker_volume.data", Type: "docker_volume", ID: name + "-data"}}
	found, err := sweepDocker(ctx, api, ref, state, false)
	if err != nil || len(found) != 1 || found[0].ID != cid || found[0].Kind != kindContainer || found[0].Name != name || found[0].Removed || found[0].Reason == "" {
		t.Fatalf("report only: %+v, %v", found, err)
	}
	// Nothing recorded: the container goes first, so the volume it holds can go too.
	found, err = sweepDocker(ctx, api, ref, nil, true)
	if err != nil || len(found) != 2 || !found[0].Removed || !found[1].Removed || found[1].Kind != kindVolume {
		t.Fatalf("remove: %+v, %v", found, err)
	}
	if left := dockerLabelled(t, labels); len(left) > 0 {
		t.Fatalf("left after the sweep: %v", left)
	}
	if err := removeObject(ctx, api, dockerObject{kindContainer, cid, name}); err != nil {
		t.Fatalf("removing a container already gone: %v", err)
	}
}
