// Package testservers finds the project's pinned tools and starts the real servers that
// integration tests need (versitygw, a Docker image of our own). A missing tool skips the
// test on a developer's machine and fails it in CI (CI set), never silently.
package testservers

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// RepoRoot is the repository root, found from this file's location.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// ToolsDir is where `go -C tools tool task tools` builds everything (.tools/ of the repo), unless
// SPAWNIT_TOOLS points elsewhere.
func ToolsDir() string {
	if d := os.Getenv("SPAWNIT_TOOLS"); d != "" {
		return d
	}
	return filepath.Join(RepoRoot(), ".tools")
}

// Missing reports a missing prerequisite: a failure in CI, a skip elsewhere.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("CI: required tool missing: "+format, args...)
	}
	t.Skipf("skipping (run `go -C tools tool task tools`): "+format, args...)
}

// Tool returns the path of a binary built by `go -C tools tool task tools` (bin/<name>).
func Tool(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(ToolsDir(), "bin", name)
	if _, err := os.Stat(p); err != nil {
		Missing(t, "%s not found at %s", name, p)
	}
	return p
}

// Tofu returns the tofu binary.
func Tofu(t testing.TB) string { return Tool(t, "tofu") }

// ProviderMirror returns the filesystem mirror holding the Docker provider.
func ProviderMirror(t testing.TB) string {
	t.Helper()
	m := filepath.Join(ToolsDir(), "providers")
	matches, _ := filepath.Glob(filepath.Join(m, "registry.opentofu.org", "kreuzwerker", "docker", "*", "*", "terraform-provider-docker_*"))
	if len(matches) == 0 {
		Missing(t, "docker provider not found in mirror %s", m)
	}
	return m
}

// Docker checks that a Docker engine answers.
func Docker(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("docker"); err != nil {
		Missing(t, "docker client not on PATH")
	}
	if out, err := exec.Command("docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		Missing(t, "no Docker engine answers (docker info: %v: %s)", err, out)
	}
}
