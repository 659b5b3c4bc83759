package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/spawnit/spawnit"
	"github.com/spawnit/spawnit/pkg/apiv1"
)

func TestHistoryCompareAndRestore(t *testing.T) {
	f := newFakeAPI(t)
	f.HandleFunc("GET /api/v1/services/web/revisions", func(w http.ResponseWriter, r *http.Request) {
		sendJSON(w, 200, apiv1.RevisionList{Kept: 50, Revisions: []apiv1.Revision{
			{Number: 2, Kind: "apply", Job: "j-1", StateSerial: 4, TemplateVersion: "1.1.0", By: "alice", At: t0},
			{Number: 1, Kind: "create", TemplateVersion: "1.1.0", By: "alice", At: t0},
		}})
	})
	f.HandleFunc("GET /api/v1/services/web/revisions/compare", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("from") != "1" || r.URL.Query().Get("to") != "3" {
			sendError(w, 400, apiv1.CodeBadRequest, "from/to")
			return
		}
		sendJSON(w, 200, apiv1.RevisionComparison{From: 1, To: 3, Changes: []apiv1.RevisionChange{
			{Field: "inputs.greeting", From: "a", To: "b"}, {Field: "inputs.port", From: 1, To: nil}}})
	})
	plan := finishedJob("p-1", spawnit.OpPlan, "web", spawnit.StateSucceeded)
	plan.Plan = &apiv1.PlanSummary{HasChanges: true, Change: 1}
	f.serveJob("", plan, []apiv1.Event{{Seq: 1, Type: spawnit.EventChangeSummary, Summary: &apiv1.ChangeSummary{Change: 1, Operation: "plan"}}})
	f.HandleFunc("POST /api/v1/services/web/revisions/1/restore", func(w http.ResponseWriter, r *http.Request) {
		queued := plan
		queued.State, queued.Plan = spawnit.StateQueued, nil
		sendJSON(w, 202, apiv1.Restore{Service: apiv1.Service{ID: "web"}, Revision: apiv1.Revision{Number: 3, Kind: "restore", RestoredFrom: 1}, Job: queued})
	})

	out, _, err := runCLI(t, f, "service", "history", "web")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "REVISION") || !strings.Contains(out, "apply (job j-1)") || !strings.Contains(out, "create") {
		t.Fatalf("history:\n%s", out)
	}
	out, _, err = runCLI(t, f, "service", "compare", "web", "1", "3")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "inputs.greeting  a           b") || !strings.Contains(out, "inputs.port      1           -") {
		t.Fatalf("compare:\n%s", out)
	}
	out, _, err = runCLI(t, f, "service", "restore", "web", "1")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "inputs of revision 1 again (revision 3)") || !strings.Contains(out, "Nothing was applied") {
		t.Fatalf("restore:\n%s", out)
	}
	if _, _, err := runCLI(t, f, "service", "restore", "web", "x"); err == nil {
		t.Fatal("a bad revision number was accepted")
	}
}
