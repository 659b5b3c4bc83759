package spawnit

import (
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"testing"
)

func TestValidateID(t *testing.T) {
	for _, id := range []string{"a", "c1", "svc-abc123", "0x", strings.Repeat("a", MaxIDLen)} {
		if err := ValidateID(id); err != nil {
			t.Errorf("%q rejected: %v", id, err)
		}
	}
	for _, id := range []string{"", "../x", "/etc", "a/b", "a\x00b", "A", "a.b", "-a", "a b", "с1" /* Cyrillic */, "c１", strings.Repeat("a", MaxIDLen+1)} {
		if err := ValidateID(id); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("%q accepted", id)
		}
	}
}

func TestServiceRef(t *testing.T) {
	ref := ServiceRef{Client: "acme", Service: "web"}
	if err := ref.Validate(); err != nil || ref.Tenant() != "acme" || ref.String() != "acme/web" {
		t.Fatalf("%v: %v", ref, err)
	}
	if err := (ServiceRef{Client: "acme", Service: "../x"}).Validate(); !errors.Is(err, ErrInvalidInput) || !strings.HasPrefix(err.Error(), "service: ") {
		t.Fatalf("bad service id: %v", err)
	}
	if err := (ServiceRef{Service: "web"}).Validate(); !errors.Is(err, ErrInvalidInput) || !strings.HasPrefix(err.Error(), "client: ") {
		t.Fatalf("empty tenant: %v", err)
	}
}

func TestValidateJobID(t *testing.T) {
	if err := ValidateJobID("0f8fad5b-d9cb-469f-a165-70867728950e"); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"", "0F8FAD5B-D9CB-469F-A165-70867728950E", "0f8fad5bd9cb469fa16570867728950e",
		"{0f8fad5b-d9cb-469f-a165-70867728950e}", "0f8fad5b-d9cb-469f-a165-70867728950g", "0f8fad5b-d9cb-469f-a165x70867728950e",
		"../../../../../../../../../../etc/passwd", strings.Repeat("a", 200)} {
		if err := ValidateJobID(id); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("%q accepted", id)
		}
	}
}

func TestTransitions(t *testing.T) {
	allowed := map[JobState][]JobState{
		StateQueued:     {StateRunning, StateCancelled, StateInterrupted, StateFailed},
		StateRunning:    {StateCancelling, StateSucceeded, StateFailed, StateCancelled, StateInterrupted},
		StateCancelling: {StateCancelled, StateFailed, StateSucceeded, StateInterrupted},
	}
	all := []JobState{StateQueued, StateRunning, StateCancelling, StateSucceeded, StateFailed, StateCancelled, StateInterrupted}
	for _, from := range all {
		if from.Final() != (len(allowed[from]) == 0) {
			t.Errorf("%s: Final() = %v", from, from.Final())
		}
		for _, to := range all {
			want := false
			for _, s := range allowed[from] {
				want = want || s == to
			}
			err := CheckTransition(from, to)
			if want != (err == nil) || (err != nil && !errors.Is(err, ErrInvalidTransition)) {
				t.Errorf("%s -> %s: %v, want allowed %v", from, to, err, want)
			}
		}
	}
}

func TestKinds(t *testing.T) {
	seen := map[Kind]bool{}
	for _, k := range Kinds() {
		if seen[k] {
			t.Errorf("%s listed twice", k)
		}
		seen[k] = true
		if _, ok := statuses[k]; !ok {
			t.Errorf("%s has no status", k)
		}
		if k.Code() != string(k) || k.Status() < 400 || k.Status() > 599 {
			t.Errorf("%s: code %q status %d", k, k.Code(), k.Status())
		}
	}
	if len(seen) != len(statuses) {
		t.Errorf("Kinds lists %d kinds, the status table %d", len(seen), len(statuses))
	}
	if Kind("no_such_kind").Status() != http.StatusInternalServerError || !Kind("no_such_kind").Internal() {
		t.Error("an unknown kind is not internal")
	}
	if !KindUnavailable.Internal() || KindNotFound.Internal() || KindShuttingDown.Internal() {
		t.Error("Internal is wrong")
	}
}

func TestErrorKindThroughWrapping(t *testing.T) {
	base := NewError(KindConflict, "store: precondition failed", "retry")
	stale := WrapError(KindPreconditionFailed, "stale", "read it again", base)
	err := fmt.Errorf("service acme/web: %w", stale)
	if !errors.Is(err, stale) || !errors.Is(err, base) {
		t.Fatal("errors.Is lost a sentinel")
	}
	if err.Error() != "service acme/web: stale: store: precondition failed" {
		t.Fatalf("text %q", err.Error())
	}
	var ke KindError
	if !errors.As(err, &ke) || ke.Kind() != KindPreconditionFailed || ke.PublicMessage() != "read it again" {
		t.Fatalf("the outermost kind does not answer: %v", ke)
	}

	var ve error = &ValidationError{Fields: []FieldError{{Field: "port", Code: "range", Reason: "too big"}, {Field: "a\nb", Reason: "bad"}}}
	err = fmt.Errorf("create: %w", ve)
	if !errors.As(err, &ke) || ke.Kind() != KindValidation || ke.PublicMessage() != "2 fields are invalid" || !errors.Is(err, ErrInvalidInput) {
		t.Fatalf("validation error: %v", ke)
	}
	if got := ve.Error(); got != `invalid input: port: too big; "a\nb": bad` {
		t.Fatalf("text %q", got)
	}
	if f, ok := ke.(*ValidationError).Field("port"); !ok || f.Code != "range" {
		t.Fatal("Field")
	}
}

// TestStandardLibraryOnly keeps the kernel importable by anything: it depends on the
// standard library alone.
func TestStandardLibraryOnly(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	if got := strings.Fields(string(out)); len(got) != 1 || got[0] != "github.com/spawnit/spawnit" {
		t.Fatalf("the kernel imports more than the standard library: %v", got)
	}
}
