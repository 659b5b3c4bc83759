package catalog

import (
	"context"
	"errors"
	"sort"
	"testing"

	"github.com/spawnit/spawnit/engine"
)

func TestServiceSourceFiles(t *testing.T) {
	c, st := seeded(t)
	ctx := context.Background()
	svc, err := c.CreateService(ctx, "acme", echoRequest("x"))
	if err != nil {
		t.Fatal(err)
	}
	var src engine.Source = NewServiceSource(c)
	files, err := src.Files(ctx, svc.Ref())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	want := []string{"main.tf", "outputs.tf", "providers.tf", engine.TfvarsFile, "variables.tf", "versions.tf"}
	if len(names) != len(want) {
		t.Fatalf("files = %v, want %v", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("files = %v, want %v", names, want)
		}
	}
	if string(files[engine.TfvarsFile]) != mustData(t, st, "clients/acme/"+svc.Service+"/"+engine.TfvarsFile) {
		t.Fatal("tfvars differ from the stored ones")
	}
	if string(files["main.tf"]) != mustBuiltin(t, "httpecho/modules/docker/main.tf") {
		t.Fatal("main.tf differs from the template's")
	}
	if err := files.Validate(); err != nil {
		t.Fatal(err)
	}

	// Adding the tfvars to the returned map must not leak into the module cache.
	again, err := c.ModuleFiles(ctx, "httpecho", "docker")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := again[engine.TfvarsFile]; ok {
		t.Fatal("the service's tfvars leaked into the cached module")
	}

	if _, err := src.Files(ctx, engine.ServiceRef{Client: "acme", Service: "svc-missing1"}); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("missing service: %v", err)
	}
	if _, err := src.Files(ctx, engine.ServiceRef{Client: "other", Service: svc.Service}); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("another tenant's service: %v", err)
	}
	st.Delete(ctx, "clients/acme/"+svc.Service+"/"+engine.TfvarsFile)
	if _, err := src.Files(ctx, svc.Ref()); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("service without tfvars: %v", err)
	}
}
