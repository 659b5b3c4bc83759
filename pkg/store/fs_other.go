//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package store

import "os"

const openReadFlags = os.O_RDONLY

// lockFile is a no-op where flock(2) is missing: the in-process mutex still makes
// conditional writes race-free within one process, but not across processes.
func lockFile(*os.Root, string) (func(), error) { return func() {}, nil }

// syncDir is a no-op: directories cannot be fsynced portably outside Unix.
func syncDir(*os.Root, string) error { return nil }
