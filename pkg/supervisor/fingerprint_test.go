package supervisor

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/internal/testservers"
	"github.com/spawnit/spawnit/pkg/dockerapi"
)

// labelledContainer runs a container of the healthy image with ref's labels and
// returns its name; it is removed when the test ends.
func labelledContainer(t *testing.T, ref engine.ServiceRef, image string, extra ...string) string {
	t.Helper()
	name := fmt.Sprintf("spawnit-%s-%s", ref.Client, ref.Service)
	args := append([]string{"run", "-d", "--name", name, "--label", LabelTenant + "=" + ref.Client,
		"--label", LabelService + "=" + ref.Service}, extra...)
	if out, err := testservers.DockerCommand(append(args, image)...).CombinedOutput(); err != nil {
		t.Fatalf("docker run: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		out, _ := testservers.DockerCommand("ps", "-aq", "--filter", "label="+LabelTenant+"="+ref.Client,
			"--filter", "label="+LabelService+"="+ref.Service).Output()
		if ids := strings.Fields(string(out)); len(ids) > 0 {
			_ = testservers.DockerCommand(append([]string{"rm", "-f"}, ids...)...).Run()
		}
	})
	return name
}

func docker1(t *testing.T, args ...string) {
	t.Helper()
	if out, err := testservers.DockerCommand(args...).CombinedOutput(); err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// TestFingerprintSeesEveryChange: the fingerprint that lets a sweep skip the plan is
// stable while nothing changes, and changes with every change Docker can make to a
// service's objects in place, events or not: a container's host configuration (docker
// update), its name, its running state, its networks, the tags of its image, and a
// volume removed.
func TestFingerprintSeesEveryChange(t *testing.T) {
	image := testservers.BuildHealthyImage(t)
	api, err := dockerapi.New()
	if err != nil {
		t.Fatal(err)
	}
	d := &docker{api: api}
	ctx := context.Background()
	ref := engine.ServiceRef{Client: fmt.Sprintf("fp%d", time.Now().UnixNano()%1e9), Service: "svc"}
	name := labelledContainer(t, ref, image, "--env", "A=1", "--restart", "unless-stopped")
	vol := name + "-data"
	docker1(t, "volume", "create", "--label", LabelTenant+"="+ref.Client, "--label", LabelService+"="+ref.Service, vol)
	t.Cleanup(func() { _ = testservers.DockerCommand("volume", "rm", "-f", vol).Run() })

	fp := func() string {
		t.Helper()
		inv, err := d.inventory(ctx)
		if err != nil {
			t.Fatal(err)
		}
		f, n, err := d.fingerprint(ctx, inv, ref)
		if err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Fatalf("%d containers inspected, want the service's one", n)
		}
		return f
	}
	last := fp()
	if again := fp(); again != last {
		t.Fatal("the fingerprint of an unchanged service changed")
	}
	other := engine.ServiceRef{Client: ref.Client, Service: "other"}
	labelledContainer(t, other, image)
	if again := fp(); again != last {
		t.Fatal("another service's container changed this one's fingerprint")
	}

	net := "spawnit-fp-" + ref.Client
	tag := "spawnit-test/fp-" + ref.Client + ":1"
	t.Cleanup(func() {
		// Cleanups run last first: the container, registered before, still uses the
		// network here, so it goes first.
		out, _ := testservers.DockerCommand("ps", "-aq", "--filter", "network="+net).Output()
		if ids := strings.Fields(string(out)); len(ids) > 0 {
			_ = testservers.DockerCommand(append([]string{"rm", "-f"}, ids...)...).Run()
		}
		_ = testservers.DockerCommand("network", "rm", net).Run()
		_ = testservers.DockerCommand("rmi", tag).Run()
	})
	for _, change := range []struct {
		what string
		cmd  [][]string
	}{
		{"restart policy updated", [][]string{{"update", "--restart", "on-failure:3", name}}},
		{"CPU shares updated", [][]string{{"update", "--cpu-shares", "512", name}}},
		{"renamed", [][]string{{"rename", name, name + "-x"}}},
		{"renamed back", [][]string{{"rename", name + "-x", name}}},
		{"stopped", [][]string{{"stop", "-t", "1", name}}},
		{"started again", [][]string{{"start", name}}},
		{"connected to a network", [][]string{{"network", "create", net}, {"network", "connect", net, name}}},
		{"its image tagged", [][]string{{"tag", image, tag}}},
		{"its volume removed", [][]string{{"volume", "rm", vol}}},
	} {
		for _, c := range change.cmd {
			docker1(t, c...)
		}
		now := fp()
		if now == last {
			t.Errorf("%s: the fingerprint did not change", change.what)
		}
		last = now
	}
}

