package api_test

import (
	"context"
	"strings"
	"testing"

	"github.com/spawnit/spawnit/catalog"
	"github.com/spawnit/spawnit/catalog/catalogtest"
	"github.com/spawnit/spawnit/pkg/apiv1"
)

// TestUpgradeRoutes: versions of a template, the upgrade offer on a service, the
// upgrade's plan and apply answering with the migration and its job, field errors for
// values the new version refuses, and the bulk upgrade for operators only. (The jobs
// themselves run in pkg/platform's integration test.)
func TestUpgradeRoutes(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	files := catalogtest.Files(t, catalog.Builtin(), "httpecho")
	svc := h.createService("tenant-a", "httpecho", map[string]any{"port": 18091})
	from := catalogtest.Version(t, files["template.json"])
	to := catalogtest.NextMinor(t, from)
	files["template.json"] = catalogtest.WithVersion(t, files["template.json"], to, "Says farewell.")
	files["template.json"] = []byte(strings.Replace(string(files["template.json"]), `"inputs": [`, `"inputs": [{"name": "farewell", "label": "Farewell", "type": "string", "max": 8, "default": "bye"},`, 1))
	files["modules/docker/variables.tf"] = append(files["modules/docker/variables.tf"], "\nvariable \"farewell\" {\n  type = string\n}\n"...)
	if _, _, err := catalog.New(h.st, nil).Publish(context.Background(), files, "test"); err != nil {
		t.Fatal(err)
	}

	var list apiv1.TemplateVersionList
	h.must(200, req{method: "GET", path: "/api/v1/catalog/httpecho/versions"}).decode(t, &list)
	if len(list.Versions) != 2 || list.Versions[0].Version != from || !list.Versions[1].Latest || list.Versions[1].ReleaseNotes != "Says farewell." {
		t.Fatalf("versions: %+v", list)
	}
	var got apiv1.Service
	h.must(200, req{method: "GET", path: "/api/v1/services/" + svc.ID}).decode(t, &got)
	if got.TemplateVersion != from || got.Upgrade == nil || got.Upgrade.To != to {
		t.Fatalf("service: version %s, offer %+v", got.TemplateVersion, got.Upgrade)
	}

	e := h.must(400, req{method: "POST", path: "/api/v1/services/" + svc.ID + "/upgrade/plan", body: map[string]any{"inputs": map[string]any{"farewell": "much too long"}}}).apiError(t)
	if len(e.Error.Fields) != 1 || e.Error.Fields[0].Field != "inputs.farewell" {
		t.Fatalf("invalid input: %+v", e)
	}
	h.must(400, req{method: "POST", path: "/api/v1/services/" + svc.ID + "/upgrade/plan", body: map[string]any{"version": "7.0.0"}})

	var u apiv1.Upgrade
	res := h.must(202, req{method: "POST", path: "/api/v1/services/" + svc.ID + "/upgrade/plan"})
	res.decode(t, &u)
	if u.From != from || u.To != to || len(u.AddedInputs) != 1 || u.Job == nil || res.header.Get("Location") == "" {
		t.Fatalf("upgrade plan: %+v", u)
	}

	if e := h.must(403, req{method: "POST", path: "/api/v1/catalog/httpecho/upgrade", body: map[string]any{"dry_run": true}}).apiError(t); e.Error.Code != apiv1.CodeForbidden {
		t.Fatalf("bulk upgrade by a non-operator: %+v", e)
	}
	var bulk apiv1.BulkUpgrade
	h.must(200, req{method: "POST", path: "/api/v1/catalog/httpecho/upgrade", body: map[string]any{"dry_run": true},
		headers: map[string]string{"X-Test-Role": "operator"}}).decode(t, &bulk)
	if bulk.To != to || !bulk.DryRun || len(bulk.Services) != 1 || bulk.Services[0].Service != svc.ID {
		t.Fatalf("bulk dry run: %+v", bulk)
	}
}
