package engine

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestParseStateResources(t *testing.T) {
	show := `{"format_version":"1.0","terraform_version":"1.10.0","values":{"root_module":{
	  "resources":[
	    {"address":"docker_container.web","mode":"managed","type":"docker_container","name":"web","values":{"id":"new"}},
	    {"address":"docker_container.web","mode":"managed","type":"docker_container","name":"web","deposed_key":"00000001","values":{"id":"old"}},
	    {"address":"data.docker_network.host","mode":"data","type":"docker_network","name":"host","values":{"id":"net"}}
	  ],
	  "child_modules":[{"address":"module.m","resources":[
	    {"address":"module.m.docker_volume.v","mode":"managed","type":"docker_volume","name":"v","values":{"id":"vol"}}
	  ]}]}}}`
	got, err := parseStateResources([]byte(show))
	if err != nil {
		t.Fatal(err)
	}
	want := []StateResource{
		{Address: "docker_container.web", Type: "docker_container", ID: "new"},
		{Address: "docker_container.web", Type: "docker_container", ID: "old", Deposed: true},
		{Address: "module.m.docker_volume.v", Type: "docker_volume", ID: "vol"},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	// No state yet: tofu prints the format version alone.
	if got, err := parseStateResources([]byte(`{"format_version":"1.0"}`)); err != nil || len(got) != 0 {
		t.Fatalf("empty state: %v, %v", got, err)
	}
	if _, err := parseStateResources([]byte(`not json`)); err == nil {
		t.Fatal("garbage accepted")
	}
}

func TestRecordLeftovers(t *testing.T) {
	j := newJob(JobInfo{ID: "j"})
	id := strings.Repeat("ab", 32)
	j.recordLeftovers([]Leftover{{Kind: "container", ID: id, Name: "spawnit-a-b", Removed: true}})
	j.recordLeftovers([]Leftover{{Kind: "container", ID: id, Name: "spawnit-a-b", Removed: true}, {Kind: "volume", ID: "v", Name: "v", Reason: "in use"}})
	info := j.Info()
	if len(info.Leftovers) != 2 || !info.Leftovers[0].Removed || info.Leftovers[1].Reason != "in use" {
		t.Fatalf("job leftovers: %+v", info.Leftovers)
	}
	evs := j.Events(0)
	last := evs[len(evs)-1]
	if last.Type != EventLeftovers || last.Level != "error" || len(last.Leftovers) != 2 ||
		!strings.Contains(last.Message, "container abababababab (spawnit-a-b)") || !strings.Contains(last.Message, "volume v: in use") {
		t.Fatalf("event: %+v", last)
	}
}

// TestSweepAroundDestroy: a destroy sweeps before tofu (with the state's objects) and
// after it (with none); what the sweep cannot remove fails the destroy with its name
// and reason and stays on the service's intent until a later sweep removes it. A
// successful apply does not sweep unless leftovers are recorded.
func TestSweepAroundDestroy(t *testing.T) {
	h := newHarness(t, false, nil)
	ref := ServiceRef{Client: "acme", Service: "sweep"}
	h.echoService(ref)

	var mu sync.Mutex
	var calls [][]StateResource
	stuck := true
	sweep := WithSweep(func(ctx context.Context, state []StateResource, remove bool) ([]Leftover, error) {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, state)
		if len(state) > 0 || !remove {
			return nil, nil
		}
		l := Leftover{Kind: "container", ID: "c1", Name: "left"}
		if stuck {
			l.Reason = "test: still in use"
		} else {
			l.Removed = true
		}
		return []Leftover{l}, nil
	})
	run := func(op func(context.Context, ServiceRef, ...RunOption) (*Job, error), want JobState) JobInfo {
		t.Helper()
		j, err := op(context.Background(), ref, sweep)
		if err != nil {
			t.Fatal(err)
		}
		return h.wait(j, want)
	}
	run(h.e.Apply, StateSucceeded)
	if len(calls) != 0 {
		t.Fatalf("a successful apply swept: %v", calls)
	}
	info := run(h.e.Destroy, StateFailed)
	if len(calls) != 2 || len(calls[0]) == 0 || len(calls[1]) != 0 {
		t.Fatalf("destroy sweeps: %+v (want one with the state's objects, then one with none)", calls)
	}
	if !strings.Contains(info.Error, "container c1 (left): test: still in use") || len(info.Leftovers) != 1 {
		t.Fatalf("destroy error %q, leftovers %+v", info.Error, info.Leftovers)
	}
	in, err := h.e.Intent(context.Background(), ref)
	if err != nil || in.Kind != IntentDestroyed || len(in.Leftovers) != 1 || in.Leftovers[0].ID != "c1" {
		t.Fatalf("intent after the incomplete destroy: %+v, %v", in, err)
	}
	stuck = false
	info = run(h.e.Destroy, StateSucceeded)
	if len(info.Leftovers) != 1 || !info.Leftovers[0].Removed {
		t.Fatalf("second destroy's leftovers: %+v", info.Leftovers)
	}
	if in, _ := h.e.Intent(context.Background(), ref); len(in.Leftovers) != 0 {
		t.Fatalf("leftovers kept after they were removed: %+v", in.Leftovers)
	}
}
