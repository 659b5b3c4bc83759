//go:build unix

package tofu

import (
	"bufio"
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

// shell starts a shell script as if it were tofu and returns the process with the
// lines it prints, which end when Wait has returned.
func shell(t *testing.T, script string) (p *Process, wait func() error, lines <-chan string) {
	t.Helper()
	sh := "/bin/sh"
	if _, err := os.Stat(sh); err != nil {
		t.Skip("no /bin/sh")
	}
	r, w := io.Pipe()
	p, err := (&Tofu{Path: sh, Dir: t.TempDir(), Env: []string{"PATH=" + os.Getenv("PATH")}}).Start([]string{"-c", script}, w, nil)
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan string, 16)
	go func() {
		defer close(ch)
		s := bufio.NewScanner(r)
		for s.Scan() {
			ch <- s.Text()
		}
	}()
	t.Cleanup(func() { p.Kill(); w.Close() })
	return p, func() error { err := p.Wait(); w.Close(); return err }, ch
}

func TestInterruptIsSentOnce(t *testing.T) {
	p, wait, lines := shell(t, `n=0; trap 'n=$((n+1)); echo "interrupt $n"' INT; echo ready; while [ $n -lt 1 ]; do sleep 0.05; done; sleep 0.3; echo "seen $n"; exit 3`)
	if l := <-lines; l != "ready" {
		t.Fatalf("first line %q", l)
	}
	p.Interrupt()
	p.Interrupt()
	err := wait()
	if err == nil || Killed(err) || !strings.Contains(err.Error(), "exit status 3") {
		t.Fatalf("after an interrupt: %v (killed %v)", err, Killed(err))
	}
	var got []string
	for l := range lines {
		got = append(got, l)
	}
	if strings.Join(got, "|") != "interrupt 1|seen 1" {
		t.Fatalf("the script saw %q", got)
	}
	p.Interrupt() // after the end: nothing to signal
}

func TestKillReachesTheGroup(t *testing.T) {
	p, wait, lines := shell(t, `sleep 1000 & echo "$!"; wait`)
	child := <-lines
	p.Kill()
	err := wait()
	if !Killed(err) {
		t.Fatalf("tofu not killed: %v", err)
	}
	// The child was in tofu's group: it dies (gone, or a zombie awaiting its reaper).
	// SIGKILL is delivered asynchronously: wait for it.
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		return // no /proc to look at
	}
	for start := time.Now(); ; time.Sleep(10 * time.Millisecond) {
		b, err := os.ReadFile("/proc/" + child + "/stat")
		if err != nil || strings.Contains(string(b), ") Z ") {
			return
		}
		if time.Since(start) > 30*time.Second {
			t.Fatalf("child %s outlived the group kill: %s", child, b)
		}
	}
}

func TestFailureCarriesStderr(t *testing.T) {
	_, wait, _ := shell(t, `echo "Error: no such thing" >&2; exit 1`)
	err := wait()
	if err == nil || !strings.Contains(err.Error(), "exit status 1\nError: no such thing") {
		t.Fatalf("error %v", err)
	}
}
