package engine

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
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

// killOrphans SIGKILLs the process groups a dead SpawnIt process left running in the
// workdirs under dir. When the server dies, tofu dies with it (terraform-exec starts
// it with Pdeathsig), but its providers and the commands of its provisioners are
// reparented and live on, holding provider connections and running local-exec commands
// no job owns. They are recognised by their working directory (a workdir, which only
// the engine's tofu runs in) and by their process group having lost its leader (tofu,
// which leads the group it was started in): a live tofu's group is never touched.
// It returns what it killed, for the log.
func killOrphans(dir string) []string {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var killed []string
	groups := map[int]bool{}
	for _, ent := range ents {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cwd, err := os.Readlink("/proc/" + ent.Name() + "/cwd")
		if err != nil || (cwd != dir && !strings.HasPrefix(cwd, dir+string(os.PathSeparator))) {
			continue
		}
		pgid, err := syscall.Getpgid(pid)
		if err != nil || pgid == syscall.Getpgrp() || groupLeaderAlive(pgid) {
			continue
		}
		cmd, _ := os.ReadFile("/proc/" + ent.Name() + "/cmdline")
		killed = append(killed, fmt.Sprintf("%d %s", pid, strings.TrimSpace(strings.ReplaceAll(string(cmd), "\x00", " "))))
		if !groups[pgid] {
			groups[pgid] = true
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
		}
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	return killed
}

// groupLeaderAlive reports whether the leader of process group pgid still runs (and
// still leads it: a reused pid would lead another group, or none).
func groupLeaderAlive(pgid int) bool {
	g, err := syscall.Getpgid(pgid)
	if err != nil || g != pgid {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pgid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	f := bytes.Fields(b[i+1:])
	return len(f) > 0 && string(f[0]) != "Z"
}

// siblingAlive reports whether pid is a live process running the same executable as
// this one: another SpawnIt process on this host, whose jobs are not interrupted. A
// pid reused by another program does not count.
func siblingAlive(pid int) bool {
	if pid <= 0 || !alive(pid) {
		return false
	}
	self, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return false
	}
	exe, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
	return err == nil && exe == self
}
