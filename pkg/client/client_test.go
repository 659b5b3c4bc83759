package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spawnit/spawnit"
	"github.com/spawnit/spawnit/pkg/apiv1"
)

// newTestClient points a client with fast retries at handler.
func newTestClient(t *testing.T, handler http.Handler, opts ...Option) *Client {
	t.Helper()
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	c, err := New(srv.URL, append([]Option{WithRetry(4, time.Millisecond)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func apiErr(w http.ResponseWriter, status int, code, msg string, fields ...apiv1.FieldError) {
	writeJSON(w, status, apiv1.Error{Error: apiv1.ErrorBody{Code: code, Message: msg, Fields: fields}})
}

func TestNewRejectsBadAddresses(t *testing.T) {
	for _, u := range []string{"", "127.0.0.1:8080", "ftp://x", "http://", "http://user:pw@host", "http://h/?q=1"} {
		if _, err := New(u); err == nil {
			t.Errorf("New(%q) succeeded", u)
		}
	}
	c, err := New("https://example.com/spawnit/")
	if err != nil || c.BaseURL() != "https://example.com/spawnit" {
		t.Fatalf("BaseURL = %q, %v", c.BaseURL(), err)
	}
}

func TestErrorsAreSentences(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/services", func(w http.ResponseWriter, r *http.Request) {
		apiErr(w, 400, apiv1.CodeValidation, "1 input is invalid",
			apiv1.FieldError{Field: "inputs.port", Code: "range", Reason: "must be between 1024 and 65535"})
	})
	mux.HandleFunc("PUT /api/v1/services/two/inputs", func(w http.ResponseWriter, r *http.Request) {
		apiErr(w, 400, apiv1.CodeValidation, "2 inputs are invalid",
			apiv1.FieldError{Field: "inputs.port", Reason: "must be a whole number"},
			apiv1.FieldError{Field: "inputs.name", Reason: "is required"})
	})
	mux.HandleFunc("GET /api/v1/services/gone", func(w http.ResponseWriter, r *http.Request) {
		apiErr(w, 404, apiv1.CodeNotFound, "service gone not found")
	})
	mux.HandleFunc("DELETE /api/v1/services/busy", func(w http.ResponseWriter, r *http.Request) {
		apiErr(w, 409, apiv1.CodeBusy, "a job is running on service busy")
	})
	mux.HandleFunc("POST /api/v1/services/x/jobs/j/cancel", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = io.WriteString(w, "<html>proxy error</html>")
	})
	c := newTestClient(t, mux)
	ctx := t.Context()

	_, _, err := c.CreateService(ctx, apiv1.CreateService{Template: "echo", Name: "e"})
	if err == nil || err.Error() != "inputs.port: must be between 1024 and 65535" {
		t.Errorf("one field: %v", err)
	}
	if !IsValidation(err) {
		t.Errorf("IsValidation(%v) = false", err)
	}
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 400 || len(ae.Fields) != 1 || ae.Fields[0].Code != "range" {
		t.Errorf("APIError = %+v", ae)
	}

	_, _, err = c.UpdateInputs(ctx, "two", nil, `"e1"`)
	if want := "2 inputs are invalid: inputs.port: must be a whole number; inputs.name: is required"; err == nil || err.Error() != want {
		t.Errorf("two fields: %v", err)
	}

	_, _, err = c.Service(ctx, "gone")
	if !IsNotFound(err) || IsConflict(err) || err.Error() != "service gone not found" {
		t.Errorf("not found: %v", err)
	}

	_, err = c.DeleteService(ctx, "busy", false)
	if !IsConflict(err) || !HasCode(err, apiv1.CodeBusy) || HasCode(err, apiv1.CodeLocked) {
		t.Errorf("busy: %v", err)
	}

	_, err = c.Cancel(ctx, "x", "j", false)
	if err == nil || err.Error() != "the server answered 502 Bad Gateway" || !errors.As(err, &ae) || ae.Code != "" {
		t.Errorf("proxy page: %v", err)
	}
}

func TestTransportErrorNamesTheServer(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	c, err := New(url, WithRetry(2, time.Millisecond), WithToken("s3cr3t-token"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Services(t.Context())
	var te *TransportError
	if !errors.As(err, &te) || !strings.HasPrefix(err.Error(), "cannot reach the SpawnIt server at "+url+": ") {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), "s3cr3t") {
		t.Fatalf("error shows the token: %v", err)
	}
}

func TestTokenAndUserAgentAreSent(t *testing.T) {
	rec := &recorder{}
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.add(r)
		writeJSON(w, 200, apiv1.Me{Subject: "u1", Tenant: "acme"})
	}), WithToken("s3cr3t-token"), WithUserAgent("test-agent/2"))
	me, err := c.Me(t.Context())
	if err != nil || me.Tenant != "acme" {
		t.Fatalf("Me = %+v, %v", me, err)
	}
	h := rec.all()[0].header
	if auth, ua := h.Get("Authorization"), h.Get("User-Agent"); auth != "Bearer s3cr3t-token" || ua != "test-agent/2" {
		t.Fatalf("Authorization %q, User-Agent %q", auth, ua)
	}
	for _, s := range []string{fmt.Sprintf("%v", c), fmt.Sprintf("%+v", *c), fmt.Sprintf("%#v", c)} {
		if strings.Contains(s, "s3cr3t") {
			t.Fatalf("printing the client shows the token: %s", s)
		}
	}
}

