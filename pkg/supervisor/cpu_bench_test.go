package supervisor_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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

// processCPU returns the CPU seconds used so far by this process and every process
// started under it: the ended ones (RUSAGE_CHILDREN, which includes what they reaped in
// turn: tofu's providers) and the live ones (their /proc stat), so that a tofu or
// provider kept running between jobs is counted too.
func processCPU() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	total := tv(ru.Utime) + tv(ru.Stime)
	_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru)
	total += tv(ru.Utime) + tv(ru.Stime)
	type proc struct {
		ppid int
		cpu  float64
	}
	procs := map[int]proc{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		if len(f) < 13 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		ut, _ := strconv.ParseFloat(f[11], 64)
		st, _ := strconv.ParseFloat(f[12], 64)
		procs[pid] = proc{ppid, (ut + st) / 100} // clock ticks
	}
	self := os.Getpid()
	for _, p := range procs {
		for q, hops := p.ppid, 0; q > 1 && hops < 32; hops++ {
			if q == self {
				total += p.cpu
				break
			}
			q = procs[q].ppid
		}
	}
	return total
}

// dockerdCPU returns dockerd's CPU seconds so far: the supervisor's listings and
// inspects cost it work.
func dockerdCPU() float64 {
	out, err := exec.Command("pidof", "dockerd").Output()
	if err != nil || len(strings.Fields(string(out))) == 0 {
		return 0
	}
	b, err := os.ReadFile("/proc/" + strings.Fields(string(out))[0] + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100
}

// BenchmarkSupervisorCPU measures the supervisor's CPU at steady state as the number of
// deployed services grows (SPAWNIT_BENCH_CPU_SIZES, "100,500" by default): real
// containers of the httpecho template, deployed through the platform (the engine runs
// four applies at once), a supervisor with the server's defaults primed (every service
// checked once, next checks spread over the 5-minute interval) and then watched for a
// window (SPAWNIT_BENCH_WINDOW_SECONDS, 60 s) during which the CPU of this process, the
// tofu processes it starts and dockerd is counted; a window of the same length with the
// supervisor stopped follows, and its CPU (the floor: dockerd serves everything else
// on the machine too) is subtracted (the raw figure is reported as well). The full checks that the deep
// interval adds even when nothing changed are rarer than the window shows: they are
// added amortised, at the cost of one full check measured in the same run (the
// baseline: one tofu drift check of one service).
func BenchmarkSupervisorCPU(b *testing.B) {
	var sizes []int
	for _, f := range strings.Split(os.Getenv("SPAWNIT_BENCH_CPU_SIZES"), ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(f)); err == nil && n > 0 {
			sizes = append(sizes, n)
		}
	}
	if len(sizes) == 0 {
		sizes = []int{100, 500}
	}
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
	tenant := fmt.Sprintf("cpu%d", time.Now().UnixNano()%1000000)
	actor := platform.Actor{Tenant: tenant, Subject: "bench"}
	var ids []string
	b.Cleanup(func() {
		// Destroy through the platform (four at once), then remove whatever is left.
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
		removeTenantObjects(tenant)
		_ = p.Shutdown(context.Background())
	})

	deploy := func(n int) {
		start := time.Now()
		var jobs []string
		for i := len(ids); i < n; i++ {
			svc, err := p.CreateService(ctx, actor, apiv1.CreateService{Template: "httpecho", Name: fmt.Sprintf("cpu %d", i), Inputs: map[string]any{"port": nextPort(b)}})
			if err != nil {
				b.Fatal(err)
			}
			info, err := p.Run(ctx, actor, svc.ID, platform.RunRequest{Operation: engine.OpApply})
			if err != nil {
				b.Fatal(err)
			}
			ids, jobs = append(ids, svc.ID), append(jobs, info.ID)
		}
		for _, id := range jobs {
			j, ok := eng.Job(id)
			if !ok {
				b.Fatalf("job %s unknown", id)
			}
			if info, _ := j.Wait(ctx); info.State != engine.StateSucceeded {
				b.Fatalf("deploy: %s %s", info.State, info.Error)
			}
		}
		b.Logf("%d services deployed in %s", n, time.Since(start).Round(time.Second))
	}

	// The server's defaults, but four checks at once: priming (every service checked
	// once) goes faster, and no full check is expected in the window.
	cfg := supervisor.Config{DockerEvents: true, Concurrency: 4}
	deep := supervisor.DefaultDockerDeepInterval // every resource of httpecho is a Docker object
	// measure primes a supervisor on the services deployed so far and returns the CPU
	// (CPU-s per minute) used during the window, then during a window of the same
	// length right after it with the supervisor stopped (the floor: the rest of the
	// process, and whatever else runs on the machine and uses dockerd), and its stats.
	type cpuWindow struct{ total, dockerd float64 }
	window1 := func() cpuWindow {
		c0, d0 := processCPU(), dockerdCPU()
		time.Sleep(window)
		c1, d1 := processCPU(), dockerdCPU()
		per := float64(time.Minute) / float64(window)
		return cpuWindow{(c1 - c0 + d1 - d0) * per, (d1 - d0) * per}
	}
	measure := func() (with, floor cpuWindow, primedIn time.Duration, st supervisor.Stats) {
		sup := supervisor.New(cfg, p.Supervised())
		start := time.Now()
		if err := sup.Prime(ctx); err != nil {
			b.Fatal(err)
		}
		primedIn = time.Since(start)
		primed := sup.Stats()
		supCtx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { _ = sup.Run(supCtx); close(done) }()
		with = window1() // steady state, nothing asked of it
		stop()
		<-done
		st = sup.Stats()
		st.FullChecks -= primed.FullChecks
		st.Inspected -= primed.Inspected
		st.Inventories -= primed.Inventories
		floor = window1()
		return with, floor, primedIn, st
	}

	for b.Loop() {
		var perCheck float64
		percent, raw, floors := map[int]float64{}, map[int]float64{}, map[int]float64{}
		for _, n := range sizes {
			deploy(n)
			if perCheck == 0 {
				// The baseline: one full drift check (tofu plan with refresh), measured
				// on a few services.
				const sample = 5
				c0, d0 := processCPU(), dockerdCPU()
				for i := range sample {
					r, err := p.CheckDriftNow(ctx, engine.ServiceRef{Client: tenant, Service: ids[i]})
					if err != nil {
						b.Fatal(err)
					}
					for _, res := range r.Resources {
						if !strings.HasPrefix(res.Type, "docker_") || strings.HasPrefix(res.Address, "data.") {
							deep = supervisor.DefaultDeepInterval // the plan reads more than Docker shows
						}
					}
				}
				perCheck = (processCPU() - c0 + dockerdCPU() - d0) / sample
			}
			with, floor, primedIn, s := measure()
			deepPerMin := perCheck * float64(n) * float64(time.Minute) / float64(deep)
			percent[n] = (with.total - floor.total + deepPerMin) / 60 * 100
			raw[n] = (with.total + deepPerMin) / 60 * 100
			floors[n] = floor.total / 60 * 100
			b.Logf("%d services: primed in %s; window %s: %.2f CPU-s/min (server+tofu %.2f, dockerd %.2f), floor without supervisor %.2f (server %.2f, dockerd %.2f); + %.3f/min amortised deep checks (one per service every %s, %.2f CPU-s each) = %.2f%% of one core net of the floor (%.2f%% raw); in the window: full checks %d, skipped by fingerprint %d, health probes %d, inventories %d, containers inspected %d",
				n, primedIn.Round(time.Second), window, with.total, with.total-with.dockerd, with.dockerd, floor.total, floor.total-floor.dockerd, floor.dockerd,
				deepPerMin, deep, perCheck, percent[n], raw[n], s.FullChecks, s.SkippedByFingerprint, s.HealthProbes, s.Inventories, s.Inspected)
		}
		small, large := sizes[0], sizes[len(sizes)-1]
		b.ReportMetric(percent[large], fmt.Sprintf("%%core-supervisor-%d", large))
		b.ReportMetric(raw[large], fmt.Sprintf("%%core-supervisor-%d-raw", large))
		b.ReportMetric(floors[large], fmt.Sprintf("%%core-floor-%d", large))
		if large != small {
			b.ReportMetric(percent[small], fmt.Sprintf("%%core-supervisor-%d", small))
			b.ReportMetric(percent[large]/percent[small], fmt.Sprintf("supervisor-cpu-%d/%d", large, small))
		}
		// Against the baseline: what a plan of every service every Interval would cost.
		everyInterval := perCheck * float64(large) / supervisor.DefaultInterval.Minutes() // CPU-s per minute
		b.ReportMetric(percent[large]*60/100/everyInterval, fmt.Sprintf("sup-%d/plan-each-interval", large))
	}
}
