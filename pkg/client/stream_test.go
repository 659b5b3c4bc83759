package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spawnit/spawnit"
	"github.com/spawnit/spawnit/pkg/apiv1"
)

// jobEvents makes n numbered log events.
func jobEvents(n int) []apiv1.Event {
	evs := make([]apiv1.Event, n)
	for i := range evs {
		evs[i] = apiv1.Event{Seq: int64(i + 1), Type: spawnit.EventLog, Message: fmt.Sprintf("line %d", i+1)}
	}
	return evs
}

func sseHeaders(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(200)
}

func writeEvent(w http.ResponseWriter, ev apiv1.Event) {
	data, _ := json.Marshal(ev)
	fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", ev.Seq, ev.Type, data)
	w.(http.Flusher).Flush()
}

func writeEnd(w http.ResponseWriter) {
	fmt.Fprint(w, "event: end\ndata: {}\n\n")
	w.(http.Flusher).Flush()
}

// lastEventID is where a request resumes.
func lastEventID(r *http.Request) int64 {
	n, _ := strconv.ParseInt(r.Header.Get("Last-Event-ID"), 10, 64)
	return n
}

func collect(t *testing.T, seq func(func(apiv1.Event, error) bool)) ([]int64, error) {
	t.Helper()
	var got []int64
	for ev, err := range seq {
		if err != nil {
			return got, err
		}
		got = append(got, ev.Seq)
	}
	return got, nil
}

func checkSeqs(t *testing.T, got []int64, from, to int64) {
	t.Helper()
	if int64(len(got)) != to-from+1 {
		t.Fatalf("got %d events %v, want %d..%d", len(got), got, from, to)
	}
	for i, s := range got {
		if s != from+int64(i) {
			t.Fatalf("event %d has seq %d, want %d (got %v)", i, s, from+int64(i), got)
		}
	}
}

// The server drops the first connection in the middle of an event, and on the second
// replays an event the client already has: the client sees every event once, in order.
func TestFollowJobReconnectsWithoutGapOrDuplicate(t *testing.T) {
	events := jobEvents(10)
	rec := &recorder{}
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn := rec.add(r)
		if r.Header.Get("Accept") != "text/event-stream" {
			http.Error(w, "want SSE", 406)
			return
		}
		after := lastEventID(r)
		sseHeaders(w)
		switch conn {
		case 1:
			for _, ev := range events[:4] {
				writeEvent(w, ev)
			}
			// Half of event 5, then the connection breaks.
			fmt.Fprint(w, "id: 5\nevent: log\ndata: {\"seq\":5,\"ty")
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		default:
			// A server may replay from a little earlier than asked; the client skips it.
			for _, ev := range events[after-1:] {
				writeEvent(w, ev)
			}
			writeEnd(w)
		}
	}))
	got, err := collect(t, c.FollowJob(t.Context(), "web", "j1", 0))
	if err != nil {
		t.Fatal(err)
	}
	checkSeqs(t, got, 1, 10)
	reqs := rec.all()
	if len(reqs) != 2 || reqs[0].header.Get("Last-Event-ID") != "" || reqs[1].header.Get("Last-Event-ID") != "4" {
		t.Fatalf("requests %+v, want two, the second resuming after 4", reqs)
	}
	if reqs[0].path != "/api/v1/services/web/jobs/j1/events" {
		t.Fatalf("path %s", reqs[0].path)
	}
}

// A connection ended cleanly (the server disconnected a slow reader) is resumed too,
// and a start position given by the caller is honoured.
func TestFollowJobResumesAfterCleanClose(t *testing.T) {
	events := jobEvents(6)
	rec := &recorder{}
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn := rec.add(r)
		after := lastEventID(r)
		sseHeaders(w)
		fmt.Fprint(w, ": keep-alive\n\n")
		if conn == 1 {
			writeEvent(w, events[after])
			return
		}
		for _, ev := range events[after:] {
			writeEvent(w, ev)
		}
		writeEnd(w)
	}))
	got, err := collect(t, c.FollowJob(t.Context(), "web", "j1", 2))
	if err != nil {
		t.Fatal(err)
	}
	checkSeqs(t, got, 3, 6)
	if reqs := rec.all(); reqs[0].header.Get("Last-Event-ID") != "2" || reqs[1].header.Get("Last-Event-ID") != "3" {
		t.Fatalf("Last-Event-ID %q then %q", reqs[0].header.Get("Last-Event-ID"), reqs[1].header.Get("Last-Event-ID"))
	}
}

// A connection that skips events is abandoned and the missing ones asked again.
func TestFollowJobRefetchesAGap(t *testing.T) {
	events := jobEvents(5)
	rec := &recorder{}
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn := rec.add(r)
		after := lastEventID(r)
		sseHeaders(w)
		if conn == 1 {
			writeEvent(w, events[0])
			writeEvent(w, events[1])
			writeEvent(w, events[3]) // 3 is missing
			writeEnd(w)
			return
		}
		for _, ev := range events[after:] {
			writeEvent(w, ev)
		}
		writeEnd(w)
	}))
	got, err := collect(t, c.FollowJob(t.Context(), "web", "j1", 0))
	if err != nil {
		t.Fatal(err)
	}
	checkSeqs(t, got, 1, 5)
	if reqs := rec.all(); len(reqs) != 2 || reqs[1].header.Get("Last-Event-ID") != "2" {
		t.Fatalf("requests %+v", reqs)
	}
}

