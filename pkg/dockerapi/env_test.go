package dockerapi

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/spawnit/spawnit/internal/testservers"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestParseEnv(t *testing.T) {
	for _, c := range []struct {
		env                   map[string]string
		network, address, url string
	}{
		{nil, "unix", "/var/run/docker.sock", "http://docker"},
		{map[string]string{"DOCKER_HOST": ""}, "unix", "/var/run/docker.sock", "http://docker"},
		{map[string]string{"DOCKER_HOST": "unix:///run/user/1000/docker.sock"}, "unix", "/run/user/1000/docker.sock", "http://docker"},
		{map[string]string{"DOCKER_HOST": "tcp://10.0.0.5:2375"}, "tcp", "10.0.0.5:2375", "http://10.0.0.5:2375"},
		{map[string]string{"DOCKER_HOST": "tcp://engine.example:2375/"}, "tcp", "engine.example:2375", "http://engine.example:2375"},
		{map[string]string{"DOCKER_HOST": "tcp://engine.example"}, "tcp", "engine.example:2375", "http://engine.example:2375"},
		{map[string]string{"DOCKER_HOST": "tcp://[::1]:9999"}, "tcp", "[::1]:9999", "http://[::1]:9999"},
		// TLS settings mean nothing to a socket.
		{map[string]string{"DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": "/nonexistent"}, "unix", "/var/run/docker.sock", "http://docker"},
	} {
		ep, err := parseEnv(envOf(c.env))
		if err != nil || ep.network != c.network || ep.address != c.address || ep.tls != nil {
			t.Errorf("%v: %+v, %v; want %s %s", c.env, ep, err, c.network, c.address)
			continue
		}
		cl, err := FromEnv(envOf(c.env))
		if err != nil || cl.base != c.url || cl.TLS() {
			t.Errorf("%v: client %+v, %v; want base %s without TLS", c.env, cl, err, c.url)
		}
	}

	for host, want := range map[string]string{
		"ssh://me@engine.example":              "ssh:// is not supported (unix:// and tcp:// are)",
		"npipe:////./pipe/docker_engine":       "npipe:// is not supported",
		"fd://":                                "fd:// is not supported",
		"http://engine.example:2375":           "http:// is not supported",
		"engine.example:2375":                  "want unix:///path/to/socket or tcp://host:port",
		"unix://":                              "no socket path",
		"tcp://":                               "no host",
		"tcp://:2375":                          "no host",
		"tcp://engine.example:2375/v1.41":      "without a path",
		"tcp://admin:hunter2@engine.example:1": "user information is not supported",
		"ssh://admin:hunter2@engine.example":   "ssh:// is not supported",
		"admin:hunter2@engine.example:2375":    "want unix:///path/to/socket",
	} {
		_, err := FromEnv(envOf(map[string]string{"DOCKER_HOST": host}))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("DOCKER_HOST %q: %v, want an error saying %q", host, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("DOCKER_HOST %q: the error shows the password: %v", host, err)
		}
	}
}

