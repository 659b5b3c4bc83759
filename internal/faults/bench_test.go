package faults

import (
	"encoding/json"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/pkg/apiv1"
)

// BenchmarkReplicas measures what issue 12 asks of several replicas on one bucket, with
// real `spawnit serve` processes behind the round-robin proxy (run once: -benchtime 1x):
//
//   - applies per minute of 30 services with one replica, then with three (two more
//     join the same bucket), and their ratio;
//   - the live-event delay of a job streamed from a replica that does not run it (p50,
//     p95), against the same job streamed from the replica that runs it;
//   - duplicated drift checks per `docker rm -f` (extra checks across all replicas);
//   - the time from kill -9 of the replica running an apply to the service applied
//     again through the survivors and answering.
func BenchmarkReplicas(b *testing.B) {
	e := newEnv(b)
	opts := serverOptions{jobTimeout: 5 * time.Minute, driftInterval: 24 * time.Hour}
	c := e.startCluster(1, opts)
	// Each figure is a sub-benchmark of its own, so one that fails (a feature missing)
	// does not hide the others.
	var deployed []apiv1.Service
	var one float64
	b.Run("applies-1-replica", func(b *testing.B) {
		c.use(b)
		one, _ = c.appliesPerMinute(b, 30)
		b.ReportMetric(one, "applies/min-1-replica")
	})
	// The replicas a test starts are the whole test's: they join between figures.
	c.startReplicas(2, opts)
	b.Run("applies-3-replicas", func(b *testing.B) {
		c.use(b)
		three, svcs := c.appliesPerMinute(b, 30)
		deployed = svcs
		b.ReportMetric(three, "applies/min-3-replicas")
		if one > 0 {
			b.ReportMetric(three/one, "3-replicas/1-replica")
		}
		b.Logf("30 services: %.1f applies/min with 1 replica, %.1f with 3 on %d cores shared by the replicas; "+
			"on three machines each replica has its own cores, so the figure would approach 3x the single replica's, up to what the bucket and the Docker engine sustain",
			one, three, runtime.NumCPU())
	})
	b.Run("events", func(b *testing.B) {
		c.use(b)
		other, local := c.eventDelays(b, 5)
		b.ReportMetric(float64(len(other))/float64(max(1, len(local))), "delivered-other/local")
		b.ReportMetric(ms(percentile(other, 50)), "ms-p50-event-other")
		b.ReportMetric(ms(percentile(other, 95)), "ms-p95-event-other")
		b.ReportMetric(ms(percentile(local, 95)), "ms-p95-event-local")
		b.Logf("live events of 5 applies: %d delivered from another replica, p50 %s p95 %s; %d from the running replica, p50 %s p95 %s",
			len(other), percentile(other, 50), percentile(other, 95), len(local), percentile(local, 50), percentile(local, 95))
	})
	b.Run("drift", func(b *testing.B) {
		c.use(b)
		svcs := deployed
		for len(svcs) < 3 {
			svc, _ := c.createReplica(0, false)
			c.lb.waitState(svc.ID, c.lb.run(svc.ID, "apply").ID, engine.StateSucceeded, 5*time.Minute)
			svcs = append(svcs, svc)
		}
		dup, checks, events := c.duplicatedChecks(b, svcs[:3])
		b.ReportMetric(dup, "dup-checks/drift-event")
		b.Logf("%d docker rm -f: %d drift checks across the replicas within %s (%.2f duplicated per event)", events, checks, duplicateHorizon, dup)
	})
	b.Run("kill", func(b *testing.B) {
		c.use(b)
		var usable []time.Duration
		for range 3 {
			usable = append(usable, c.killRunner(b))
		}
		slices.Sort(usable)
		b.ReportMetric(usable[1].Seconds(), "s-usable-after-kill")
		b.Logf("kill -9 of the replica running an apply to the service applied again through the survivors and answering: %v (median %s)", usable, usable[1])
	})
}

