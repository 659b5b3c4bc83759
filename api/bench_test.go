package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/pkg/apiv1"
	"github.com/spawnit/spawnit/pkg/client"
)

// Benchmarks of the HTTP layer, each reported against a baseline measured in the same
// run: the engine called directly, /healthz under the same load, and memory before the
// subscribers connected. Run with `go -C tools tool task bench`.

func pct(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

// BenchmarkAPIOverhead: an apply requested over HTTP and followed over SSE to its end,
// against the same apply on the same module through the engine directly.
func BenchmarkAPIOverhead(b *testing.B) {
	h := newHarness(b, harnessOptions{realTofu: true})
	c, err := client.New(h.url)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	viaHTTP := h.createService("", "bulk", map[string]any{"items": 5})
	direct := h.createService("", "bulk", map[string]any{"items": 5})
	directRef := engine.ServiceRef{Client: "tenant-a", Service: direct.ID}
	// First applies create everything (and init the workdirs); the measured ones are
	// the steady-state applies of an unchanged service.
	h.wait("", viaHTTP.ID, h.run("", viaHTTP.ID, "apply", nil).ID, engine.StateSucceeded)
	h.wait("", direct.ID, h.run("", direct.ID, "apply", nil).ID, engine.StateSucceeded)
	for b.Loop() {
		var httpT, engT []time.Duration
		for range 7 {
			start := time.Now()
			job, err := c.Apply(ctx, viaHTTP.ID)
			if err != nil {
				b.Fatal(err)
			}
			var last apiv1.Event
			for ev, err := range c.FollowJob(ctx, viaHTTP.ID, job.ID, 0) {
				if err != nil {
					b.Fatal(err)
				}
				last = ev
			}
			httpT = append(httpT, time.Since(start))
			if last.State != engine.StateSucceeded {
				b.Fatalf("http apply ended with %+v", last)
			}

			start = time.Now()
			j, err := h.eng.Apply(ctx, directRef)
			if err != nil {
				b.Fatal(err)
			}
			if info, _ := j.Wait(ctx); info.State != engine.StateSucceeded {
				b.Fatalf("engine apply %s", info.State)
			}
			engT = append(engT, time.Since(start))
		}
		b.ReportMetric(float64(pct(httpT, 0.5))/float64(pct(engT, 0.5)), "http/engine")
		b.Logf("median apply to finished: HTTP+SSE %s, engine %s", pct(httpT, 0.5).Round(time.Millisecond), pct(engT, 0.5).Round(time.Millisecond))
	}
}

// BenchmarkGETUnderLoad: 200 concurrent clients listing services (20 of them), against
// the same clients on /healthz (the HTTP stack's own floor).
func BenchmarkGETUnderLoad(b *testing.B) {
	// unchecked: the contract check of every response would be measured, not the server.
	h := newHarness(b, harnessOptions{unchecked: true})
	for i := range 20 {
		h.createService("", "bulk", map[string]any{"items": i})
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256}
	cl := &http.Client{Transport: tr, Timeout: time.Minute}
	load := func(path string) []time.Duration {
		const workers, each = 200, 25
		var mu sync.Mutex
		var lat []time.Duration
		var wg sync.WaitGroup
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range each {
					start := time.Now()
					resp, err := cl.Get(h.url + path)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						b.Errorf("%s: %d", path, resp.StatusCode)
						return
					}
					d := time.Since(start)
					mu.Lock()
					lat = append(lat, d)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		return lat
	}
	for b.Loop() {
		base := load("/healthz")
		list := load("/api/v1/services")
		b.ReportMetric(float64(pct(list, 0.5).Microseconds())/1000, "ms-p50-list")
		b.ReportMetric(float64(pct(list, 0.99).Microseconds())/1000, "ms-p99-list")
		b.ReportMetric(float64(pct(list, 0.5))/float64(pct(base, 0.5)), "list/healthz-p50")
		b.Logf("200 concurrent clients, 5000 requests: GET /api/v1/services p50 %s p99 %s; /healthz p50 %s p99 %s",
			pct(list, 0.5).Round(time.Microsecond), pct(list, 0.99).Round(time.Microsecond), pct(base, 0.5).Round(time.Microsecond), pct(base, 0.99).Round(time.Microsecond))
	}
}

// BenchmarkSSEFanout: 1,000 subscribers, held by a load generator in its own process
// (internal/sseload) so that the server's figures do not include the subscribers' work.
//
// The same run measures a baseline: the same generator against a minimal net/http SSE
// server in this process (one goroutine per stream, each event written and flushed,
// events paced like the job's), so the figures can be read against what this machine
// and generator give a trivial server at the moment (other work may be loading it).
//
// Two phases on each server: 1,000 idle subscribers (server memory per subscriber,
// heap and goroutine stacks, and both back to their baseline once they leave), then
// 1,000 subscribers of a burst of live events (delivery delay: receipt minus the
// event's time, p50 and p99). SpawnIt's events are one apply's, which waits at a gate
// until the subscribers are connected and then creates 100 resources.
func BenchmarkSSEFanout(b *testing.B) {
	var rl syscall.Rlimit // inherited by the load generator
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err == nil && rl.Cur < 8192 {
		rl.Cur = min(rl.Max, 8192)
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
	}
	loadgen := filepath.Join(b.TempDir(), "sseload")
	if out, err := exec.Command("go", "build", "-o", loadgen, "github.com/spawnit/spawnit/internal/sseload").CombinedOutput(); err != nil {
		b.Fatalf("building the load generator: %v\n%s", err, out)
	}
	h := newHarness(b, harnessOptions{realTofu: true, unchecked: true})
	installTemplate(b, h.st, "fanout")
	base := newBaselineSSE(b)
	const subs = 1000
	for b.Loop() {
		phases := time.Now()
		// Idle subscribers: the trivial server's, then SpawnIt's tenant stream.
		baseIdle := idlePhase(b, loadgen, base.url+"/idle", subs, func() bool { return base.streams.Load() == 0 })
		idle := idlePhase(b, loadgen, h.url+"/api/v1/events", subs, func() bool { return h.tenantSubscribers() == 0 })
		idleTook := time.Since(phases)

		// Live fan-out of one job, to one subscriber (what the job's own output pace
		// costs) and to a thousand; the trivial server replays the one-subscriber job's
		// events at their pace, to a thousand.
		var paced []time.Duration // offsets of the live events of the last job
		fanout := func(n int) loadResult {
			gate := filepath.Join(b.TempDir(), "open")
			svc := h.createService("", "fanout", map[string]any{"gate": gate, "items": 100})
			job := h.run("", svc.ID, "apply", nil)
			live := startLoad(b, loadgen, h.url+"/api/v1/services/"+svc.ID+"/jobs/"+job.ID+"/events", n)
			cpu := selfCPU()
			if err := os.WriteFile(gate, nil, 0o600); err != nil {
				b.Fatal(err)
			}
			res := live.wait(b)
			res.serverCPU = selfCPU() - cpu
			h.wait("", svc.ID, job.ID, engine.StateSucceeded)
			if res.Errors > 0 || res.Unfinished > 0 {
				b.Fatalf("%d subscribers failed, %d never ended; first error: %s", res.Errors, res.Unfinished, res.FirstErr)
			}
			if len(res.Delays) == 0 {
				b.Fatal("no live event delivered")
			}
			paced = jobPace(b, h, svc.ID, job.ID, len(res.Delays)/n)
			return res
		}
		livePhases := time.Now()
		one := fanout(1)
		oneTook, t := time.Since(livePhases), time.Now()
		live := startLoad(b, loadgen, base.url+"/live", subs)
		cpu := selfCPU()
		base.burst(paced)
		baseLive := live.wait(b)
		baseLive.serverCPU = selfCPU() - cpu
		if baseLive.Errors > 0 || baseLive.Unfinished > 0 || len(baseLive.Delays) == 0 {
			b.Fatalf("baseline: %d subscribers failed (%s), %d deliveries", baseLive.Errors, baseLive.FirstErr, len(baseLive.Delays))
		}
		baseTook, t := time.Since(t), time.Now()
		many := fanout(subs)
		manyTook := time.Since(t)
		liveTook := time.Since(livePhases)
		b.Logf("live phases: one subscriber %s, baseline %s, 1000 subscribers %s", oneTook.Round(time.Second), baseTook.Round(time.Second), manyTook.Round(time.Second))
		load, _ := os.ReadFile("/proc/loadavg")
		b.ReportMetric(float64(pct(many.Delays, 0.5).Microseconds())/1000, "ms-p50-delivery")
		b.ReportMetric(float64(pct(many.Delays, 0.99).Microseconds())/1000, "ms-p99-delivery")
		b.ReportMetric(float64(pct(baseLive.Delays, 0.99).Microseconds())/1000, "ms-p99-delivery-baseline")
		b.ReportMetric(float64(pct(many.Delays, 0.99))/float64(max(pct(baseLive.Delays, 0.99), time.Millisecond)), "p99/baseline-server")
		b.ReportMetric(idle.perSub/1024, "KiB/idle-subscriber")
		b.ReportMetric(baseIdle.perSub/1024, "KiB/idle-subscriber-baseline")
		b.ReportMetric(float64(idle.left)/1024, "KiB-left-after")
		b.Logf("%d out-of-process subscribers, load average %s; idle phases %s, live phases %s", subs, strings.TrimSpace(string(load)), idleTook.Round(time.Second), liveTook.Round(time.Second))
		b.Logf("idle: SpawnIt heap+stacks %.1f KiB per subscriber, %+.1f KiB once they left (RSS %+.1f MiB connected, %+.1f MiB after); minimal net/http server %.1f KiB per subscriber, %+.1f KiB after",
			idle.perSub/1024, float64(idle.left)/1024, float64(idle.rssConnected)/(1<<20), float64(idle.rssLeft)/(1<<20), baseIdle.perSub/1024, float64(baseIdle.left)/1024)
		b.Logf("live: SpawnIt %d deliveries p50 %s p99 %s (one subscriber: %d deliveries p50 %s p99 %s); minimal net/http server %d deliveries of %d events p50 %s p99 %s",
			len(many.Delays), pct(many.Delays, 0.5).Round(time.Microsecond), pct(many.Delays, 0.99).Round(time.Microsecond),
			len(one.Delays), pct(one.Delays, 0.5).Round(time.Microsecond), pct(one.Delays, 0.99).Round(time.Microsecond),
			len(baseLive.Delays), len(paced), pct(baseLive.Delays, 0.5).Round(time.Microsecond), pct(baseLive.Delays, 0.99).Round(time.Microsecond))
		b.Logf("live CPU time: SpawnIt process %s, its load generator %s; minimal server %s, its load generator %s",
			many.serverCPU.Round(time.Millisecond), many.CPU.Round(time.Millisecond), baseLive.serverCPU.Round(time.Millisecond), baseLive.CPU.Round(time.Millisecond))
	}
}

// jobPace returns the time offsets of the job's last n events (the live ones, after
// its gate opened), for the baseline server to send as many at the same pace.
func jobPace(b *testing.B, h *harness, svc, job string, n int) []time.Duration {
	r := h.must(200, req{method: "GET", path: "/api/v1/services/" + svc + "/jobs/" + job + "/events", headers: map[string]string{"Accept": "application/json"}})
	var list apiv1.EventList
	if err := json.Unmarshal(r.body, &list); err != nil {
		b.Fatal(err)
	}
	evs := list.Events[max(0, len(list.Events)-n):]
	var out []time.Duration
	for _, ev := range evs {
		out = append(out, ev.Time.Sub(evs[0].Time))
	}
	return out
}

type idleResult struct {
	perSub                float64 // bytes of heap+stacks per connected subscriber
	left                  int64   // heap+stacks after they left, minus before
	rssConnected, rssLeft int64
}

// idlePhase connects n idle subscribers to url, measures the server's memory, lets them
// go and waits (gone) until the server has let go of them too.
func idlePhase(b *testing.B, loadgen, url string, n int, gone func() bool) idleResult {
	goroutines := runtime.NumGoroutine()
	before, rss0 := serverMemory(), rss()
	l := startLoad(b, loadgen, url, n)
	connected, rss1 := serverMemory(), rss()
	l.stop(b)
	deadline := time.Now().Add(30 * time.Second) // the server notices the closed connections
	for (!gone() || runtime.NumGoroutine() > goroutines+5) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	after, rss2 := serverMemory(), rss()
	return idleResult{perSub: float64(connected-before) / float64(n), left: after - before, rssConnected: rss1 - rss0, rssLeft: rss2 - rss0}
}

// rss is this process's resident memory.
func rss() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

// baselineSSE is a minimal net/http SSE server: a goroutine per stream that writes and
// flushes each event as it comes. /idle streams stay silent; /live streams get the
// events of burst, then "end".
type baselineSSE struct {
	url     string
	streams atomic.Int64

	mu      sync.Mutex
	frames  [][]byte
	ended   bool
	changed chan struct{} // closed and replaced at every change
}

func newBaselineSSE(b *testing.B) *baselineSSE {
	s := &baselineSSE{changed: make(chan struct{})}
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	b.Cleanup(func() { srv.CloseClientConnections(); srv.Close() })
	s.url = srv.URL
	return s
}

func (s *baselineSSE) serve(w http.ResponseWriter, r *http.Request) {
	s.streams.Add(1)
	defer s.streams.Add(-1)
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	w.(http.Flusher).Flush()
	if r.URL.Path == "/idle" {
		<-r.Context().Done()
		return
	}
	next := 0
	for {
		s.mu.Lock()
		frames, ended, changed := s.frames[next:], s.ended, s.changed
		s.mu.Unlock()
		for _, f := range frames {
			if _, err := w.Write(f); err != nil {
				return
			}
		}
		next += len(frames)
		w.(http.Flusher).Flush()
		if ended {
			if len(frames) == 0 {
				_, _ = io.WriteString(w, "event: end\ndata: {}\n\n")
				return
			}
			continue // what came with the end first
		}
		select {
		case <-changed:
		case <-r.Context().Done():
			return
		}
	}
}

// burst sends an event at each offset from now, then ends the live streams.
func (s *baselineSSE) burst(offsets []time.Duration) {
	start := time.Now()
	for i, at := range offsets {
		time.Sleep(time.Until(start.Add(at)))
		data, _ := json.Marshal(apiv1.Event{Seq: int64(i + 1), Time: time.Now().UTC(), Type: engine.EventApplyComplete, Level: "info",
			Message: "terraform_data.item[" + strconv.Itoa(i) + "]: Creation complete after 0s [id=0d3c9a1e-7b0f-4d6e-a1c2-5e8f9b7a6d4c]"})
		s.publish(func() {
			s.frames = append(s.frames, []byte("id: "+strconv.Itoa(i+1)+"\nevent: apply_complete\ndata: "+string(data)+"\n\n"))
		})
	}
	s.publish(func() { s.ended = true })
}

func (s *baselineSSE) publish(change func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	change()
	close(s.changed)
	s.changed = make(chan struct{})
}

// serverMemory is this process's live heap plus goroutine stacks. Two collections:
// what sync.Pools hold (net/http's buffers, Echo's contexts) survives the first.
func serverMemory() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc + m.StackInuse)
}

