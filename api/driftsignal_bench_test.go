package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/internal/testservers"
	"github.com/spawnit/spawnit/pkg/apiv1"
	"github.com/spawnit/spawnit/pkg/supervisor"
)

// BenchmarkDriftSignal: `docker rm -f` of a deployed service's container, then the time
// until /api/v1/events shows the drift signal (unconfirmed "missing"), and until it
// shows the drift check's confirmation, over SPAWNIT_BENCH_SAMPLES services (7 by
// default, one removal each). Baseline, same run: Docker's own "destroy" event on a
// stream of Docker events opened by the benchmark (what the signal cannot beat).
func BenchmarkDriftSignal(b *testing.B) {
	n := envIntAPI("SPAWNIT_BENCH_SAMPLES", 7)
	testservers.BuildTestImage(b)
	h := newHarness(b, harnessOptions{realTofu: true})
	var svcs []apiv1.Service
	for range n {
		port, _ := strconv.Atoi(testservers.FreePort(b))
		svcs = append(svcs, h.createService("", "httpecho", map[string]any{"port": port}))
	}
	b.Cleanup(func() {
		for _, s := range svcs {
			removeContainer(s)
		}
	})
	var jobs []apiv1.Job
	for _, s := range svcs {
		jobs = append(jobs, h.run("", s.ID, "apply", nil))
	}
	for i, s := range svcs {
		h.wait("", s.ID, jobs[i].ID, engine.StateSucceeded)
	}

	// The tenant's status stream over HTTP, as a browser reads it.
	type arrival struct {
		ev apiv1.StatusEvent
		at time.Time
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	status := make(chan arrival, 1000)
	res := h.openStream(ctx, "/api/v1/events", "", nil)
	go func() {
		defer res.Body.Close()
		_ = readSSE(res.Body, func(ev sseEvent) bool {
			var se apiv1.StatusEvent
			if ev.event == apiv1.SSEStatus && json.Unmarshal([]byte(ev.data), &se) == nil {
				status <- arrival{se, time.Now()}
			}
			return true
		})
	}()
	// Docker's own events, the baseline.
	destroyed := make(chan arrival, 100)
	f, _ := json.Marshal(map[string][]string{"type": {"container"}, "event": {"destroy"}, "label": {"spawnit.client=tenant-a"}})
	body, err := h.p.Docker().Open(ctx, "/events", url.Values{"filters": {string(f)}})
	if err != nil {
		b.Fatal(err)
	}
	go func() {
		defer body.Close()
		dec := json.NewDecoder(bufio.NewReader(body))
		for {
			var ev struct {
				Actor struct {
					Attributes map[string]string `json:"Attributes"`
				} `json:"Actor"`
			}
			if dec.Decode(&ev) != nil {
				return
			}
			destroyed <- arrival{apiv1.StatusEvent{Service: ev.Actor.Attributes["spawnit.service"]}, time.Now()}
		}
	}()

	sup := supervisor.New(supervisor.Config{Interval: 1000 * time.Hour, DockerEvents: true, Concurrency: 2}, h.p.Supervised())
	var wg sync.WaitGroup
	wg.Go(func() { _ = sup.Run(ctx) })
	defer func() { cancel(); wg.Wait() }()
	// The supervisor connects to Docker's events in the background: nudge a container
	// (SIGWINCH, ignored by the image; Docker reports a "kill") until it acted on one.
	for deadline := time.Now().Add(2 * time.Minute); sup.Stats().EventChecks == 0; {
		if time.Now().After(deadline) {
			b.Fatal("the supervisor did not follow Docker's events")
		}
		_ = exec.Command("docker", "kill", "-s", "WINCH", "spawnit-tenant-a-"+svcs[0].ID).Run()
		for start := time.Now(); time.Since(start) < 3*time.Second && sup.Stats().EventChecks == 0; time.Sleep(20 * time.Millisecond) {
		}
	}
	for !sup.Idle() {
		time.Sleep(20 * time.Millisecond)
	}

	// Each service is removed once: run with -benchtime 1x.
	for b.Loop() {
		var dockerT, signalT, confirmedT []time.Duration
		for _, s := range svcs {
			for len(status) > 0 {
				<-status
			}
			for len(destroyed) > 0 {
				<-destroyed
			}
			start := time.Now()
			if out, err := exec.Command("docker", "rm", "-f", "spawnit-tenant-a-"+s.ID).CombinedOutput(); err != nil {
				b.Fatalf("docker rm: %v %s", err, out)
			}
			deadline := time.After(2 * time.Minute)
			var signal, confirmed, docker time.Time
			for signal.IsZero() || confirmed.IsZero() || docker.IsZero() {
				select {
				case a := <-status:
					if a.ev.Kind != "drift" || a.ev.Service != s.ID {
						continue
					}
					switch {
					case a.ev.Unconfirmed && signal.IsZero():
						if a.ev.Drift != engine.StatusMissing {
							b.Fatalf("signal %+v", a.ev)
						}
						signal = a.at
					case !a.ev.Unconfirmed:
						if signal.IsZero() {
							b.Fatalf("the check's drift event came before the signal: %+v", a.ev)
						}
						if a.ev.Drift != engine.StatusMissing {
							b.Fatalf("confirmed %+v", a.ev)
						}
						confirmed = a.at
					}
				case a := <-destroyed:
					if a.ev.Service == s.ID {
						docker = a.at
					}
				case <-deadline:
					b.Fatalf("service %s: signal at %v, confirmed at %v, docker at %v", s.ID, signal, confirmed, docker)
				}
			}
			dockerT = append(dockerT, docker.Sub(start))
			signalT = append(signalT, signal.Sub(start))
			confirmedT = append(confirmedT, confirmed.Sub(start))
			for !sup.Idle() {
				time.Sleep(20 * time.Millisecond)
			}
		}
		b.ReportMetric(ms(pct(signalT, 0.5)), "ms-p50-drift-signal")
		b.ReportMetric(ms(pct(signalT, 0.95)), "ms-p95-drift-signal")
		b.ReportMetric(ms(pct(confirmedT, 0.95)), "ms-p95-drift-confirmed")
		b.ReportMetric(ms(pct(dockerT, 0.95)), "ms-p95-docker-destroy")
		b.ReportMetric(float64(pct(signalT, 0.95))/float64(pct(dockerT, 0.95)), "signal/docker-event")
		b.ReportMetric(float64(pct(signalT, 0.95))/float64(pct(confirmedT, 0.95)), "signal/confirmed")
		b.Logf("%d removals: Docker's destroy event p50 %s p95 %s; drift signal on /api/v1/events p50 %s p95 %s; confirmed by the check p50 %s p95 %s; supervisor %+v",
			n, round(pct(dockerT, 0.5)), round(pct(dockerT, 0.95)), round(pct(signalT, 0.5)), round(pct(signalT, 0.95)),
			round(pct(confirmedT, 0.5)), round(pct(confirmedT, 0.95)), sup.Stats())
	}
}

func ms(d time.Duration) float64          { return float64(d) / float64(time.Millisecond) }
func round(d time.Duration) time.Duration { return d.Round(time.Millisecond) }

func envIntAPI(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
