package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spawnit/spawnit/api"
	"github.com/spawnit/spawnit/api/authn"
	"github.com/spawnit/spawnit/catalog"
	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/internal/testservers"
	"github.com/spawnit/spawnit/pkg/apiv1"
	"github.com/spawnit/spawnit/pkg/platform"
	"github.com/spawnit/spawnit/pkg/store"
)

// testAuth is the tests' Authenticator: the tenant comes from X-Test-Tenant (default
// tenant-a), X-Test-Unauthenticated makes the request fail authentication, and
// X-Test-Sessions-Down (authenticate) or X-Test-Sessions-Down-CSRF (the CSRF check)
// makes it fail as a session store that does not answer; X-Test-Role is the caller's
// role (default deployer). Only tests may trust a header
// for identity.
type testAuth struct{}

func (testAuth) Authenticate(r *http.Request) (authn.Principal, error) {
	if r.Header.Get("X-Test-Unauthenticated") != "" {
		return authn.Principal{}, authn.ErrUnauthenticated
	}
	if r.Header.Get("X-Test-Sessions-Down") != "" {
		return authn.Principal{}, fmt.Errorf("%w: auth: read the session: connection refused", store.ErrUnavailable)
	}
	t := r.Header.Get("X-Test-Tenant")
	if t == "" {
		t = "tenant-a"
	}
	role := authn.RoleDeployer
	if h := r.Header.Get("X-Test-Role"); h != "" {
		role = authn.Role(h)
	}
	return authn.Principal{Subject: "user-of-" + t, Tenant: t, Name: "Test " + t, Role: role}, nil
}
func (testAuth) CSRFToken(*http.Request) string { return "" }
func (testAuth) CheckCSRF(r *http.Request) error {
	if r.Header.Get("X-Test-Bad-CSRF") != "" {
		return errors.New("bad token")
	}
	if r.Header.Get("X-Test-Sessions-Down-CSRF") != "" {
		return fmt.Errorf("%w: auth: read the session: connection refused", store.ErrUnavailable)
	}
	return nil
}

type harnessOptions struct {
	realTofu     bool // real tofu and provider mirror (skips without them outside CI)
	keepAlive    time.Duration
	writeTimeout time.Duration
	// listen, when set, wraps the test server's listener (to shrink socket buffers).
	listen func(net.Listener) net.Listener
	// before runs on the store before the platform starts (to plant records).
	before func(st store.Store)
	// serverTimeout, when set, is the test server's ReadTimeout and WriteTimeout.
	serverTimeout time.Duration
	// logger receives the server's logs (silent when nil).
	logger *slog.Logger
	// wrapStore, when set, wraps the store the platform uses (to inject faults).
	wrapStore func(store.Store) store.Store
	// ui, when set, is the server's UI handler (answering unclaimed GETs).
	ui http.Handler
	// dataDir, when set, is reused: a second server over the same data, as after a
	// restart.
	dataDir string
	// cliLogin is the server's CLILogin.
	cliLogin *apiv1.CLILogin
	// store, when set, is the store instead of one under dataDir: several servers on one
	// bucket, as replicas.
	store store.Store
	// replica, when set, gives the server its own cluster registry on the store.
	replica bool
	// unchecked, for benchmarks only, serves responses without holding them against
	// openapi.json: the check's own work (decoding every stream event) would be measured.
	unchecked bool
	// targets, when set, are the platform's targets (their environment and variables).
	targets map[string]platform.Target
	// metricsToken, when set, is the bearer token /metrics needs; metricsClosed takes
	// /metrics off the API's handler (served on a listener of its own). Otherwise
	// /metrics is open, as in single-user mode.
	metricsToken  string
	metricsClosed bool
	// quotas are the platform's default quotas.
	quotas platform.Quota
	// auth, when set, is the server's Authenticator instead of testAuth.
	auth authn.Authenticator
	// noHijack hides the connection from the server's handlers (as HTTP/2 would), so
	// streams take the ordinary path instead of the fan-out hubs.
	noHijack bool
}

// plainWriter is a ResponseWriter that cannot be hijacked.
type plainWriter struct{ http.ResponseWriter }

