//go:build linux

package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// startFailure is one way spawnit serve cannot start.
type startFailure struct {
	name string
	// setup prepares the case in a fresh directory and returns the serve flags; the
	// data directory, the tofu binary (any file: newApp only checks that it exists)
	// and a free loopback listen address are set unless the case sets them.
	setup func(t *testing.T, dir string) []string
	want  string // in the error message; DIR stands for the case's directory
	// main: the case also runs through the real main (a process of its own).
	main bool
}

func startFailures() []startFailure {
	return []startFailure{
		{"single-user mode on a non-loopback address", func(t *testing.T, dir string) []string {
			return []string{"--listen", "0.0.0.0:8080"}
		}, `refusing to listen on "0.0.0.0:8080" in single-user mode`, false},
		{"data directory under a file", func(t *testing.T, dir string) []string {
			return []string{"--data-dir", filepath.Join(writeFile(t, dir, "file", ""), "data")}
		}, "data directory: mkdir DIR/file: not a directory", false},
		{"tofu given that does not exist", func(t *testing.T, dir string) []string {
			return []string{"--tofu", "/nonexistent"}
		}, "--tofu /nonexistent: stat /nonexistent: no such file or directory", true},
		{"tofu neither on PATH nor in .tools", func(t *testing.T, dir string) []string {
			t.Setenv("PATH", t.TempDir())
			t.Chdir(t.TempDir())
			return []string{"--tofu", ""}
		}, "tofu not found on PATH nor at .tools/bin/tofu: run `go -C tools tool task tools` or pass --tofu", false},
		{"S3 endpoint that is not a host:port or URL", func(t *testing.T, dir string) []string {
			return []string{"--s3-endpoint", "ftp://s3.example.com/bucket"}
		}, `--s3-endpoint "ftp://s3.example.com/bucket": want host:port or http(s)://host:port`, false},
		{"S3 endpoint that does not answer", func(t *testing.T, dir string) []string {
			return []string{"--s3-endpoint", closedAddr(t), "--s3-access-key", "key", "--s3-secret-key", "secret"}
		}, `S3 store: store: unavailable: s3store: check bucket "spawnit"`, false},
		{"S3 server that ignores conditional writes", func(t *testing.T, dir string) []string {
			return []string{"--s3-endpoint", ignoringS3(t), "--s3-access-key", "key", "--s3-secret-key", "secret"}
		}, `refusing to run on the S3 bucket "spawnit" at 127.0.0.1:`, true},
		{"local store root is a file", func(t *testing.T, dir string) []string {
			writeFile(t, dir, "data/store", "")
			return nil
		}, "store: create root directory: mkdir DIR/data/store: not a directory", false},
		{"catalog cannot be seeded", func(t *testing.T, dir string) []string {
			writeFile(t, dir, "data/store/templates", "")
			return nil
		}, "seed the catalog: catalog: seed ", false},
		{"engine cannot create its work directory", func(t *testing.T, dir string) []string {
			writeFile(t, dir, "data/work", "")
			return nil
		}, "engine: mkdir DIR/data/work: not a directory", false},
		{"target environment file that does not exist", func(t *testing.T, dir string) []string {
			return []string{"--target-env", "docker=" + filepath.Join(dir, "missing.env")}
		}, "--target-env docker: open DIR/missing.env: no such file or directory", false},
		{"target environment file with a bad line", func(t *testing.T, dir string) []string {
			return []string{"--target-env", "docker=" + writeFile(t, dir, "docker.env", "# ok\nDOCKER_HOST=unix:///run/docker.sock\nnot a pair\n")}
		}, "--target-env docker: DIR/docker.env:3: want KEY=VALUE", true},
		{"docker target's engine reached over ssh", func(t *testing.T, dir string) []string {
			return []string{"--target-env", "docker=" + writeFile(t, dir, "docker.env", "DOCKER_HOST=ssh://me@engine.example\n")}
		}, `target docker: DOCKER_HOST "ssh://********@engine.example": ssh:// is not supported (unix:// and tcp:// are)`, true},
		{"docker target's engine over TLS without certificates", func(t *testing.T, dir string) []string {
			return []string{"--target-env", "docker=" + writeFile(t, dir, "docker.env",
				"DOCKER_HOST=tcp://127.0.0.1:2376\nDOCKER_TLS_VERIFY=1\nDOCKER_CERT_PATH="+filepath.Join(dir, "certs")+"\n")}
		}, "target docker: DOCKER_HOST tcp://127.0.0.1:2376 with TLS (DOCKER_TLS_VERIFY/DOCKER_CERT_PATH): the engine's CA: open DIR/certs/ca.pem: no such file or directory", false},
		{"OIDC issuer without a client id", func(t *testing.T, dir string) []string {
			return []string{"--oidc-issuer", "http://" + closedAddr(t)}
		}, "OIDC: auth: issuer and client id are required", false},
		{"OIDC issuer that does not answer", func(t *testing.T, dir string) []string {
			return []string{"--oidc-issuer", "http://" + closedAddr(t), "--oidc-client-id", "spawnit"}
		}, "OIDC: auth: discover http://", false},
		{"listen port in use", func(t *testing.T, dir string) []string {
			return []string{"--listen", busyAddr(t)}
		}, "bind: address already in use", true},
	}
}

