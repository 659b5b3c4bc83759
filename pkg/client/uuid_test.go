package client

import (
	"strings"
	"testing"

	"github.com/spawnit/spawnit"
)

func TestNewUUID(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		u := newUUID()
		if err := spawnit.ValidateJobID(u); err != nil || u[14] != '4' || !strings.ContainsRune("89ab", rune(u[19])) || seen[u] {
			t.Fatalf("%q is not a fresh version 4 UUID: %v", u, err)
		}
		seen[u] = true
	}
}