func TestServiceETagAndIfMatch(t *testing.T) {
	var mu sync.Mutex
	etag := `"v1"`
	port := json.Number("8080")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/services/blog", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("ETag", etag)
		writeJSON(w, 200, apiv1.Service{ID: "blog", ETag: strings.Trim(etag, `"`), Inputs: map[string]any{"port": port}})
	})
	mux.HandleFunc("PUT /api/v1/services/blog/inputs", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		switch r.Header.Get("If-Match") {
		case "":
			apiErr(w, 428, apiv1.CodePreconditionNeeded, "If-Match is required")
			return
		case etag:
		default:
			apiErr(w, 412, apiv1.CodePreconditionFailed, "the service changed since you read it")
			return
		}
		var body apiv1.UpdateInputs
		dec := json.NewDecoder(r.Body)
		dec.UseNumber()
		if err := dec.Decode(&body); err != nil || r.Header.Get("Content-Type") != "application/json" {
			apiErr(w, 400, apiv1.CodeBadRequest, "bad body")
			return
		}
		port = body.Inputs["port"].(json.Number)
		etag = `"v2"`
		w.Header().Set("ETag", etag)
		writeJSON(w, 200, apiv1.Service{ID: "blog", ETag: "v2", Inputs: body.Inputs})
	})
	c := newTestClient(t, mux)
	ctx := t.Context()

	svc, tag, err := c.Service(ctx, "blog")
	if err != nil || svc.ID != "blog" || tag != `"v1"` {
		t.Fatalf("Service = %+v, %q, %v", svc, tag, err)
	}
	svc, tag2, err := c.UpdateInputs(ctx, "blog", map[string]any{"port": 8081}, tag)
	if err != nil || tag2 != `"v2"` || fmt.Sprint(svc.Inputs["port"]) != "8081" {
		t.Fatalf("UpdateInputs = %+v, %q, %v", svc, tag2, err)
	}
	_, _, err = c.UpdateInputs(ctx, "blog", map[string]any{"port": 8082}, tag)
	if !IsPreconditionFailed(err) {
		t.Fatalf("stale ETag: %v", err)
	}
	_, _, err = c.UpdateInputs(ctx, "blog", map[string]any{"port": 8082}, "")
	if !HasCode(err, apiv1.CodePreconditionNeeded) {
		t.Fatalf("no ETag: %v", err)
	}
}

// seenRequest is what a fake server keeps of a request; the race detector cannot see
// the network's ordering, so the test reads these under a lock.
type seenRequest struct {
	method, path, query string
	header              http.Header
}

type recorder struct {
	mu   sync.Mutex
	reqs []seenRequest
}

func (rec *recorder) add(r *http.Request) int {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.reqs = append(rec.reqs, seenRequest{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Clone()})
	return len(rec.reqs)
}

func (rec *recorder) all() []seenRequest {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]seenRequest(nil), rec.reqs...)
}

