package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/pkg/apiv1"
)

// Stream kinds, for metrics.
const (
	streamJob    = "job"
	streamTenant = "tenant"
)

// sseStream writes Server-Sent Events. Every write has its own deadline: a client that
// cannot take an event within StreamWriteTimeout is dropped, and the server's
// WriteTimeout (meant for ordinary responses) does not cut a long stream.
type sseStream struct {
	res     *echo.Response
	rc      *http.ResponseController
	timeout time.Duration
	buf     bytes.Buffer
}

func (s *Server) openStream(c echo.Context) (*sseStream, error) {
	res := c.Response()
	h := res.Header()
	h.Set(echo.HeaderContentType, "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // reverse proxies must not buffer a stream
	res.WriteHeader(http.StatusOK)
	// The controller is built on the writer under Echo's, whose Flush hides errors.
	st := &sseStream{res: res, rc: http.NewResponseController(res.Writer), timeout: s.cfg.StreamWriteTimeout}
	// The server's WriteTimeout is meant for ordinary responses and would cut the
	// stream; from here on each write sets its own deadline.
	_ = st.rc.SetWriteDeadline(time.Time{})
	return st, st.flush()
}

func (st *sseStream) event(id, name string, data []byte) error {
	return st.write(frame(id, name, data))
}

// queue adds an encoded event (a frame) to the pending buffer without writing it;
// send writes and flushes everything pending in one go.
func (st *sseStream) queue(frame []byte) {
	st.buf.Write(frame)
}

// frame encodes one event as the stream carries it.
func frame(id, name string, data []byte) []byte {
	b := make([]byte, 0, len(id)+len(name)+len(data)+24)
	if id != "" {
		b = append(append(append(b, "id: "...), id...), '\n')
	}
	b = append(append(append(b, "event: "...), sseField(name)...), '\n')
	// encoding/json escapes newlines inside strings, so data is one line.
	b = append(append(append(b, "data: "...), data...), "\n\n"...)
	return b
}

func (st *sseStream) send() error {
	if st.buf.Len() == 0 {
		return nil
	}
	err := st.write(st.buf.Bytes())
	st.buf.Reset()
	return err
}

// maxBatch bounds how many queued events go out in one write.
const maxBatch = 128

// encodedEvents keeps each followed job's events framed once for all its streams: with
// a thousand subscribers on one job, encoding per stream was most of the server's work.
// Events never change once logged, so an encoding is valid for every follower; a job's
// entry is dropped when its last stream ends.
var encodedEvents = struct {
	sync.Mutex
	jobs map[string]*encodedJob
}{jobs: map[string]*encodedJob{}}

type encodedJob struct {
	refs int
	mu   sync.Mutex
	enc  map[int64][]byte
}

func acquireEncoded(job string) *encodedJob {
	encodedEvents.Lock()
	defer encodedEvents.Unlock()
	e := encodedEvents.jobs[job]
	if e == nil {
		e = &encodedJob{enc: map[int64][]byte{}}
		encodedEvents.jobs[job] = e
	}
	e.refs++
	return e
}

func releaseEncoded(job string) {
	encodedEvents.Lock()
	defer encodedEvents.Unlock()
	if e := encodedEvents.jobs[job]; e != nil {
		if e.refs--; e.refs == 0 {
			delete(encodedEvents.jobs, job)
		}
	}
}

// encode returns the event's frame (id, event and data lines).
func (e *encodedJob) encode(ev engine.Event) ([]byte, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if b, ok := e.enc[ev.Seq]; ok {
		return b, nil
	}
	data, err := json.Marshal(wireEvent(ev))
	if err != nil {
		return nil, err
	}
	b := frame(strconv.FormatInt(ev.Seq, 10), string(ev.Type), data)
	e.enc[ev.Seq] = b
	return b, nil
}

func (st *sseStream) comment(text string) error {
	return st.write([]byte(": " + text + "\n\n"))
}

func (st *sseStream) write(b []byte) error {
	_ = st.rc.SetWriteDeadline(time.Now().Add(st.timeout))
	if _, err := st.res.Write(b); err != nil {
		return err
	}
	return st.flush()
}

func (st *sseStream) flush() error {
	err := st.rc.Flush()
	if errors.Is(err, http.ErrNotSupported) {
		return nil
	}
	return err
}

// sseField keeps a field value on one line.
func sseField(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s // event names: the only case on the hot path, and free
	}
	return lineBreaks.Replace(s)
}

// lineBreaks is built once: building a Replacer costs more than writing the event.
var lineBreaks = strings.NewReplacer("\r", "", "\n", "")

// streamContext ends with the request or when CloseStreams is called.
func (s *Server) streamContext(parent context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(parent)
	stop := context.AfterFunc(s.streams, cancel)
	return ctx, func() { stop(); cancel() }
}

// streamError accounts for a failed write: a timeout means the client could not keep
// up and was dropped.
func (s *Server) streamError(kind string, err error) {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		s.metrics.sseDropped.WithLabelValues(kind).Inc()
	}
}

// resumeAfter is where a job stream resumes: Last-Event-ID (sent by a reconnecting
// EventSource) or ?after=N; 0 means from the start.
func resumeAfter(c echo.Context) (int64, error) {
	v, what := c.Request().Header.Get(HeaderLastEventID), HeaderLastEventID
	if v == "" {
		v, what = c.QueryParam("after"), "after"
	}
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n < 0 {
		return 0, newError(http.StatusBadRequest, apiv1.CodeBadRequest, "%s must be a non-negative event sequence number", what)
	}
	return n, nil
}

