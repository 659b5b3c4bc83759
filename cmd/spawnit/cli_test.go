package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spawnit/spawnit"
	"github.com/spawnit/spawnit/pkg/apiv1"
	"github.com/spawnit/spawnit/pkg/client"
)

// fakeAPI is a SpawnIt server reduced to what each test registers on its mux.
type fakeAPI struct {
	*http.ServeMux
	srv *httptest.Server
	mu  sync.Mutex
	// bodies keeps request bodies by "METHOD path", for tests that check what was sent.
	bodies map[string][]byte
	// headers keeps request headers the same way.
	headers map[string]http.Header
	// configDir is the CLI's configuration directory (empty).
	configDir string
}

func newFakeAPI(t *testing.T) *fakeAPI {
	t.Helper()
	f := &fakeAPI{ServeMux: http.NewServeMux(), bodies: map[string][]byte{}, headers: map[string]http.Header{}, configDir: t.TempDir()}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		f.mu.Lock()
		key := r.Method + " " + r.URL.Path
		f.bodies[key], f.headers[key] = body, r.Header.Clone()
		f.mu.Unlock()
		f.ServeMux.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAPI) body(key string) []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.bodies[key]
}

func (f *fakeAPI) header(key string) http.Header {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.headers[key]
}

func sendJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func sendError(w http.ResponseWriter, status int, code, msg string, fields ...apiv1.FieldError) {
	sendJSON(w, status, apiv1.Error{Error: apiv1.ErrorBody{Code: code, Message: msg, Fields: fields}})
}

// serveJob answers a job's routes: the start route returns it queued, its event stream
// sends events then "end", and GET returns final.
func (f *fakeAPI) serveJob(start string, final apiv1.Job, events []apiv1.Event) {
	base := "/api/v1/services/" + final.Service.Service + "/jobs/" + final.ID
	if start != "" {
		f.HandleFunc(start, func(w http.ResponseWriter, r *http.Request) {
			queued := final
			queued.State, queued.Outputs, queued.Error = spawnit.StateQueued, nil, ""
			sendJSON(w, 202, queued)
		})
	}
	f.HandleFunc("GET "+base, func(w http.ResponseWriter, r *http.Request) { sendJSON(w, 200, final) })
	f.HandleFunc("GET "+base+"/events", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Accept") == "application/json" {
			sendJSON(w, 200, apiv1.EventList{Events: events})
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		for _, ev := range events {
			data, _ := json.Marshal(ev)
			fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", ev.Seq, ev.Type, data)
		}
		fmt.Fprint(w, ": keep-alive\n\nevent: end\ndata: {}\n\n")
	})
}

// runCLI runs a command against the fake server and returns what it printed.
func runCLI(t *testing.T, f *fakeAPI, name string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	return runCLICtx(t.Context(), f, name, args...)
}

func runCLICtx(ctx context.Context, f *fakeAPI, name string, args ...string) (string, string, error) {
	var out, errOut bytes.Buffer
	env := &cliEnv{
		stdin: strings.NewReader(""), stdout: &out, stderr: &errOut,
		getenv: func(k string) string {
			switch k {
			case "SPAWNIT_SERVER":
				return f.srv.URL
			case "SPAWNIT_TOKEN":
				return "env-s3cr3t"
			}
			return ""
		},
		loc:        time.UTC,
		clientOpts: []client.Option{client.WithRetry(2, time.Millisecond)},
		configDir:  f.configDir,
	}
	res := executeCLI(ctx, env, append([]string{name}, args...))
	return out.String(), errOut.String(), res.err
}

var (
	t0      = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	t0plus2 = t0.Add(2 * time.Second)
)

func ref(svc string) spawnit.ServiceRef { return spawnit.ServiceRef{Client: "local", Service: svc} }

func at(d time.Duration) time.Time { return t0.Add(d) }