// flaky fails the first n requests of a handler: the first by closing the connection
// without an answer (the server got the request, the client never learns what
// happened), the next ones with 503.
func flaky(n int, h http.HandlerFunc) (http.HandlerFunc, *recorder) {
	rec := &recorder{}
	return func(w http.ResponseWriter, r *http.Request) {
		i := rec.add(r)
		switch {
		case i == 1 && n >= 1:
			panic(http.ErrAbortHandler)
		case i <= n:
			w.Header().Set("Retry-After", "0")
			apiErr(w, 503, apiv1.CodeUnavailable, "the store is unavailable")
		default:
			h(w, r)
		}
	}, rec
}

func TestIdempotencyKeyStableAcrossRetries(t *testing.T) {
	handler, seen := flaky(2, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 202, apiv1.Job{ID: "j1", Operation: spawnit.OpApply, State: spawnit.StateQueued})
	})
	c := newTestClient(t, handler)
	job, err := c.Apply(t.Context(), "blog")
	if err != nil || job.ID != "j1" {
		t.Fatalf("Apply = %+v, %v", job, err)
	}
	reqs := seen.all()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3", len(reqs))
	}
	key := reqs[0].header.Get("Idempotency-Key")
	if len(key) != 36 {
		t.Fatalf("generated key %q is not a UUID", key)
	}
	for i, r := range reqs {
		if r.method != http.MethodPost || r.path != "/api/v1/services/blog/apply" || r.header.Get("Idempotency-Key") != key {
			t.Errorf("request %d: %s %s key %q, want key %q", i, r.method, r.path, r.header.Get("Idempotency-Key"), key)
		}
	}
	// Another call is another operation: a new key.
	if _, err := c.Apply(t.Context(), "blog"); err != nil {
		t.Fatal(err)
	}
	if k := seen.all()[3].header.Get("Idempotency-Key"); k == key || k == "" {
		t.Fatalf("second call reused key %q", k)
	}
}

// The answer to the first try is lost while the server is still starting the job: the
// retry meets "locked" (the key is in use) and tries again until it gets the job.
func TestRetryWaitsForAKeyInUse(t *testing.T) {
	rec := &recorder{}
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch rec.add(r) {
		case 1:
			panic(http.ErrAbortHandler)
		case 2:
			apiErr(w, 409, apiv1.CodeLocked, "a request with this Idempotency-Key is still being processed")
		default:
			writeJSON(w, 202, apiv1.Job{ID: "j1", State: spawnit.StateQueued})
		}
	}))
	job, err := c.Destroy(t.Context(), "s")
	if err != nil || job.ID != "j1" || len(rec.all()) != 3 {
		t.Fatalf("Destroy = %+v, %v after %d requests", job, err, len(rec.all()))
	}
	// With FailIfLocked, locked is the answer the caller asked for.
	rec2 := &recorder{}
	c = newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec2.add(r)
		apiErr(w, 409, apiv1.CodeLocked, "service s is busy")
	}))
	if _, err := c.Apply(t.Context(), "s", FailIfLocked()); !HasCode(err, apiv1.CodeLocked) || len(rec2.all()) != 1 {
		t.Fatalf("FailIfLocked: %v after %d requests", err, len(rec2.all()))
	}
}

func TestRunOptions(t *testing.T) {
	rec := &recorder{}
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.add(r)
		writeJSON(w, 202, apiv1.Job{ID: "j", State: spawnit.StateQueued})
	}))
	ctx := t.Context()
	calls := []func() (*apiv1.Job, error){
		func() (*apiv1.Job, error) { return c.Plan(ctx, "s", IdempotencyKey("mine"), FailIfLocked()) },
		func() (*apiv1.Job, error) { return c.Destroy(ctx, "s", IdempotencyKey("mine")) },
		func() (*apiv1.Job, error) { return c.CheckDrift(ctx, "s") },
	}
	for _, call := range calls {
		if _, err := call(); err != nil {
			t.Fatal(err)
		}
	}
	want := []struct{ path, query, key string }{
		{"/api/v1/services/s/plan", "wait=false", "mine"},
		{"/api/v1/services/s/destroy", "", "mine"},
		{"/api/v1/services/s/drift", "", ""},
	}
	got := rec.all()
	for i, w := range want {
		r := got[i]
		if r.path != w.path || r.query != w.query || (w.key != "" && r.header.Get("Idempotency-Key") != w.key) {
			t.Errorf("call %d: %s?%s key %q, want %+v", i, r.path, r.query, r.header.Get("Idempotency-Key"), w)
		}
	}
}

