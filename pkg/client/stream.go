package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/spawnit/spawnit/pkg/apiv1"
)

// FollowJob yields a job's events with a sequence number above after, in order and each
// exactly once, waiting for new ones until the job's end event. If the connection drops
// (the server restarts, a proxy times out, the server disconnects a slow reader) it
// reconnects with Last-Event-ID set to the last sequence number yielded, after a short
// backoff; it gives up after WithRetry's attempts fail in a row without progress.
//
// The iteration ends after the last event, when the loop body breaks, or with one
// error: ctx's error when ctx is done, an *APIError (the job does not exist, say), or
// the error that ended the last reconnection attempt.
func (c *Client) FollowJob(ctx context.Context, service, job string, after int64) iter.Seq2[apiv1.Event, error] {
	return func(yield func(apiv1.Event, error) bool) {
		p, err := jobPath(service, job)
		if err != nil {
			yield(apiv1.Event{}, err)
			return
		}
		last := max(after, 0)
		resume := func() string {
			if last > 0 {
				return strconv.FormatInt(last, 10)
			}
			return ""
		}
		for gaps := 0; ; {
			var gapAt int64
			for raw, err := range c.stream(ctx, p+"/events", resume) {
				if err != nil {
					yield(apiv1.Event{}, err)
					return
				}
				if raw.event == apiv1.SSEEnd {
					return
				}
				var ev apiv1.Event
				if err := json.Unmarshal(raw.data, &ev); err != nil {
					yield(apiv1.Event{}, fmt.Errorf("client: job %s: an event is not valid JSON: %w", job, err))
					return
				}
				if ev.Seq == 0 {
					ev.Seq, _ = strconv.ParseInt(raw.id, 10, 64)
				}
				if ev.Seq <= 0 {
					yield(apiv1.Event{}, fmt.Errorf("client: job %s: an event has no sequence number", job))
					return
				}
				if ev.Seq <= last {
					continue // replayed after a reconnection: already yielded
				}
				if ev.Seq != last+1 {
					gapAt = ev.Seq
					break
				}
				last, gaps = ev.Seq, 0
				if !yield(ev, nil) {
					return
				}
			}
			if gapAt == 0 {
				return
			}
			// Events are numbered without gaps, so a jump means this connection lost
			// some: ask again from the last one received rather than skip them.
			gaps++
			if gaps >= c.attempts {
				yield(apiv1.Event{}, fmt.Errorf("client: job %s: the stream jumped from event %d to %d", job, last, gapAt))
				return
			}
			if err := sleep(ctx, c.delay(gaps, 0)); err != nil {
				yield(apiv1.Event{}, err)
				return
			}
		}
	}
}

// Events yields the caller's status changes (jobs, drift, services) from the tenant
// stream, reconnecting like FollowJob with Last-Event-ID set to the last event's id. It
// never ends by itself: stop it by breaking the loop or cancelling ctx.
func (c *Client) Events(ctx context.Context) iter.Seq2[apiv1.StatusEvent, error] {
	return func(yield func(apiv1.StatusEvent, error) bool) {
		var last string
		for raw, err := range c.stream(ctx, "/api/v1/events", func() string { return last }) {
			if err != nil {
				yield(apiv1.StatusEvent{}, err)
				return
			}
			if len(raw.data) == 0 {
				continue
			}
			var ev apiv1.StatusEvent
			if err := json.Unmarshal(raw.data, &ev); err != nil {
				yield(apiv1.StatusEvent{}, fmt.Errorf("client: status stream: an event is not valid JSON: %w", err))
				return
			}
			last = raw.id
			if !yield(ev, nil) {
				return
			}
		}
	}
}

// stream yields the raw events of the SSE resource at path across reconnections;
// resume gives the Last-Event-ID for each new connection.
func (c *Client) stream(ctx context.Context, path string, resume func() string) iter.Seq2[sseEvent, error] {
	return func(yield func(sseEvent, error) bool) {
		var serverRetry time.Duration
		for failures := 0; ; {
			res := c.connect(ctx, path, resume(), func(ev sseEvent) bool { return yield(ev, nil) })
			if res.stopped {
				return
			}
			if ctx.Err() != nil {
				yield(sseEvent{}, ctx.Err())
				return
			}
			if !retryableStream(res.err) {
				yield(sseEvent{}, res.err)
				return
			}
			if res.alive {
				failures = 0
			}
			failures++
			if failures >= c.attempts {
				yield(sseEvent{}, fmt.Errorf("client: event stream lost after %d attempts: %w", failures, res.err))
				return
			}
			if res.retry > 0 {
				serverRetry = min(res.retry, 30*time.Second)
			}
			if err := sleep(ctx, max(c.delay(failures, 0), serverRetry)); err != nil {
				yield(sseEvent{}, err)
				return
			}
		}
	}
}

type connResult struct {
	alive   bool          // the connection delivered at least one line
	stopped bool          // the consumer asked to stop
	retry   time.Duration // the server's reconnection delay
	err     error         // why the connection ended
}

var errStreamClosed = errors.New("the server closed the event stream")

// connect reads one connection to the end, passing every event to yield.
func (c *Client) connect(ctx context.Context, path, lastID string, yield func(sseEvent) bool) connResult {
	// The connection has its own context so that the idle watchdog can cut it without
	// ending the follow.
	connCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	h := http.Header{"Accept": {"text/event-stream"}, "Cache-Control": {"no-cache"}}
	if lastID != "" {
		h.Set("Last-Event-ID", lastID)
	}
	req, err := c.newRequest(connCtx, request{method: http.MethodGet, path: path, header: h}, nil)
	if err != nil {
		return connResult{err: err}
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return connResult{err: c.transportError(err)}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return connResult{err: decodeError(resp)}
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "text/event-stream" {
		return connResult{err: &streamProtocolError{fmt.Sprintf("the server answered %q instead of an event stream", mt)}}
	}
	idle := time.AfterFunc(c.idleTimeout, cancel)
	defer idle.Stop()
	r := newSSEReader(resp.Body)
	r.onLine = func() { idle.Reset(c.idleTimeout) }
	for {
		ev, err := r.next()
		if err != nil {
			switch {
			case errors.Is(err, io.EOF):
				err = errStreamClosed
			case connCtx.Err() != nil && ctx.Err() == nil:
				err = fmt.Errorf("no data from the server for %s", c.idleTimeout)
			case isProtocolError(err):
				err = &streamProtocolError{err.Error()}
			}
			return connResult{alive: r.lines > 0, retry: r.retry, err: err}
		}
		// A consumer slow to come back is not a dead connection.
		idle.Stop()
		if !yield(ev) {
			return connResult{stopped: true}
		}
		idle.Reset(c.idleTimeout)
	}
}

// streamProtocolError is a stream the client cannot read; reconnecting would not help.
type streamProtocolError struct{ msg string }

func (e *streamProtocolError) Error() string { return "client: " + e.msg }

func retryableStream(err error) bool {
	var pe *streamProtocolError
	if errors.As(err, &pe) {
		return false
	}
	if e, ok := AsAPIError(err); ok {
		return retryableStatus(e.Status)
	}
	return true
}
