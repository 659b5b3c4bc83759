package testservers

import (
	"crypto/tls"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

// localDockerHost is DOCKER_HOST as the test process started: tests may point the
// variable elsewhere (t.Setenv) while they still need the local engine.
var localDockerHost = os.Getenv("DOCKER_HOST")

// DockerSocket is the local engine's unix socket: DOCKER_HOST as the test process
// started when it names one, else /var/run/docker.sock.
func DockerSocket() string {
	if h, ok := strings.CutPrefix(localDockerHost, "unix://"); ok && h != "" {
		return h
	}
	return "/var/run/docker.sock"
}

// DockerCommand is the docker CLI talking to the local engine, whatever DOCKER_HOST
// the test has set since it started.
func DockerCommand(args ...string) *exec.Cmd {
	cmd := exec.Command("docker", args...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST=unix://"+DockerSocket(), "DOCKER_TLS_VERIFY=", "DOCKER_CERT_PATH=", "DOCKER_CONTEXT=")
	return cmd
}

// DockerForwarder serves the local Docker engine on a loopback TCP port, byte for byte,
// in plain text or behind TLS that requires a client certificate: what an engine
// elsewhere (DOCKER_HOST=tcp://...) looks like to its clients. It reads the request
// lines that go through, which tests use to tell that a client came this way.
type DockerForwarder struct {
	// Addr is host:port of the forwarder.
	Addr   string
	socket string
	l      net.Listener

	mu       sync.Mutex
	requests []string
	conns    map[net.Conn]struct{}
	closed   bool
}

// NewDockerForwarder checks that the local engine answers (before the test points
// DOCKER_HOST elsewhere), then forwards a free loopback port to its socket, behind TLS
// when serverTLS is not nil. It stops when the test ends.
func NewDockerForwarder(t testing.TB, serverTLS *tls.Config) *DockerForwarder {
	t.Helper()
	Docker(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &DockerForwarder{Addr: l.Addr().String(), socket: DockerSocket(), l: l,
		conns: map[net.Conn]struct{}{}}
	if serverTLS != nil {
		f.l = tls.NewListener(l, serverTLS)
	}
	go f.accept()
	t.Cleanup(f.Close)
	return f
}

// Host is the forwarder as a DOCKER_HOST: tcp://127.0.0.1:port.
func (f *DockerForwarder) Host() string { return "tcp://" + f.Addr }

// Requests counts the requests so far whose request line ("GET /containers/x/json
// HTTP/1.1") contains substr.
func (f *DockerForwarder) Requests(substr string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, r := range f.requests {
		if strings.Contains(r, substr) {
			n++
		}
	}
	return n
}

// Close stops the forwarder and drops every connection.
func (f *DockerForwarder) Close() {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return
	}
	f.closed = true
	conns := make([]net.Conn, 0, len(f.conns))
	for c := range f.conns {
		conns = append(conns, c)
	}
	f.mu.Unlock()
	f.l.Close()
	for _, c := range conns {
		c.Close()
	}
}

func (f *DockerForwarder) track(c net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false
	}
	f.conns[c] = struct{}{}
	return true
}

func (f *DockerForwarder) forget(c net.Conn) {
	c.Close()
	f.mu.Lock()
	delete(f.conns, c)
	f.mu.Unlock()
}

func (f *DockerForwarder) accept() {
	for {
		c, err := f.l.Accept()
		if err != nil {
			return
		}
		if !f.track(c) {
			c.Close()
			return
		}
		go f.serve(c)
	}
}

// serve pipes one connection to the engine and back.
func (f *DockerForwarder) serve(client net.Conn) {
	defer f.forget(client)
	up, err := net.Dial("unix", f.socket)
	if err != nil {
		return
	}
	if !f.track(up) {
		up.Close()
		return
	}
	defer f.forget(up)
	go func() {
		defer client.Close()
		buf := make([]byte, 32<<10)
		for {
			n, err := up.Read(buf)
			if n > 0 {
				if _, werr := client.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := client.Read(buf) // a TLS client without a good certificate fails here
		if n > 0 {
			if line, ok := requestLine(buf[:n]); ok {
				f.mu.Lock()
				f.requests = append(f.requests, line)
				f.mu.Unlock()
			}
			if _, werr := up.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