func TestUnsafeRequestsAreNotRetried(t *testing.T) {
	handler, seen := flaky(1, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 201, apiv1.Service{ID: "s"})
	})
	c := newTestClient(t, handler)
	if _, _, err := c.CreateService(t.Context(), apiv1.CreateService{Template: "t", Name: "s"}); err == nil {
		t.Fatal("CreateService succeeded after a lost answer")
	}
	if n := len(seen.all()); n != 1 {
		t.Fatalf("%d requests, want 1", n)
	}
}

func TestGetRetriesUntilAttemptsRunOut(t *testing.T) {
	handler, seen := flaky(100, nil)
	c := newTestClient(t, handler)
	_, err := c.Services(t.Context())
	if n := len(seen.all()); !IsUnavailable(err) || n != 4 {
		t.Fatalf("err %v after %d requests, want 503 after 4", err, n)
	}
}

func TestDeleteService(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("DELETE /api/v1/services/{id}", func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.PathValue("id") == "idle":
			w.WriteHeader(204)
		case r.URL.Query().Get("destroy") == "true":
			writeJSON(w, 202, apiv1.Job{ID: "d1", Operation: spawnit.OpDestroy, State: spawnit.StateQueued})
		default:
			apiErr(w, 409, apiv1.CodeResourcesExist, "service web is deployed: destroy it first")
		}
	})
	c := newTestClient(t, mux)
	ctx := t.Context()
	if job, err := c.DeleteService(ctx, "idle", false); err != nil || job != nil {
		t.Errorf("idle: %+v, %v", job, err)
	}
	if _, err := c.DeleteService(ctx, "web", false); !HasCode(err, apiv1.CodeResourcesExist) {
		t.Errorf("deployed: %v", err)
	}
	if job, err := c.DeleteService(ctx, "web", true); err != nil || job == nil || job.ID != "d1" {
		t.Errorf("destroy: %+v, %v", job, err)
	}
}

func TestInvalidIDsSendNothing(t *testing.T) {
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("unexpected request %s %s", r.Method, r.URL)
	}))
	ctx := t.Context()
	for _, err := range []error{
		func() error { _, err := c.DeleteService(ctx, "", true); return err }(),
		func() error { _, err := c.Job(ctx, "s", "..", false); return err }(),
		func() error { _, err := c.Template(ctx, "."); return err }(),
	} {
		if !errors.Is(err, ErrInvalidID) {
			t.Errorf("err = %v, want ErrInvalidID", err)
		}
	}
	// Other characters are escaped, never interpreted as path structure.
	rec := &recorder{}
	c = newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.add(r)
		apiErr(w, 404, apiv1.CodeNotFound, "no such job")
	}))
	_, _ = c.Job(ctx, "a/b", "c?d", true)
	if path := rec.all()[0].path; path != "/api/v1/services/a%2Fb/jobs/c%3Fd" {
		t.Errorf("path = %s", path)
	}
}

func TestJobAndEvents(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/services/s/jobs/{job}", func(w http.ResponseWriter, r *http.Request) {
		out := apiv1.Output{Sensitive: true}
		if r.URL.Query().Get("reveal") == "true" {
			out.Value = json.RawMessage(`"hunter2"`)
		}
		writeJSON(w, 200, apiv1.Job{ID: r.PathValue("job"), Outputs: map[string]apiv1.Output{"password": out}})
	})
	mux.HandleFunc("GET /api/v1/services/s/jobs/{job}/events", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Accept") != "application/json" || r.URL.Query().Get("after") != "1" {
			http.Error(w, "want JSON after 1", 400)
			return
		}
		writeJSON(w, 200, apiv1.EventList{Events: []apiv1.Event{{Seq: 2, Type: spawnit.EventLog, Message: "two"}}})
	})
	mux.HandleFunc("GET /api/v1/services/s/jobs", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, apiv1.JobList{Jobs: []apiv1.Job{{ID: "new"}, {ID: "old"}}})
	})
	c := newTestClient(t, mux)
	ctx := t.Context()
	job, err := c.Job(ctx, "s", "j1", false)
	if err != nil || job.ID != "j1" || job.Outputs["password"].Value != nil {
		t.Fatalf("Job = %+v, %v", job, err)
	}
	job, err = c.Job(ctx, "s", "j1", true)
	if err != nil || string(job.Outputs["password"].Value) != `"hunter2"` {
		t.Fatalf("Job reveal = %+v, %v", job, err)
	}
	evs, err := c.JobEvents(ctx, "s", "j1", 1)
	if err != nil || len(evs) != 1 || evs[0].Message != "two" {
		t.Fatalf("JobEvents = %+v, %v", evs, err)
	}
	jobs, err := c.Jobs(ctx, "s")
	if err != nil || len(jobs) != 2 || jobs[0].ID != "new" {
		t.Fatalf("Jobs = %+v, %v", jobs, err)
	}
}

