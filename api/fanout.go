package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/pkg/apiv1"
	"github.com/spawnit/spawnit/pkg/platform"
)

// Fan-out of HTTP/1.1 event streams without a goroutine per subscriber.
//
// A stream handler that has authenticated and validated its request takes the
// connection over (hijacks it), writes the response head itself with
// `Connection: close` (the body then ends when the connection does, which EventSource
// and Go's client accept) and hands the bare connection to the hub of what it
// follows: one per job, one per tenant. The handler returns at once, so neither the
// connection's serve goroutine nor its buffers stay: an idle subscriber costs its
// socket and a small record. The hub encodes each event once and writes the same bytes
// to every subscriber, each write bounded by a short deadline; a subscriber whose
// socket is full gets a goroutine of its own that finishes the write within the
// stream write timeout (or drops it), so a slow client never delays the others.
// Departed clients are found by peeking at their sockets at every tick (no read
// goroutine either) or at the next write.
//
// HTTP/2, TLS and platforms without the peek keep the ordinary path (sse.go).

// fastWrite bounds a write the hub makes itself: a socket with room takes it at
// once; one without is handed to a goroutine of its own.
const fastWrite = 2 * time.Millisecond

// coalesce is the shortest time between two delivery rounds of a hub.
const coalesce = 20 * time.Millisecond

// minShare is the fewest writes worth a goroutine of their own in a delivery round.
const minShare = 64

// maxHubTick bounds how long a departed client's socket is held.
const maxHubTick = time.Second

// tenantBacklog is how many events a slow tenant subscriber may fall behind before it
// is dropped (it reconnects and re-reads the current state), as the broker does.
const tenantBacklog = 64

// hubSub is one hijacked stream.
type hubSub struct {
	conn  net.Conn
	after int64 // job streams: events up to this sequence number are not sent
	pos   int   // index in the hub's log of the next frame to send
	slow  bool  // a goroutine of its own is writing to it
	gone  bool  // removed
	last  time.Time
}

// hub fans one log of frames out to its subscribers. Guarded by mu unless noted.
type hub struct {
	s    *Server
	kind string // streamJob or streamTenant
	key  string
	keep int // frames retained (0: all, for job streams)

	mu      sync.Mutex
	base    int // log index of frames[0]
	frames  [][]byte
	seqs    []int64 // job streams: each frame's sequence number
	subs    map[*hubSub]struct{}
	ended   bool   // no more frames: subscribers get end (if set) and are closed
	end     []byte // the final frame, if any
	dropped bool   // ended because the source dropped the hub: count each subscriber dropped
	closed  bool   // the hub stopped; joining needs a new one

	wake   chan struct{}
	ctx    context.Context
	cancel context.CancelFunc
}

// hubs are the live hubs by kind and key.
type hubs struct {
	mu sync.Mutex
	m  map[string]*hub
}

func (hs *hubs) get(key string) *hub {
	if hs.m == nil {
		hs.m = map[string]*hub{}
	}
	return hs.m[key]
}

// hijackable reports whether the request's connection can be taken over.
func hijackable(c echo.Context) bool {
	r := c.Request()
	if !peekSupported || r.ProtoMajor != 1 || r.TLS != nil {
		return false
	}
	_, ok := c.Response().Writer.(http.Hijacker)
	return ok
}

