package testservers

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// PrivateRegistry starts Debian's docker-registry on a free port of 127.0.0.1 with one
// account (htpasswd), its store in a temporary folder, and returns its host:port once
// it answers (401 to an anonymous client). It is stopped when the test ends.
func PrivateRegistry(t testing.TB, user, password string) string {
	t.Helper()
	bin, err := exec.LookPath("docker-registry")
	if err != nil {
		Missing(t, "docker-registry not on PATH (go tool task images:apt)")
	}
	dir := t.TempDir()
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "htpasswd"), []byte(user+":"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + FreePort(t)
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: %s
http:
  addr: %s
auth:
  htpasswd:
    realm: spawnit-test
    path: %s
`, filepath.Join(dir, "store"), addr, filepath.Join(dir, "htpasswd"))
	if err := os.WriteFile(filepath.Join(dir, "config.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	cmd := exec.Command(bin, "serve", filepath.Join(dir, "config.yml"))
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := client.Get("http://" + addr + "/v2/")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusUnauthorized {
				return addr
			}
			t.Fatalf("registry at %s answered %s to an anonymous client", addr, res.Status)
		}
		select {
		case <-exited:
			t.Fatalf("docker-registry exited: %s", log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("docker-registry does not answer at %s: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// PushImage pushes a local image to ref (in a registry needing user and password),
// logging in with a Docker client configuration of its own (the user's is untouched),
// then removes ref locally, so only the registry has it.
func PushImage(t testing.TB, image, ref, user, password string) {
	t.Helper()
	registry, _, _ := strings.Cut(ref, "/")
	config := t.TempDir()
	run := func(stdin string, args ...string) {
		t.Helper()
		cmd := exec.Command("docker", append([]string{"--config", config}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("docker %s: %v\n%s", args[0], err, out)
		}
	}
	run(password, "login", "--username", user, "--password-stdin", registry)
	run("", "tag", image, ref)
	run("", "push", ref)
	run("", "image", "rm", ref)
}
