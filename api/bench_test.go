package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"slices"
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

// BenchmarkSSEFanout: 1,000 subscribers follow one job's event stream; delivery
// latency (receipt minus the event's time) and memory, and the goroutine count after
// they vanish against before they came.
func BenchmarkSSEFanout(b *testing.B) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err == nil && rl.Cur < 8192 {
		rl.Cur = min(rl.Max, 8192)
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
	}
	h := newHarness(b, harnessOptions{realTofu: true})
	svc := h.createService("", "bulk", map[string]any{"items": 100})
	h.wait("", svc.ID, h.run("", svc.ID, "plan", nil).ID, engine.StateSucceeded) // init outside the measure
	tr := &http.Transport{MaxIdleConnsPerHost: 2000, MaxConnsPerHost: 2000}
	cl := &http.Client{Transport: tr}
	for b.Loop() {
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		goroutinesBefore := runtime.NumGoroutine()
		job := h.run("", svc.ID, "apply", nil)
		const subs = 1000
		var mu sync.Mutex
		var lat []time.Duration
		var connected, complete sync.WaitGroup
		connected.Add(subs)
		complete.Add(subs)
		ctx, cancel := context.WithCancel(context.Background())
		var peak runtime.MemStats
		for range subs {
			go func() {
				defer complete.Done()
				req, _ := http.NewRequestWithContext(ctx, "GET", h.url+"/api/v1/services/"+svc.ID+"/jobs/"+job.ID+"/events", nil)
				resp, err := cl.Do(req)
				connected.Done()
				if err != nil {
					b.Error(err)
					return
				}
				defer resp.Body.Close()
				since := time.Now()
				r := bufio.NewReaderSize(resp.Body, 4<<10) // lines longer than this still arrive whole
				var mine []time.Duration
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						break
					}
					if strings.HasPrefix(line, "event: end") {
						break
					}
					if data, ok := strings.CutPrefix(line, "data: "); ok {
						var ev apiv1.Event
						if json.Unmarshal([]byte(data), &ev) == nil && ev.Time.After(since) {
							mine = append(mine, time.Since(ev.Time))
						}
					}
				}
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			}()
		}
		connected.Wait()
		runtime.GC() // live heap with every subscriber connected, not garbage
		runtime.ReadMemStats(&peak)
		complete.Wait()
		h.wait("", svc.ID, job.ID, engine.StateSucceeded)
		cancel()
		tr.CloseIdleConnections()
		// Goroutines and memory return to their baseline once the subscribers are gone.
		var after runtime.MemStats
		deadline := time.Now().Add(10 * time.Second)
		for runtime.NumGoroutine() > goroutinesBefore+20 && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		if len(lat) == 0 {
			b.Fatal("no live event delivered")
		}
		b.ReportMetric(float64(pct(lat, 0.5).Microseconds())/1000, "ms-p50-delivery")
		b.ReportMetric(float64(pct(lat, 0.99).Microseconds())/1000, "ms-p99-delivery")
		b.ReportMetric(float64(peak.HeapInuse-before.HeapInuse)/subs/1024, "KiB-heap/subscriber")
		b.Logf("%d subscribers, %d live deliveries: p50 %s p99 %s; heap +%.1f MiB while connected, %+.1f MiB after; goroutines %d before, %d after",
			subs, len(lat), pct(lat, 0.5).Round(time.Microsecond), pct(lat, 0.99).Round(time.Microsecond),
			float64(int64(peak.HeapInuse)-int64(before.HeapInuse))/(1<<20), float64(int64(after.HeapInuse)-int64(before.HeapInuse))/(1<<20),
			goroutinesBefore, runtime.NumGoroutine())
	}
}

var _ = fmt.Sprint