func (w plainWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

type harness struct {
	t       testing.TB
	url     string
	srv     *httptest.Server
	api     *api.Server
	p       *platform.Platform
	eng     *engine.Engine
	st      store.Store
	metrics *api.Metrics
	client  *http.Client
	dataDir string
}

func newHarness(t testing.TB, o harnessOptions) *harness {
	t.Helper()
	dataDir := o.dataDir
	if dataDir == "" {
		dataDir = t.TempDir()
	}
	st := o.store
	if st == nil {
		fsStore, err := store.NewFS(filepath.Join(dataDir, "store"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = fsStore.Close() })
		st = fsStore
	}
	cfg := engine.Config{DataDir: dataDir, Store: st, MaxParallel: 4, CancelCoolOff: time.Second, JobTimeout: 4 * time.Minute}
	if o.replica {
		cfg.Cluster = joinCluster(t, st)
	}
	if o.realTofu {
		cfg.TofuPath = testservers.Tofu(t)
		cfg.ProviderMirror = testservers.ProviderMirror(t)
	} else {
		// A tofu that fails at once: these tests never get as far as running one.
		cfg.TofuPath = filepath.Join(dataDir, "no-tofu")
		if err := os.WriteFile(cfg.TofuPath, []byte("#!/bin/sh\nexit 1\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	cat := catalog.New(st, nil)
	if err := cat.Seed(ctx); err != nil {
		t.Fatal(err)
	}
	installTemplate(t, st, "bulk")
	cfg.Source = catalog.NewServiceSource(cat)
	eng, err := engine.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	metrics := api.NewMetrics()
	var pst store.Store = st
	if o.wrapStore != nil {
		pst = o.wrapStore(st)
	}
	p, err := platform.New(platform.Config{Store: pst, Catalog: cat, Engine: eng, Observer: metrics, Logger: o.logger, Cluster: cfg.Cluster, Targets: o.targets, Quotas: o.quotas})
	if err != nil {
		t.Fatal(err)
	}
	if o.before != nil {
		o.before(st)
	}
	if _, err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	srv, err := api.New(api.Config{
		Platform: p, Auth: authOf(o), Metrics: metrics, Logger: o.logger, UI: o.ui,
		MetricsToken: o.metricsToken, MetricsOpen: o.metricsToken == "" && !o.metricsClosed,
		KeepAlive: o.keepAlive, StreamWriteTimeout: o.writeTimeout, CLILogin: o.cliLogin,
		Ready: []api.ReadyCheck{api.StoreCheck(st), api.TofuCheck(cfg.TofuPath)},
	})
	if err != nil {
		t.Fatal(err)
	}
	// Every response is held against openapi.json (contract_test.go).
	var handler http.Handler = srv
	if o.noHijack {
		handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { srv.ServeHTTP(plainWriter{w}, r) })
	}
	if !o.unchecked {
		handler = contractFor(t).handler(handler, func(msg string) { t.Error(msg) })
	}
	ts := httptest.NewUnstartedServer(handler)
	if o.listen != nil {
		ts.Listener = o.listen(ts.Listener)
	}
	ts.Config.ReadTimeout, ts.Config.WriteTimeout = o.serverTimeout, o.serverTimeout
	ts.Start()
	h := &harness{t: t, url: ts.URL, srv: ts, api: srv, p: p, eng: eng, st: st, metrics: metrics,
		client: &http.Client{Timeout: 5 * time.Minute}, dataDir: dataDir}
	t.Cleanup(func() {
		srv.CloseStreams()
		ts.CloseClientConnections()
		ts.Close()
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = p.Shutdown(sctx)
	})
	return h
}

// installTemplate copies testdata/<id> into the store's templates/<id>/.
func installTemplate(t testing.TB, st store.Store, id string) {
	t.Helper()
	root := filepath.Join("testdata", id)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == "template.json" {
			return err
		}
		return putFile(st, "templates/"+id, root, p)
	})
	if err == nil {
		err = putFile(st, "templates/"+id, root, filepath.Join(root, "template.json"))
	}
	if err != nil {
		t.Fatal(err)
	}
}

func putFile(st store.Store, prefix, root, p string) error {
	b, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	rel, _ := filepath.Rel(root, p)
	_, err = st.Put(context.Background(), prefix+"/"+filepath.ToSlash(rel), b, store.PutOptions{})
	return err
}

// req is one request of a test: tenant-scoped, JSON in and out.
type req struct {
	method, path string
	tenant       string
	body         any               // encoded as JSON unless a string or []byte
	headers      map[string]string // added as they are
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

func (r resp) apiError(t testing.TB) apiv1.Error {
	t.Helper()
	var e apiv1.Error
	r.decode(t, &e)
	return e
}

func (h *harness) do(r req) resp {
	h.t.Helper()
	var body io.Reader
	switch b := r.body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	case []byte:
		body = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			h.t.Fatal(err)
		}
		body = bytes.NewReader(j)
	}
	hr, err := http.NewRequest(r.method, h.url+r.path, body)
	if err != nil {
		h.t.Fatal(err)
	}
	if body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	if r.tenant != "" {
		hr.Header.Set("X-Test-Tenant", r.tenant)
	}
	for k, v := range r.headers {
		hr.Header.Set(k, v)
	}
	res, err := h.client.Do(hr)
	if err != nil {
		h.t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

// must does a request and fails the test unless it answers want.
func (h *harness) must(want int, r req) resp {
	h.t.Helper()
	res := h.do(r)
	if res.status != want {
		h.t.Fatalf("%s %s: status %d, want %d: %s", r.method, r.path, res.status, want, res.body)
	}
	return res
}

func (h *harness) createService(tenant, template string, inputs map[string]any) apiv1.Service {
	h.t.Helper()
	var svc apiv1.Service
	h.must(201, req{method: "POST", path: "/api/v1/services", tenant: tenant,
		body: map[string]any{"template": template, "name": "test " + template, "inputs": inputs}}).decode(h.t, &svc)
	return svc
}

func (h *harness) run(tenant, service, op string, headers map[string]string) apiv1.Job {
	h.t.Helper()
	var j apiv1.Job
	h.must(202, req{method: "POST", path: "/api/v1/services/" + service + "/" + op, tenant: tenant, headers: headers}).decode(h.t, &j)
	return j
}

// wait polls a job until it is final and checks its state.
func (h *harness) wait(tenant, service, job string, want engine.JobState) apiv1.Job {
	h.t.Helper()
	deadline := time.Now().Add(4 * time.Minute)
	for {
		var j apiv1.Job
		h.must(200, req{method: "GET", path: "/api/v1/services/" + service + "/jobs/" + job, tenant: tenant}).decode(h.t, &j)
		if j.State.Final() {
			// A final state means the service is free: the test's next step (a delete,
			// a background check, a look at Busy) relies on it.
			if j.State != want {
				var evs apiv1.EventList
				h.must(200, req{method: "GET", path: "/api/v1/services/" + service + "/jobs/" + job + "/events", tenant: tenant,
					headers: map[string]string{"Accept": "application/json"}}).decode(h.t, &evs)
				var b strings.Builder
				for _, ev := range evs.Events {
					b.WriteString(ev.Message + "\n")
				}
				h.t.Fatalf("%s job ended %s, want %s: %s\n%s", j.Operation, j.State, want, j.Error, b.String())
			}
			return j
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("job %s still %s", job, j.State)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sseEvent is one parsed Server-Sent Event, or a comment.
type sseEvent struct {
	id, event, data string
	comment         string
}

// readSSE parses a stream, calling fn for each event and comment until fn returns
// false or the stream ends.
func readSSE(r io.Reader, fn func(sseEvent) bool) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var cur sseEvent
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if cur != (sseEvent{}) {
				if !fn(cur) {
					return nil
				}
			}
			cur = sseEvent{}
		case strings.HasPrefix(line, ":"):
			if !fn(sseEvent{comment: strings.TrimSpace(line[1:])}) {
				return nil
			}
		default:
			k, v, _ := strings.Cut(line, ":")
			v = strings.TrimPrefix(v, " ")
			switch k {
			case "id":
				cur.id = v
			case "event":
				cur.event = v
			case "data":
				cur.data += v
			}
		}
	}
	return sc.Err()
}

// openStream starts a GET of an event stream and returns the response (the caller
// closes its body) once the headers arrived.
func (h *harness) openStream(ctx context.Context, path, tenant string, headers map[string]string) *http.Response {
	h.t.Helper()
	hr, err := http.NewRequestWithContext(ctx, "GET", h.url+path, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	hr.Header.Set("Accept", "text/event-stream")
	if tenant != "" {
		hr.Header.Set("X-Test-Tenant", tenant)
	}
	for k, v := range headers {
		hr.Header.Set(k, v)
	}
	res, err := (&http.Client{}).Do(hr)
	if err != nil {
		h.t.Fatal(err)
	}
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		h.t.Fatalf("GET %s: %d %s: %s", path, res.StatusCode, res.Header.Get("Content-Type"), b)
	}
	return res
}

func authOf(o harnessOptions) authn.Authenticator {
	if o.auth != nil {
		return o.auth
	}
	return testAuth{}
}
