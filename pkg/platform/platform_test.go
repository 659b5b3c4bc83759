package platform

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/spawnit/spawnit/catalog"
	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/pkg/store"
)

func TestStateHasResources(t *testing.T) {
	for state, want := range map[string]bool{
		`{"version":4,"resources":[]}`: false,
		`{"version":4}`:                false,
		`{"resources":[{"mode":"data","type":"x","instances":[{}]}]}`:    false,
		`{"resources":[{"mode":"managed","type":"x","instances":[]}]}`:   false,
		`{"resources":[{"mode":"managed","type":"x","instances":[{}]}]}`: true,
		`not json`: true,
	} {
		if got := stateHasResources([]byte(state)); got != want {
			t.Errorf("%s: %v, want %v", state, got, want)
		}
	}
}

func TestAuditKey(t *testing.T) {
	at := time.Date(2025, 11, 25, 17, 15, 0, 123456789, time.UTC)
	k := auditKey(at)
	if !regexp.MustCompile(`^audit/2025-11-25/20251125T171500\.123456789Z-[0-9a-f]{12}\.json$`).MatchString(k) {
		t.Fatalf("audit key %q", k)
	}
	if err := store.ValidateKey(k); err != nil {
		t.Fatal(err)
	}
	if auditKey(at) == k {
		t.Fatal("two entries at the same instant share a key")
	}
}

func TestErrorKind(t *testing.T) {
	for err, want := range map[error]string{
		fmt.Errorf("x: %w", catalog.ErrServiceNotFound): "not_found",
		&catalog.ValidationError{}:                      "invalid_input",
		fmt.Errorf("x: %w", ErrBusy):                    "busy",
		fmt.Errorf("x: %w", catalog.ErrConflict):        "conflict",
		fmt.Errorf("x: %w", store.ErrUnavailable):       "unavailable",
		fmt.Errorf("x: %w", engine.ErrLocked):           "locked",
		errors.New("boom"):                              "internal",
		context.Canceled:                                "cancelled",
	} {
		if got := ErrorKind(err); got != want {
			t.Errorf("%v: %s, want %s", err, got, want)
		}
	}
}

func TestValidateIdempotencyKey(t *testing.T) {
	for key, ok := range map[string]bool{
		"a": true, "3f1c-retry_1/ok": true, "": false, "é": false, "a\nb": false,
		string(make([]byte, 256)): false,
	} {
		if err := ValidateIdempotencyKey(key); (err == nil) != ok {
			t.Errorf("%q: %v", key, err)
		}
	}
	a := idempotencyKey(engine.ServiceRef{Client: "c", Service: "s"}, "../../x")
	if err := store.ValidateKey(a); err != nil {
		t.Fatalf("%s: %v", a, err)
	}
}

func TestInputNames(t *testing.T) {
	got := inputNames(map[string]any{"port": 1, "spawnit_client_id": "x", "bad key\n": 1, "../x": 2})
	if fmt.Sprint(got) != "[port spawnit_client_id]" {
		t.Fatalf("%v", got)
	}
}
