package api_test

import (
	"testing"
	"time"
)

// waitFor polls cond until it holds, failing the test after a while: long enough for
// what waits on OpenTofu (a check, then an apply) on a loaded CI machine.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