func TestFollowJobStopsOnContextCancel(t *testing.T) {
	handlerDone := make(chan struct{})
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(handlerDone)
		sseHeaders(w)
		writeEvent(w, jobEvents(1)[0])
		<-r.Context().Done() // the job runs on; the client goes away
	}))
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var got []int64
	var gotErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev, err := range c.FollowJob(ctx, "web", "j1", 0) {
			if err != nil {
				gotErr = err
				continue // the iterator must end by itself after its error
			}
			got = append(got, ev.Seq)
			cancel()
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("FollowJob did not stop after the context was cancelled")
	}
	if len(got) != 1 || !errors.Is(gotErr, context.Canceled) {
		t.Fatalf("got %v, err %v", got, gotErr)
	}
	select {
	case <-handlerDone:
	case <-time.After(10 * time.Second):
		t.Fatal("the connection was not closed")
	}
}

func TestFollowJobBreakClosesTheConnection(t *testing.T) {
	handlerDone := make(chan struct{})
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(handlerDone)
		sseHeaders(w)
		for _, ev := range jobEvents(3) {
			writeEvent(w, ev)
		}
		<-r.Context().Done()
	}))
	for ev, err := range c.FollowJob(t.Context(), "web", "j1", 0) {
		if err != nil || ev.Seq == 2 {
			break
		}
	}
	select {
	case <-handlerDone:
	case <-time.After(10 * time.Second):
		t.Fatal("the connection was not closed after break")
	}
}

func TestFollowJobDoesNotRetryNotFound(t *testing.T) {
	rec := &recorder{}
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.add(r)
		apiErr(w, 404, apiv1.CodeNotFound, "job j9 not found")
	}))
	_, err := collect(t, c.FollowJob(t.Context(), "web", "j9", 0))
	if !IsNotFound(err) || len(rec.all()) != 1 {
		t.Fatalf("err %v after %d requests", err, len(rec.all()))
	}
}

func TestFollowJobGivesUpAfterAttempts(t *testing.T) {
	rec := &recorder{}
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.add(r)
		panic(http.ErrAbortHandler)
	}))
	_, err := collect(t, c.FollowJob(t.Context(), "web", "j1", 0))
	if err == nil || !strings.Contains(err.Error(), "after 4 attempts") || len(rec.all()) != 4 {
		t.Fatalf("err %v after %d requests", err, len(rec.all()))
	}
}

// A connection that goes silent (no keep-alive) is treated as dead and replaced.
func TestFollowJobReplacesASilentConnection(t *testing.T) {
	rec := &recorder{}
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn := rec.add(r)
		sseHeaders(w)
		if conn == 1 {
			w.(http.Flusher).Flush()
			<-r.Context().Done()
			return
		}
		for _, ev := range jobEvents(2) {
			writeEvent(w, ev)
		}
		writeEnd(w)
	}))
	c.idleTimeout = 500 * time.Millisecond // far above a pause between two writes of a loaded machine
	got, err := collect(t, c.FollowJob(t.Context(), "web", "j1", 0))
	if err != nil {
		t.Fatal(err)
	}
	checkSeqs(t, got, 1, 2)
}

func TestFollowJobRejectsANonStream(t *testing.T) {
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<html>login</html>"))
	}))
	_, err := collect(t, c.FollowJob(t.Context(), "web", "j1", 0))
	if err == nil || !strings.Contains(err.Error(), "instead of an event stream") {
		t.Fatalf("err = %v", err)
	}
}

func TestEventsResumesWithLastEventID(t *testing.T) {
	rec := &recorder{}
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn := rec.add(r)
		sseHeaders(w)
		send := func(id string, ev apiv1.StatusEvent) {
			data, _ := json.Marshal(ev)
			fmt.Fprintf(w, "id: %s\nevent: status\ndata: %s\n\n", id, data)
			w.(http.Flusher).Flush()
		}
		if conn == 1 {
			send("a1", apiv1.StatusEvent{Kind: "service", Service: "web", Message: "created"})
			return
		}
		send("a2", apiv1.StatusEvent{Kind: "job", Service: "web", Job: &apiv1.JobRef{ID: "j1", State: spawnit.StateRunning}})
		<-r.Context().Done()
	}))
	var got []apiv1.StatusEvent
	for ev, err := range c.Events(t.Context()) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ev)
		if len(got) == 2 {
			break
		}
	}
	if got[0].Message != "created" || got[1].Job == nil || got[1].Job.ID != "j1" {
		t.Fatalf("got %+v", got)
	}
	if reqs := rec.all(); reqs[0].path != "/api/v1/events" || reqs[1].header.Get("Last-Event-ID") != "a1" {
		t.Fatalf("requests %+v", reqs)
	}
}