// checkedPlatform is the fake platform whose checks report, per service, the
// resources given (in sync).
type checkedPlatform struct {
	*fakePlatform
	resources map[engine.ServiceRef][]engine.ResourceDrift
}

func (c *checkedPlatform) Check(ctx context.Context, ref engine.ServiceRef) (*engine.DriftReport, error) {
	r, err := c.fakePlatform.Check(ctx, ref)
	if r != nil {
		r.Resources = c.resources[ref]
	}
	return r, err
}

// TestSkippedSweepsNeverHideAChange: with Docker events off (a change the supervisor
// never hears of), sweeps skip the plan of a service whose Docker objects did not
// change, and a service whose container was changed in place (docker update) is fully
// checked at its next sweep. A service whose plan reads more than Docker shows (a
// data source) is fully checked every DeepInterval even though its objects did not
// change; one whose resources are all Docker objects waits for DockerDeepInterval, and
// its health is probed every DeepInterval meanwhile.
func TestSkippedSweepsNeverHideAChange(t *testing.T) {
	image := testservers.BuildHealthyImage(t)
	api, err := dockerapi.New()
	if err != nil {
		t.Fatal(err)
	}
	tenant := fmt.Sprintf("skip%d", time.Now().UnixNano()%1e9)
	changed := engine.ServiceRef{Client: tenant, Service: "changed"}
	steady := engine.ServiceRef{Client: tenant, Service: "steady"}
	reads := engine.ServiceRef{Client: tenant, Service: "reads"}
	f := newFake(0)
	dockerOnly := []engine.ResourceDrift{{Address: "docker_container.app", Type: "docker_container", Status: engine.ResourceInSync},
		{Address: "docker_image.app", Type: "docker_image", Status: engine.ResourceInSync}}
	p := &checkedPlatform{fakePlatform: f, resources: map[engine.ServiceRef][]engine.ResourceDrift{
		changed: dockerOnly, steady: dockerOnly,
		reads: append(dockerOnly, engine.ResourceDrift{Address: "data.http.release", Type: "http", Status: engine.ResourceInSync}),
	}}
	for _, ref := range []engine.ServiceRef{changed, steady, reads} {
		f.watched = append(f.watched, Watched{Ref: ref, Target: "docker", Intent: engine.IntentApplied})
		labelledContainer(t, ref, image)
	}
	s := New(Config{Interval: 300 * time.Millisecond, DeepInterval: 2 * time.Second, DockerDeepInterval: time.Hour,
		Docker: api}, p)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := s.Prime(ctx); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- s.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-errc; err != nil {
			t.Error(err)
		}
	}()
	// Several sweeps of every service, skipped.
	if !waitFor(0, patience, func() bool { return s.Stats().SkippedByFingerprint >= 6 }) {
		t.Fatalf("sweeps did not skip unchanged services: %+v", s.Stats())
	}
	if n := f.count(changed); n != 1 {
		t.Fatalf("an unchanged service was checked %d times, want once (the prime)", n)
	}
	docker1(t, "update", "--restart", "on-failure:2", fmt.Sprintf("spawnit-%s-%s", changed.Client, changed.Service))
	if !waitFor(0, patience, func() bool { return f.count(changed) >= 2 }) {
		t.Fatalf("a container updated in place was not checked: %+v", s.Stats())
	}
	if !waitFor(0, patience, func() bool { return f.count(reads) >= 2 }) {
		t.Fatalf("a service whose plan reads a data source was not checked after DeepInterval: %+v", s.Stats())
	}
	// Its plan is skipped, its health is not: probed every DeepInterval.
	if !waitFor(0, patience, func() bool { return f.healthCount(steady) >= 2 }) {
		t.Fatalf("the health of a service whose plans are skipped was not probed again: %+v", s.Stats())
	}
	if n := f.count(steady); n != 1 {
		t.Errorf("the unchanged Docker-only service was checked %d times, want once (the prime)", n)
	}
	if st := s.Stats(); st.Inspected == 0 || st.Inventories == 0 {
		t.Errorf("stats: %+v", st)
	}
}