// applyEvents is what an apply of one container emits.
func applyEvents() []apiv1.Event {
	app := func(action string, elapsed float64) *apiv1.ResourceEvent {
		return &apiv1.ResourceEvent{Address: "docker_container.app", Type: "docker_container", Name: "app", Action: action, Elapsed: elapsed}
	}
	return []apiv1.Event{
		{Seq: 1, Time: at(0), Type: spawnit.EventJobState, State: spawnit.StateQueued, Message: "job queued: apply local/web"},
		{Seq: 2, Time: at(0), Type: spawnit.EventJobState, State: spawnit.StateRunning, Message: "job running"},
		{Seq: 3, Time: at(100 * time.Millisecond), Type: spawnit.EventLog, Level: "info", Message: "OpenTofu 1.12.6"},
		{Seq: 4, Time: at(200 * time.Millisecond), Type: spawnit.EventPlannedChange, Resource: app("create", 0), Message: "docker_container.app: Plan to create"},
		{Seq: 5, Time: at(300 * time.Millisecond), Type: spawnit.EventApplyStart, Resource: app("create", 0), Message: "docker_container.app: Creating..."},
		{Seq: 6, Time: at(1500 * time.Millisecond), Type: spawnit.EventApplyComplete, Resource: app("create", 1.2), Message: "docker_container.app: Creation complete after 1s"},
		{Seq: 7, Time: at(1600 * time.Millisecond), Type: spawnit.EventDiagnostic, Level: "warn",
			Diagnostic: &apiv1.Diagnostic{Severity: "warning", Summary: "Deprecated attribute", Detail: "Use \"ports\" instead.\nSee the docs."}},
		{Seq: 8, Time: at(1700 * time.Millisecond), Type: spawnit.EventChangeSummary, Summary: &apiv1.ChangeSummary{Add: 1, Operation: "apply"}},
		{Seq: 9, Time: at(1800 * time.Millisecond), Type: spawnit.EventOutputs, Message: "2 outputs", Outputs: map[string]apiv1.Output{
			"url": {Value: json.RawMessage(`"http://localhost:8080"`)}, "password": {Sensitive: true}}},
		{Seq: 10, Time: at(2 * time.Second), Type: spawnit.EventJobState, State: spawnit.StateSucceeded, Message: "job succeeded"},
	}
}

func finishedJob(id string, op spawnit.Operation, svc string, state spawnit.JobState) apiv1.Job {
	return apiv1.Job{ID: id, Operation: op, Service: ref(svc), State: state, CreatedAt: t0, StartedAt: &t0, EndedAt: &t0plus2}
}

func TestApplyFollowsWithProgress(t *testing.T) {
	f := newFakeAPI(t)
	job := finishedJob("j-1", spawnit.OpApply, "web", spawnit.StateSucceeded)
	job.Outputs = map[string]apiv1.Output{
		"url":      {Value: json.RawMessage(`"http://localhost:8080"`)},
		"password": {Sensitive: true},
		"ports":    {Value: json.RawMessage(`[ 8080,  8443 ]`)},
	}
	f.serveJob("POST /api/v1/services/web/apply", job, applyEvents())

	out, _, err := runCLI(t, f, "apply", "web")
	if err != nil {
		t.Fatal(err)
	}
	want := `Applying web (job j-1)…
docker_container.app: will be created
docker_container.app: creating…
docker_container.app: creating… done (1.2s)
Warning: Deprecated attribute
Apply complete: 1 added, 0 changed, 0 destroyed.
Apply succeeded in 2.0s.

Outputs:
  password = (sensitive)
  ports    = [8080,8443]
  url      = "http://localhost:8080"
`
	if out != want {
		t.Errorf("output:\n%s\nwant:\n%s", out, want)
	}
	h := f.header("POST /api/v1/services/web/apply")
	if h.Get("Idempotency-Key") == "" || h.Get("Authorization") != "Bearer env-s3cr3t" {
		t.Errorf("apply headers: %v", h)
	}
}

func TestApplyFailureIsAnErrorWithTheJobsReason(t *testing.T) {
	f := newFakeAPI(t)
	job := finishedJob("j-2", spawnit.OpApply, "web", spawnit.StateFailed)
	job.Error = "tofu apply: exit status 1"
	events := []apiv1.Event{
		{Seq: 1, Time: at(0), Type: spawnit.EventApplyStart, Resource: &apiv1.ResourceEvent{Address: "docker_image.app", Action: "create"}},
		{Seq: 2, Time: at(3 * time.Second), Type: spawnit.EventApplyErrored, Resource: &apiv1.ResourceEvent{Address: "docker_image.app", Action: "create"}},
		{Seq: 3, Time: at(3 * time.Second), Type: spawnit.EventDiagnostic, Level: "error",
			Diagnostic: &apiv1.Diagnostic{Severity: "error", Summary: "Unable to pull image", Address: "docker_image.app"}},
		{Seq: 4, Time: at(3 * time.Second), Type: spawnit.EventJobState, State: spawnit.StateFailed, Level: "error", Message: "job failed: tofu apply: exit status 1"},
	}
	f.serveJob("POST /api/v1/services/web/apply", job, events)

	out, _, err := runCLI(t, f, "apply", "web")
	var je *cliJobError
	if !errors.As(err, &je) {
		t.Fatalf("err = %v, want a job error", err)
	}
	if err.Error() != "apply job j-2 on service web failed: tofu apply: exit status 1" {
		t.Errorf("err = %q", err)
	}
	for _, line := range []string{
		"docker_image.app: creating… failed (3.0s)", // elapsed from the start event's time
		"Error: Unable to pull image (docker_image.app)",
		"Apply failed after 2.0s.",
	} {
		if !strings.Contains(out, line+"\n") {
			t.Errorf("output lacks %q:\n%s", line, out)
		}
	}
	if strings.Contains(out, "Outputs") {
		t.Errorf("a failed job shows outputs:\n%s", out)
	}
}

