//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package store_test

import (
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/spawnit/spawnit/pkg/store"
)

// TestFSFIFOIsNotAnObject: opening a FIFO for reading blocks until a writer appears;
// the store must answer at once instead.
func TestFSFIFOIsNotAnObject(t *testing.T) {
	root := t.TempDir()
	s := newFS(t, root)
	if err := syscall.Mkfifo(filepath.Join(root, "fifo"), 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		_, _, err := s.Get(t.Context(), "fifo")
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Get of a FIFO succeeded")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Get of a FIFO blocked")
	}
	list, err := s.List(t.Context(), "")
	if err != nil || len(list) != 0 {
		t.Fatalf("List = %+v, %v; want nothing", list, err)
	}
	if _, err := s.Put(t.Context(), "fifo", []byte("x"), store.PutOptions{IfNoneMatch: true}); err == nil {
		t.Fatal("create-only Put over a FIFO succeeded")
	}
}
