package engine

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// outcomeOf feeds a recorded tofu -json stream through the parser into an outcome.
func outcomeOf(t *testing.T, name string) *outcome {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "testdata", "stream", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	o := &outcome{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, MaxLineBytes)
	for sc.Scan() {
		o.add(parseUILine(sc.Bytes()))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return o
}

// TestFailedApplyOutcome: an apply whose image could not be pulled (recorded from real
// tofu with no registry reachable) says so in one sentence, and counts what happened:
// the volume created, the image failed, the container never reached.
func TestFailedApplyOutcome(t *testing.T) {
	o := outcomeOf(t, "apply-image-pull-failed.jsonl")
	if got, want := o.cause(), "The image postgres:17-alpine could not be downloaded from any registry."; got != want {
		t.Fatalf("cause %q, want %q", got, want)
	}
	s := o.summary("apply")
	if s == nil || s.Add != 1 || s.Failed != 1 || s.NotReached != 1 || s.Change != 0 || s.Remove != 0 || s.Operation != "apply" {
		t.Fatalf("summary %+v, want 1 added, 1 failed, 1 not reached", s)
	}
}

// TestSucceededApplyOutcome: a complete apply counts every planned change as done.
func TestSucceededApplyOutcome(t *testing.T) {
	o := outcomeOf(t, "apply.jsonl")
	if c := o.cause(); c != "" {
		t.Fatalf("a successful apply has a cause: %q", c)
	}
	if s := o.summary("apply"); s == nil || s.Failed != 0 || s.NotReached != 0 || s.Add == 0 {
		t.Fatalf("summary %+v", s)
	}
}

func TestPulledImage(t *testing.T) {
	for text, want := range map[string]string{
		"Unable to read Docker image into resource: unable to pull image postgres:17-alpine: error pulling image postgres:17-alpine: Error response from daemon: Get ...": "postgres:17-alpine",
		"unable to pull image 127.0.0.1:5000/spawnit/redis:7: unauthorized":                                                                                               "127.0.0.1:5000/spawnit/redis:7",
		"error pulling image nginx":                             "nginx",
		"Unable to create container: port is already allocated": "",
	} {
		if got := pulledImage(text); got != want {
			t.Errorf("pulledImage(%.50q) = %q, want %q", text, got, want)
		}
	}
}

func TestCauseWithoutResource(t *testing.T) {
	o := &outcome{}
	o.add(Event{Type: EventDiagnostic, Diagnostic: &Diagnostic{Severity: "error", Summary: "Invalid value for variable."}})
	if got := o.cause(); !strings.HasPrefix(got, "OpenTofu stopped: Invalid value for variable") {
		t.Fatalf("cause %q", got)
	}
}