func TestApplyJSONPrintsEventsThenTheJob(t *testing.T) {
	f := newFakeAPI(t)
	f.serveJob("POST /api/v1/services/web/apply", finishedJob("j-1", spawnit.OpApply, "web", spawnit.StateSucceeded), applyEvents())
	out, _, err := runCLI(t, f, "apply", "web", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != len(applyEvents())+1 {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(applyEvents())+1, out)
	}
	for i, l := range lines[:len(lines)-1] {
		var ev apiv1.Event
		if err := json.Unmarshal([]byte(l), &ev); err != nil || ev.Seq != int64(i+1) {
			t.Fatalf("line %d: %s (%v)", i, l, err)
		}
	}
	var job apiv1.Job
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &job); err != nil || job.State != spawnit.StateSucceeded {
		t.Fatalf("last line %s (%v)", lines[len(lines)-1], err)
	}
}

func TestApplyNoFollow(t *testing.T) {
	f := newFakeAPI(t)
	f.serveJob("POST /api/v1/services/web/apply", finishedJob("j-1", spawnit.OpApply, "web", spawnit.StateSucceeded), nil)
	out, _, err := runCLI(t, f, "apply", "--no-follow", "web")
	if err != nil {
		t.Fatal(err)
	}
	if want := "Apply job j-1 started on service web (queued).\nFollow it with: spawnit logs web j-1 -f\n"; out != want {
		t.Errorf("output %q", out)
	}
	out, _, err = runCLI(t, f, "apply", "web", "--no-follow", "-o", "json")
	var job apiv1.Job
	if err != nil || json.Unmarshal([]byte(out), &job) != nil || job.ID != "j-1" {
		t.Fatalf("json: %s, %v", out, err)
	}
}

func TestPlanShowsChangesAndNoChanges(t *testing.T) {
	f := newFakeAPI(t)
	job := finishedJob("p-1", spawnit.OpPlan, "web", spawnit.StateSucceeded)
	job.Plan = &apiv1.PlanSummary{}
	f.serveJob("POST /api/v1/services/web/plan", job, []apiv1.Event{
		{Seq: 1, Type: spawnit.EventPlannedChange, Resource: &apiv1.ResourceEvent{Address: "docker_container.app", Action: "update"}},
		{Seq: 2, Type: spawnit.EventPlannedChange, Resource: &apiv1.ResourceEvent{Address: "docker_network.n", Action: "noop"}},
		{Seq: 3, Type: spawnit.EventChangeSummary, Summary: &apiv1.ChangeSummary{Change: 1, Operation: "plan"}},
	})
	out, _, err := runCLI(t, f, "plan", "web")
	if err != nil {
		t.Fatal(err)
	}
	want := "Planning web (job p-1)…\ndocker_container.app: will be updated in place\nPlan: 0 to add, 1 to change, 0 to destroy.\n" +
		"Plan succeeded in 2.0s.\nNo changes: the infrastructure matches the configuration.\n"
	if out != want {
		t.Errorf("output:\n%s\nwant:\n%s", out, want)
	}
}

// Ctrl-C while following stops the command, not the job, and says how to go on.
func TestFollowInterrupted(t *testing.T) {
	f := newFakeAPI(t)
	f.HandleFunc("POST /api/v1/services/web/destroy", func(w http.ResponseWriter, r *http.Request) {
		sendJSON(w, 202, apiv1.Job{ID: "d-1", Operation: spawnit.OpDestroy, State: spawnit.StateQueued})
	})
	started := make(chan struct{})
	f.HandleFunc("GET /api/v1/services/web/jobs/d-1/events", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "id: 1\nevent: job_state\ndata: {\"seq\":1,\"type\":\"job_state\",\"state\":\"running\"}\n\n")
		w.(http.Flusher).Flush()
		close(started)
		<-r.Context().Done()
	})
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		<-started
		cancel()
	}()
	_, stderr, err := runCLICtx(ctx, f, "destroy", "web")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(stderr, "spawnit logs web d-1 -f") || !strings.Contains(stderr, "spawnit cancel web d-1") {
		t.Errorf("stderr: %s", stderr)
	}
}

func TestLogsOfTheLatestJob(t *testing.T) {
	f := newFakeAPI(t)
	f.HandleFunc("GET /api/v1/services/web/jobs", func(w http.ResponseWriter, r *http.Request) {
		sendJSON(w, 200, apiv1.JobList{Jobs: []apiv1.Job{{ID: "j-9"}, {ID: "j-1"}}})
	})
	events := applyEvents()[1:6]
	for i := range events {
		events[i].Seq = int64(i + 1)
	}
	f.serveJob("", finishedJob("j-9", spawnit.OpApply, "web", spawnit.StateSucceeded), events)
	out, _, err := runCLI(t, f, "logs", "web")
	if err != nil {
		t.Fatal(err)
	}
	want := `10:00:00 job running
10:00:00 OpenTofu 1.12.6
10:00:00 docker_container.app: Plan to create
10:00:00 docker_container.app: Creating...
10:00:01 docker_container.app: Creation complete after 1s
`
	if out != want {
		t.Errorf("output:\n%s\nwant:\n%s", out, want)
	}
	// -f follows to the end and reports the outcome.
	out, _, err = runCLI(t, f, "logs", "web", "j-9", "-f")
	if err != nil || !strings.HasSuffix(out, "Apply succeeded in 2.0s.\n") {
		t.Fatalf("logs -f: %v\n%s", err, out)
	}
}

