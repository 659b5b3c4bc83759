package api_test

import (
	"strings"
	"testing"

	"github.com/spawnit/spawnit/catalog"
	"github.com/spawnit/spawnit/catalog/catalogtest"
	"github.com/spawnit/spawnit/pkg/apiv1"
)

func TestPublishTemplate(t *testing.T) {
	tf := catalogtest.Files(t, catalog.Builtin(), "httpecho")
	tf["template.json"] = catalogtest.WithVersion(t, tf["template.json"], "9.0.0", "")
	files := map[string]string{} // as the API takes them: text by path
	for p, b := range tf {
		files[p] = string(b)
	}
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
