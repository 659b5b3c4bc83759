package client

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps the client light: a Go program that only talks to the API
// links the standard library, the kernel (package spawnit) and the wire types, never
// the server's dependencies (OpenTofu's libraries, Echo, the S3 client, OIDC).
func TestDependencies(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("go not found on PATH: %v", err)
		}
		t.Skipf("go not found on PATH: %v", err)
	}
	out, err := exec.Command(goBin, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	allowed := map[string]bool{
		"github.com/spawnit/spawnit":            true,
		"github.com/spawnit/spawnit/pkg/apiv1":  true,
		"github.com/spawnit/spawnit/pkg/client": true,
	}
	forbidden := []string{"terraform-exec", "terraform-json", "go-cty", "labstack/echo", "minio-go", "zitadel"}
	for _, dep := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if strings.Contains(dep, f) {
				t.Errorf("pkg/client depends on %s", dep)
			}
		}
		if !allowed[dep] {
			t.Errorf("pkg/client depends on %s: only the standard library, the kernel and pkg/apiv1 are expected", dep)
		}
	}
}
