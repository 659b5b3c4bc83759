package api_test

import (
	"io/fs"
	"regexp"
	"strings"
	"testing"

	"github.com/spawnit/spawnit/catalog"
	"github.com/spawnit/spawnit/pkg/apiv1"
)

// httpechoFiles is the built-in httpecho template's files, as text by path.
func httpechoFiles(t *testing.T) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := fs.WalkDir(catalog.Builtin(), "httpecho", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(catalog.Builtin(), p)
		files[strings.TrimPrefix(p, "httpecho/")] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestPublishTemplate(t *testing.T) {
	files := httpechoFiles(t)
	files["template.json"] = regexp.MustCompile(`"version": "[^"]*"`).ReplaceAllString(files["template.json"], `"version": "9.0.0"`)
	files["modules/docker/main.tf"] += "\n# 1.2.0\n"
	path := "/api/v1/catalog/httpecho/versions"

	// Only operators publish.
	h := newHarness(t, harnessOptions{})
	if e := h.must(403, req{method: "POST", path: path, body: apiv1.PublishTemplate{Files: files}}).apiError(t); e.Error.Code != apiv1.CodeForbidden {
		t.Fatalf("a deployer published: %+v", e)
	}
	op := map[string]string{"X-Test-Role": "operator"}
	var v apiv1.PublishedVersion
	h.must(201, req{method: "POST", path: path, headers: op, body: apiv1.PublishTemplate{Files: files}}).decode(t, &v)
	if v.Template != "httpecho" || v.Version != "9.0.0" || !v.Created || v.Digest == "" {
		t.Fatalf("published %+v", v)
	}
	h.must(200, req{method: "POST", path: path, headers: op, body: apiv1.PublishTemplate{Files: files}}).decode(t, &v)
	if v.Created {
		t.Fatal("the same content published twice")
	}
	files["modules/docker/main.tf"] += "\n# changed\n"
	h.must(409, req{method: "POST", path: path, headers: op, body: apiv1.PublishTemplate{Files: files}})
	h.must(400, req{method: "POST", path: "/api/v1/catalog/redis/versions", headers: op, body: apiv1.PublishTemplate{Files: files}})

	// Every problem at once, named by file.
	files["modules/docker/extra.tfvars"] = "port = 1\n"
	files["template.json"] = strings.Replace(files["template.json"], `"output": "endpoint"`, `"output": "url"`, 1)
	e := h.must(400, req{method: "POST", path: path, headers: op, body: apiv1.PublishTemplate{Files: files}}).apiError(t)
	var fields []string
	for _, f := range e.Error.Fields {
		fields = append(fields, f.Field)
	}
	if e.Error.Code != apiv1.CodeValidation || !strings.Contains(strings.Join(fields, " "), "modules/docker/extra.tfvars") ||
		!strings.Contains(strings.Join(fields, " "), "template.json") {
		t.Fatalf("problems: %+v", e)
	}
}
