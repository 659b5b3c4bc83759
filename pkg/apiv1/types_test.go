package apiv1

import (
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestDependencies: the wire types depend on the standard library and the kernel only,
// so every importer of the client builds them on any platform.
func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep != "github.com/spawnit/spawnit" && dep != "github.com/spawnit/spawnit/pkg/apiv1" {
			t.Errorf("pkg/apiv1 depends on %s", dep)
		}
	}
}

func TestTemplateHelpers(t *testing.T) {
	no := false
	tpl := Template{Inputs: []Input{{Name: "port", Type: InputPort}, {Name: "pw", Type: InputSecret}}, Providers: []string{"docker"}}
	if f, ok := tpl.Field("pw"); !ok || !f.IsSensitive() {
		t.Fatal("Field(pw)")
	}
	if _, ok := tpl.Field("nope"); ok {
		t.Fatal("Field(nope)")
	}
	if !tpl.HasProvider("docker") || tpl.HasProvider("aws") || !tpl.AcceptsDrift() {
		t.Fatal("HasProvider/AcceptsDrift")
	}
	tpl.AcceptDrift = &no
	if tpl.AcceptsDrift() {
		t.Fatal("AcceptsDrift with accept_drift false")
	}
}

func TestJobDuration(t *testing.T) {
	start := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	end := start.Add(90 * time.Second)
	if d := (Job{StartedAt: &start, EndedAt: &end}).Duration(); d != 90*time.Second {
		t.Fatalf("Duration = %s", d)
	}
	if d := (Job{}).Duration(); d != 0 {
		t.Fatalf("Duration of a queued job = %s", d)
	}
}