// appliesPerMinute creates n services, applies them all at once through the balancer
// and returns the applies per minute, with the services.
func (c *cluster) appliesPerMinute(b *testing.B, n int) (float64, []apiv1.Service) {
	b.Helper()
	var svcs []apiv1.Service
	for range n {
		svc, _ := c.createReplica(0, false)
		svcs = append(svcs, svc)
	}
	start := time.Now()
	jobs := make([]string, n)
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i, svc := range svcs {
		wg.Go(func() {
			r := c.lb.request("POST", "/api/v1/services/"+svc.ID+"/apply", nil, nil, time.Minute)
			var j apiv1.Job
			if r.err != nil || r.status != 202 || json.Unmarshal(r.body, &j) != nil {
				errs <- fmt.Sprintf("apply %s: %s", svc.ID, r)
				return
			}
			jobs[i] = j.ID
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	for i, svc := range svcs {
		c.lb.waitState(svc.ID, jobs[i], engine.StateSucceeded, 10*time.Minute)
	}
	took := time.Since(start)
	b.Logf("%d applies with %d replicas: %s", n, len(c.replicas), took.Round(time.Millisecond))
	return float64(n) / took.Minutes(), svcs
}

// eventDelays applies n services, one after another, each followed live from the
// replica that runs it and from another, and returns each event's delay (receipt minus
// the event's own time) on the other replica and on the running one. Events older
// than the streams (replayed at connection) are left out.
func (c *cluster) eventDelays(b *testing.B, n int) (other, local []time.Duration) {
	b.Helper()
	for range n {
		svc, _ := c.createReplica(2, false)
		job := c.lb.run(svc.ID, "apply")
		runner := c.runner(svc.ID, job.ID)
		connected := time.Now()
		far := c.others(runner)[0].follow(svc.ID, job.ID)
		near := runner.follow(svc.ID, job.ID)
		c.lb.waitState(svc.ID, job.ID, engine.StateSucceeded, 5*time.Minute)
		// A stream that ends early (or never delivers the end) counts what it delivered.
		for _, st := range []*stream{far, near} {
			for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				evs, ended := st.snapshot()
				if ended || slices.ContainsFunc(evs, func(ev received) bool { return ev.Type == engine.EventJobState && ev.State.Final() }) {
					break
				}
			}
		}
		for _, p := range []struct {
			st  *stream
			out *[]time.Duration
		}{{far, &other}, {near, &local}} {
			evs, _ := p.st.snapshot()
			for _, ev := range evs {
				if ev.Time.After(connected) {
					*p.out = append(*p.out, ev.at.Sub(ev.Time))
				}
			}
		}
	}
	return other, local
}

// duplicatedChecks removes the containers of deployed services once no replica checks
// anything, waits for each removal's first check, watches every replica's checks for
// duplicateHorizon more, and returns the extra checks per removal.
func (c *cluster) duplicatedChecks(b *testing.B, svcs []apiv1.Service) (dup float64, checks, events int) {
	b.Helper()
	for _, svc := range svcs {
		c.pickedUp(b, svc.ID, time.Time{})
	}
	c.quiet(b)
	removed := time.Now()
	for _, svc := range svcs {
		dockerRm(b, svc.ID)
	}
	for _, svc := range svcs {
		c.pickedUp(b, svc.ID, removed)
	}
	for last := time.Now(); time.Since(last) < duplicateHorizon; {
		time.Sleep(200 * time.Millisecond)
	}
	for _, svc := range svcs {
		checks += len(since(c.jobLogs("job started", "drift", svc.ID), removed))
	}
	events = len(svcs)
	return float64(checks-events) / float64(events), checks, events
}

// quiet waits until every drift check started on any replica has ended.
func (c *cluster) quiet(t testing.TB) {
	t.Helper()
	count := func(msg string) (n int) {
		for _, s := range c.replicas {
			for _, l := range strings.Split(s.out.String(), "\n") {
				if strings.Contains(l, `"msg":"`+msg+`"`) && strings.Contains(l, `"op":"drift"`) {
					n++
				}
			}
		}
		return n
	}
	for deadline := time.Now().Add(5 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
		started, ended := count("job started"), count("job finished")
		if started == ended {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("drift checks still running after 5m: %d started, %d ended", started, ended)
		}
	}
}

// pickedUp waits until a drift check of the service started after from on some
// replica and every check started since has ended: the replica supervising it watches
// it.
func (c *cluster) pickedUp(t testing.TB, service string, from time.Time) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(100 * time.Millisecond) {
		started := since(c.jobLogs("job started", "drift", service), from)
		ended := since(c.jobLogs("job finished", "drift", service), from)
		if len(started) > 0 && len(ended) == len(started) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no replica checked service %s within 2m (%d checks started, %d ended)", service, len(started), len(ended))
		}
	}
}

func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
