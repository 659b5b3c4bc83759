package api_test

import (
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/spawnit/spawnit/catalog"
	"github.com/spawnit/spawnit/catalog/catalogtest"
	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/internal/testservers"
	"github.com/spawnit/spawnit/pkg/apiv1"
	"github.com/spawnit/spawnit/pkg/store"
)

// TestRestoreRevisionPlansExactlyTheDifference deploys httpecho, changes its greeting
// and applies, then restores the first revision: the restore's plan replaces the
// container (the greeting is its environment) and nothing else, nothing is applied
// until asked, and the apply asked for brings the first greeting back.
func TestRestoreRevisionPlansExactlyTheDifference(t *testing.T) {
	testservers.BuildTestImage(t)
	h := newHarness(t, harnessOptions{realTofu: true})
	port, _ := strconv.Atoi(testservers.FreePort(t))
	endpoint := "http://127.0.0.1:" + strconv.Itoa(port) + "/"
	svc := h.createService("", "httpecho", map[string]any{"port": port, "greeting": "first greeting"})
	t.Cleanup(func() { removeContainer(svc) })
	base := "/api/v1/services/" + svc.ID
	tfvars, _, err := h.st.Get(t.Context(), "clients/tenant-a/"+svc.ID+"/terraform.tfvars.json")
	if err != nil {
		t.Fatal(err)
	}
	var vars map[string]any
	_ = json.Unmarshal(tfvars, &vars)
	token, _ := vars["token"].(string)

	revisions := func() []apiv1.Revision {
		var list apiv1.RevisionList
		h.must(200, req{method: "GET", path: base + "/revisions"}).decode(t, &list)
		if strings.Contains(string(h.must(200, req{method: "GET", path: base + "/revisions"}).body), token) {
			t.Fatal("a revision shows the secret")
		}
		return list.Revisions
	}
	waitRevisions := func(n int) []apiv1.Revision {
		var revs []apiv1.Revision
		waitFor(t, strconv.Itoa(n)+" revisions", func() bool { revs = revisions(); return len(revs) >= n })
		return revs
	}
	answers := func(want string) {
		t.Helper()
		waitFor(t, "the container to answer "+want, func() bool {
			r, err := http.Get(endpoint)
			if err != nil {
				return false
			}
			defer r.Body.Close()
			out, _ := io.ReadAll(r.Body)
			return r.StatusCode == 200 && strings.Contains(string(out), want)
		})
	}

	h.wait("", svc.ID, h.run("", svc.ID, "apply", nil).ID, engine.StateSucceeded)
	answers("first greeting")
	waitRevisions(2)
	var updated apiv1.Service
	h.must(200, req{method: "PUT", path: base + "/inputs", headers: map[string]string{"If-Match": `"` + svc.ETag + `"`},
		body: map[string]any{"inputs": map[string]any{"port": port, "greeting": "second greeting"}}}).decode(t, &updated)
	h.wait("", svc.ID, h.run("", svc.ID, "apply", nil).ID, engine.StateSucceeded)
	answers("second greeting")
	revs := waitRevisions(4)
	kinds := []string{}
	for _, r := range revs {
		kinds = append(kinds, r.Kind)
	}
	if !reflect.DeepEqual(kinds, []string{"apply", "update", "apply", "create"}) || revs[0].StateSerial <= revs[2].StateSerial ||
		revs[3].Inputs["token"] != "********" || revs[3].TemplateVersion != svc.TemplateVersion || revs[3].By == "" {
		t.Fatalf("revisions %+v", revs)
	}

	var cmp apiv1.RevisionComparison
	h.must(200, req{method: "GET", path: base + "/revisions/compare?from=1&to=3"}).decode(t, &cmp)
	want := []apiv1.RevisionChange{{Field: "inputs.greeting", From: "first greeting", To: "second greeting"}}
	if !reflect.DeepEqual(cmp.Changes, want) {
		t.Fatalf("compare 1..3 = %+v", cmp.Changes)
	}

	// Restore revision 1: its inputs, planned, not applied.
	var restored apiv1.Restore
	res := h.must(202, req{method: "POST", path: base + "/revisions/1/restore"})
	res.decode(t, &restored)
	if restored.Service.Inputs["greeting"] != "first greeting" || restored.Revision.Kind != "restore" ||
		restored.Revision.RestoredFrom != 1 || restored.Job.Operation != engine.OpPlan || res.header.Get("Location") == "" {
		t.Fatalf("restore = %+v", restored)
	}
	plan := h.wait("", svc.ID, restored.Job.ID, engine.StateSucceeded)
	var changed []string
	for _, r := range plan.Plan.Resources {
		if r.Action != "no-op" {
			changed = append(changed, r.Address+" "+r.Action)
		}
	}
	if !plan.Plan.HasChanges || !reflect.DeepEqual(changed, []string{"docker_container.httpecho replace"}) {
		t.Fatalf("the restore's plan changes %v (%+v)", changed, plan.Plan)
	}
	h.must(200, req{method: "GET", path: base + "/revisions/compare?from=4&to=" + strconv.Itoa(restored.Revision.Number)}).decode(t, &cmp)
	if want := []apiv1.RevisionChange{{Field: "inputs.greeting", From: "second greeting", To: "first greeting"}}; !reflect.DeepEqual(cmp.Changes, want) {
		t.Fatalf("compare 4..5 = %+v", cmp.Changes)
	}
	answers("second greeting") // a restore applies nothing by itself

	// The secret kept its value through the masked revision.
	tfvars, _, _ = h.st.Get(t.Context(), "clients/tenant-a/"+svc.ID+"/terraform.tfvars.json")
	if !strings.Contains(string(tfvars), token) {
		t.Fatal("the restore changed the secret")
	}

	h.wait("", svc.ID, h.run("", svc.ID, "apply", nil).ID, engine.StateSucceeded)
	answers("first greeting")
	if revs := waitRevisions(6); revs[0].Kind != "apply" || revs[0].Inputs["greeting"] != "first greeting" {
		t.Fatalf("after the apply: %+v", revs[0])
	}

	// Errors: a revision that does not exist, a bad number, a stale ETag.
	if e := h.must(404, req{method: "GET", path: base + "/revisions/99"}).apiError(t); e.Error.Code != apiv1.CodeNotFound {
		t.Fatalf("missing revision: %+v", e)
	}
	h.must(400, req{method: "GET", path: base + "/revisions/0"})
	h.must(400, req{method: "GET", path: base + "/revisions/compare?from=1"})
	h.must(412, req{method: "POST", path: base + "/revisions/1/restore", headers: map[string]string{"If-Match": `"stale"`}})
}

