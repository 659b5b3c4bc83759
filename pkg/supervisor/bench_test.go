package supervisor_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/spawnit/spawnit/catalog"
	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/internal/testservers"
	"github.com/spawnit/spawnit/pkg/apiv1"
	"github.com/spawnit/spawnit/pkg/platform"
	"github.com/spawnit/spawnit/pkg/store"
	"github.com/spawnit/spawnit/pkg/supervisor"
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// cpu returns CPU seconds used so far by this process and its waited-for children (tofu
// and its providers), and by dockerd (the supervisor's inspects cost it work too).
func cpu() (self, children, dockerd float64) {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	self = tv(ru.Utime) + tv(ru.Stime)
	_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru)
	children = tv(ru.Utime) + tv(ru.Stime)
	if out, err := exec.Command("pidof", "dockerd").Output(); err == nil {
		if b, err := os.ReadFile("/proc/" + strings.Fields(string(out))[0] + "/stat"); err == nil {
			f := strings.Fields(string(b)[strings.LastIndexByte(string(b), ')')+2:])
			ut, _ := strconv.ParseFloat(f[11], 64)
			st, _ := strconv.ParseFloat(f[12], 64)
			dockerd = (ut + st) / 100 // clock ticks
		}
	}
	return
}

func tv(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }

func rssMiB() float64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			kb, _ := strconv.ParseFloat(strings.Fields(l)[1], 64)
			return kb / 1024
		}
	}
	return 0
}

// nextPort hands out distinct ports below the kernel's ephemeral range (32768+), so that
// no port given to one of the many services is taken by a client connection meanwhile.
var portCursor = 20000 + int(time.Now().UnixNano()%5000)

func nextPort(b *testing.B) int {
	for ; portCursor < 32000; portCursor++ {
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(portCursor))
		if err == nil {
			l.Close()
			portCursor++
			return portCursor - 1
		}
	}
	b.Fatal("no free port below 32000")
	return 0
}

