//go:build linux

package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spawnit/spawnit/internal/testservers"
)

// TestServeDockerTarget: the docker target's --target-env file names its engine (over
// TCP here) while the server's own DOCKER_HOST points nowhere; the server watches that
// engine: the supervisor follows its events.
func TestServeDockerTarget(t *testing.T) {
	tofu := testservers.Tofu(t)
	fwd := testservers.NewDockerForwarder(t, nil)
	t.Setenv("DOCKER_HOST", "unix:///nonexistent/spawnit-process.sock")
	dir := t.TempDir()
	envFile := filepath.Join(dir, "docker.env")
	if err := os.WriteFile(envFile, []byte("DOCKER_HOST="+fwd.Host()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := parseServeFlags([]string{"--listen", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data"), "--tofu", tofu,
		"--shutdown-grace", "5s", "--target-env", "docker=" + envFile}, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	a, err := newApp(context.Background(), cfg, slog.New(slog.NewJSONHandler(&logs, nil)), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- a.serve(ctx) }()
	deadline := time.Now().Add(time.Minute)
	for fwd.Requests("GET /events") == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the supervisor did not follow the events of %s\nlogs: %s", fwd.Host(), logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), `"docker_host":"`+fwd.Host()+`"`) {
		t.Fatalf("the docker target's engine is not logged at start-up: %s", logs.String())
	}
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines to log into.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
