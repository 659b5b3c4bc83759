package faults

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/internal/testservers"
	"github.com/spawnit/spawnit/pkg/apiv1"
	"github.com/spawnit/spawnit/pkg/store"
)

// cluster is several `spawnit serve` replicas on one bucket behind a round-robin
// reverse proxy, as an operator runs them behind a load balancer.
type cluster struct {
	e        *env
	replicas []*server
	proxy    *roundRobin
	// lb is the proxy seen as a server: requests through it reach the replicas in turn.
	lb *server

	mu       sync.Mutex
	services []string // created through createReplica
}

// startCluster seeds the replica template and starts n replicas, each with its own data
// directory and port, then the proxy; it returns once every replica is ready.
func (e *env) startCluster(n int, o serverOptions) *cluster {
	e.t.Helper()
	e.seedTemplate("replica")
	c := &cluster{e: e, proxy: &roundRobin{out: map[*server]bool{}}}
	// Registered before the replicas start, so it runs once they are killed: an apply
	// a failed test left running cannot create anything after it.
	e.t.Cleanup(func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, id := range c.services {
			removeDocker(id)
		}
	})
	front := httptestServer(e.t, c.proxy)
	c.lb = &server{t: e.t, name: "proxy", base: front, out: &syncBuffer{}, http: &http.Client{Timeout: 60 * time.Second}}
	c.startReplicas(n, o)
	return c
}

// httptestServer serves h on loopback until the test ends and returns its URL.
func httptestServer(t testing.TB, h http.Handler) string {
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
	})
	return srv.URL
}

// startReplicas starts n replicas and puts them in the proxy's rotation.
func (c *cluster) startReplicas(n int, o serverOptions) {
	c.e.t.Helper()
	for i := range n {
		o := o
		o.dataDir = ""
		s := c.e.startServer(fmt.Sprintf("r%d", i+1), o)
		s.waitReady()
		c.replicas = append(c.replicas, s)
	}
	c.proxy.set(c.replicas)
}

// seedTemplate writes testdata/<id> to the bucket as a catalog template.
func (e *env) seedTemplate(id string) {
	e.t.Helper()
	root := filepath.Join("testdata", id)
	for _, f := range []string{"modules/docker/main.tf", "template.json"} { // template.json last
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(f)))
		if err != nil {
			e.t.Fatal(err)
		}
		if _, err := e.st.Put(context.Background(), "templates/"+id+"/"+f, b, store.PutOptions{}); err != nil {
			e.t.Fatal(err)
		}
	}
}

// use points every handle of the cluster at t (a subtest), until t ends. Subtests run
// one after another, so no two tests share a handle at once.
func (c *cluster) use(t testing.TB) {
	parent := c.e.t
	set := func(t testing.TB) {
		c.e.t, c.lb.t = t, t
		for _, s := range c.replicas {
			s.t = t
		}
	}
	set(t)
	t.Cleanup(func() { set(parent) })
}

// waitReady waits until the replica's /readyz answers 200.
func (s *server) waitReady() {
	s.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		r := s.request("GET", "/readyz", nil, nil, 10*time.Second)
		if r.err == nil && r.status == 200 {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s not ready after 2m: %s", s.name, r)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// roundRobin is the load balancer: each request goes to the next replica in rotation.
// A replica the test killed is taken out of rotation, as a balancer's health check
// would.
type roundRobin struct {
	mu       sync.Mutex
	backends []*server
	out      map[*server]bool
	next     int
}

func (p *roundRobin) set(backends []*server) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.backends = slices.Clone(backends)
}

// drop takes s out of rotation; restore puts it back.
func (p *roundRobin) drop(s *server)    { p.mu.Lock(); p.out[s] = true; p.mu.Unlock() }
func (p *roundRobin) restore(s *server) { p.mu.Lock(); delete(p.out, s); p.mu.Unlock() }

func (p *roundRobin) pick() (name, base string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for range p.backends {
		s := p.backends[p.next%len(p.backends)]
		p.next++
		if !p.out[s] {
			return s.name, s.base
		}
	}
	return "", ""
}

func (p *roundRobin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name, base := p.pick()
	if base == "" {
		http.Error(w, "no replica in rotation", http.StatusBadGateway)
		return
	}
	target, err := url.Parse(base)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host // redirects and cookies name the balancer
		},
		FlushInterval: -1, // event streams pass through as they come
		ModifyResponse: func(res *http.Response) error {
			res.Header.Set("X-Test-Replica", name)
			return nil
		},
	}
	rp.ServeHTTP(w, r)
}

// byPID returns the replica whose process has pid.
func (c *cluster) byPID(pid int) *server {
	for _, s := range c.replicas {
		if s.cmd != nil && s.cmd.Process != nil && s.cmd.Process.Pid == pid && s.running() {
			return s
		}
	}
	return nil
}

// runner is the replica that runs (or ran) a job: the job record names its replica,
// or at least its process.
func (c *cluster) runner(service, job string) *server {
	c.e.t.Helper()
	var rec map[string]any
	if err := json.Unmarshal(c.e.get(serviceKey(service, "jobs/"+job+".json")), &rec); err != nil {
		c.e.t.Fatal(err)
	}
	pid := 0
	if id, _ := rec["replica"].(string); id != "" {
		var r struct {
			PID int `json:"pid"`
		}
		if err := json.Unmarshal(c.e.get("replicas/"+id+".json"), &r); err == nil {
			pid = r.PID
		}
	}
	if pid == 0 {
		f, _ := rec["pid"].(float64)
		pid = int(f)
	}
	s := c.byPID(pid)
	if s == nil {
		c.e.t.Fatalf("job %s: no running replica has pid %d (record %v)", job, pid, rec)
	}
	return s
}

