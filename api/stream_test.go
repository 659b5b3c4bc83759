package api_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/spawnit/spawnit/engine"
)

// TestKeepAlive: an idle stream gets a keep-alive comment every KeepAlive, both the
// tenant stream and the stream of a job that is waiting.
func TestKeepAlive(t *testing.T) {
	h := newHarness(t, harnessOptions{keepAlive: 50 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res := h.openStream(ctx, "/api/v1/events", "", nil)
	defer res.Body.Close()
	var comments int
	start := time.Now()
	_ = readSSE(res.Body, func(ev sseEvent) bool {
		if ev.comment == "keep-alive" {
			comments++
		}
		return comments < 3
	})
	if comments < 3 {
		t.Fatalf("got %d keep-alive comments", comments)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Fatalf("3 keep-alives took %s at a 50ms interval", elapsed)
	}
	if res.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("Cache-Control %q", res.Header.Get("Cache-Control"))
	}
}

// TestStreamOutlivesServerTimeouts: the server's read and write timeouts, meant for
// ordinary requests, do not end a stream.
func TestStreamOutlivesServerTimeouts(t *testing.T) {
	h := newHarness(t, harnessOptions{keepAlive: 50 * time.Millisecond, serverTimeout: 300 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res := h.openStream(ctx, "/api/v1/events", "", nil)
	defer res.Body.Close()
	start := time.Now()
	var err error
	err = readSSE(res.Body, func(ev sseEvent) bool { return time.Since(start) < 1500*time.Millisecond })
	if elapsed := time.Since(start); elapsed < 1500*time.Millisecond {
		t.Fatalf("stream ended after %s (timeouts 300ms): %v", elapsed, err)
	}
	// Ordinary requests still have them.
	h.must(200, req{method: "GET", path: "/healthz"})
}

var gaugeRe = regexp.MustCompile(`(?m)^spawnit_sse_subscribers\{stream="tenant"\} (\d+)$`)

func (h *harness) tenantSubscribers() int {
	m := gaugeRe.FindStringSubmatch(string(h.must(200, req{method: "GET", path: "/metrics"}).body))
	if m == nil {
		h.t.Fatal("no subscribers gauge in /metrics")
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// TestManySubscribersVanish: 1,000 stream subscribers connect, then drop their
// connections; the server's goroutines return to their baseline.
func TestManySubscribersVanish(t *testing.T) {
	h := newHarness(t, harnessOptions{keepAlive: time.Hour})
	transport := &http.Transport{MaxConnsPerHost: 0, DisableKeepAlives: true}
	client := &http.Client{Transport: transport}
	// Warm up what the first request starts once (connection pools, the metrics
	// collectors) so it is part of the baseline.
	h.tenantSubscribers()
	runtime.GC()
	baseline := runtime.NumGoroutine()

	const n = 1000
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 100)
	for range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			r, _ := http.NewRequestWithContext(ctx, "GET", h.url+"/api/v1/events", nil)
			res, err := client.Do(r)
			if err != nil {
				errs <- err
				return
			}
			if res.StatusCode != 200 {
				errs <- fmt.Errorf("status %d", res.StatusCode)
			}
			// Hold the stream open until the test cancels; the body is closed then.
			go func() { <-ctx.Done(); res.Body.Close() }()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		cancel()
		t.Fatal(err)
	}
	waitFor(t, "1000 subscribers", func() bool { return h.tenantSubscribers() == n })
	// Every one of them is live: a change reaches them (counted by the broker).
	h.createService("", "bulk", nil)

	cancel()
	transport.CloseIdleConnections()
	waitFor(t, "subscribers gone", func() bool { return h.tenantSubscribers() == 0 })
	deadline := time.Now().Add(time.Minute)
	for {
		runtime.GC()
		now := runtime.NumGoroutine()
		if now <= baseline+5 {
			break
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutines: %d, baseline %d\n%s", now, baseline, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// smallBuffers shrinks each accepted connection's send buffer, so a client that does
// not read blocks the server after a few kilobytes instead of megabytes.
type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(4096)
	}
	return c, err
}

// TestStuckClientDropped: a client that never reads its job stream neither slows the
// job nor holds the server: the job ends on time while the client is stuck, and the
// client is dropped when a write cannot complete within the stream write timeout.
func TestStuckClientDropped(t *testing.T) {
	h := newHarness(t, harnessOptions{
		realTofu: true,
		// Many times what the job takes (under a second when idle; a loaded CI machine
		// may need several): it ends while the client is stuck.
		writeTimeout: 20 * time.Second,
		listen:       func(l net.Listener) net.Listener { return smallBuffers{l} },
	})
	svc := h.createService("", "bulk", map[string]any{"items": 1500})
	job := h.run("", svc.ID, "plan", nil)

	// A raw client with a tiny receive buffer that sends its request and never reads.
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 2048) })
	}}
	conn, err := d.Dial("tcp", strings.TrimPrefix(h.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /api/v1/services/%s/jobs/%s/events HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\n\r\n",
		svc.ID, job.ID, strings.TrimPrefix(h.url, "http://"))

	// The job runs to its end at full speed while the client is stuck.
	done := h.wait("", svc.ID, job.ID, engine.StateSucceeded)
	t.Logf("plan of %d events ran %s", done.LastSeq, done.Duration())
	if done.LastSeq < 1500 {
		t.Fatalf("the plan has %d events; the test needs more than the buffers hold", done.LastSeq)
	}
	jobGauge := regexp.MustCompile(`(?m)^spawnit_sse_subscribers\{stream="job"\} (\d+)$`)
	dropped := regexp.MustCompile(`(?m)^spawnit_sse_dropped_total\{stream="job"\} (\d+)$`)
	metric := func(re *regexp.Regexp) string {
		m := re.FindStringSubmatch(string(h.must(200, req{method: "GET", path: "/metrics"}).body))
		if m == nil {
			t.Fatalf("no %s in /metrics", re)
		}
		return m[1]
	}
	// Still stuck, not yet dropped, when the job ended: the job did not wait for it.
	if metric(dropped) != "0" || metric(jobGauge) != "1" {
		t.Fatalf("the stuck client was dropped before the job ended (job ran %s): the job waited for it", done.Duration())
	}
	waitFor(t, "the stuck client to be dropped", func() bool { return metric(dropped) == "1" })
	waitFor(t, "the job stream to close", func() bool { return metric(jobGauge) == "0" })

	// What the client got is a prefix of the stream, far from all of it.
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(conn)
	n := 0
	for {
		line, err := br.ReadString('\n')
		if strings.HasPrefix(line, "id: ") {
			n++
		}
		if err != nil {
			break
		}
	}
	if n == 0 || int64(n) >= done.LastSeq {
		t.Fatalf("the stuck client received %d of %d events before being dropped", n, done.LastSeq)
	}
}

