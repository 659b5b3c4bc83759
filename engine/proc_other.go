//go:build !linux

package engine

import (
	"errors"
	"os"
	"sync"
	"syscall"
)

// Off Linux there is no /proc to find tofu's process by its working directory, so the
// engine does not track it: a cancel reaches tofu when the job's context ends
// (terraform-exec then kills the process), not as an early SIGINT, and nothing is
// left to kill by process group. The server (spawnit serve) runs on Linux only; this
// fallback lets the package build, and a library user run jobs, elsewhere.
type procTracker struct {
	mu  sync.Mutex
	pid int
}

func (p *procTracker) get() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pid
}

func (p *procTracker) set(pid int) {
	p.mu.Lock()
	p.pid = pid
	p.mu.Unlock()
}

// watch finds nothing off Linux; it returns when stop is closed.
func (p *procTracker) watch(dir string, stop <-chan struct{}, found func(pid int)) {
	<-stop
}

// interrupt asks the process to stop (where the OS has such a signal).
func interrupt(pid int) {
	if p := findProcess(pid); p != nil {
		_ = p.Signal(os.Interrupt)
		_ = p.Release()
	}
}

// killGroup kills the process itself: without process groups to rely on, its
// children are not reached.
func killGroup(pid int) {
	if p := findProcess(pid); p != nil {
		_ = p.Kill()
		_ = p.Release()
	}
}

// killOrphans cannot recognise processes by their working directory off Linux: it
// kills nothing.
func killOrphans(dir string) []string { return nil }

// siblingAlive reports whether pid still runs. Without /proc the executable cannot be
// compared, so any live process counts: a job record is then left for its holder
// rather than risk freeing the lease and state lock of a job another process runs.
func siblingAlive(pid int) bool {
	p := findProcess(pid)
	if p == nil {
		return false
	}
	defer p.Release()
	err := p.Signal(syscall.Signal(0))
	return err == nil || !errors.Is(err, os.ErrProcessDone)
}

func findProcess(pid int) *os.Process {
	if pid <= 0 {
		return nil
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		return nil
	}
	return p
}