// TestNewAppErrors: every way newApp fails returns the reason, never a panic.
func TestNewAppErrors(t *testing.T) {
	for _, tc := range startFailures() {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			args := append(startDefaults(t, dir), tc.setup(t, dir)...)
			cfg, err := parseServeFlags(args, env(nil), io.Discard)
			if err != nil {
				t.Fatalf("flags %q: %v", args, err)
			}
			var out bytes.Buffer
			a, err := newAppNoPanic(t, cfg, &out)
			want := strings.ReplaceAll(tc.want, "DIR", dir)
			if a != nil || err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("newApp: app %v, err %v; want an error containing %q", a != nil, err, want)
			}
			t.Logf("%v", err)
		})
	}
}

// newAppNoPanic calls newApp and turns a panic into a test failure with its value.
func newAppNoPanic(t *testing.T, cfg *serveConfig, out io.Writer) (a *app, err error) {
	t.Helper()
	defer func() {
		if v := recover(); v != nil {
			t.Fatalf("newApp panicked: %v", v)
		}
	}()
	return newApp(context.Background(), cfg, slog.New(slog.DiscardHandler), out)
}

// TestStartFailureExitsWithTheReason runs the real main: a start-up error is printed
// on stderr as one line naming the reason, with exit status 1 and no panic.
func TestStartFailureExitsWithTheReason(t *testing.T) {
	for _, tc := range startFailures() {
		if !tc.main {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			args := append(startDefaults(t, dir), tc.setup(t, dir)...)
			cmd := exec.Command(os.Args[0], append([]string{"serve"}, args...)...)
			// The server's own environment variables would change its flags.
			cmd.Env = []string{runMainEnv + "=1"}
			for _, kv := range os.Environ() {
				if !strings.HasPrefix(kv, "SPAWNIT_") {
					cmd.Env = append(cmd.Env, kv)
				}
			}
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			code := cmd.ProcessState.ExitCode()
			want := strings.ReplaceAll(tc.want, "DIR", dir)
			if code != 1 || strings.Contains(stderr.String(), "panic") || !hasLine(stderr.String(), "spawnit serve: ", want) {
				t.Fatalf("exit %d (%v); want 1 and a line \"spawnit serve: …%s…\" on stderr\nstderr:\n%s\nstdout:\n%s", code, err, want, stderr.String(), stdout.String())
			}
		})
	}
}

// hasLine reports whether a line of s starts with prefix and contains part.
func hasLine(s, prefix, part string) bool {
	for line := range strings.Lines(s) {
		if strings.HasPrefix(line, prefix) && strings.Contains(line, part) {
			return true
		}
	}
	return false
}

// runMainEnv makes the test binary run spawnit's main instead of the tests.
const runMainEnv = "SPAWNIT_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		os.Args = append([]string{"spawnit"}, os.Args[1:]...)
		main()
		return
	}
	os.Exit(m.Run())
}

// startDefaults are flags that let newApp get past what a case does not break.
func startDefaults(t *testing.T, dir string) []string {
	return []string{"--data-dir", filepath.Join(dir, "data"), "--tofu", writeFile(t, dir, "bin/tofu", ""),
		"--listen", "127.0.0.1:0", "--drift-interval", "0"}
}

// writeFile writes content to dir/name (creating its directory) and returns its path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// ignoringS3 starts a fake S3 server that accepts every PUT and ignores its
// conditional headers, as some S3 implementations do, and returns its host:port.
func ignoringS3(t *testing.T) string {
	t.Helper()
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodHead: // the bucket exists
		case http.MethodPut: // accepted, whatever If-None-Match or If-Match say
			w.Header().Set("ETag", `"0123456789abcdef0123456789abcdef"`)
		case http.MethodDelete:
			w.WriteHeader(http.StatusNoContent)
		default:
			w.WriteHeader(http.StatusNotImplemented)
		}
	}))
	t.Cleanup(fake.Close)
	return strings.TrimPrefix(fake.URL, "http://")
}

// busyAddr returns a loopback address a listener of the test holds.
func busyAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l.Addr().String()
}

// closedAddr returns a loopback address nothing listens on (one just released).
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}