func TestHealthAndReady(t *testing.T) {
	var ready atomic.Bool
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if !ready.Load() {
			apiErr(w, 503, apiv1.CodeUnavailable, "the store is unreachable")
			return
		}
		_, _ = io.WriteString(w, "ok")
	})
	c := newTestClient(t, mux)
	ctx := t.Context()
	if err := c.Health(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Ready(ctx); !IsUnavailable(err) || err.Error() != "the store is unreachable" {
		t.Fatalf("Ready = %v", err)
	}
	ready.Store(true)
	if err := c.Ready(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestContextCancelStopsRetries(t *testing.T) {
	handler, _ := flaky(100, nil)
	srv := httptest.NewServer(handler)
	defer srv.Close()
	c, _ := New(srv.URL, WithRetry(10, time.Hour))
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Catalog(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Fatalf("err = %v after %s", err, time.Since(start))
	}
}

func TestUpdateServiceAcceptRemediate(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	var paths []string
	mux := http.NewServeMux()
	mux.HandleFunc("PATCH /api/v1/services/{id}", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
		w.Header().Set("ETag", `"e1"`)
		writeJSON(w, 200, apiv1.Service{ID: r.PathValue("id"), AutoRemediate: true})
	})
	mux.HandleFunc("POST /api/v1/services/{id}/{op}", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.Path+" key="+strings.Repeat("x", min(1, len(r.Header.Get("Idempotency-Key")))))
		mu.Unlock()
		if r.PathValue("op") == "accept" {
			apiErr(w, 409, apiv1.CodeAcceptDisabled, "no")
			return
		}
		writeJSON(w, 202, apiv1.Job{ID: "j", Operation: spawnit.OpApply})
	})
	c := newTestClient(t, mux)
	ctx := context.Background()
	on, exp := true, time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	svc, etag, err := c.UpdateService(ctx, "s1", apiv1.UpdateService{ExpiresAt: &exp, AutoRemediate: &on})
	if err != nil || etag != `"e1"` || !svc.AutoRemediate {
		t.Fatalf("%+v %q %v", svc, etag, err)
	}
	if _, _, err := c.UpdateService(ctx, "s1", apiv1.UpdateService{RemoveExpiry: true}); err != nil {
		t.Fatal(err)
	}
	if want := []string{`{"auto_remediate":true,"expires_at":"2030-01-02T03:04:05Z"}`, `{"expires_at":null}`}; fmt.Sprint(bodies) != fmt.Sprint(want) {
		t.Fatalf("bodies %q, want %q", bodies, want)
	}
	if _, err := c.Accept(ctx, "s1"); !HasCode(err, apiv1.CodeAcceptDisabled) {
		t.Fatalf("accept: %v", err)
	}
	if j, err := c.Remediate(ctx, "s1"); err != nil || j.ID != "j" {
		t.Fatalf("remediate: %+v %v", j, err)
	}
	if want := []string{"/api/v1/services/s1/accept key=x", "/api/v1/services/s1/remediate key=x"}; fmt.Sprint(paths) != fmt.Sprint(want) {
		t.Fatalf("requests %q", paths)
	}
}

// CLILogin asks without a token: the sign-in settings are public.
func TestCLILogin(t *testing.T) {
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/cli-login" || r.Header.Get("Authorization") != "" {
			apiErr(w, 404, apiv1.CodeNotFound, "no")
			return
		}
		writeJSON(w, 200, apiv1.CLILogin{Issuer: "https://op.example/", ClientID: "cli", Scopes: []string{"openid"}})
	}))
	l, err := c.CLILogin(t.Context())
	if err != nil || l.Issuer != "https://op.example/" || l.ClientID != "cli" || l.SingleUser {
		t.Fatalf("%+v %v", l, err)
	}
}
