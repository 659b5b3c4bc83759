// Package tofu starts OpenTofu commands as processes its caller holds: the engine
// interrupts a process it holds (graceful cancel: tofu stops its providers and saves
// state) and kills its whole process group (forced cancel: tofu, its providers and
// their provisioner commands), without looking for the process anywhere.
package tofu

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"sync"
	"time"
)

// Tofu runs the tofu binary at Path in the working directory Dir with the environment
// Env (the whole of it: nothing is inherited).
type Tofu struct {
	Path string
	Dir  string
	Env  []string
}

// pipeGrace bounds how long Wait waits for tofu's output once tofu has exited: a
// process it left behind holding the pipes must not hang the job.
const pipeGrace = 10 * time.Second

// maxStderr bounds the end of stderr kept for the error of a failed command.
const maxStderr = 64 << 10

// Process is a started tofu command. Its methods are safe for concurrent use.
type Process struct {
	cmd    *exec.Cmd
	stderr tailBuffer

	mu          sync.Mutex
	exited      bool
	interrupted bool
}

// Start starts tofu with args in its own process group (and, on Linux, killed if the
// thread that started it dies with its process), its output copied to stdout and
// stderr (nil discards).
func (t *Tofu) Start(args []string, stdout, stderr io.Writer) (*Process, error) {
	if stdout == nil {
		stdout = io.Discard
	}
	p := &Process{}
	cmd := exec.Command(t.Path, args...)
	cmd.Dir = t.Dir
	cmd.Env = t.Env
	if cmd.Env == nil {
		cmd.Env = []string{}
	}
	cmd.Stdout = stdout
	if stderr != nil {
		cmd.Stderr = io.MultiWriter(stderr, &p.stderr)
	} else {
		cmd.Stderr = &p.stderr
	}
	cmd.SysProcAttr = sysProcAttr()
	cmd.WaitDelay = pipeGrace
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start tofu: %w", err)
	}
	p.cmd = cmd
	return p, nil
}

// Pid is the process id of tofu, which leads its process group.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Wait waits for tofu to exit. A failure carries the *exec.ExitError (errors.As) and
// the end of tofu's stderr.
func (p *Process) Wait() error {
	err := p.cmd.Wait()
	p.mu.Lock()
	p.exited = true
	p.mu.Unlock()
	if err == nil {
		return nil
	}
	if msg := bytes.TrimSpace(p.stderr.Bytes()); len(msg) > 0 {
		return fmt.Errorf("%w\n%s", err, msg)
	}
	return err
}

// Interrupt asks tofu to stop gracefully, once: a second interrupt would make tofu exit
// at once without saving state. It does nothing once tofu has exited.
func (p *Process) Interrupt() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exited || p.interrupted {
		return
	}
	p.interrupted = true
	interrupt(p.cmd.Process)
}

// Kill kills tofu's process group: tofu and everything it started that is still in the
// group (providers, provisioner commands), also after tofu itself has exited where the
// system keeps the group (unix).
func (p *Process) Kill() {
	p.mu.Lock()
	exited := p.exited
	p.mu.Unlock()
	killGroup(p.cmd.Process, exited)
}

// Killed reports whether err, from Wait, says tofu was killed by a signal other than an
// interrupt (it could not release its state lock).
func Killed(err error) bool {
	var ee *exec.ExitError
	return errors.As(err, &ee) && killedBySignal(ee)
}

// tailBuffer keeps the last maxStderr bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - maxStderr; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]byte(nil), b.buf...)
}
