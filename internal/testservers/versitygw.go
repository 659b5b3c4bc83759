package testservers

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// S3 describes a running S3 server for a test.
type S3 struct {
	Endpoint  string // host:port, plain HTTP
	AccessKey string
	SecretKey string
	Region    string
	Dir       string // posix root of the gateway
	cmd       *exec.Cmd
}

// URL is the endpoint with its scheme.
func (s *S3) URL() string { return "http://" + s.Endpoint }

// Stop kills the server (for fault-injection tests); Start brings it back on the same port.
func (s *S3) Stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
		s.cmd = nil
	}
}

// Versitygw starts a real versitygw S3 server on a free loopback port, backed by a
// temporary directory, and stops it when the test ends.
func Versitygw(t testing.TB) *S3 {
	t.Helper()
	bin := Tool(t, "versitygw")
	s := &S3{
		Endpoint:  "127.0.0.1:" + freePort(t),
		AccessKey: "spawnit-test",
		SecretKey: "spawnit-test-secret",
		Region:    "us-east-1",
		Dir:       t.TempDir(),
	}
	if err := s.start(bin); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// Restart starts a stopped server again on the same port and directory.
func (s *S3) Restart(t testing.TB) {
	t.Helper()
	if err := s.start(filepath.Join(ToolsDir(), "bin", "versitygw")); err != nil {
		t.Fatal(err)
	}
}

func (s *S3) start(bin string) error {
	cmd := exec.Command(bin, "--port", s.Endpoint, "posix", s.Dir)
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+s.AccessKey, "ROOT_SECRET_KEY="+s.SecretKey)
	logf, err := os.Create(filepath.Join(s.Dir, "..", fmt.Sprintf("versitygw-%d.log", time.Now().UnixNano())))
	if err == nil {
		cmd.Stdout, cmd.Stderr = logf, logf
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start versitygw: %w", err)
	}
	s.cmd = cmd
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(s.URL() + "/")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.Stop()
	return fmt.Errorf("versitygw did not answer on %s within 20s", s.Endpoint)
}

// handedOut holds the ports freePort returned in this process. The port is only bound
// later (by a server starting, a container published), and the kernel may offer it
// again meanwhile; parallel tests (internal/faults runs many servers at once) must not
// be given the same one, nor a port a stopped server is to be restarted on.
var handedOut struct {
	sync.Mutex
	ports map[string]bool
}

func freePort(t testing.TB) string {
	t.Helper()
	handedOut.Lock()
	defer handedOut.Unlock()
	if handedOut.ports == nil {
		handedOut.ports = map[string]bool{}
	}
	for range 1000 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		_, port, _ := net.SplitHostPort(l.Addr().String())
		l.Close()
		if !handedOut.ports[port] {
			handedOut.ports[port] = true
			return port
		}
	}
	t.Fatal("no free loopback port that was not handed out before")
	return ""
}

// FreePort returns a loopback TCP port that was free a moment ago, and that no other
// FreePort call of this process returned.
func FreePort(t testing.TB) string { return freePort(t) }