func TestCatalogTable(t *testing.T) {
	f := newFakeAPI(t)
	f.HandleFunc("GET /api/v1/catalog", func(w http.ResponseWriter, r *http.Request) {
		sendJSON(w, 200, apiv1.TemplateList{Templates: []apiv1.Template{
			{ID: "echo", Name: "Echo server", Version: "1.0.0", Description: "Answers HTTP\trequests.", Providers: []string{"docker"}},
			{ID: "postgres", Name: "PostgreSQL", Version: "16", Description: strings.Repeat("A database. ", 10), Providers: []string{"aws", "docker"}},
		}})
	})
	out, _, err := runCLI(t, f, "catalog")
	if err != nil {
		t.Fatal(err)
	}
	want := `TEMPLATE  NAME         VERSION  TARGETS     DESCRIPTION
echo      Echo server  1.0.0    docker      Answers HTTP requests.
postgres  PostgreSQL   16       aws,docker  A database. A database. A database. A database. A database.…
`
	if out != want {
		t.Errorf("output:\n%s\nwant:\n%s", out, want)
	}
}

func TestServicesTableAndJSON(t *testing.T) {
	f := newFakeAPI(t)
	f.HandleFunc("GET /api/v1/services", func(w http.ResponseWriter, r *http.Request) {
		sendJSON(w, 200, apiv1.ServiceList{Services: []apiv1.Service{
			{ID: "web", Name: "My web", Template: "echo", Provider: "docker", Status: apiv1.ServiceStatus{
				Intent: spawnit.IntentApplied, Drift: spawnit.DriftInSync,
				LastJob: &apiv1.JobRef{ID: "j-1", Operation: spawnit.OpApply, State: spawnit.StateSucceeded}}},
			{ID: "db", Name: "Database", Template: "postgres", Provider: "docker", Status: apiv1.ServiceStatus{
				Drift: spawnit.DriftNotChecked, Busy: true}},
		}})
	})
	out, _, err := runCLI(t, f, "services")
	if err != nil {
		t.Fatal(err)
	}
	want := `SERVICE  NAME      TEMPLATE  TARGET  STATUS    DRIFT        LAST JOB
web      My web    echo      docker  deployed  in sync      apply succeeded (j-1)
db       Database  postgres  docker  busy      not checked  -
`
	if out != want {
		t.Errorf("output:\n%s\nwant:\n%s", out, want)
	}
	out, _, err = runCLI(t, f, "services", "-o", "json")
	var list apiv1.ServiceList
	if err != nil || json.Unmarshal([]byte(out), &list) != nil || len(list.Services) != 2 || list.Services[1].ID != "db" {
		t.Fatalf("json: %v\n%s", err, out)
	}
}

func echoTemplate() apiv1.Template {
	return apiv1.Template{ID: "echo", Name: "Echo", Version: "1", Inputs: []apiv1.Input{
		{Name: "port", Type: apiv1.InputPort},
		{Name: "replicas", Type: apiv1.InputInteger},
		{Name: "ratio", Type: apiv1.InputNumber},
		{Name: "debug", Type: apiv1.InputBoolean},
		{Name: "greeting", Type: apiv1.InputString},
		{Name: "count_label", Type: apiv1.InputString},
	}, Providers: []string{"docker"}}
}

