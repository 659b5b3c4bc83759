package catalog_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spawnit/spawnit/catalog"
	"github.com/spawnit/spawnit/internal/testservers"
)

// brokenHTTPEcho is httpecho with one mistake of each kind an author makes.
func brokenHTTPEcho(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	copyTree(t, "httpecho", dir)
	edit := func(rel, old, new string) {
		t.Helper()
		p := filepath.Join(dir, rel)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), old) {
			t.Fatalf("%s has no %q", rel, old)
		}
		if err := os.WriteFile(p, []byte(strings.Replace(string(b), old, new, 1)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	edit("template.json", `"output": "endpoint"`, `"output": "url"`)
	edit("modules/docker/variables.tf", `variable "greeting" {`, "variable \"greeting\" {\n  default = \"x\"")
	edit("modules/docker/outputs.tf", `output "greeting" {`, "output \"extra\" {\n  description = \"x\"\n  value = 1\n}\noutput \"greeting\" {")
	if err := os.WriteFile(filepath.Join(dir, "modules/aws/provider.tf"), []byte("provider \"aws\" {\n  region = \"x\"\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "modules/aws/extra.tfvars"), []byte("port = 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "README.md"), []byte("not part of the template\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestCheckTemplateListsEveryProblem(t *testing.T) {
	files, err := catalog.LoadTemplateDir(filepath.Join("builtin", "httpecho"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := catalog.CheckTemplate(files); err != nil {
		t.Fatalf("httpecho as shipped: %v", err)
	}
	files, err = catalog.LoadTemplateDir(brokenHTTPEcho(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := files["README.md"]; ok {
		t.Fatal("a top-level file was taken as part of the template")
	}
	_, err = catalog.CheckTemplate(files)
	var ve *catalog.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("CheckTemplate = %v", err)
	}
	var got []string
	for _, f := range ve.Fields {
		got = append(got, f.Field+": "+f.Reason)
	}
	t.Logf("problems:\n%s", strings.Join(got, "\n"))
	for _, want := range []string{
		"modules/aws/extra.tfvars: variable file",
		"modules/aws/provider.tf:1: provider block aws",
		"modules/docker/variables.tf:",                    // the default
		"variable greeting has a default",                 // ... said so
		"output extra is not an output of the docker",     // never: docker is the reference
		"no output extra, which the docker module has",    // aws and kubernetes lack it
		`readiness[0] reads output "url", which the aws`,  // a readiness check naming no output
		`readiness[0] reads output "url", which the dock`, // every module said
	} {
		if want == "output extra is not an output of the docker" {
			if slices.ContainsFunc(got, func(s string) bool { return strings.Contains(s, want) }) {
				t.Errorf("reference module reported against itself: %v", got)
			}
			continue
		}
		if !slices.ContainsFunc(got, func(s string) bool { return strings.Contains(s, want) }) {
			t.Errorf("no problem %q in:\n%s", want, strings.Join(got, "\n"))
		}
	}
}

// TestValidateWithTofu runs tofu validate with the provider mirror on the docker module:
// the shipped one passes, a reference to an undeclared variable is named by file and
// line.
func TestValidateWithTofu(t *testing.T) {
	tofu, mirror := testservers.Tofu(t), testservers.ProviderMirror(t)
	files, err := catalog.LoadTemplateDir(filepath.Join("builtin", "httpecho"))
	if err != nil {
		t.Fatal(err)
	}
	opt := catalog.TofuCheck{Tofu: tofu, ProviderMirror: mirror, Targets: []string{"docker"}}
	if err := catalog.ValidateWithTofu(context.Background(), files, opt); err != nil {
		t.Fatalf("httpecho's docker module: %v", err)
	}
	files["modules/docker/main.tf"] = append(files["modules/docker/main.tf"], []byte("\nlocals {\n  nothing = var.undeclared\n}\n")...)
	err = catalog.ValidateWithTofu(context.Background(), files, opt)
	var ve *catalog.ValidationError
	if !errors.As(err, &ve) || len(ve.Fields) == 0 || !strings.HasPrefix(ve.Fields[0].Field, "modules/docker/main.tf:") ||
		!strings.Contains(ve.Fields[0].Reason, "undeclared") {
		t.Fatalf("ValidateWithTofu = %v", err)
	}
}