func TestOverlay(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix:///process.sock")
	t.Setenv("DOCKER_CERT_PATH", "/process/certs")
	get := Overlay(map[string]string{"DOCKER_HOST": "tcp://target:2376", "DOCKER_TLS_VERIFY": ""})
	for k, want := range map[string]string{
		"DOCKER_HOST":       "tcp://target:2376", // the target's wins
		"DOCKER_CERT_PATH":  "/process/certs",    // what it leaves out is the process's, as for tofu
		"DOCKER_TLS_VERIFY": "",                  // set empty by the target
	} {
		if got := get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
}

// writeCerts writes a client's certificate directory: ca.pem of ca, and a client
// certificate that ca signed.
func writeCerts(t *testing.T, ca *testservers.CA) string {
	t.Helper()
	dir := t.TempDir()
	cert, key := ca.ClientCert(t, "spawnit-test-client")
	for name, b := range map[string][]byte{"ca.pem": ca.PEM, "cert.pem": cert, "key.pem": key} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestTLSFromEnv(t *testing.T) {
	certs := testservers.NewDockerCerts(t)
	var clientCN atomic.Value
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		clientCN.Store(r.TLS.PeerCertificates[0].Subject.CommonName)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ApiVersion":"1.41"}`))
	}))
	srv.TLS = certs.Server // requires a client certificate signed by the CA
	srv.StartTLS()
	defer srv.Close()
	host := "tcp://" + srv.Listener.Addr().String()
	ctx := context.Background()
	version := func(c *Client) error {
		var v struct{ ApiVersion string }
		if err := c.Get(ctx, "/version", nil, &v); err != nil {
			return err
		}
		if v.ApiVersion != "1.41" {
			return errors.New("unexpected answer")
		}
		return nil
	}

	// DOCKER_TLS_VERIFY and DOCKER_CERT_PATH, as the docker CLI takes them: the engine is
	// verified against ca.pem and the client presents cert.pem.
	c, err := FromEnv(envOf(map[string]string{"DOCKER_HOST": host, "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": certs.Dir}))
	if err != nil {
		t.Fatal(err)
	}
	if !c.TLS() || c.Host() != host || !strings.HasPrefix(c.base, "https://127.0.0.1:") {
		t.Fatalf("client %+v: want https to %s", c, host)
	}
	if err := version(c); err != nil {
		t.Fatalf("TLS with the CA's client certificate: %v", err)
	}
	if cn := clientCN.Load(); cn != "spawnit-test-client" {
		t.Fatalf("the engine saw client certificate %v", cn)
	}

	// DOCKER_CERT_PATH alone turns TLS on (as for the Docker provider), with the same
	// verification; DOCKER_TLS_VERIFY alone reads ~/.docker (or $DOCKER_CONFIG).
	home := t.TempDir()
	if err := os.CopyFS(filepath.Join(home, ".docker"), os.DirFS(certs.Dir)); err != nil {
		t.Fatal(err)
	}
	for _, env := range []map[string]string{
		{"DOCKER_HOST": host, "DOCKER_CERT_PATH": certs.Dir},
		{"DOCKER_HOST": host, "DOCKER_TLS_VERIFY": "1", "HOME": home},
		{"DOCKER_HOST": host, "DOCKER_TLS_VERIFY": "1", "HOME": "/nonexistent", "DOCKER_CONFIG": filepath.Join(home, ".docker")},
	} {
		c, err := FromEnv(envOf(env))
		if err != nil {
			t.Fatalf("%v: %v", env, err)
		}
		if err := version(c); err != nil {
			t.Fatalf("%v: %v", env, err)
		}
	}

	// An engine whose certificate another CA signed is refused, and so is a client whose
	// certificate the engine's CA did not sign.
	stranger := writeCerts(t, testservers.NewCA(t, "stranger"))
	c, err = FromEnv(envOf(map[string]string{"DOCKER_HOST": host, "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": stranger}))
	if err != nil {
		t.Fatal(err)
	}
	var unknownCA x509.UnknownAuthorityError
	if err := version(c); !errors.As(err, &unknownCA) {
		t.Fatalf("an engine signed by another CA: %v, want x509.UnknownAuthorityError", err)
	}
	mixed := writeCerts(t, testservers.NewCA(t, "stranger"))
	if err := os.WriteFile(filepath.Join(mixed, "ca.pem"), certs.CA.PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	c, err = FromEnv(envOf(map[string]string{"DOCKER_HOST": host, "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": mixed}))
	if err != nil {
		t.Fatal(err)
	}
	if err := version(c); err == nil {
		t.Fatal("the engine accepted a client certificate its CA did not sign")
	}

	// Without TLS, the TLS engine is not spoken to in plain text by mistake.
	c, err = FromEnv(envOf(map[string]string{"DOCKER_HOST": host}))
	if err != nil {
		t.Fatal(err)
	}
	if c.TLS() || version(c) == nil {
		t.Fatal("a plain-text client got an answer from a TLS engine")
	}
}

func TestTLSFilesMissing(t *testing.T) {
	full := testservers.NewDockerCerts(t).Dir
	for _, c := range []struct {
		drop, want string
	}{
		{"ca.pem", "the engine's CA"},
		{"cert.pem", "the client certificate"},
		{"key.pem", "the client certificate"},
	} {
		dir := t.TempDir()
		if err := os.CopyFS(dir, os.DirFS(full)); err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(filepath.Join(dir, c.drop)); err != nil {
			t.Fatal(err)
		}
		_, err := FromEnv(envOf(map[string]string{"DOCKER_HOST": "tcp://127.0.0.1:2376", "DOCKER_CERT_PATH": dir}))
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "DOCKER_HOST tcp://127.0.0.1:2376 with TLS") {
			t.Errorf("without %s: %v, want an error about %s", c.drop, err, c.want)
		}
	}
	bad := t.TempDir()
	if err := os.CopyFS(bad, os.DirFS(full)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bad, "ca.pem"), []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := FromEnv(envOf(map[string]string{"DOCKER_HOST": "tcp://127.0.0.1", "DOCKER_CERT_PATH": bad})); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("a ca.pem without a certificate: %v", err)
	}
	if _, err := FromEnv(envOf(map[string]string{"DOCKER_HOST": "tcp://127.0.0.1", "DOCKER_TLS_VERIFY": "1"})); err == nil || !strings.Contains(err.Error(), "DOCKER_CERT_PATH is not set") {
		t.Errorf("TLS without a certificate directory or HOME: %v", err)
	}
	ep, err := parseEnv(envOf(map[string]string{"DOCKER_HOST": "tcp://127.0.0.1", "DOCKER_CERT_PATH": full}))
	if err != nil || ep.address != "127.0.0.1:2376" || ep.tls == nil {
		t.Errorf("tcp without a port, with TLS: %+v, %v; want port 2376", ep, err)
	}
	if ep.tls != nil && (ep.tls.MinVersion < tls.VersionTLS12 || ep.tls.InsecureSkipVerify || ep.tls.RootCAs == nil || len(ep.tls.Certificates) != 1) {
		t.Errorf("TLS config: %+v", ep.tls)
	}
}

func TestHideUserinfo(t *testing.T) {
	for host, want := range map[string]string{
		"tcp://user:s3cret@engine:2376": "tcp://********@engine:2376",
		"ssh://s3cret@engine":           "ssh://********@engine",
		"user:s3cret@engine":            "********@engine",
		"unix:///var/run/docker.sock":   "unix:///var/run/docker.sock",
	} {
		if got := hideUserinfo(host); got != want {
			t.Errorf("hideUserinfo(%q) = %q, want %q", host, got, want)
		}
	}
}