func TestCreateCoercesSetValuesByTemplateType(t *testing.T) {
	f := newFakeAPI(t)
	f.HandleFunc("GET /api/v1/catalog/echo", func(w http.ResponseWriter, r *http.Request) { sendJSON(w, 200, echoTemplate()) })
	f.HandleFunc("POST /api/v1/services", func(w http.ResponseWriter, r *http.Request) {
		var req apiv1.CreateService
		_ = json.NewDecoder(r.Body).Decode(&req)
		sendJSON(w, 201, apiv1.Service{ID: "my-echo", Name: req.Name, Template: req.Template, Provider: "docker"})
	})
	inputsFile := filepath.Join(t.TempDir(), "inputs.json")
	if err := os.WriteFile(inputsFile, []byte(`{"port": 9000, "big": 12345678901234567890, "greeting": "from file"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	greeting := "hi ${var.name} \"quoted\" 'single'\nsecond line = still the value"
	out, _, err := runCLI(t, f, "create", "echo", "--name", "My echo",
		"--inputs-file", inputsFile,
		"--set", "port=8080", "--set", "replicas=3", "--set", "ratio=0.25", "--set", "debug=true",
		"--set", "greeting="+greeting, "--set", "count_label=42", "--set", "unknown=7",
		"--provider", "docker")
	if err != nil {
		t.Fatal(err)
	}
	if want := "Created service my-echo (My echo) from template echo on docker.\nDeploy it with: spawnit apply my-echo\n"; out != want {
		t.Errorf("output %q", out)
	}
	var sent struct {
		Template, Provider, Name string
		Inputs                   map[string]json.RawMessage
	}
	if err := json.Unmarshal(f.body("POST /api/v1/services"), &sent); err != nil {
		t.Fatal(err)
	}
	if sent.Template != "echo" || sent.Provider != "docker" || sent.Name != "My echo" {
		t.Errorf("sent %+v", sent)
	}
	greetingJSON, _ := json.Marshal(greeting)
	want := map[string]string{
		"port":        `8080`, // --set wins over the file
		"replicas":    `3`,
		"ratio":       `0.25`,
		"debug":       `true`,
		"greeting":    string(greetingJSON), // literal: no evaluation, quotes and newline kept
		"count_label": `"42"`,               // a string field keeps digits as a string
		"unknown":     `"7"`,                // not in the template: the server judges it
		"big":         `12345678901234567890`,
	}
	for k, v := range want {
		if got := string(sent.Inputs[k]); got != v {
			t.Errorf("input %s sent as %s, want %s", k, got, v)
		}
	}
	if len(sent.Inputs) != len(want) {
		t.Errorf("sent inputs %v", sent.Inputs)
	}
}

func TestCreateValueThatDoesNotParseStaysAString(t *testing.T) {
	f := newFakeAPI(t)
	f.HandleFunc("GET /api/v1/catalog/echo", func(w http.ResponseWriter, r *http.Request) { sendJSON(w, 200, echoTemplate()) })
	f.HandleFunc("POST /api/v1/services", func(w http.ResponseWriter, r *http.Request) {
		sendError(w, 400, apiv1.CodeValidation, "2 inputs are invalid",
			apiv1.FieldError{Field: "inputs.port", Code: "type", Reason: "must be a whole number"},
			apiv1.FieldError{Field: "inputs.debug", Code: "type", Reason: "must be true or false"})
	})
	_, _, err := runCLI(t, f, "create", "echo", "--name", "e", "--set", "port=80a", "--set", "debug=maybe", "--set", "ratio=NaN")
	var sent apiv1.CreateService
	_ = json.Unmarshal(f.body("POST /api/v1/services"), &sent)
	if sent.Inputs["port"] != "80a" || sent.Inputs["debug"] != "maybe" || sent.Inputs["ratio"] != "NaN" {
		t.Errorf("sent %v", sent.Inputs)
	}
	want := "2 inputs are invalid:\n  inputs.port: must be a whole number\n  inputs.debug: must be true or false"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %q, want %q", err, want)
	}
	if !client.IsValidation(err) {
		t.Errorf("the client error is lost: %v", err)
	}
}

// Through main's dispatcher: an API error is a readable sentence on stderr and exit 1.
func TestErrorsThroughMain(t *testing.T) {
	f := newFakeAPI(t)
	f.HandleFunc("DELETE /api/v1/services/web", func(w http.ResponseWriter, r *http.Request) {
		sendError(w, 409, apiv1.CodeResourcesExist, "service web still has resources")
	})
	t.Setenv("SPAWNIT_SERVER", f.srv.URL)
	t.Setenv("SPAWNIT_TOKEN", "env-s3cr3t")
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	var stderr bytes.Buffer
	code := run(t.Context(), []string{"delete", "web", "--token", "flag-s3cr3t"}, &stderr)
	want := "spawnit delete: service web still has resources\nDestroy its infrastructure and delete it in one go with: spawnit delete web --destroy\n"
	if code != 1 || stderr.String() != want {
		t.Errorf("exit %d, stderr:\n%s\nwant:\n%s", code, stderr.String(), want)
	}
	if h := f.header("DELETE /api/v1/services/web"); h.Get("Authorization") != "Bearer flag-s3cr3t" {
		t.Errorf("--token did not win over the environment: %q", h.Get("Authorization"))
	}

}

func TestUsageMistakesAndHelp(t *testing.T) {
	f := newFakeAPI(t)
	_, stderr, err := runCLI(t, f, "cancel", "web")
	if !errors.As(err, new(usageError)) || !strings.Contains(stderr, "Usage: spawnit cancel <service> <job>") {
		t.Errorf("missing argument: %v\n%s", err, stderr)
	}
	stdout, _, err := runCLI(t, f, "apply", "-h")
	if err != nil || !strings.Contains(stdout, "Usage: spawnit apply") {
		t.Errorf("help: %v\n%s", err, stdout)
	}
	if strings.Contains(stdout, "s3cr3t") {
		t.Errorf("help shows the token:\n%s", stdout)
	}
	_, _, err = runCLI(t, f, "create", "echo")
	if !errors.As(err, new(usageError)) || err.Error() != "create needs --name" {
		t.Errorf("create without --name: %v", err)
	}
}

func TestUnreachableServerIsASentence(t *testing.T) {
	f := newFakeAPI(t)
	f.srv.Close()
	_, _, err := runCLI(t, f, "services")
	if err == nil || !strings.HasPrefix(err.Error(), "cannot reach the SpawnIt server at "+f.srv.URL) ||
		!strings.Contains(err.Error(), "SPAWNIT_SERVER") || strings.Contains(err.Error(), "s3cr3t") {
		t.Fatalf("err = %v", err)
	}
}

func TestDeleteWithDestroyFollowsTheJob(t *testing.T) {
	f := newFakeAPI(t)
	f.serveJob("DELETE /api/v1/services/web", finishedJob("d-1", spawnit.OpDestroy, "web", spawnit.StateSucceeded), []apiv1.Event{
		{Seq: 1, Type: spawnit.EventApplyStart, Resource: &apiv1.ResourceEvent{Address: "docker_container.app", Action: "delete"}},
		{Seq: 2, Type: spawnit.EventApplyComplete, Resource: &apiv1.ResourceEvent{Address: "docker_container.app", Action: "delete", Elapsed: 0.4}},
		{Seq: 3, Type: spawnit.EventChangeSummary, Summary: &apiv1.ChangeSummary{Remove: 1, Operation: "destroy"}},
	})
	out, _, err := runCLI(t, f, "delete", "web", "--destroy")
	if err != nil {
		t.Fatal(err)
	}
	want := "Destroying web (job d-1)…\ndocker_container.app: destroying…\ndocker_container.app: destroying… done (0.4s)\n" +
		"Destroy complete: 1 destroyed.\nDestroy succeeded in 2.0s.\nService web is deleted.\n"
	if out != want {
		t.Errorf("output:\n%s\nwant:\n%s", out, want)
	}
	if q := f.header("DELETE /api/v1/services/web"); q == nil {
		t.Fatal("no DELETE")
	}
}

func TestCancel(t *testing.T) {
	f := newFakeAPI(t)
	f.HandleFunc("POST /api/v1/services/web/jobs/{job}/cancel", func(w http.ResponseWriter, r *http.Request) {
		var body apiv1.Cancel
		_ = json.NewDecoder(r.Body).Decode(&body)
		if body.Force {
			sendError(w, 409, apiv1.CodeCoolOff, "a forced cancel is allowed 10s after the first cancel")
			return
		}
		sendJSON(w, 202, apiv1.Job{ID: r.PathValue("job"), Operation: spawnit.OpApply, State: spawnit.StateCancelling})
	})
	out, _, err := runCLI(t, f, "cancel", "web", "j-1")
	if err != nil || !strings.HasPrefix(out, "Job j-1 (apply) was asked to stop (cancelling).\n") {
		t.Fatalf("cancel: %v\n%s", err, out)
	}
	_, _, err = runCLI(t, f, "cancel", "web", "j-1", "--force")
	if err == nil || !strings.HasPrefix(err.Error(), "a forced cancel is allowed 10s after the first cancel\n") {
		t.Fatalf("force: %v", err)
	}
}

func TestDriftReportAndCheck(t *testing.T) {
	f := newFakeAPI(t)
	report := &apiv1.Drift{Status: spawnit.DriftDrifted, Intent: spawnit.IntentApplied, CheckedAt: t0, Duration: 3200 * time.Millisecond,
		Resources: []apiv1.ResourceDrift{
			{Address: "docker_container.app", Status: spawnit.ResourceModified, Paths: []string{"ports[0].external"}, Planned: "update"},
			{Address: "docker_image.app", Status: spawnit.ResourceInSync},
		}}
	f.HandleFunc("GET /api/v1/services/web/drift", func(w http.ResponseWriter, r *http.Request) { sendJSON(w, 200, report) })
	out, _, err := runCLI(t, f, "drift", "web")
	if err != nil {
		t.Fatal(err)
	}
	want := `Drift: drifted: resources were changed outside SpawnIt.
Checked 2026-03-01 10:00:00 UTC in 3.2s.

RESOURCE              STATUS    DETAILS
docker_container.app  modified  ports[0].external; apply would update it
`
	if out != want {
		t.Errorf("output:\n%s\nwant:\n%s", out, want)
	}

	job := finishedJob("x-1", spawnit.OpDrift, "web", spawnit.StateSucceeded)
	job.Drift = &apiv1.Drift{Status: spawnit.DriftInSync, CheckedAt: t0}
	f.serveJob("POST /api/v1/services/web/drift", job, nil)
	out, _, err = runCLI(t, f, "drift", "web", "--check")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(out, "Drift check succeeded in 2.0s.\n\nDrift: in sync: the infrastructure matches what SpawnIt deployed.\nChecked 2026-03-01 10:00:00 UTC.\n") {
		t.Errorf("check output:\n%s", out)
	}
}

func TestParseCLI(t *testing.T) {
	f := newFakeAPI(t)
	f.HandleFunc("POST /api/v1/services/{svc}/jobs/{job}/cancel", func(w http.ResponseWriter, r *http.Request) {
		sendJSON(w, 202, apiv1.Job{ID: r.PathValue("job"), Service: ref(r.PathValue("svc")), State: spawnit.StateCancelled})
	})
	// Flags anywhere, "--" ends them: "-b" is the job.
	out, _, err := runCLI(t, f, "cancel", "a", "--force", "-o", "json", "--", "-b")
	var job apiv1.Job
	if err != nil || json.Unmarshal([]byte(out), &job) != nil || job.ID != "-b" || job.Service.Service != "a" ||
		!strings.Contains(string(f.body("POST /api/v1/services/a/jobs/-b/cancel")), `"force":true`) {
		t.Fatalf("out %s err %v", out, err)
	}
	if _, _, err := runCLI(t, f, "services", "-o", "xml"); !errors.As(err, new(usageError)) {
		t.Fatalf("-o xml: %v", err)
	}
}

func TestSetFlagKeepsEverythingAfterTheFirstEquals(t *testing.T) {
	var s setFlags
	for _, in := range []string{"a=b=c", "empty=", "sp= x "} {
		if err := s.Set(in); err != nil {
			t.Fatal(err)
		}
	}
	if s[0] != (setFlag{"a", "b=c"}) || s[1] != (setFlag{"empty", ""}) || s[2] != (setFlag{"sp", " x "}) {
		t.Fatalf("%+v", s)
	}
	for _, bad := range []string{"novalue", "=v"} {
		if err := s.Set(bad); err == nil {
			t.Errorf("Set(%q) accepted", bad)
		}
	}
}

func TestServerTextCannotDriveTheTerminal(t *testing.T) {
	f := newFakeAPI(t)
	f.HandleFunc("GET /api/v1/services/web", func(w http.ResponseWriter, r *http.Request) {})
	f.HandleFunc("GET /api/v1/services", func(w http.ResponseWriter, r *http.Request) {
		sendJSON(w, 200, apiv1.ServiceList{Services: []apiv1.Service{{ID: "web", Name: "evil\x1b[2J\nname"}}})
	})
	out, _, err := runCLI(t, f, "services")
	if err != nil || strings.ContainsAny(out, "\x1b") || strings.Count(out, "\n") != 2 {
		t.Fatalf("%v\n%q", err, out)
	}
}

func TestReadInputsFileIsStrict(t *testing.T) {
	for doc, want := range map[string]string{
		`{"a":1,"a":2}`: "duplicate key",
		`{"a":1} {}`:    "trailing data",
		`null`:          "must be a JSON object",
		`[1]`:           "must be a JSON object",
	} {
		if _, err := readInputsFile(strings.NewReader(doc), "-"); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", doc, err, want)
		}
	}
	in, err := readInputsFile(strings.NewReader(`{"n":12345678901234567890,"s":"x"}`), "-")
	if err != nil || in["n"] != json.Number("12345678901234567890") || in["s"] != "x" {
		t.Fatalf("inputs %#v, %v", in, err)
	}
}

// A job queued behind another says what it waits for before its progress.
func TestQueuedJobSaysWhatItWaitsFor(t *testing.T) {
	f := newFakeAPI(t)
	job := finishedJob("j-2", spawnit.OpApply, "web", spawnit.StateSucceeded)
	job.CreatedAt = t0.Add(-time.Second)
	f.serveJob("POST /api/v1/services/web/apply", job, nil)
	f.HandleFunc("GET /api/v1/services/web/jobs", func(w http.ResponseWriter, r *http.Request) {
		sendJSON(w, 200, apiv1.JobList{Jobs: []apiv1.Job{
			{ID: "j-2", Operation: spawnit.OpApply, State: spawnit.StateQueued, CreatedAt: t0.Add(-time.Second)},
			{ID: "j-1", Operation: spawnit.OpDestroy, State: spawnit.StateRunning, CreatedAt: t0.Add(-2 * time.Second)},
			{ID: "j-0", Operation: spawnit.OpPlan, State: spawnit.StateSucceeded, CreatedAt: t0.Add(-time.Minute)},
		}})
	})
	out, _, err := runCLI(t, f, "apply", "web")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "Applying web (job j-2)…\nQueued: waiting for destroy job j-1 (running) to end.\n") ||
		!strings.Contains(out, "Apply succeeded in 2.0s, after 1.0s in the queue.\n") {
		t.Errorf("output:\n%s", out)
	}
}

func TestYAMLKeepsTheAPIsFieldNamesAndTypes(t *testing.T) {
	var b bytes.Buffer
	err := writeYAML(&b, apiv1.Service{ID: "web", Name: "true", Inputs: map[string]any{"port": 8080, "label": "12"},
		Status: apiv1.ServiceStatus{Busy: true}})
	if err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"id: web\n", "name: \"true\"\n", "  label: \"12\"\n", "  port: 8080\n", "  busy: true\n", "auto_remediate: false\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("yaml lacks %q:\n%s", want, out)
		}
	}
}

func TestPlanDetailedExitCode(t *testing.T) {
	f := newFakeAPI(t)
	job := finishedJob("p-1", spawnit.OpPlan, "web", spawnit.StateSucceeded)
	job.Plan = &apiv1.PlanSummary{HasChanges: true}
	f.serveJob("POST /api/v1/services/web/plan", job, nil)
	_, _, err := runCLI(t, f, "plan", "web", "--detailed-exitcode")
	if exitCode(cliResult{err: err}, nil, io.Discard) != 2 {
		t.Fatalf("changes: %v", err)
	}
	_, _, err = runCLI(t, f, "plan", "web")
	if err != nil {
		t.Fatalf("without the flag: %v", err)
	}
	failed := finishedJob("p-2", spawnit.OpPlan, "db", spawnit.StateFailed)
	f.serveJob("POST /api/v1/services/db/plan", failed, nil)
	_, _, err = runCLI(t, f, "plan", "db", "--detailed-exitcode")
	if exitCode(cliResult{err: err}, nil, io.Discard) != 1 {
		t.Fatalf("failed plan: %v", err)
	}
}

// The Go-flag spellings the commands took before (one dash) still work.
func TestGoStyleFlagsStillWork(t *testing.T) {
	f := newFakeAPI(t)
	f.serveJob("POST /api/v1/services/web/apply", finishedJob("j-1", spawnit.OpApply, "web", spawnit.StateSucceeded), nil)
	out, _, err := runCLI(t, f, "apply", "-no-follow", "web", "-o", "json")
	var job apiv1.Job
	if err != nil || json.Unmarshal([]byte(out), &job) != nil || job.ID != "j-1" {
		t.Fatalf("%v\n%s", err, out)
	}
	root := (&cliApp{env: &cliEnv{}}).rootCmd()
	got := goStyleFlags(root, []string{"create", "-name", "-check", "--set", "-server=x", "-server=y", "-o", "json", "-f", "--", "-name"})
	want := "create --name -check --set -server=x --server=y -o json -f -- -name"
	if strings.Join(got, " ") != want {
		t.Fatalf("%q", strings.Join(got, " "))
	}
}

// lockedBuffer is a bytes.Buffer safe for a writer and a reader at once.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// A silent job gets a line with the time elapsed since following began.
func TestFollowShowsElapsedTimeWhileSilent(t *testing.T) {
	f := newFakeAPI(t)
	var out lockedBuffer
	job := finishedJob("j-1", spawnit.OpApply, "web", spawnit.StateSucceeded)
	f.HandleFunc("POST /api/v1/services/web/apply", func(w http.ResponseWriter, r *http.Request) { sendJSON(w, 202, job) })
	f.HandleFunc("GET /api/v1/services/web/jobs/j-1", func(w http.ResponseWriter, r *http.Request) { sendJSON(w, 200, job) })
	f.HandleFunc("GET /api/v1/services/web/jobs/j-1/events", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, ": open\n\n")
		w.(http.Flusher).Flush()
		// The job stays silent until the command has said it is still running.
		for deadline := time.Now().Add(10 * time.Second); !strings.Contains(out.String(), "Still running… "); {
			if time.Now().After(deadline) {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		fmt.Fprint(w, "event: end\ndata: {}\n\n")
	})
	env := &cliEnv{stdin: strings.NewReader(""), stdout: &out, stderr: io.Discard, loc: time.UTC, configDir: f.configDir,
		getenv:    func(k string) string { return map[string]string{"SPAWNIT_SERVER": f.srv.URL}[k] },
		heartbeat: 10 * time.Millisecond}
	res := executeCLI(t.Context(), env, []string{"apply", "web"})
	if res.err != nil {
		t.Fatal(res.err)
	}
	if got := out.String(); !strings.Contains(got, "\nStill running… ") || !strings.Contains(got, "s elapsed\n") || !strings.HasSuffix(got, "Apply succeeded in 2.0s.\n") {
		t.Fatalf("output:\n%s", got)
	}
}

func TestTenantsTable(t *testing.T) {
	f := newFakeAPI(t)
	f.HandleFunc("GET /api/v1/tenants", func(w http.ResponseWriter, r *http.Request) {
		sendJSON(w, 200, apiv1.TenantList{Tenants: []apiv1.TenantSummary{{Tenant: "acme", Services: 3}, {Tenant: "globex", Services: 12}}})
	})
	out, _, err := runCLI(t, f, "tenants")
	if err != nil {
		t.Fatal(err)
	}
	want := `TENANT  SERVICES
acme    3
globex  12
`
	if out != want {
		t.Errorf("output:\n%s\nwant:\n%s", out, want)
	}
}
