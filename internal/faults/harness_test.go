package faults

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/internal/testservers"
	"github.com/spawnit/spawnit/pkg/apiv1"
	"github.com/spawnit/spawnit/pkg/keyring"
	"github.com/spawnit/spawnit/pkg/store"
	"github.com/spawnit/spawnit/pkg/store/s3store"
)

// tenant is the single-user tenant of `spawnit serve` without an issuer.
const tenant = "local"

var binary struct {
	once sync.Once
	dir  string
	path string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binary.dir != "" {
		_ = os.RemoveAll(binary.dir)
	}
	os.Exit(code)
}

// spawnitBinary builds cmd/spawnit once per test process.
func spawnitBinary(t testing.TB) string {
	t.Helper()
	binary.once.Do(func() {
		binary.dir, binary.err = os.MkdirTemp("", "spawnit-faults-")
		if binary.err != nil {
			return
		}
		binary.path = filepath.Join(binary.dir, "spawnit")
		cmd := exec.Command("go", "build", "-o", binary.path, "./cmd/spawnit")
		cmd.Dir = testservers.RepoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			binary.err = fmt.Errorf("go build ./cmd/spawnit: %v\n%s", err, out)
		}
	})
	if binary.err != nil {
		t.Fatal(binary.err)
	}
	return binary.path
}

// env is what every fault test needs: the tools, a versitygw and a bucket holding the
// fault template.
type env struct {
	t      testing.TB
	s3     *testservers.S3
	bucket string
	st     *s3store.Store
	tofu   string
	mirror string
}

func newEnv(t testing.TB) *env {
	t.Helper()
	e := &env{t: t, tofu: testservers.Tofu(t), mirror: testservers.ProviderMirror(t)}
	testservers.BuildTestImage(t)
	spawnitBinary(t)
	e.s3 = testservers.Versitygw(t)
	e.bucket = "spawnit-faults"
	e.st = e.store(e.s3.Endpoint)
	e.seedTemplate("fault")
	return e
}

// store opens the bucket through endpoint (host:port), with few retries so a test's
// own reads fail fast while S3 is down.
func (e *env) store(endpoint string) *s3store.Store {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, err := s3store.New(ctx, s3store.Config{Endpoint: endpoint, Bucket: e.bucket, AccessKey: e.s3.AccessKey,
		SecretKey: e.s3.SecretKey, PathStyle: true, MaxRetries: 1})
	if err != nil {
		e.t.Fatal(err)
	}
	return st
}

// exists reports whether key is in the bucket.
func (e *env) exists(key string) bool {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := e.st.Stat(ctx, key)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		e.t.Fatalf("stat %s: %v", key, err)
	}
	return err == nil
}

// list lists keys under prefix.
func (e *env) list(prefix string) []string {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	objs, err := e.st.List(ctx, prefix)
	if err != nil {
		e.t.Fatalf("list %s: %v", prefix, err)
	}
	keys := make([]string, 0, len(objs))
	for _, o := range objs {
		keys = append(keys, o.Key)
	}
	return keys
}

func (e *env) get(key string) []byte {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, _, err := e.st.Get(ctx, key)
	if err != nil {
		e.t.Fatalf("get %s: %v", key, err)
	}
	return b
}

// tfstate is what the tests read of an OpenTofu state.
type tfstate struct {
	Serial    int               `json:"serial"`
	Lineage   string            `json:"lineage"`
	Resources []json.RawMessage `json:"resources"`
}

// state reads and decodes a service's state from the bucket.
func (e *env) state(id string) tfstate {
	e.t.Helper()
	var st tfstate
	if err := json.Unmarshal(e.plainState(id, "terraform.tfstate"), &st); err != nil || st.Lineage == "" {
		e.t.Fatalf("state of %s is not a valid state: %v", id, err)
	}
	return st
}

// encryptionKey is the servers' key for secrets at rest (the same on every replica).
const encryptionKey = "faults-encryption-key-0123456789abcdef"

