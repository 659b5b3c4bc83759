package engine

import (
	"strings"
	"sync"
	"testing"

	"github.com/spawnit/spawnit/engine/internal/tofu"
)

func TestLockedProviders(t *testing.T) {
	lock := `# This file is maintained automatically by "tofu init".
# Manual edits may be lost in future updates.

provider "registry.opentofu.org/kreuzwerker/docker" {
  version     = "4.6.0"
  constraints = "4.6.0"
  hashes = [
    "h1:abc=",
  ]
}

provider "registry.opentofu.org/hashicorp/random" {
  version = "3.6.2"
}
`
	got := lockedProviders([]byte(lock))
	if len(got) != 2 || got["registry.opentofu.org/kreuzwerker/docker"] != "4.6.0" || got["registry.opentofu.org/hashicorp/random"] != "3.6.2" {
		t.Fatalf("locked providers %v", got)
	}
	if got := lockedProviders(nil); len(got) != 0 {
		t.Fatalf("an empty lock file gave %v", got)
	}
}

// TestPlanHoldsItsProviders: a plan job and a drift check start the Docker provider
// once and run tofu attached to it; the provider is stopped when the job ends; the
// plan means the same (no changes, then the one change made); an apply keeps tofu's own
// providers.
func TestPlanHoldsItsProviders(t *testing.T) {
	h := newHarness(t, false, nil)
	var mu sync.Mutex
	held := map[string][]*tofu.ProviderServer{} // by job id
	h.e.runner.onHold = func(j *Job, servers map[string]*tofu.ProviderServer) {
		mu.Lock()
		defer mu.Unlock()
		for addr, s := range servers {
			if !strings.HasSuffix(addr, "kreuzwerker/docker") {
				t.Errorf("held provider %s", addr)
			}
			held[j.ID()] = append(held[j.ID()], s)
		}
	}
	heldBy := func(info JobInfo) []*tofu.ProviderServer {
		mu.Lock()
		defer mu.Unlock()
		return held[info.ID]
	}
	ref := ServiceRef{Client: "acme", Service: "held"}
	name, port := h.echoService(ref)
	h.setGreeting(ref, name, port, "a")
	apply := h.run(h.e.Apply, ref, StateSucceeded)
	if len(heldBy(apply)) != 0 {
		t.Fatal("an apply held its providers")
	}
	plan := h.run(h.e.Plan, ref, StateSucceeded)
	servers := heldBy(plan)
	if len(servers) != 1 {
		t.Fatalf("the plan held %d providers, want the Docker provider", len(servers))
	}
	if !servers[0].Exited() {
		t.Fatal("the plan's provider still runs after the job")
	}
	if p := plan.Plan; p == nil || p.Add+p.Change+p.Destroy != 0 {
		t.Fatalf("plan of an unchanged service: %+v", p)
	}
	h.setGreeting(ref, name, port, "b")
	plan = h.run(h.e.Plan, ref, StateSucceeded)
	if p := plan.Plan; p == nil || p.Add+p.Destroy == 0 {
		t.Fatalf("plan after a change: %+v", p)
	}
	drift := h.run(h.e.CheckDrift, ref, StateSucceeded)
	if len(heldBy(drift)) != 1 {
		t.Fatal("the drift check did not hold its provider")
	}
}
