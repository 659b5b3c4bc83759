package engine

// What a SpawnIt process finds at start-up about the processes a dead one left: read
// once from /proc by RecoverInterrupted, never while jobs run (a running job holds its
// tofu process: see procHandle).

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// alive reports whether a process pid exists.
func alive(pid int) bool {
	_, err := os.Stat("/proc/" + strconv.Itoa(pid))
	return err == nil
}

// killOrphans SIGKILLs the process groups a dead SpawnIt process left running in the
// workdirs under dir. When the server dies, tofu dies with it (the engine starts it
// with Pdeathsig), but its providers and the commands of its provisioners are
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