// plainState returns a state object of the service (the state, errored.tfstate) as
// tofu reads it: decrypted with the servers' key by tofu itself (state pull from a
// local copy) when it is encrypted.
func (e *env) plainState(id, name string) []byte {
	e.t.Helper()
	b := e.get(serviceKey(id, name))
	var h struct {
		EncryptedData json.RawMessage `json:"encrypted_data"`
	}
	if json.Unmarshal(b, &h) != nil || len(h.EncryptedData) == 0 {
		return b
	}
	ring, err := keyring.New([]byte(encryptionKey))
	if err != nil {
		e.t.Fatal(err)
	}
	dir := e.t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "copy.tfstate"), b, 0o600); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(`terraform {
  backend "local" {
    path = "copy.tfstate"
  }
}
`), 0o600); err != nil {
		e.t.Fatal(err)
	}
	// init installs the providers the state names: from the mirror, as the servers do.
	cliConfig := filepath.Join(dir, "tofurc")
	if err := os.WriteFile(cliConfig, []byte(fmt.Sprintf("provider_installation {\n  filesystem_mirror {\n    path = %q\n  }\n}\n", e.mirror)), 0o600); err != nil {
		e.t.Fatal(err)
	}
	tofuEnv := append(os.Environ(), "TF_IN_AUTOMATION=1", "TF_CLI_CONFIG_FILE="+cliConfig, "TF_ENCRYPTION="+engine.TofuEncryption(ring, engine.ServiceRef{Client: tenant, Service: id}))
	var out []byte
	for _, args := range [][]string{{"init", "-input=false", "-no-color"}, {"state", "pull"}} {
		cmd := exec.Command(e.tofu, args...)
		cmd.Dir, cmd.Env = dir, tofuEnv
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if out, err = cmd.Output(); err != nil {
			e.t.Fatalf("tofu %s on the encrypted %s of %s: %v\n%s", args[0], name, id, err, stderr.String())
		}
	}
	return out
}

func serviceKey(id, name string) string { return "clients/" + tenant + "/" + id + "/" + name }

// server is one `spawnit serve` process.
type server struct {
	t       testing.TB
	name    string
	base    string
	dataDir string
	args    []string
	envv    []string
	cmd     *exec.Cmd
	out     *syncBuffer
	exited  chan struct{}
	waitErr error
	http    *http.Client
}

type serverOptions struct {
	endpoint      string // S3 endpoint URL; default the env's versitygw
	dataDir       string // default a new temporary directory
	jobTimeout    time.Duration
	shutdownGrace time.Duration
	driftInterval time.Duration // 0: no supervisor
	args          []string      // more flags
	env           []string      // more environment variables (NAME=value)
}

// startServer starts `spawnit serve` on a free loopback port and waits until it answers.
// It is SIGKILLed when the test ends if it is still running.
func (e *env) startServer(name string, o serverOptions) *server {
	e.t.Helper()
	if o.endpoint == "" {
		o.endpoint = e.s3.URL()
	}
	if o.dataDir == "" {
		o.dataDir = e.t.TempDir()
	}
	if o.jobTimeout == 0 {
		o.jobTimeout = 5 * time.Minute
	}
	if o.shutdownGrace == 0 {
		o.shutdownGrace = 10 * time.Second
	}
	s := &server{t: e.t, name: name, dataDir: o.dataDir, out: &syncBuffer{}, http: &http.Client{Timeout: 60 * time.Second}}
	s.args = []string{"serve",
		"--listen", "", // set below
		"--data-dir", o.dataDir,
		"--tofu", e.tofu,
		"--provider-mirror", e.mirror,
		"--s3-endpoint", o.endpoint,
		"--s3-bucket", e.bucket,
		"--s3-access-key", e.s3.AccessKey,
		"--drift-interval", o.driftInterval.String(),
		"--job-timeout", o.jobTimeout.String(),
		"--shutdown-grace", o.shutdownGrace.String(),
		"--log-level", "debug",
	}
	s.args = append(s.args, o.args...)
	// The secret travels in the environment, as documented.
	// Every replica shares the bucket, so every replica has the same encryption key.
	s.envv = append(append(os.Environ(), "SPAWNIT_S3_SECRET_KEY="+e.s3.SecretKey, "SPAWNIT_ENCRYPTION_KEY="+encryptionKey), o.env...)
	e.t.Cleanup(func() {
		s.kill()
		// A server killed mid-apply leaves its providers running (tofu dies with it, they
		// do not) until it starts again, which it will not now.
		killProcs(procsUnder(s.dataDir))
		if e.t.Failed() {
			e.t.Logf("server %s output (tail):\n%s", s.name, tail(s.out.String(), 12000))
		}
	})
	// The port is free when picked, and bound by the server once it has started: another
	// process may take it meanwhile. Then try another.
	for attempt := 1; ; attempt++ {
		s.args[2] = "127.0.0.1:" + testservers.FreePort(e.t)
		s.base = "http://" + s.args[2]
		err := s.launch()
		if err == nil {
			break
		}
		if !errors.Is(err, errPortTaken) || attempt == 3 {
			e.t.Fatal(err)
		}
		s.out.WriteString("\n----- " + err.Error() + ": again on another port -----\n")
	}
	return s
}

