package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spawnit/spawnit/internal/testservers"
	"github.com/spawnit/spawnit/pkg/apiv1"
)

// TestTemplateValidate runs template validate on the built-in httpecho folder (tofu
// validate on its docker module, with the provider mirror), then on a copy with
// mistakes: every problem listed, exit status 1.
func TestTemplateValidate(t *testing.T) {
	tofu, mirror := testservers.Tofu(t), testservers.ProviderMirror(t)
	f := newFakeAPI(t)
	src := filepath.Join("..", "..", "catalog", "builtin", "httpecho")
	out, _, err := runCLI(t, f, "template", "validate", src, "--tofu", tofu, "--provider-mirror", mirror, "--tofu-target", "docker")
	if err != nil || !strings.Contains(out, " is valid (tofu validate included).") {
		t.Fatalf("httpecho: %v\n%s", err, out)
	}

	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	main := filepath.Join(dir, "modules", "docker", "main.tf")
	b, _ := os.ReadFile(main)
	b = append(b, "\nlocals {\n  nothing = var.undeclared\n}\n"...)
	if err := os.WriteFile(main, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "modules", "docker", "x.tfvars"), []byte("port = 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, err = runCLI(t, f, "template", "validate", dir, "--tofu", tofu, "--provider-mirror", mirror, "--tofu-target", "docker", "-o", "json")
	if err == nil {
		t.Fatal("a broken template passed")
	}
	var got templateCheck
	if jerr := json.Unmarshal([]byte(out), &got); jerr != nil {
		t.Fatalf("%v: %s", jerr, out)
	}
	text := []string{}
	for _, p := range got.Problems {
		text = append(text, p.Field+": "+p.Reason)
	}
	all := strings.Join(text, "\n")
	if got.Valid || !got.Tofu || !strings.Contains(all, "modules/docker/x.tfvars") || !strings.Contains(all, "modules/docker/main.tf:") ||
		!strings.Contains(all, "undeclared") || !strings.Contains(err.Error(), "2 problems") {
		t.Fatalf("problems (%v):\n%s", err, all)
	}
}

func TestTemplatePublish(t *testing.T) {
	f := newFakeAPI(t)
	f.HandleFunc("POST /api/v1/catalog/httpecho/versions", func(w http.ResponseWriter, r *http.Request) {
		sendJSON(w, 201, apiv1.PublishedVersion{Template: "httpecho", Version: "1.1.0", Created: true, Digest: "d"})
	})
	out, _, err := runCLI(t, f, "template", "publish", filepath.Join("..", "..", "catalog", "builtin", "httpecho"))
	if err != nil || out != "Published httpecho 1.1.0.\n" {
		t.Fatalf("publish: %v: %q", err, out)
	}
	var body apiv1.PublishTemplate
	if err := json.Unmarshal(f.body("POST /api/v1/catalog/httpecho/versions"), &body); err != nil {
		t.Fatal(err)
	}
	if _, ok := body.Files["template.json"]; !ok || body.Files["modules/docker/main.tf"] == "" {
		t.Fatalf("sent files %v", len(body.Files))
	}
}
