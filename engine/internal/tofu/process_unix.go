//go:build unix

package tofu

import (
	"os"
	"os/exec"
	"syscall"
)

// interrupt sends SIGINT to tofu only: tofu then asks its providers to stop and saves
// state. Its providers would take a signal to the group as their own, and stop at once.
func interrupt(p *os.Process) { _ = p.Signal(syscall.SIGINT) }

// killGroup SIGKILLs the process group tofu leads (it was started with Setpgid). The
// group outlives tofu while a provider it started still runs, and its id is not reused
// meanwhile, so it is killed also once tofu has exited.
func killGroup(p *os.Process, exited bool) {
	if p.Pid > 0 {
		_ = syscall.Kill(-p.Pid, syscall.SIGKILL)
	}
}

func killedBySignal(ee *exec.ExitError) bool {
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() != syscall.SIGINT
}