// TestStreamPaths: a job's stream, joined at different points of its log by several
// clients at once, and the tenant stream, on both paths a stream can take: the fan-out
// hub on a taken-over HTTP/1.1 connection, and the ordinary response (HTTP/2, or a
// connection that cannot be taken over). Each client gets exactly the events after its
// resume point, then the end; a tenant stream gets a change.
func TestStreamPaths(t *testing.T) {
	for _, hijack := range []bool{true, false} {
		t.Run(map[bool]string{true: "hub", false: "ordinary"}[hijack], func(t *testing.T) {
			h := newHarness(t, harnessOptions{realTofu: true, noHijack: !hijack, keepAlive: 50 * time.Millisecond})
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			tenant := h.openStream(ctx, "/api/v1/events", "", nil)
			defer tenant.Body.Close()
			if tenant.Close != hijack { // Connection: close, the body ends with the connection
				t.Fatalf("response closes its connection: %v, on the hub's path: %v", tenant.Close, hijack)
			}
			svc := h.createService("", "bulk", map[string]any{"items": 3})
			// The change reaches the tenant stream (after keep-alives, while idle).
			var status bool
			_ = readSSE(tenant.Body, func(ev sseEvent) bool {
				status = ev.event == "status" && strings.Contains(ev.data, svc.ID)
				return !status
			})
			if !status {
				t.Fatal("the tenant stream ended without the new service's status")
			}
			// A stream opened later starts with what comes next, not what came before.
			later := h.openStream(ctx, "/api/v1/events", "", nil)
			defer later.Body.Close()
			svc2 := h.createService("", "bulk", map[string]any{"items": 1})
			var first string
			_ = readSSE(later.Body, func(ev sseEvent) bool {
				if ev.event == "status" {
					first = ev.data
				}
				return first == ""
			})
			if !strings.Contains(first, svc2.ID) {
				t.Fatalf("a later tenant stream began with %s, want the status of %s", first, svc2.ID)
			}
			job := h.run("", svc.ID, "plan", nil)
			done := h.wait("", svc.ID, job.ID, engine.StateSucceeded)
			path := "/api/v1/services/" + svc.ID + "/jobs/" + job.ID + "/events"
			var wg sync.WaitGroup
			for _, after := range []int64{0, 2, done.LastSeq - 1, done.LastSeq} {
				wg.Go(func() {
					res := h.openStream(ctx, path, "", map[string]string{"Last-Event-ID": strconv.FormatInt(after, 10)})
					defer res.Body.Close()
					next, ended := after+1, false
					_ = readSSE(res.Body, func(ev sseEvent) bool {
						switch {
						case ev.event == "end":
							ended = true
							return false
						case ev.id != "":
							if ev.id != strconv.FormatInt(next, 10) {
								t.Errorf("after %d: event %s, want %d", after, ev.id, next)
								return false
							}
							next++
						}
						return true
					})
					if !ended || next != done.LastSeq+1 {
						t.Errorf("after %d: stream ended at %d of %d, end event %v", after, next-1, done.LastSeq, ended)
					}
				})
			}
			wg.Wait()
		})
	}
}