func percentile(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

// BenchmarkSupervisor deploys N services (200 by default; SPAWNIT_BENCH_SERVICES) from
// the small httpecho template and measures, in one run: the supervisor's CPU at steady
// state with a 5-minute sweep, against the original design's plan-every-10-seconds on
// the same services (its per-check cost measured here, times 6 per minute per service);
// drift-detection latency for `docker rm` with Docker events on and off; and memory.
func BenchmarkSupervisor(b *testing.B) {
	n := envInt("SPAWNIT_BENCH_SERVICES", 200)
	window := time.Duration(envInt("SPAWNIT_BENCH_WINDOW_SECONDS", 60)) * time.Second
	testservers.BuildTestImage(b)
	ctx := context.Background()
	dataDir := b.TempDir()
	st, err := store.NewFS(filepath.Join(dataDir, "store"))
	if err != nil {
		b.Fatal(err)
	}
	cat := catalog.New(st, nil)
	if err := cat.Seed(ctx); err != nil {
		b.Fatal(err)
	}
	eng, err := engine.New(engine.Config{TofuPath: testservers.Tofu(b), ProviderMirror: testservers.ProviderMirror(b),
		DataDir: dataDir, Source: catalog.NewServiceSource(cat), Store: st, MaxParallel: 4})
	if err != nil {
		b.Fatal(err)
	}
	p, err := platform.New(platform.Config{Store: st, Catalog: cat, Engine: eng})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := p.Start(ctx); err != nil {
		b.Fatal(err)
	}
	tenant := fmt.Sprintf("bench%d", time.Now().Unix()%100000)
	actor := platform.Actor{Tenant: tenant, Subject: "bench"}
	b.Cleanup(func() {
		out, _ := exec.Command("docker", "ps", "-aq", "--filter", "label=spawnit.client="+tenant).Output()
		if ids := strings.Fields(string(out)); len(ids) > 0 {
			_ = exec.Command("docker", append([]string{"rm", "-f"}, ids...)...).Run()
		}
		out, _ = exec.Command("docker", "volume", "ls", "-q", "--filter", "label=spawnit.client="+tenant).Output()
		if ids := strings.Fields(string(out)); len(ids) > 0 {
			_ = exec.Command("docker", append([]string{"volume", "rm", "-f"}, ids...)...).Run()
		}
		_ = p.Shutdown(context.Background())
	})

	deployStart := time.Now()
	var ids []string
	var jobs []string
	for i := range n {
		port := nextPort(b)
		svc, err := p.CreateService(ctx, actor, apiv1.CreateService{Template: "httpecho", Name: fmt.Sprintf("bench %d", i), Inputs: map[string]any{"port": port}})
		if err != nil {
			b.Fatal(err)
		}
		info, err := p.Run(ctx, actor, svc.ID, platform.RunRequest{Operation: engine.OpApply})
		if err != nil {
			b.Fatal(err)
		}
		ids, jobs = append(ids, svc.ID), append(jobs, info.ID)
	}
	for i, id := range jobs {
		j, ok := eng.Job(id)
		if !ok {
			b.Fatalf("job %s unknown", id)
		}
		if info, _ := j.Wait(ctx); info.State != engine.StateSucceeded {
			b.Fatalf("deploy %s: %s %s", ids[i], info.State, info.Error)
		}
	}
	b.Logf("%d services deployed in %s", n, time.Since(deployStart).Round(time.Second))

	// The original design's cost: one full check (refresh-aware plan) per service every
	// 10 s. Its per-check CPU is measured on 10 services here.
	s0, c0, d0 := cpu()
	const sample = 10
	for i := range sample {
		if _, err := p.CheckDriftNow(ctx, engine.ServiceRef{Client: tenant, Service: ids[i]}); err != nil {
			b.Fatal(err)
		}
	}
	s1, c1, d1 := cpu()
	perCheck := ((s1 - s0) + (c1 - c0) + (d1 - d0)) / sample
	baselinePerMin := perCheck * float64(n) * 6

	for b.Loop() {
		// Steady state: every service checked once, next checks spread over 5 minutes.
		sup := supervisor.New(supervisor.Config{Interval: 5 * time.Minute, DockerEvents: true, Concurrency: 2}, p.Supervised())
		if err := sup.Prime(ctx); err != nil {
			b.Fatal(err)
		}
		supCtx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { _ = sup.Run(supCtx); close(done) }()
		s0, c0, d0 := cpu()
		time.Sleep(window)
		s1, c1, d1 := cpu()
		perMin := ((s1 - s0) + (c1 - c0) + (d1 - d0)) * float64(time.Minute) / float64(window)
		// Full checks the deep interval adds at steady state (httpecho's resources are
		// all Docker objects: DockerDeepInterval), amortised.
		deepPerMin := perCheck * float64(n) * float64(time.Minute) / float64(supervisor.DefaultDockerDeepInterval)
		steady := perMin + deepPerMin
		st := sup.Stats()
		b.ReportMetric(steady/60*100, "%core-supervisor")
		b.ReportMetric(steady/baselinePerMin, "supervisor/plan-every-10s")
		b.Logf("per full check %.2f CPU-s; window %s: %.2f CPU-s/min measured (self %.2f, tofu %.2f, dockerd %.2f) + %.2f/min amortised deep checks = %.1f%% of one core; plan-every-10s would need %.0f CPU-s/min (%.0f cores); stats %+v",
			perCheck, window, perMin, (s1-s0)*60/window.Seconds(), (c1-c0)*60/window.Seconds(), (d1-d0)*60/window.Seconds(), deepPerMin, steady/60*100, baselinePerMin, baselinePerMin/60, st)

		// Detection latency with events: remove containers one by one, time until the
		// tenant stream says missing.
		sub, err := p.Subscribe(actor)
		if err != nil {
			b.Fatal(err)
		}
		measure := func(victims []string, limit time.Duration) []time.Duration {
			var lat []time.Duration
			for _, id := range victims {
				start := time.Now()
				if out, err := exec.Command("docker", "rm", "-f", "spawnit-"+tenant+"-"+id).CombinedOutput(); err != nil {
					b.Fatalf("docker rm: %v %s", err, out)
				}
				deadline := time.After(limit)
			wait:
				for {
					select {
					case ev, ok := <-sub.C:
						if !ok {
							b.Fatal("status stream closed")
						}
						if ev.Kind == "drift" && ev.Service == id && ev.Drift == engine.StatusMissing && !ev.Unconfirmed {
							lat = append(lat, time.Since(start))
							break wait
						}
					case <-deadline:
						b.Fatalf("service %s not reported missing within %s", id, limit)
					}
				}
			}
			return lat
		}
		on := measure(ids[sample:sample+10], 60*time.Second)
		stop()
		<-done
		sub.Close()
		b.ReportMetric(percentile(on, 0.5).Seconds(), "s-detect-p50-events")
		b.ReportMetric(percentile(on, 0.95).Seconds(), "s-detect-p95-events")

		// Without events: the sweep alone, at a 20 s interval so the benchmark ends.
		sweep := 20 * time.Second
		sup2 := supervisor.New(supervisor.Config{Interval: sweep, DockerEvents: false, Concurrency: 2}, p.Supervised())
		if err := sup2.Prime(ctx); err != nil {
			b.Fatal(err)
		}
		sub, _ = p.Subscribe(actor)
		ctx2, stop2 := context.WithCancel(ctx)
		done2 := make(chan struct{})
		go func() { _ = sup2.Run(ctx2); close(done2) }()
		off := measure(ids[sample+10:sample+15], 3*sweep)
		stop2()
		<-done2
		sub.Close()
		b.ReportMetric(percentile(off, 0.5).Seconds()/sweep.Seconds(), "detect-p50/interval-no-events")
		b.ReportMetric(percentile(off, 0.95).Seconds()/sweep.Seconds(), "detect-p95/interval-no-events")
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(rssMiB(), "MiB-rss")
		b.Logf("detection with events: p50 %s p95 %s; sweep only (interval %s): p50 %s p95 %s; RSS %.0f MiB, heap in use %.0f MiB, goroutines %d",
			percentile(on, 0.5).Round(time.Millisecond), percentile(on, 0.95).Round(time.Millisecond), sweep,
			percentile(off, 0.5).Round(time.Millisecond), percentile(off, 0.95).Round(time.Millisecond), rssMiB(), float64(ms.HeapInuse)/(1<<20), runtime.NumGoroutine())
	}
	// Destroy everything through the platform (the cleanup removes leftovers).
	var wg sync.WaitGroup
	for _, id := range ids {
		info, err := p.Run(ctx, actor, id, platform.RunRequest{Operation: engine.OpDestroy})
		if err != nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if j, ok := eng.Job(info.ID); ok {
				_, _ = j.Wait(ctx)
			}
		}()
	}
	wg.Wait()
}
