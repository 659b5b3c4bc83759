package supervisor

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/internal/testservers"
	"github.com/spawnit/spawnit/pkg/dockerapi"
)

// TestEventsOfTheGivenEngine: the supervisor follows the Docker events of the engine it
// is given (the docker target's, here over TCP with TLS and a client certificate), not
// the one of the process's DOCKER_HOST, which points nowhere: a container created for a
// watched service there makes the service checked.
func TestEventsOfTheGivenEngine(t *testing.T) {
	certs := testservers.NewDockerCerts(t)
	fwd := testservers.NewDockerForwarder(t, certs.Server)
	image := testservers.BuildHealthyImage(t)
	t.Setenv("DOCKER_HOST", "unix:///nonexistent/spawnit-process.sock")
	api, err := dockerapi.FromEnv(dockerapi.Overlay(map[string]string{
		"DOCKER_HOST": fwd.Host(), "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": certs.Dir}))
	if err != nil {
		t.Fatal(err)
	}

	f := newFake(0)
	ref := engine.ServiceRef{Client: "acme", Service: fmt.Sprintf("events-%d", time.Now().UnixNano())}
	f.watched = []Watched{{Ref: ref, Target: "docker", Intent: engine.IntentApplied}}
	// A long interval: the service's first periodic check is not due during the test.
	s := New(Config{Interval: time.Hour, Debounce: 10 * time.Millisecond, DockerEvents: true, Docker: api}, f)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-errc; err != nil {
			t.Error(err)
		}
	}()
	if !waitFor(0, patience, func() bool { return watched(s, ref)() && fwd.Requests("GET /events") > 0 }) {
		t.Fatalf("the supervisor did not ask for events through %s (requests: %d)", fwd.Host(), fwd.Requests(""))
	}

	// The engine starts sending events to a subscriber a moment after it answered the
	// request, unseen from here: a container is created again until one was heard of.
	eventCheck := func() bool { return s.Stats().EventChecks > 0 && f.count(ref) > 0 }
	for i := 0; !eventCheck(); i++ {
		if i == 5 {
			t.Fatalf("no event check after %d containers of %s were created", i, ref)
		}
		name := fmt.Sprintf("spawnit-%s-%s-%d", ref.Client, ref.Service, i)
		if out, err := testservers.DockerCommand("create", "--name", name,
			"--label", LabelTenant+"="+ref.Client, "--label", LabelService+"="+ref.Service, image).CombinedOutput(); err != nil {
			t.Fatalf("docker create: %v\n%s", err, out)
		}
		t.Cleanup(func() { _ = testservers.DockerCommand("rm", "-f", name).Run() })
		waitFor(0, patience/5, eventCheck)
	}
}
