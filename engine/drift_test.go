package engine

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"
)

func TestClassifyRejectsBadJSON(t *testing.T) {
	if _, err := Classify([]byte("{not json"), IntentApplied, nil); err == nil {
		t.Fatal("want an error for a corrupt plan")
	}
}

var update = flag.Bool("update", false, "rewrite the want part of golden files")

// goldenCase holds a real plan (tofu show -json of a refresh-aware plan), the intent it
// is judged against, and the expected classification, in one file.
type goldenCase struct {
	Intent  IntentKind      `json:"intent"`
	Orphans []ResourceDrift `json:"orphans,omitempty"`
	Plan    json.RawMessage `json:"plan"`
	Want    *DriftReport    `json:"want"`
}

func TestClassifyGolden(t *testing.T) {
	files, err := filepath.Glob("../testdata/drift/*.golden.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	seen := map[ServiceStatus]bool{}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".golden.json")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var gc goldenCase
			if err := json.Unmarshal(raw, &gc); err != nil {
				t.Fatal(err)
			}
			got, err := Classify(gc.Plan, gc.Intent, gc.Orphans)
			if err != nil {
				t.Fatal(err)
			}
			seen[got.Status] = true
			if *update {
				gc.Want = got
				b, _ := json.MarshalIndent(gc, "", " ")
				if err := os.WriteFile(f, b, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if gc.Want == nil {
				t.Fatalf("golden file has no want; run go test ./engine -run TestClassifyGolden -update")
			}
			if !reflect.DeepEqual(got, gc.Want) {
				g, _ := json.MarshalIndent(got, "", " ")
				w, _ := json.MarshalIndent(gc.Want, "", " ")
				t.Errorf("classification differs\ngot:  %s\nwant: %s", g, w)
			}
		})
	}
	// The golden set must cover every status a check can produce.
	for _, s := range []ServiceStatus{StatusInSync, StatusDrifted, StatusMissing, StatusOrphaned, StatusPending, StatusUnknown} {
		if !seen[s] {
			t.Errorf("no golden case produces %s", s)
		}
	}
}

// The expectations below are stated independently of the golden files, so a wrong
// -update cannot bless a wrong classification.
func TestClassifyExpectations(t *testing.T) {
	cases := map[string]struct {
		status    ServiceStatus
		resources map[string]ResourceStatus
		paths     map[string]string // address -> one path that must be reported
	}{
		"in_sync":           {StatusInSync, map[string]ResourceStatus{"docker_container.app": ResourceInSync, "docker_volume.data": ResourceInSync}, nil},
		"missing_container": {StatusMissing, map[string]ResourceStatus{"docker_container.app": ResourceDeleted, "docker_volume.data": ResourceInSync}, nil},
		"missing_all":       {StatusMissing, map[string]ResourceStatus{"docker_container.app": ResourceDeleted, "docker_volume.data": ResourceDeleted}, nil},
		"drifted":           {StatusDrifted, map[string]ResourceStatus{"docker_container.app": ResourceModified}, map[string]string{"docker_container.app": "restart"}},
		"pending":           {StatusPending, map[string]ResourceStatus{"docker_container.app": ResourceInSync}, nil},
		"destroyed_in_sync": {StatusInSync, nil, nil},
		"orphaned_in_state": {StatusOrphaned, map[string]ResourceStatus{"docker_container.app": ResourceUnexpected}, nil},
		"never_applied":     {StatusPending, nil, nil},
		"unknown_errored":   {StatusUnknown, nil, nil},
	}
	for name, want := range cases {
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile("../testdata/drift/" + name + ".golden.json")
			if err != nil {
				t.Fatal(err)
			}
			var gc goldenCase
			if err := json.Unmarshal(raw, &gc); err != nil {
				t.Fatal(err)
			}
			got, err := Classify(gc.Plan, gc.Intent, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != want.status {
				t.Fatalf("status = %s, want %s (%+v)", got.Status, want.status, got.Resources)
			}
			byAddr := map[string]ResourceDrift{}
			for _, r := range got.Resources {
				byAddr[r.Address] = r
			}
			for addr, st := range want.resources {
				if byAddr[addr].Status != st {
					t.Errorf("%s: status %q, want %q", addr, byAddr[addr].Status, st)
				}
			}
			for addr, p := range want.paths {
				found := false
				for _, got := range byAddr[addr].Paths {
					found = found || got == p
				}
				if !found {
					t.Errorf("%s: paths %v do not include %q", addr, byAddr[addr].Paths, p)
				}
			}
		})
	}
}

func TestClassifyOrphansFromSnapshot(t *testing.T) {
	plan := &plan{Plan: &tfjson.Plan{}}
	r := classify(plan, IntentDestroyed, []ResourceDrift{{Address: "docker_volume.data", Type: "docker_volume"}})
	if r.Status != StatusOrphaned || len(r.Resources) != 1 || r.Resources[0].Status != ResourceUnexpected {
		t.Fatalf("got %+v", r)
	}
	// Orphans do not matter when the intent is applied.
	if r := classify(plan, IntentApplied, []ResourceDrift{{Address: "x"}}); r.Status != StatusInSync {
		t.Fatalf("applied intent with an empty plan: %s", r.Status)
	}
}

func TestChangedPaths(t *testing.T) {
	before := map[string]any{"a": 1.0, "b": map[string]any{"c": "x", "d": []any{1.0, 2.0}}, "e": "same"}
	after := map[string]any{"a": 2.0, "b": map[string]any{"c": "x", "d": []any{1.0, 3.0}}, "e": "same", "f": true}
	got := changedPaths(before, after)
	want := []string{"a", "b.d[1]", "f"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

// TestAddLeftovers: objects found outside the state are unexpected resources; they make
// a deployed service drifted (unless it is missing resources) and a destroyed or never
// applied one orphaned; a check that failed stays unknown.
func TestAddLeftovers(t *testing.T) {
	found := []Leftover{{Kind: "volume", ID: "spawnit-a-b-extra", Name: "spawnit-a-b-extra", Reason: leftoverReason}}
	for _, c := range []struct {
		intent   IntentKind
		from, to ServiceStatus
	}{
		{IntentApplied, StatusInSync, StatusDrifted},
		{IntentApplied, StatusPending, StatusDrifted},
		{IntentApplied, StatusMissing, StatusMissing},
		{IntentDestroyed, StatusInSync, StatusOrphaned},
		{IntentNone, StatusPending, StatusOrphaned},
		{IntentApplied, StatusUnknown, StatusUnknown},
	} {
		r := &DriftReport{Status: c.from, Intent: c.intent, Resources: []ResourceDrift{}}
		addLeftovers(r, found)
		if r.Status != c.to {
			t.Errorf("%s service, %s: became %s, want %s", c.intent, c.from, r.Status, c.to)
		}
		if c.to == StatusUnknown {
			continue
		}
		if len(r.Resources) != 1 || r.Resources[0].Status != ResourceUnexpected || r.Resources[0].Leftover == nil || r.Resources[0].Leftover.ID != "spawnit-a-b-extra" || r.Resources[0].Type != "volume" {
			t.Errorf("resources %+v", r.Resources)
		}
	}
	r := &DriftReport{Status: StatusInSync, Intent: IntentApplied}
	if addLeftovers(r, nil); r.Status != StatusInSync || len(r.Resources) != 0 {
		t.Errorf("nothing found: %+v", r)
	}
}
