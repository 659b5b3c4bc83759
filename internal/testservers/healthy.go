package testservers

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// HealthyImage is a local image whose container reports healthy about a second after
// it starts (a Docker HEALTHCHECK that passes), for tests of docker_health checks. Its
// program (testdata/healthy) only waits to be stopped.
const HealthyImage = "spawnit-test/healthy:1"

const healthyDockerfile = `FROM scratch
COPY healthy /healthy
HEALTHCHECK --interval=1s --timeout=5s --retries=3 CMD ["/healthy", "check"]
ENTRYPOINT ["/healthy"]
`

var healthyOnce struct {
	sync.Mutex
	built bool
}

// BuildHealthyImage builds HealthyImage once per test process, on the local engine.
func BuildHealthyImage(t testing.TB) string {
	t.Helper()
	Docker(t)
	healthyOnce.Lock()
	defer healthyOnce.Unlock()
	if healthyOnce.built {
		return HealthyImage
	}
	ctxDir := t.TempDir()
	build := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(ctxDir, "healthy"), ".")
	build.Dir = filepath.Join(RepoRoot(), "internal", "testservers", "testdata", "healthy")
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the healthy test program: %v\n%s", err, out)
	}
	if err := os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), []byte(healthyDockerfile), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := DockerCommand("build", "-q", "-t", HealthyImage, ctxDir).CombinedOutput(); err != nil {
		t.Fatalf("docker build %s: %v\n%s", HealthyImage, err, out)
	}
	healthyOnce.built = true
	return HealthyImage
}