func wantsJSON(c echo.Context) bool {
	accept := c.Request().Header.Get(echo.HeaderAccept)
	return strings.Contains(accept, "application/json") && !strings.Contains(accept, "text/event-stream")
}

// jobEvents streams a job's events: id = seq, event = type, data = the Event; after
// the job's final event, "end" with the job. With Accept: application/json it returns
// the events so far instead.
func (s *Server) jobEvents(c echo.Context) error {
	svc, job, err := jobParam(c)
	if err != nil {
		return err
	}
	after, err := resumeAfter(c)
	if err != nil {
		return err
	}
	a := s.actor(c)
	if wantsJSON(c) {
		evs, err := s.p.Events(c.Request().Context(), a, svc, job, after)
		if err != nil {
			return err
		}
		if evs == nil {
			evs = []engine.Event{}
		}
		return c.JSON(http.StatusOK, apiv1.EventList{Events: convert(evs, wireEvent)})
	}
	ctx, cancel := s.streamContext(c.Request().Context())
	defer cancel()
	seq, err := s.p.FollowJob(ctx, a, svc, job, after)
	if err != nil {
		return err
	}
	if hijackable(c) {
		return s.hijackJobStream(c, a, svc, job, after)
	}
	st, err := s.openStream(c)
	s.metrics.sseSubscribers.WithLabelValues(streamJob).Inc()
	defer s.metrics.sseSubscribers.WithLabelValues(streamJob).Dec()
	if err != nil {
		return nil
	}

	// The follower runs apart from the writer so that keep-alives go out while it
	// waits; it stops as soon as ctx ends, and the handler waits for it.
	// Buffered so that a burst is handed over whole and written with one flush.
	events := make(chan engine.Event, maxBatch)
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(events)
		for ev := range seq {
			select {
			case events <- ev:
			case <-ctx.Done():
				return
			}
		}
	})
	defer wg.Wait()
	defer cancel()

	enc := acquireEncoded(job)
	defer releaseEncoded(job)
	keepAlive := time.NewTimer(s.cfg.KeepAlive)
	defer keepAlive.Stop()
	for {
		select {
		case ev, ok := <-events:
			// Take every event already waiting (up to maxBatch) and write them with one
			// flush: a replay or a burst costs one write, not one per event.
			for n := 0; ok; n++ {
				f, err := enc.encode(ev)
				if err != nil {
					return nil
				}
				st.queue(f)
				if n+1 >= maxBatch {
					break
				}
				select {
				case ev, ok = <-events:
					continue
				default:
				}
				break
			}
			if err := st.send(); err != nil {
				s.streamError(streamJob, err)
				return nil
			}
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				info, err := s.p.GetJob(ctx, a, svc, job, false)
				if err != nil || !info.State.Final() {
					return nil // not known to be over: the client reconnects and resumes
				}
				data, _ := json.Marshal(wireJob(info))
				if err := st.event("", apiv1.SSEEnd, data); err != nil {
					s.streamError(streamJob, err)
				}
				return nil
			}
			keepAlive.Reset(s.cfg.KeepAlive)
		case <-keepAlive.C:
			if err := st.comment("keep-alive"); err != nil {
				s.streamError(streamJob, err)
				return nil
			}
			keepAlive.Reset(s.cfg.KeepAlive)
		case <-ctx.Done():
			return nil
		}
	}
}

// tenantEvents streams the tenant's status changes ("status" events). A subscriber
// that falls behind is dropped by the broker; the stream then ends and the client
// reconnects and re-reads the current state.
func (s *Server) tenantEvents(c echo.Context) error {
	a := s.actor(c)
	sub, err := s.p.Subscribe(a)
	if err != nil {
		return err
	}
	defer sub.Close()
	if hijackable(c) {
		sub.Close() // the tenant's hub holds one subscription for all its streams
		return s.hijackTenantStream(c, a)
	}
	ctx, cancel := s.streamContext(c.Request().Context())
	defer cancel()
	st, err := s.openStream(c)
	s.metrics.sseSubscribers.WithLabelValues(streamTenant).Inc()
	defer s.metrics.sseSubscribers.WithLabelValues(streamTenant).Dec()
	if err != nil {
		return nil
	}
	keepAlive := time.NewTimer(s.cfg.KeepAlive)
	defer keepAlive.Stop()
	for {
		select {
		case ev, ok := <-sub.C:
			if !ok {
				if sub.Dropped() {
					s.metrics.sseDropped.WithLabelValues(streamTenant).Inc()
				}
				return nil
			}
			data, err := json.Marshal(ev)
			if err != nil {
				return nil
			}
			if err := st.event("", apiv1.SSEStatus, data); err != nil {
				s.streamError(streamTenant, err)
				return nil
			}
			keepAlive.Reset(s.cfg.KeepAlive)
		case <-keepAlive.C:
			if err := st.comment("keep-alive"); err != nil {
				s.streamError(streamTenant, err)
				return nil
			}
			keepAlive.Reset(s.cfg.KeepAlive)
		case <-ctx.Done():
			return nil
		}
	}
}