// load is one run of the load generator.
type load struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
}

type loadResult struct {
	Errors     int
	Unfinished int // streams still open when the generator gave up
	FirstErr   string
	Delays     []time.Duration
	CPU        time.Duration // the generator's CPU time (user + system)
	serverCPU  time.Duration // this process's CPU time during the run
}

// selfCPU is this process's CPU time so far (tofu, a child, is not counted).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// startLoad starts the load generator and returns once its subscribers are connected.
func startLoad(b *testing.B, bin, url string, n int) *load {
	b.Helper()
	cmd := exec.Command(bin, "-url", url, "-n", strconv.Itoa(n), "-cpuprofile", os.Getenv("SSELOAD_CPUPROFILE"))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	l := &load{cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout)}
	b.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := l.out.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "connected ") {
		b.Fatalf("load generator: %q %v", line, err)
	}
	if got := strings.TrimSpace(strings.TrimPrefix(line, "connected ")); got != strconv.Itoa(n) {
		b.Fatalf("only %s of %d subscribers connected", got, n)
	}
	return l
}

// stop closes the subscriptions (the generator ends when its input closes).
func (l *load) stop(b *testing.B) loadResult {
	_ = l.stdin.Close()
	return l.wait(b)
}

// wait reads the generator's result once its streams have ended.
func (l *load) wait(b *testing.B) loadResult {
	b.Helper()
	var raw struct {
		Errors     int       `json:"errors"`
		Unfinished int       `json:"unfinished"`
		FirstErr   string    `json:"first_error"`
		DelaysMS   []float64 `json:"delays_ms"`
	}
	if err := json.NewDecoder(l.out).Decode(&raw); err != nil {
		b.Fatalf("load generator result: %v", err)
	}
	_ = l.stdin.Close()
	if err := l.cmd.Wait(); err != nil {
		b.Fatalf("load generator: %v", err)
	}
	res := loadResult{Errors: raw.Errors, Unfinished: raw.Unfinished, FirstErr: raw.FirstErr,
		CPU: l.cmd.ProcessState.UserTime() + l.cmd.ProcessState.SystemTime()}
	for _, ms := range raw.DelaysMS {
		res.Delays = append(res.Delays, time.Duration(ms*float64(time.Millisecond)))
	}
	return res
}
