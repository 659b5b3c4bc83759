package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
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
	h := newHarness(b, harnessOptions{})
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
// Two phases: 1,000 idle subscribers of the tenant stream (server memory per
// subscriber, heap and goroutine stacks, and both back to their baseline once they
// leave), then 1,000 subscribers following one apply (delivery delay of live events:
// receipt minus the event's time, p50 and p99).
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
	const subs = 1000
	for b.Loop() {
		// Phase 1: idle subscribers.
		goroutinesBefore := runtime.NumGoroutine()
		before := serverMemory()
		idle := startLoad(b, loadgen, h.url+"/api/v1/events", subs)
		connected := serverMemory()
		if f, err := os.Create("/tmp/heap.prof"); err == nil {
			pprof.Lookup("heap").WriteTo(f, 0)
			f.Close()
		}
		if f, err := os.Create("/tmp/gor.txt"); err == nil {
			pprof.Lookup("goroutine").WriteTo(f, 1)
			f.Close()
		}
		idle.stop(b)
		deadline := time.Now().Add(30 * time.Second) // the server notices the closed connections
		for runtime.NumGoroutine() > goroutinesBefore+20 && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		after := serverMemory()

		// Phase 2: live fan-out of one job, to one subscriber (the baseline: what the
		// job's own output pace costs) and to a thousand.
		// The apply waits at a gate until the subscribers are connected, then creates
		// 100 resources: the events measured.
		fanout := func(n int) loadResult {
			gate := filepath.Join(b.TempDir(), "open")
			svc := h.createService("", "fanout", map[string]any{"gate": gate, "items": 100})
			job := h.run("", svc.ID, "apply", nil)
			live := startLoad(b, loadgen, h.url+"/api/v1/services/"+svc.ID+"/jobs/"+job.ID+"/events", n)
			if err := os.WriteFile(gate, nil, 0o600); err != nil {
				b.Fatal(err)
			}
			res := live.wait(b)
			h.wait("", svc.ID, job.ID, engine.StateSucceeded)
			if res.Errors > 0 {
				b.Fatalf("%d subscribers failed, first: %s", res.Errors, res.FirstErr)
			}
			if len(res.Delays) == 0 {
				b.Fatal("no live event delivered")
			}
			return res
		}
		one, many := fanout(1), fanout(subs)
		b.ReportMetric(float64(pct(many.Delays, 0.5).Microseconds())/1000, "ms-p50-delivery")
		b.ReportMetric(float64(pct(many.Delays, 0.99).Microseconds())/1000, "ms-p99-delivery")
		b.ReportMetric(float64(pct(many.Delays, 0.99))/float64(max(pct(one.Delays, 0.99), time.Millisecond)), "p99/one-subscriber")
		b.ReportMetric(float64(connected-before)/subs/1024, "KiB/idle-subscriber")
		b.ReportMetric(float64(after-before)/1024, "KiB-left-after")
		b.Logf("%d out-of-process subscribers; idle: server heap+stacks %+.1f MiB while connected (%.1f KiB each), %+.1f MiB after they left, goroutines %d before, %d after; live: %d deliveries p50 %s p99 %s; one subscriber: %d deliveries p50 %s p99 %s",
			subs, float64(connected-before)/(1<<20), float64(connected-before)/subs/1024, float64(after-before)/(1<<20),
			goroutinesBefore, runtime.NumGoroutine(), len(many.Delays), pct(many.Delays, 0.5).Round(time.Microsecond), pct(many.Delays, 0.99).Round(time.Microsecond),
			len(one.Delays), pct(one.Delays, 0.5).Round(time.Microsecond), pct(one.Delays, 0.99).Round(time.Microsecond))
	}
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
	Errors   int
	FirstErr string
	Delays   []time.Duration
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
		Errors   int       `json:"errors"`
		FirstErr string    `json:"first_error"`
		DelaysMS []float64 `json:"delays_ms"`
	}
	if err := json.NewDecoder(l.out).Decode(&raw); err != nil {
		b.Fatalf("load generator result: %v", err)
	}
	_ = l.stdin.Close()
	if err := l.cmd.Wait(); err != nil {
		b.Fatalf("load generator: %v", err)
	}
	res := loadResult{Errors: raw.Errors, FirstErr: raw.FirstErr}
	for _, ms := range raw.DelaysMS {
		res.Delays = append(res.Delays, time.Duration(ms*float64(time.Millisecond)))
	}
	return res
}
