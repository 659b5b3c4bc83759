// Command sseload is the load generator of the SSE fan-out benchmark (api's
// BenchmarkSSEFanout): it holds many Server-Sent Events subscriptions to one URL from
// its own process, so that the server's figures do not include the subscribers' work.
//
// It opens -n streams, prints "connected N" on stdout once every stream has its
// response headers, and reads them until each ends (an "end" event or the server
// closing it) or until its standard input is closed. It then prints one JSON line: the
// delivery delay of every event received live (the receipt time minus the event's
// "time" field, for events stamped after every stream had connected: the storm of
// connections is not what is measured) and the failures.
//
// Both processes run on one machine, so the event's clock is the reader's.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"sync"
	"time"
)

// Result is the JSON line sseload prints at the end.
type Result struct {
	Connected int `json:"connected"`
	// Unfinished counts the streams still open when the generator gave up (-timeout).
	Unfinished int       `json:"unfinished"`
	Errors     int       `json:"errors"`
	FirstErr   string    `json:"first_error,omitempty"`
	DelaysMS   []float64 `json:"delays_ms"`
}

func main() {
	url := flag.String("url", "", "the event stream to subscribe to")
	n := flag.Int("n", 1000, "number of subscribers")
	timeout := flag.Duration("timeout", 3*time.Minute, "give up after this long")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the generator here")
	flag.Parse()
	if *cpuProfile != "" { // SSELOAD_CPUPROFILE in the benchmark
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "sseload:", err)
			os.Exit(2)
		}
		defer pprof.StopCPUProfile()
	}
	if *url == "" {
		fmt.Fprintln(os.Stderr, "sseload: -url is required")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	go func() { // the parent ends an idle run by closing our standard input
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	res := run(ctx, *url, *n, func(connected int) { fmt.Printf("connected %d\n", connected) })
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		fmt.Fprintln(os.Stderr, "sseload:", err)
	}
}

// subscribe sends the request on a connection of its own and reads the response head
// itself: the body is then read straight from the connection by the caller's goroutine,
// without the second goroutine per connection an http.Transport keeps (which doubled
// the generator's scheduling work per event). The connection is closed when ctx ends
// or the body is closed.
func subscribe(ctx context.Context, rawURL string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/event-stream")
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", req.URL.Host)
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	if err := req.Write(conn); err != nil {
		conn.Close()
		return nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReaderSize(conn, 4<<10), req)
	if err != nil {
		conn.Close()
		return nil, err
	}
	resp.Body = closer{resp.Body, func() { stop(); conn.Close() }}
	return resp, nil
}

type closer struct {
	io.Reader
	close func()
}

func (c closer) Close() error { c.close(); return nil }

// gate opens once, at a time every reader then sees.
type gate struct {
	open chan struct{} // closed after at is set
	at   time.Time
}

func run(ctx context.Context, url string, n int, onConnected func(int)) Result {
	var (
		mu        sync.Mutex
		res       = Result{DelaysMS: []float64{}}
		connected sync.WaitGroup
		done      sync.WaitGroup
		all       = &gate{open: make(chan struct{})}
	)
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		res.Errors++
		if res.FirstErr == "" {
			res.FirstErr = err.Error()
			fmt.Fprintln(os.Stderr, "sseload: first failure:", err)
		}
	}
	connected.Add(n)
	done.Add(n)
	for range n {
		go func() {
			defer done.Done()
			// A loaded machine may refuse or reset a connection in a storm of a thousand:
			// try again a few times, as a browser's EventSource would.
			resp, err := subscribe(ctx, url)
			for try := 1; err != nil && try < 5 && ctx.Err() == nil; try++ {
				time.Sleep(time.Duration(try) * 100 * time.Millisecond)
				resp, err = subscribe(ctx, url)
			}
			connected.Done()
			if err != nil {
				fail(err)
				return
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				fail(fmt.Errorf("status %s", resp.Status))
				return
			}
			mu.Lock()
			res.Connected++
			mu.Unlock()
			delays := read(resp.Body, all)
			mu.Lock()
			if ctx.Err() == context.DeadlineExceeded {
				res.Unfinished++
			}
			res.DelaysMS = append(res.DelaysMS, delays...)
			mu.Unlock()
		}()
	}
	connected.Wait()
	all.at = time.Now()
	close(all.open)
	onConnected(res.Connected)
	done.Wait()
	return res
}

// read consumes one stream until its end and returns the delays of the events
// stamped after every stream had connected (the time all delivers).
//
// The receipt time is taken when the bytes arrive, once per read, before any parsing:
// with a thousand streams on two cores, parsing each event after taking its own time
// stamp measured the generator's queue for the CPU as much as the server. The event's
// time is cut out of its data line without decoding the whole event, for the same
// reason.
func read(body io.Reader, all *gate) []float64 {
	buf := make([]byte, 4<<10)
	var (
		delays  []float64
		since   time.Time
		pending []byte // a line not yet complete
	)
	for {
		if since.IsZero() {
			select {
			case <-all.open:
				since = all.at
			default:
			}
		}
		n, err := body.Read(buf)
		got := time.Now()
		chunk := buf[:n]
		if len(pending) > 0 {
			chunk = append(pending, chunk...)
			pending = nil
		}
		for len(chunk) > 0 {
			i := bytes.IndexByte(chunk, '\n')
			if i < 0 {
				pending = append([]byte(nil), chunk...)
				break
			}
			line := chunk[:i]
			chunk = chunk[i+1:]
			if bytes.HasPrefix(line, []byte("event: end")) {
				return delays
			}
			data, ok := bytes.CutPrefix(line, []byte("data: "))
			if !ok || since.IsZero() {
				continue
			}
			if t, ok := eventTime(data); ok && t.After(since) {
				delays = append(delays, float64(got.Sub(t).Microseconds())/1000)
			}
		}
		if err != nil {
			return delays
		}
	}
}

var timeField = []byte(`"time":"`)

// eventTime returns the "time" field of an event's JSON data.
func eventTime(data []byte) (time.Time, bool) {
	i := bytes.Index(data, timeField)
	if i < 0 {
		return time.Time{}, false
	}
	rest := data[i+len(timeField):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, string(rest[:j]))
	return t, err == nil
}
