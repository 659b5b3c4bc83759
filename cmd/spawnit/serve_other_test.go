//go:build !linux

package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestServeRefusesOffLinux: spawnit serve says it runs on Linux only and exits 1.
func TestServeRefusesOffLinux(t *testing.T) {
	var stderr bytes.Buffer
	code := run(context.Background(), []string{"serve", "--listen", "127.0.0.1:0"}, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "spawnit serve: the server runs on Linux only") {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
}