var errPortTaken = errors.New("the port was taken")

func (s *server) start() {
	s.t.Helper()
	if err := s.launch(); err != nil {
		s.t.Fatal(err)
	}
}

// launch starts the process and waits until it answers on its port: it printed that it
// listens there (so the answer is not another process's) and /healthz answers 200.
func (s *server) launch() error {
	from := len(s.out.String())
	listening := "listening on " + s.base + "\n"
	s.cmd = exec.Command(spawnitBinary(s.t), s.args...)
	s.cmd.Env = s.envv
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start spawnit %s: %v", s.name, err)
	}
	s.exited = make(chan struct{})
	go func(cmd *exec.Cmd, exited chan struct{}) {
		s.waitErr = cmd.Wait()
		close(exited)
	}(s.cmd, s.exited)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		select {
		case <-s.exited:
			out := s.out.String()[from:]
			if strings.Contains(out, "address already in use") {
				return fmt.Errorf("spawnit %s on %s: %w", s.name, s.base, errPortTaken)
			}
			return fmt.Errorf("spawnit %s exited at start-up: %v\n%s", s.name, s.waitErr, tail(out, 8000))
		default:
		}
		if strings.Contains(s.out.String()[from:], listening) {
			res, err := http.Get(s.base + "/healthz")
			if err == nil {
				res.Body.Close()
				if res.StatusCode == 200 {
					return nil
				}
			}
		}
		if time.Now().After(deadline) {
			s.kill()
			return fmt.Errorf("spawnit %s did not answer within 2m\n%s", s.name, tail(s.out.String()[from:], 8000))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *server) running() bool {
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

// kill SIGKILLs the server (if it runs) and waits for it.
func (s *server) kill() {
	if s.cmd == nil || !s.running() {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.exited
}

// restart starts the server again with the same flags and data directory.
func (s *server) restart() {
	s.t.Helper()
	if s.running() {
		s.t.Fatalf("restart of a running server %s", s.name)
	}
	s.out.WriteString("\n----- restart -----\n")
	s.start()
}

// waitExit waits up to d for the process to exit.
func (s *server) waitExit(d time.Duration) bool {
	select {
	case <-s.exited:
		return true
	case <-time.After(d):
		return false
	}
}

type resp struct {
	status int
	body   []byte
	err    error // the request itself failed (timeout, connection refused)
	took   time.Duration
}

func (r resp) String() string {
	if r.err != nil {
		return "error: " + r.err.Error()
	}
	return fmt.Sprintf("%d %s", r.status, bytes.TrimSpace(r.body))
}

func (r resp) code() string {
	var e apiv1.Error
	_ = json.Unmarshal(r.body, &e)
	return e.Error.Code
}

// request sends one request with a client timeout; it never fails the test.
func (s *server) request(method, path string, body any, headers map[string]string, timeout time.Duration) resp {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			s.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, s.base+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	start := time.Now()
	res, err := s.http.Do(req)
	if err != nil {
		return resp{err: err, took: time.Since(start)}
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return resp{status: res.StatusCode, body: b, err: err, took: time.Since(start)}
}

// must sends a request and fails the test unless it answers want.
func (s *server) must(want int, method, path string, body any, out any) resp {
	s.t.Helper()
	r := s.request(method, path, body, nil, 60*time.Second)
	if r.err != nil || r.status != want {
		s.t.Fatalf("%s: %s %s: %s (want %d)", s.name, method, path, r, want)
	}
	if out != nil {
		if err := json.Unmarshal(r.body, out); err != nil {
			s.t.Fatalf("decode %s: %v", r.body, err)
		}
	}
	return r
}

// createService creates a service from the fault template.
func (s *server) createService(inputs map[string]any) apiv1.Service {
	s.t.Helper()
	var svc apiv1.Service
	s.must(201, "POST", "/api/v1/services", map[string]any{"template": "fault", "name": "fault test", "inputs": inputs}, &svc)
	s.t.Cleanup(func() { removeDocker(svc.ID) })
	return svc
}

func (s *server) service(id string) apiv1.Service {
	s.t.Helper()
	var svc apiv1.Service
	s.must(200, "GET", "/api/v1/services/"+id, nil, &svc)
	return svc
}

// setInputs replaces a service's inputs (with its current ETag).
func (s *server) setInputs(id string, inputs map[string]any) {
	s.t.Helper()
	svc := s.service(id)
	r := s.request("PUT", "/api/v1/services/"+id+"/inputs", map[string]any{"inputs": inputs}, map[string]string{"If-Match": `"` + svc.ETag + `"`}, 30*time.Second)
	if r.err != nil || r.status != 200 {
		s.t.Fatalf("update inputs: %s", r)
	}
}

// run starts an operation and returns its job.
func (s *server) run(id, op string) apiv1.Job {
	s.t.Helper()
	var j apiv1.Job
	s.must(202, "POST", "/api/v1/services/"+id+"/"+op, nil, &j)
	return j
}

func (s *server) job(id, job string) apiv1.Job {
	s.t.Helper()
	var j apiv1.Job
	s.must(200, "GET", "/api/v1/services/"+id+"/jobs/"+job, nil, &j)
	return j
}

func (s *server) jobs(id string) []apiv1.Job {
	s.t.Helper()
	var l apiv1.JobList
	s.must(200, "GET", "/api/v1/services/"+id+"/jobs", nil, &l)
	return l.Jobs
}

func (s *server) events(id, job string) []apiv1.Event {
	s.t.Helper()
	r := s.request("GET", "/api/v1/services/"+id+"/jobs/"+job+"/events", nil, map[string]string{"Accept": "application/json"}, 30*time.Second)
	if r.err != nil || r.status != 200 {
		s.t.Fatalf("events of %s: %s", job, r)
	}
	var l apiv1.EventList
	if err := json.Unmarshal(r.body, &l); err != nil {
		s.t.Fatal(err)
	}
	return l.Events
}

func eventText(evs []apiv1.Event) string {
	var b strings.Builder
	for _, ev := range evs {
		fmt.Fprintf(&b, "  %d %s %s %s\n", ev.Seq, ev.Type, ev.Level, ev.Message)
	}
	return b.String()
}

// wait polls a job until it is final (within d) and returns it.
func (s *server) wait(id, job string, d time.Duration) apiv1.Job {
	s.t.Helper()
	deadline := time.Now().Add(d)
	for {
		j := s.job(id, job)
		if j.State.Final() {
			return j
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s: job %s still %s after %s\n%s", s.name, job, j.State, d, eventText(s.events(id, job)))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitState waits for a job to end in want. A job shows its final state once the
// server is done with it (record saved, lease released, service free).
func (s *server) waitState(id, job string, want engine.JobState, d time.Duration) apiv1.Job {
	s.t.Helper()
	j := s.wait(id, job, d)
	if j.State != want {
		s.t.Fatalf("%s: %s job %s ended %s (want %s): %s\n%s", s.name, j.Operation, job, j.State, want, j.Error, eventText(s.events(id, job)))
	}
	return j
}

// waitSleeping waits until the job's apply runs the wait resource (the local-exec sleep).
func (s *server) waitSleeping(id, job string) {
	s.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		for _, ev := range s.events(id, job) {
			if ev.Type == engine.EventApplyStart && ev.Resource != nil && ev.Resource.Address == "terraform_data.wait" {
				return
			}
			if ev.Type == engine.EventJobState && ev.State.Final() {
				s.t.Fatalf("job ended before the sleep: %s\n%s", ev.Message, eventText(s.events(id, job)))
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	s.t.Fatalf("the apply never reached the sleep\n%s", eventText(s.events(id, job)))
}

// waitProbing waits until the job's plan reads the registry that never answers and the
// provider is inside the call: the registry (a hangingListener) accepted its
// connection.
func (s *server) waitProbing(id, job string, connected <-chan struct{}) {
	s.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		select {
		case <-connected:
			return
		default:
		}
		for _, ev := range s.events(id, job) {
			if ev.Type == engine.EventJobState && ev.State.Final() {
				s.t.Fatalf("job ended before the probe: %s\n%s", ev.Message, eventText(s.events(id, job)))
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	s.t.Fatalf("the plan never reached the registry\n%s", eventText(s.events(id, job)))
}

// proc is a live process seen in /proc.
type proc struct {
	pid, ppid, pgid int
	cwd, cmdline    string
}

func (p proc) String() string {
	return fmt.Sprintf("%d(pgid %d, ppid %d): %s [cwd %s]", p.pid, p.pgid, p.ppid, p.cmdline, p.cwd)
}

// procsUnder lists the live (not zombie) processes whose working directory is dir or
// below it: tofu, its providers and provisioner commands run in a service's workdir.
func procsUnder(dir string) []proc {
	dir, _ = filepath.EvalSymlinks(dir)
	var out []proc
	ents, _ := os.ReadDir("/proc")
	for _, ent := range ents {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		cwd, err := os.Readlink("/proc/" + ent.Name() + "/cwd")
		if err != nil || (cwd != dir && !strings.HasPrefix(cwd, dir+"/")) {
			continue
		}
		stat, err := os.ReadFile("/proc/" + ent.Name() + "/stat")
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(stat, ')')
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 3 || f[0] == "Z" {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		pgid, _ := strconv.Atoi(f[2])
		cmd, _ := os.ReadFile("/proc/" + ent.Name() + "/cmdline")
		out = append(out, proc{pid: pid, ppid: ppid, pgid: pgid, cwd: cwd, cmdline: strings.TrimSpace(strings.ReplaceAll(string(cmd), "\x00", " "))})
	}
	return out
}

// tofuRan reports whether an event comes from a tofu run (its version banner, a plan
// or an apply).
func tofuRan(ev apiv1.Event) bool {
	return ev.Type == engine.EventPlannedChange || ev.Type == engine.EventApplyStart || strings.HasPrefix(ev.Message, "OpenTofu 1")
}

// waitNoProcs waits up to d for every process under dir to be gone, and returns what is
// left.
func waitNoProcs(dir string, d time.Duration) []proc {
	deadline := time.Now().Add(d)
	for {
		left := procsUnder(dir)
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitProcs waits up to d until, for each of want, a process under dir has it in its
// command line, and returns the processes then. tofu reports a resource's apply before
// it starts the resource's processes (a provisioner's command): a test that acts on a
// process waits for it rather than looking once. ok is false at the deadline.
func waitProcs(dir string, d time.Duration, want ...string) (ps []proc, ok bool) {
	deadline := time.Now().Add(d)
	for {
		ps = procsUnder(dir)
		ok = !slices.ContainsFunc(want, func(w string) bool {
			return !slices.ContainsFunc(ps, func(p proc) bool { return strings.Contains(p.cmdline, w) })
		})
		if ok || time.Now().After(deadline) {
			return ps, ok
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// killProcs SIGKILLs processes (cleanup of what a test found left behind).
func killProcs(ps []proc) {
	for _, p := range ps {
		_ = syscall.Kill(p.pid, syscall.SIGKILL)
	}
}

// removeDocker removes the containers and volumes of one service (by its label; the
// service id is unique, so this never touches another test's objects).
func removeDocker(service string) {
	label := "label=spawnit.service=" + service
	if out, _ := exec.Command("docker", "ps", "-aq", "--filter", label).Output(); len(bytes.TrimSpace(out)) > 0 {
		_ = exec.Command("docker", append([]string{"rm", "-f"}, strings.Fields(string(out))...)...).Run()
	}
	if out, _ := exec.Command("docker", "volume", "ls", "-q", "--filter", label).Output(); len(bytes.TrimSpace(out)) > 0 {
		_ = exec.Command("docker", append([]string{"volume", "rm", "-f"}, strings.Fields(string(out))...)...).Run()
	}
}

// hangingListener accepts connections on loopback and never answers (a registry or
// provider endpoint that hangs); connected is closed once it accepted a first one.
func hangingListener(t *testing.T) (addr string, connected <-chan struct{}) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	first := make(chan struct{})
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			if len(conns) == 0 {
				close(first)
			}
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return l.Addr().String(), first
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) WriteString(p string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.WriteString(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// fileExists reports whether path exists.
func fileExists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, fs.ErrNotExist)
}
