//go:build unix

package engine

import (
	"bufio"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spawnit/spawnit/engine/internal/tofu"
)

// fakeTofu is a workspace whose "tofu" is a shell script, for what the runner does with
// the process it holds: no tofu needed.
func fakeTofu(t *testing.T, script string) (*runner, *workspace) {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "tofu")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"+script+"\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	ws := &workspace{ref: ServiceRef{Client: "c", Service: "s"}, dir: dir,
		tf: &tofu.Tofu{Path: bin, Dir: dir, Env: []string{"PATH=" + os.Getenv("PATH")}}}
	return &runner{cfg: &Config{}}, ws
}

// runFake runs the script for j in the background; lines yields what it prints, and
// done what runTofu returned.
func runFake(t *testing.T, r *runner, ws *workspace, j *Job) (lines <-chan string, done <-chan error) {
	t.Helper()
	pr, pw := io.Pipe()
	ch, errc := make(chan string, 16), make(chan error, 1)
	go func() {
		defer close(ch)
		s := bufio.NewScanner(pr)
		for s.Scan() {
			ch <- s.Text()
		}
	}()
	go func() {
		err := r.runTofu(j, ws, []string{"apply"}, pw)
		pw.Close()
		errc <- err
	}()
	return ch, errc
}

func TestCancelInterruptsTheTofuTheJobHolds(t *testing.T) {
	r, ws := fakeTofu(t, `n=0; trap 'n=$((n+1)); echo "interrupt $n"' INT; echo started; while [ $n -lt 1 ]; do sleep 0.05; done; sleep 0.2; exit 1`)
	j, _ := testJob(t, StateRunning)
	lines, done := runFake(t, r, ws, j)
	if l := <-lines; l != "started" {
		t.Fatalf("first line %q", l)
	}
	// runTofu takes the handle right after starting tofu, which may print first.
	for start := time.Now(); j.proc.get() == 0; time.Sleep(time.Millisecond) {
		if time.Since(start) > 30*time.Second {
			t.Fatal("the job does not hold tofu's process while it runs")
		}
	}
	if _, err := j.cancel(false, time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := j.cancel(false, time.Minute); err != nil { // a second graceful cancel sends nothing more
		t.Fatal(err)
	}
	if err := <-done; err == nil {
		t.Fatal("tofu's exit status 1 was not reported")
	}
	var got []string
	for l := range lines {
		got = append(got, l)
	}
	if strings.Join(got, "|") != "interrupt 1" {
		t.Fatalf("tofu saw %q, want exactly one interrupt", got)
	}
	if j.proc.get() != 0 {
		t.Fatal("the job still holds a process after tofu exited")
	}
}

func TestForcedCancelKillsTofusGroup(t *testing.T) {
	// A tofu that ignores interrupts and leaves a child in its group, like a hung provider.
	r, ws := fakeTofu(t, `trap '' INT; sleep 1000 & echo "$!"; wait`)
	j, now := testJob(t, StateRunning)
	lines, done := runFake(t, r, ws, j)
	child := <-lines
	if _, err := j.cancel(false, time.Second); err != nil {
		t.Fatal(err)
	}
	*now = now.Add(time.Second)
	if _, err := j.cancel(true, time.Second); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !tofu.Killed(err) {
		t.Fatalf("tofu not killed: %v", err)
	}
	// The child was in tofu's group: it dies too (SIGKILL arrives asynchronously).
	for start := time.Now(); ; time.Sleep(10 * time.Millisecond) {
		b, err := os.ReadFile("/proc/" + child + "/stat")
		if err != nil || strings.Contains(string(b), ") Z ") {
			break
		}
		if time.Since(start) > 30*time.Second {
			t.Fatalf("tofu's child %s outlived the forced cancel", child)
		}
	}
}

func TestCancelBeforeTofuStartsStillReachesIt(t *testing.T) {
	r, ws := fakeTofu(t, `trap 'exit 130' INT; echo started; while :; do sleep 0.05; done`)
	j, _ := testJob(t, StateRunning)
	if _, err := j.cancel(false, time.Minute); err != nil {
		t.Fatal(err)
	}
	_, done := runFake(t, r, ws, j)
	if err := <-done; err == nil {
		t.Fatal("tofu ran to completion despite the cancel")
	}
}

func TestKilledJobStartsNoTofu(t *testing.T) {
	r, ws := fakeTofu(t, `echo ran > ran.txt`)
	j, _ := testJob(t, StateRunning)
	j.kill()
	if err := r.runTofu(j, ws, []string{"apply"}, nil); err == nil {
		t.Fatal("a killed job started tofu")
	}
	if _, err := os.Stat(filepath.Join(ws.dir, "ran.txt")); err == nil {
		t.Fatal("tofu ran")
	}
}
