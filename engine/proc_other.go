//go:build !linux

package engine

import (
	"errors"
	"os"
	"syscall"
)

// Off Linux there is no /proc to find what a dead SpawnIt process left behind, and tofu
// does not die with the server (no Pdeathsig): the start-up recovery still marks its jobs
// interrupted and frees their leases, but kills no leftover process. (A running job
// holds its tofu process on every system: see procHandle.)

// alive reports whether a process pid may still run. Where the system cannot say (a
// signal 0 it does not support, a process of another user), it counts as alive.
func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	defer p.Release()
	err = p.Signal(syscall.Signal(0))
	return err == nil || !errors.Is(err, os.ErrProcessDone)
}

// killOrphans cannot recognise processes by their working directory off Linux: it
// kills nothing.
func killOrphans(dir string) []string { return nil }

// siblingAlive reports whether pid still runs. Without /proc the executable cannot be
// compared, so any live process counts: a job record is then left for its holder
// rather than risk freeing the lease and state lock of a job another process runs.
func siblingAlive(pid int) bool { return alive(pid) }
