package testservers

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// TestImage is the local image tests deploy: a static Go HTTP server FROM scratch
// (testdata/images/httpecho), answering GREETING on port 8080.
const TestImage = "spawnit-test/httpecho:1"

var imageOnce struct {
	sync.Mutex
	built bool
}

// BuildTestImage builds TestImage once per test process.
func BuildTestImage(t testing.TB) string {
	t.Helper()
	Docker(t)
	imageOnce.Lock()
	defer imageOnce.Unlock()
	if imageOnce.built {
		return TestImage
	}
	src := filepath.Join(RepoRoot(), "testdata", "images", "httpecho")
	ctxDir := t.TempDir()
	build := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(ctxDir, "httpecho"), ".")
	build.Dir = src
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build httpecho: %v\n%s", err, out)
	}
	df, err := os.ReadFile(filepath.Join(src, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), df, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("docker", "build", "-q", "-t", TestImage, ctxDir).CombinedOutput(); err != nil {
		t.Fatalf("docker build %s: %v\n%s", TestImage, err, out)
	}
	imageOnce.built = true
	return TestImage
}