// others returns the replicas other than those given, in order.
func (c *cluster) others(not ...*server) []*server {
	var out []*server
	for _, s := range c.replicas {
		if !slices.Contains(not, s) {
			out = append(out, s)
		}
	}
	return out
}

// createReplica creates a service of the replica template through the balancer,
// applying with a sleep of seconds, on a free loopback port, and returns it with its
// URL.
func (c *cluster) createReplica(seconds int, autoRemediate bool) (apiv1.Service, string) {
	s := c.lb
	s.t.Helper()
	port := testservers.FreePort(s.t)
	n, err := strconv.Atoi(port)
	if err != nil {
		s.t.Fatal(err)
	}
	var svc apiv1.Service
	s.must(201, "POST", "/api/v1/services", map[string]any{"template": "replica", "name": "replica test",
		"inputs": map[string]any{"seconds": seconds, "port": n}, "auto_remediate": autoRemediate}, &svc)
	// Its Docker objects are removed with the cluster's (a later test may use it).
	c.mu.Lock()
	c.services = append(c.services, svc.ID)
	c.mu.Unlock()
	return svc, "http://127.0.0.1:" + port + "/"
}

// cancelAtEnd cancels the job when the test ends if it still runs (a failed test's
// apply would otherwise sleep on).
func (c *cluster) cancelAtEnd(t testing.TB, service, job string) {
	t.Cleanup(func() {
		c.lb.request("POST", "/api/v1/services/"+service+"/jobs/"+job+"/cancel", nil, nil, 10*time.Second)
	})
}

// setSeconds changes a replica service's sleep, keeping its port.
func (s *server) setSeconds(id string, seconds int) {
	s.t.Helper()
	svc := s.service(id)
	var inputs map[string]any
	b, _ := json.Marshal(svc.Inputs)
	_ = json.Unmarshal(b, &inputs)
	inputs["seconds"] = seconds
	s.setInputs(id, inputs)
}

// answers waits until url answers 200 (the service's container serves).
func answers(t testing.TB, url string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		res, err := http.Get(url)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not answer after %s: %v", url, d, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// received is an event as a stream delivered it.
type received struct {
	apiv1.Event
	at time.Time
}

// stream follows a job's events over SSE in the background.
type stream struct {
	mu     sync.Mutex
	events []received
	ended  bool
	err    error
	cancel context.CancelFunc
}

// follow opens the job's event stream on s and reads it until it ends or the test does.
func (s *server) follow(service, job string) *stream {
	s.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	st := &stream{cancel: cancel}
	s.t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, "GET", s.base+"/api/v1/services/"+service+"/jobs/"+job+"/events", nil)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s: event stream: %v", s.name, err)
	}
	if res.StatusCode != 200 {
		res.Body.Close()
		s.t.Fatalf("%s: event stream: %s", s.name, res.Status)
	}
	go func() {
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			data, ok := strings.CutPrefix(sc.Text(), "data: ")
			if !ok {
				continue
			}
			var ev apiv1.Event
			if json.Unmarshal([]byte(data), &ev) != nil || ev.Seq == 0 {
				continue
			}
			st.mu.Lock()
			st.events = append(st.events, received{ev, time.Now()})
			st.mu.Unlock()
		}
		st.mu.Lock()
		st.ended, st.err = true, sc.Err()
		st.mu.Unlock()
	}()
	return st
}

func (st *stream) snapshot() ([]received, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	return slices.Clone(st.events), st.ended
}

// waitFor waits up to d for an event matching ok and returns it.
func (st *stream) waitFor(t testing.TB, what string, d time.Duration, ok func(apiv1.Event) bool) received {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		evs, ended := st.snapshot()
		for _, ev := range evs {
			if ok(ev.Event) {
				return ev
			}
		}
		if ended || time.Now().After(deadline) {
			var plain []apiv1.Event
			for _, ev := range evs {
				plain = append(plain, ev.Event)
			}
			t.Fatalf("the stream (ended %v, %v) never delivered %s; it delivered:\n%s", ended, st.err, what, eventText(plain))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// isSleepStart is the event of the apply reaching its sleep.
func isSleepStart(ev apiv1.Event) bool {
	return ev.Type == engine.EventApplyStart && ev.Resource != nil && ev.Resource.Address == "terraform_data.wait"
}

// logLine is one line of a replica's JSON log.
type logLine struct {
	Time    time.Time `json:"time"`
	Msg     string    `json:"msg"`
	Op      string    `json:"op"`
	Service string    `json:"service"`
	Job     string    `json:"job"`
}

// jobLogs returns the "job started" or "job finished" lines (msg) of every replica for
// one service's operation op, oldest first.
func (c *cluster) jobLogs(msg, op, service string) []logLine {
	var out []logLine
	for _, s := range c.replicas {
		for _, l := range strings.Split(s.out.String(), "\n") {
			if !strings.HasPrefix(l, "{") {
				continue
			}
			var ll logLine
			if json.Unmarshal([]byte(l), &ll) == nil && ll.Msg == msg && ll.Op == op && ll.Service == tenant+"/"+service {
				out = append(out, ll)
			}
		}
	}
	slices.SortFunc(out, func(a, b logLine) int { return a.Time.Compare(b.Time) })
	return out
}

// since keeps the lines at or after t.
func since(ls []logLine, t time.Time) []logLine {
	return slices.DeleteFunc(slices.Clone(ls), func(l logLine) bool { return l.Time.Before(t) })
}

// dockerRm removes a service's container behind SpawnIt's back.
func dockerRm(t testing.TB, service string) {
	t.Helper()
	name := "spawnit-" + tenant + "-" + service
	if out, err := exec.Command("docker", "rm", "-f", name).CombinedOutput(); err != nil {
		t.Fatalf("docker rm -f %s: %v\n%s", name, err, out)
	}
}
