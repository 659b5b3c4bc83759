package api_test

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/internal/testservers"
	"github.com/spawnit/spawnit/pkg/apiv1"
)

// TestUnmanagedLeftoversReported: a Docker object carrying a service's labels that no
// state records is reported by a drift check, through the API: a resource
// "unexpected" (drifted) while the service is deployed, and the service orphaned once
// it is destroyed (a container recreated by hand).
func TestUnmanagedLeftoversReported(t *testing.T) {
	img := testservers.BuildTestImage(t)
	h := newHarness(t, harnessOptions{realTofu: true})
	svc := h.createService("", "httpecho", map[string]any{})
	labels := []string{"--label", "spawnit.client=tenant-a", "--label", "spawnit.service=" + svc.ID}
	name := "spawnit-tenant-a-" + svc.ID
	docker := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("docker", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("docker %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	t.Cleanup(func() {
		_ = exec.Command("docker", "rm", "-f", name).Run()
		_ = exec.Command("docker", "volume", "rm", "-f", name+"-data", name+"-extra").Run()
	})
	check := func(want engine.ServiceStatus, kind, id string) {
		t.Helper()
		j := h.run("", svc.ID, "drift", nil)
		h.wait("", svc.ID, j.ID, engine.StateSucceeded)
		// The service's report is recorded once the job has ended: wait for this one.
		var d apiv1.Drift
		found := false
		for deadline := time.Now().Add(time.Minute); ; {
			h.must(200, req{method: "GET", path: "/api/v1/services/" + svc.ID + "/drift"}).decode(t, &d)
			for _, r := range d.Resources {
				if r.Leftover != nil && r.Leftover.Kind == kind && r.Leftover.ID == id && r.Status == engine.ResourceUnexpected && r.Leftover.Reason != "" {
					found = true
				}
			}
			if d.Status == want && found {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("drift %s with resources %+v; want %s with the %s %s unexpected", d.Status, d.Resources, want, kind, id)
			}
			time.Sleep(100 * time.Millisecond)
		}
		var got apiv1.Service
		h.must(200, req{method: "GET", path: "/api/v1/services/" + svc.ID}).decode(t, &got)
		if got.Status.Drift != want {
			t.Fatalf("the service shows drift %s, want %s", got.Status.Drift, want)
		}
	}

	j := h.run("", svc.ID, "apply", nil)
	h.wait("", svc.ID, j.ID, engine.StateSucceeded)
	// Deployed: a volume made by hand with the service's labels.
	docker(append(append([]string{"volume", "create"}, labels...), name+"-extra")...)
	check(engine.StatusDrifted, "volume", name+"-extra")

	// Destroyed (the destroy removes what carries the labels), then the container made
	// again by hand.
	j = h.run("", svc.ID, "destroy", nil)
	h.wait("", svc.ID, j.ID, engine.StateSucceeded)
	cid := docker(append(append([]string{"create", "--name", name}, labels...), img)...)
	check(engine.StatusOrphaned, "container", cid)
}