// hijackStream takes the request's connection over and writes a stream's response
// head on it. The request is logged by the middleware as any other.
func (s *Server) hijackStream(c echo.Context) (net.Conn, error) {
	res := c.Response()
	conn, _, err := res.Writer.(http.Hijacker).Hijack()
	if err != nil {
		return nil, err
	}
	h := res.Header()
	h.Set(echo.HeaderContentType, "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // reverse proxies must not buffer a stream
	h.Set("Connection", "close")
	h.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	var head bytes.Buffer
	head.WriteString("HTTP/1.1 200 OK\r\n")
	_ = h.Write(&head)
	head.WriteString("\r\n")
	// The server's timeouts were meant for the request; each write sets its own.
	_ = conn.SetDeadline(time.Time{})
	_ = conn.SetWriteDeadline(time.Now().Add(s.cfg.StreamWriteTimeout))
	if _, err := conn.Write(head.Bytes()); err != nil {
		conn.Close()
		return nil, err
	}
	_ = conn.SetWriteDeadline(time.Time{})
	res.Status, res.Size, res.Committed = http.StatusOK, int64(head.Len()), true
	return conn, nil
}

// joinHub adds conn to the hub under key, creating it with start when there is none.
func (s *Server) joinHub(kind, key string, keep int, sub *hubSub, start func(h *hub) error) error {
	s.hubs.mu.Lock()
	defer s.hubs.mu.Unlock()
	h := s.hubs.get(key)
	if h != nil {
		h.mu.Lock()
		if h.closed { // stopping: the next one starts afresh
			h.mu.Unlock()
			delete(s.hubs.m, key)
			h = nil
		}
	}
	if h == nil {
		ctx, cancel := context.WithCancel(s.streams)
		h = &hub{s: s, kind: kind, key: key, keep: keep, subs: map[*hubSub]struct{}{},
			wake: make(chan struct{}, 1), ctx: ctx, cancel: cancel}
		if err := start(h); err != nil {
			cancel()
			return err
		}
		s.hubs.m[key] = h
		go h.run()
		h.mu.Lock()
	}
	sub.last = time.Now()
	sub.pos = h.base // a job's stream replays the log (after sub.after)
	if kind == streamTenant {
		sub.pos = h.base + len(h.frames) // a tenant's stream starts with what comes next
	}
	h.subs[sub] = struct{}{}
	h.mu.Unlock()
	s.metrics.sseSubscribers.WithLabelValues(kind).Inc()
	h.signal()
	return nil
}

func (h *hub) signal() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// add appends a frame to the log (seq for job streams).
func (h *hub) add(frame []byte, seq int64) {
	h.mu.Lock()
	h.frames = append(h.frames, frame)
	if h.kind == streamJob {
		h.seqs = append(h.seqs, seq)
	}
	if h.keep > 0 && len(h.frames) > 2*h.keep {
		n := len(h.frames) - h.keep
		h.frames = append([][]byte(nil), h.frames[n:]...)
		h.base += n
	}
	h.mu.Unlock()
	h.signal()
}

// finish marks the log complete: end, when set, is the last frame every subscriber
// gets before its connection is closed.
func (h *hub) finish(end []byte) {
	h.mu.Lock()
	h.ended, h.end = true, end
	h.mu.Unlock()
	h.signal()
}

// pendingLocked returns what sub has yet to receive, up to the end of the log, and the
// position after it; lagging is true when it fell out of the retained log.
func (h *hub) pendingLocked(sub *hubSub, batches map[int][]byte) (b []byte, next int, lagging bool) {
	top := h.base + len(h.frames)
	if sub.pos < h.base {
		return nil, top, true
	}
	for sub.pos < top && h.seqs != nil && h.seqs[sub.pos-h.base] <= sub.after {
		sub.pos++
	}
	if sub.pos == top {
		return nil, top, false
	}
	if b, ok := batches[sub.pos]; ok {
		return b, top, false
	}
	n := 0
	for _, f := range h.frames[sub.pos-h.base:] {
		n += len(f)
	}
	b = make([]byte, 0, n)
	for _, f := range h.frames[sub.pos-h.base:] {
		b = append(b, f...)
	}
	if batches != nil {
		batches[sub.pos] = b
	}
	return b, top, false
}

// run writes the log to the subscribers until the hub has none left or the server
// closes its streams.
func (h *hub) run() {
	defer h.stop()
	tick := min(h.s.cfg.KeepAlive/2, maxHubTick)
	silence := h.s.cfg.KeepAlive - tick // the longest silence is tick + silence
	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	pause := time.NewTimer(time.Hour)
	defer pause.Stop()
	var round time.Time
	for {
		select {
		case <-h.wake:
			// Events that come while a round is being written wait for the next, at
			// least coalesce after this one started: a burst goes out in fewer, larger
			// writes, which is most of what a delivery costs both ends.
			if wait := time.Until(round.Add(coalesce)); wait > 0 {
				pause.Reset(wait)
				select {
				case <-pause.C:
				case <-h.ctx.Done():
					return
				}
			}
			round = time.Now()
			if !h.deliver() {
				return
			}
		case <-ticker.C:
			h.idle(silence)
			if !h.deliver() {
				return
			}
		case <-h.ctx.Done():
			return
		}
	}
}

type write struct {
	sub  *hubSub
	b    []byte
	next int
}

// deliver writes to every subscriber what it lacks; false once the hub is done.
func (h *hub) deliver() bool {
	h.mu.Lock()
	batches := map[int][]byte{}
	var writes []write
	var lagging []*hubSub
	for sub := range h.subs {
		if sub.slow {
			continue
		}
		b, next, lag := h.pendingLocked(sub, batches)
		switch {
		case lag:
			lagging = append(lagging, sub)
		case b != nil:
			writes = append(writes, write{sub, b, next})
		}
	}
	ended, end, dropped := h.ended, h.end, h.dropped
	h.mu.Unlock()
	for _, sub := range lagging {
		h.remove(sub, os.ErrDeadlineExceeded)
	}
	now := time.Now()
	// The writes are spread over as many goroutines as there are processors: one
	// goroutine would get a single core's share of a loaded machine.
	if par := min(runtime.GOMAXPROCS(0), len(writes)/minShare); par > 1 {
		var wg sync.WaitGroup
		for i := range par {
			share := writes[i*len(writes)/par : (i+1)*len(writes)/par]
			wg.Go(func() {
				for _, w := range share {
					h.writeTo(w.sub, w.b, w.next, now)
				}
			})
		}
		wg.Wait()
	} else {
		for _, w := range writes {
			h.writeTo(w.sub, w.b, w.next, now)
		}
	}
	if ended {
		h.mu.Lock()
		var done []*hubSub
		for sub := range h.subs {
			if !sub.slow && sub.pos == h.base+len(h.frames) {
				done = append(done, sub)
			}
		}
		h.mu.Unlock()
		for _, sub := range done {
			if end != nil {
				_ = sub.conn.SetWriteDeadline(time.Now().Add(fastWrite))
				_, _ = sub.conn.Write(end)
			}
			var why error
			if dropped {
				why = os.ErrDeadlineExceeded
			}
			h.remove(sub, why)
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.subs) == 0 {
		h.closeLocked()
		return false
	}
	return true
}

// writeTo writes b to sub at once if its socket has room, else hands the rest to a
// goroutine of its own.
func (h *hub) writeTo(sub *hubSub, b []byte, next int, now time.Time) {
	_ = sub.conn.SetWriteDeadline(now.Add(fastWrite))
	n, err := sub.conn.Write(b)
	if err == nil {
		h.mu.Lock()
		sub.pos, sub.last = next, now
		h.mu.Unlock()
		return
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		h.remove(sub, err)
		return
	}
	h.mu.Lock()
	sub.slow = true
	h.mu.Unlock()
	go h.catchUp(sub, b[n:], next)
}

// catchUp writes a slow subscriber's backlog, each write within the stream write
// timeout, until it has everything, then gives it back to the hub.
func (h *hub) catchUp(sub *hubSub, rest []byte, next int) {
	for {
		_ = sub.conn.SetWriteDeadline(time.Now().Add(h.s.cfg.StreamWriteTimeout))
		if _, err := sub.conn.Write(rest); err != nil {
			h.remove(sub, err)
			return
		}
		h.mu.Lock()
		sub.pos, sub.last = next, time.Now()
		b, top, lag := h.pendingLocked(sub, nil)
		switch {
		case lag:
			h.mu.Unlock()
			h.remove(sub, os.ErrDeadlineExceeded)
			return
		case b != nil:
			h.mu.Unlock()
			rest, next = b, top
			continue
		case h.ended:
			end := h.end
			h.mu.Unlock()
			if end != nil {
				_ = sub.conn.SetWriteDeadline(time.Now().Add(h.s.cfg.StreamWriteTimeout))
				_, _ = sub.conn.Write(end)
			}
			h.remove(sub, nil)
			h.signal() // the hub may have no one left
			return
		}
		sub.slow = false
		h.mu.Unlock()
		return
	}
}

// idle sends a keep-alive to the subscribers silent for longer than silence and drops
// those whose client has gone.
func (h *hub) idle(silence time.Duration) {
	now := time.Now()
	h.mu.Lock()
	var quiet, check []*hubSub
	for sub := range h.subs {
		if sub.slow {
			continue
		}
		check = append(check, sub)
		if now.Sub(sub.last) >= silence {
			quiet = append(quiet, sub)
		}
	}
	h.mu.Unlock()
	for _, sub := range check {
		if peerClosed(sub.conn) {
			h.remove(sub, nil)
		}
	}
	keepAlive := []byte(": keep-alive\n\n")
	for _, sub := range quiet {
		h.mu.Lock()
		gone, slow, pos := sub.gone, sub.slow, sub.pos
		h.mu.Unlock()
		if !gone && !slow {
			h.writeTo(sub, keepAlive, pos, now)
		}
	}
}

// remove closes a subscriber's connection; err is why (a timeout counts as dropped).
func (h *hub) remove(sub *hubSub, err error) {
	h.mu.Lock()
	if sub.gone {
		h.mu.Unlock()
		return
	}
	sub.gone = true
	delete(h.subs, sub)
	h.mu.Unlock()
	_ = sub.conn.Close()
	h.s.metrics.sseSubscribers.WithLabelValues(h.kind).Dec()
	if err != nil {
		h.s.streamError(h.kind, err)
	}
}

// closeLocked takes the hub out of the registry so that the next subscriber starts a
// new one.
func (h *hub) closeLocked() {
	if h.closed {
		return
	}
	h.closed = true
	h.cancel()
}

// stop ends the hub: its source stops and every remaining subscriber is closed (they
// reconnect and resume).
func (h *hub) stop() {
	h.s.hubs.mu.Lock()
	if h.s.hubs.m[h.key] == h {
		delete(h.s.hubs.m, h.key)
	}
	h.mu.Lock()
	h.closeLocked()
	subs := make([]*hubSub, 0, len(h.subs))
	for sub := range h.subs {
		subs = append(subs, sub)
	}
	h.mu.Unlock()
	h.s.hubs.mu.Unlock()
	for _, sub := range subs {
		h.remove(sub, nil)
	}
}

// hijackJobStream serves a job's event stream on a taken-over connection.
func (s *Server) hijackJobStream(c echo.Context, a platform.Actor, svc, job string, after int64) error {
	conn, err := s.hijackStream(c)
	if err != nil {
		return nil
	}
	key := streamJob + "\x00" + a.Tenant + "\x00" + svc + "\x00" + job
	err = s.joinHub(streamJob, key, 0, &hubSub{conn: conn, after: after}, func(h *hub) error {
		seq, err := s.p.FollowJob(h.ctx, a, svc, job, 0)
		if err != nil {
			return err
		}
		go h.followJob(seq, a, svc, job)
		return nil
	})
	if err != nil {
		conn.Close()
	}
	return nil
}

// followJob feeds the hub with the job's events, each encoded once, then its end.
func (h *hub) followJob(seq func(func(engine.Event) bool), a platform.Actor, svc, job string) {
	for ev := range seq {
		data, err := json.Marshal(wireEvent(ev))
		if err != nil {
			continue
		}
		h.add(frame(strconv.FormatInt(ev.Seq, 10), string(ev.Type), data), ev.Seq)
	}
	if h.ctx.Err() != nil {
		return
	}
	info, err := h.s.p.GetJob(h.ctx, a, svc, job, false)
	if err != nil || !info.State.Final() {
		h.finish(nil) // not known to be over: the clients reconnect and resume
		return
	}
	data, _ := json.Marshal(wireJob(info))
	h.finish(frame("", apiv1.SSEEnd, data))
}

// hijackTenantStream serves a tenant's status stream on a taken-over connection.
func (s *Server) hijackTenantStream(c echo.Context, a platform.Actor) error {
	conn, err := s.hijackStream(c)
	if err != nil {
		return nil
	}
	key := streamTenant + "\x00" + a.Tenant
	err = s.joinHub(streamTenant, key, tenantBacklog, &hubSub{conn: conn}, func(h *hub) error {
		sub, err := s.p.Subscribe(a)
		if err != nil {
			return err
		}
		go h.followTenant(sub)
		return nil
	})
	if err != nil {
		conn.Close()
	}
	return nil
}

// followTenant feeds the hub with the tenant's status events, each encoded once. When
// the broker drops the hub (it fell behind) its subscribers are closed and reconnect.
func (h *hub) followTenant(sub *platform.Subscription) {
	defer sub.Close()
	for {
		select {
		case ev, ok := <-sub.C:
			if !ok {
				h.mu.Lock()
				h.dropped = sub.Dropped()
				h.mu.Unlock()
				h.finish(nil)
				return
			}
			data, err := json.Marshal(ev)
			if err != nil {
				continue
			}
			h.add(frame("", apiv1.SSEStatus, data), 0)
		case <-h.ctx.Done():
			return
		}
	}
}
