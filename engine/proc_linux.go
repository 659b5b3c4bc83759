package engine

import (
	"bytes"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// procTracker finds the tofu process a job started, so the engine can send it SIGINT
// (graceful cancel) and kill its whole process group (forced cancel, and cleanup of
// provider processes left behind). terraform-exec starts tofu in its own process group
// (Setpgid) but does not expose the process, so the engine finds it as its own child
// whose working directory is the job's workdir: workdirs are unique per service and a
// service runs one job at a time, so the match is exact.
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

// watch looks for the child running in dir until stop is closed, calling found for each
// new process it sees (tofu may run more than one command in a step).
func (p *procTracker) watch(dir string, stop <-chan struct{}, found func(pid int)) {
	self := os.Getpid()
	t := time.NewTicker(25 * time.Millisecond)
	defer t.Stop()
	for {
		cur := p.get()
		if cur == 0 || !alive(cur) {
			if pid := findChild(self, dir); pid != 0 && pid != cur {
				p.set(pid)
				found(pid)
			}
		}
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}

func alive(pid int) bool {
	_, err := os.Stat("/proc/" + strconv.Itoa(pid))
	return err == nil
}

func findChild(parent int, dir string) int {
	d, err := os.Open("/proc")
	if err != nil {
		return 0
	}
	defer d.Close()
	names, _ := d.Readdirnames(-1)
	for _, n := range names {
		pid, err := strconv.Atoi(n)
		if err != nil {
			continue
		}
		if ppidOf(pid) != parent {
			continue
		}
		if cwd, err := os.Readlink("/proc/" + n + "/cwd"); err == nil && cwd == dir {
			return pid
		}
	}
	return 0
}

func ppidOf(pid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// comm may contain spaces and parentheses: fields start after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(string(f[1]))
	return ppid
}

// interrupt sends SIGINT to the tofu process only: tofu then asks its providers to stop
// and saves state.
func interrupt(pid int) {
	if pid > 0 {
		_ = syscall.Kill(pid, syscall.SIGINT)
	}
}

// killGroup SIGKILLs the process group led by pid (tofu and its providers).
func killGroup(pid int) {
	if pid > 0 {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
	}
}