// TestRestoreAnotherVersion: a revision that ran another template version pins the
// service back to it, with its inputs, and plans; one whose version is not published
// (any more) is a field error that changes nothing. Comparing shows the version.
func TestRestoreAnotherVersion(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	svc := h.createService("", "httpecho", map[string]any{"port": 18099, "greeting": "now"})
	base := "/api/v1/services/" + svc.ID
	old := `{"number": 2, "kind": "update", "inputs": {"greeting": "then", "port": 18099, "token": "********"}, "sensitive": ["token"], "template_version": "0.9.0", "by": "someone", "at": "2026-01-01T00:00:00Z"}`
	if _, err := h.st.Put(t.Context(), "clients/tenant-a/"+svc.ID+"/revisions/0000000002.json", []byte(old), store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	var cmp apiv1.RevisionComparison
	h.must(200, req{method: "GET", path: base + "/revisions/compare?from=1&to=2"}).decode(t, &cmp)
	want := []apiv1.RevisionChange{{Field: "template_version", From: svc.TemplateVersion, To: "0.9.0"}, {Field: "inputs.greeting", From: "now", To: "then"}}
	if !reflect.DeepEqual(cmp.Changes, want) {
		t.Fatalf("compare = %+v", cmp.Changes)
	}
	// 0.9.0 was never published: a field error, nothing changed.
	if e := h.must(400, req{method: "POST", path: base + "/revisions/2/restore"}).apiError(t); len(e.Error.Fields) != 1 || e.Error.Fields[0].Field != "version" || !strings.Contains(e.Error.Message+e.Error.Fields[0].Reason, "0.9.0") {
		t.Fatalf("restore of an unpublished version: %+v", e)
	}
	var got apiv1.Service
	h.must(200, req{method: "GET", path: base}).decode(t, &got)
	if got.Inputs["greeting"] != "now" || got.TemplateVersion != svc.TemplateVersion {
		t.Fatalf("a refused restore changed the service: version %s, inputs %v", got.TemplateVersion, got.Inputs)
	}

	// A revision of a published version: the service moves to it, with its inputs.
	files := catalogtest.Files(t, catalog.Builtin(), "httpecho")
	files["template.json"] = catalogtest.WithVersion(t, files["template.json"], "9.0.0", "")
	if _, _, err := catalog.New(h.st, nil).Publish(t.Context(), files, "test"); err != nil {
		t.Fatal(err)
	}
	newer := `{"number": 3, "kind": "update", "inputs": {"greeting": "ahead", "port": 18099, "token": "********"}, "sensitive": ["token"], "template_version": "9.0.0", "by": "someone", "at": "2026-01-02T00:00:00Z"}`
	if _, err := h.st.Put(t.Context(), "clients/tenant-a/"+svc.ID+"/revisions/0000000003.json", []byte(newer), store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	var restored apiv1.Restore
	h.must(202, req{method: "POST", path: base + "/revisions/3/restore"}).decode(t, &restored)
	h.must(200, req{method: "GET", path: base}).decode(t, &got)
	if restored.Service.TemplateVersion != "9.0.0" || got.TemplateVersion != "9.0.0" || got.Inputs["greeting"] != "ahead" || restored.Job.Operation != engine.OpPlan {
		t.Fatalf("restore of revision 3: answered version %s, service on %s with %v, job %+v", restored.Service.TemplateVersion, got.TemplateVersion, got.Inputs, restored.Job)
	}
}
