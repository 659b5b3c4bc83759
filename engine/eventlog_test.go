package engine

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/spawnit/spawnit/internal/testservers"
	"github.com/spawnit/spawnit/pkg/store"
	"github.com/spawnit/spawnit/pkg/store/s3store"
)

// twoLedgers are two processes' ledgers on one store: a runs jobs, b only reads.
func twoLedgers(t testing.TB, st Store) (a, b *ledger) {
	mk := func() *ledger {
		cfg := &Config{Store: st, Host: "h", JobHistory: DefaultJobHistory}
		stop := make(chan struct{})
		t.Cleanup(func() { close(stop) })
		return &ledger{cfg: cfg, log: slog.New(slog.NewTextHandler(io.Discard, nil)), jobs: newJobTable(),
			locks: newLocker(1, "h", 1), records: recordCache{m: map[string]cachedRecord{}}, instance: uuid.NewString(), stop: stop}
	}
	return mk(), mk()
}

// runningJob is a job held by ledger a, its record saved, its events flowing to the store.
func runningJob(t testing.TB, a *ledger) *Job {
	t.Helper()
	ref := ServiceRef{Client: "acme", Service: "web"}
	j := newJob(JobInfo{ID: uuid.NewString(), Operation: OpApply, Service: ref, State: StateQueued, CreatedAt: time.Now(), Host: "h"})
	j.emit(Event{Type: EventJobState, State: StateQueued, Message: "queued"})
	a.jobs.add(j)
	if err := a.saveJob(context.Background(), j); err != nil {
		t.Fatal(err)
	}
	go a.publishEvents(j)
	if err := j.transition(StateRunning, ""); err != nil {
		t.Fatal(err)
	}
	if err := a.saveJob(context.Background(), j); err != nil {
		t.Fatal(err)
	}
	return j
}

// endJob finishes a job the way the scheduler does: final record, then done.
func endJob(t testing.TB, a *ledger, j *Job) {
	t.Helper()
	j.finish(StateSucceeded, "")
	if err := a.saveJob(context.Background(), j); err != nil {
		t.Fatal(err)
	}
	a.jobs.forget(j)
	j.markDone()
}

// TestFollowAnotherProcessesJob: a job run by one ledger is streamed through another
// from the store while it runs, and a follower resuming from the middle gets exactly
// the rest; the chunks are gone once the final record is written.
func TestFollowAnotherProcessesJob(t *testing.T) {
	st, err := store.NewFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a, b := twoLedgers(t, st)
	j := runningJob(t, a)
	ref := j.info.Service
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	seq, err := b.follow(ctx, ref, j.ID(), 0)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []Event
	followed := make(chan struct{})
	go func() {
		defer close(followed)
		for ev := range seq {
			mu.Lock()
			got = append(got, ev)
			mu.Unlock()
		}
	}()
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(got) }
	for i := range 20 {
		j.emit(Event{Type: EventLog, Message: "line", Level: "info", Raw: string(rune('a' + i))})
	}
	// Live: the follower sees them while the job still runs.
	for count() < 22 {
		select {
		case <-ctx.Done():
			t.Fatalf("the follower got %d events of 22 while the job ran", count())
		case <-time.After(20 * time.Millisecond):
		}
	}
	if j.ended() {
		t.Fatal("the job ended before the follower saw its events")
	}
	// Partial loads see the chunks too.
	if _, evs, err := b.LoadJob(ctx, ref, j.ID()); err != nil || len(evs) < 22 {
		t.Fatalf("LoadJob from another process: %d events, %v", len(evs), err)
	}
	for range 5 {
		j.emit(Event{Type: EventLog, Message: "tail", Level: "info"})
	}
	endJob(t, a, j)
	<-followed
	want := j.Events(0)
	checkSeqs(t, got, 1, want[len(want)-1].Seq)
	if got[len(got)-1].State != StateSucceeded {
		t.Fatalf("the last event is %+v, want the final state", got[len(got)-1])
	}

	// Resume from the middle: exactly the rest.
	rest, err := b.follow(ctx, ref, j.ID(), 10)
	if err != nil {
		t.Fatal(err)
	}
	var tail []Event
	for ev := range rest {
		tail = append(tail, ev)
	}
	checkSeqs(t, tail, 11, want[len(want)-1].Seq)

	if objs, err := st.List(ctx, storeKeys(ref).EventChunks(j.ID())); err != nil || len(objs) != 0 {
		t.Fatalf("event chunks left after the final record: %d (%v)", len(objs), err)
	}
}

// TestResumeWhileRunning: a follower of another process's job resuming after n while
// the job runs gets n+1 onwards, whether n is in the record or in a chunk.
func TestResumeWhileRunning(t *testing.T) {
	st, err := store.NewFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a, b := twoLedgers(t, st)
	j := runningJob(t, a)
	for range 30 {
		j.emit(Event{Type: EventLog, Message: "line", Level: "info"})
	}
	a.flushEvents(j)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, after := range []int64{0, 1, 2, 17, 31} {
		sub, cancelSub := context.WithCancel(ctx)
		seq, err := b.follow(sub, j.info.Service, j.ID(), after)
		if err != nil {
			t.Fatal(err)
		}
		var evs []Event
		for ev := range seq {
			evs = append(evs, ev)
			if ev.Seq == 32 {
				cancelSub()
			}
		}
		cancelSub()
		checkSeqs(t, evs, after+1, 32)
	}
	endJob(t, a, j)
}

func checkSeqs(t *testing.T, evs []Event, first, last int64) {
	t.Helper()
	if first > last && len(evs) == 0 {
		return
	}
	if int64(len(evs)) != last-first+1 {
		t.Fatalf("got %d events, want %d..%d", len(evs), first, last)
	}
	for i, ev := range evs {
		if ev.Seq != first+int64(i) {
			t.Fatalf("event %d has seq %d, want %d (a gap or a repeat)", i, ev.Seq, first+int64(i))
		}
	}
}

// BenchmarkLiveEventDelay: how long an event of a job run by one process takes to reach
// a follower in another process sharing the store (a versitygw bucket): p50 and p95, in
// ms and as a share of the flush interval plus the poll interval (the delay the design
// allows: 1 = as slow as both together). The goal is p95 under a second.
func BenchmarkLiveEventDelay(b *testing.B) {
	s3 := testservers.Versitygw(b)
	st, err := s3store.New(context.Background(), s3store.Config{Endpoint: s3.Endpoint, Bucket: "spawnit",
		AccessKey: s3.AccessKey, SecretKey: s3.SecretKey, PathStyle: true})
	if err != nil {
		b.Fatal(err)
	}
	const events = 200
	var delays []time.Duration
	for range b.N {
		a, f := twoLedgers(b, st)
		j := runningJob(b, a)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		seq, err := f.follow(ctx, j.info.Service, j.ID(), j.Info().LastSeq)
		if err != nil {
			b.Fatal(err)
		}
		received := make(chan []time.Duration)
		go func() {
			var d []time.Duration
			for ev := range seq {
				if ev.Type == EventLog {
					d = append(d, time.Since(ev.Time))
				}
			}
			received <- d
		}()
		// Events at a steady 40 per second, as a busy apply produces them.
		for range events {
			j.emit(Event{Type: EventLog, Level: "info", Message: "creating..."})
			time.Sleep(25 * time.Millisecond)
		}
		endJob(b, a, j)
		d := <-received
		cancel()
		if len(d) != events {
			b.Fatalf("the follower got %d of %d events", len(d), events)
		}
		delays = append(delays, d...)
	}
	slices.Sort(delays)
	pct := func(p float64) time.Duration { return delays[int(p*float64(len(delays)-1))] }
	budget := float64(EventFlushInterval + StorePollInterval)
	b.ReportMetric(float64(pct(0.50))/float64(time.Millisecond), "ms-p50-live-event")
	b.ReportMetric(float64(pct(0.95))/float64(time.Millisecond), "ms-p95-live-event")
	b.ReportMetric(float64(pct(0.95))/budget, "live-p95/(flush+poll)")
}

// TestRecoveryKeepsChunkedEvents: a job whose process died keeps the events it had
// written as chunks; the interrupted event follows them, and the chunks go.
func TestRecoveryKeepsChunkedEvents(t *testing.T) {
	e, st := unitEngine(t, false)
	ctx := context.Background()
	ref := ServiceRef{Client: "acme", Service: "web"}
	started := timeNow().Add(-time.Minute)
	id := uuid.NewString()
	evs := func(from, to int64) []Event {
		var out []Event
		for s := from; s <= to; s++ {
			out = append(out, Event{Seq: s, Type: EventLog, Message: "line"})
		}
		return out
	}
	putJSON(t, st, jobKey(ref, id), jobRecord{JobInfo: JobInfo{ID: id, Operation: OpApply, Service: ref, State: StateRunning,
		CreatedAt: started, StartedAt: &started, Host: e.cfg.Host, PID: 1<<22 + 12345, LastSeq: 2}, Events: evs(1, 2)})
	putJSON(t, st, storeKeys(ref).EventChunk(id, 2, 5), evs(2, 5)) // overlaps the record by one
	if fixed, err := e.RecoverInterrupted(ctx); err != nil || len(fixed) != 1 {
		t.Fatalf("recovery: %+v %v", fixed, err)
	}
	info, got, err := e.LoadJob(ctx, ref, id)
	if err != nil || info.State != StateInterrupted {
		t.Fatalf("after recovery: %s %v", info.State, err)
	}
	checkSeqs(t, got, 1, 6)
	if got[5].State != StateInterrupted || info.LastSeq != 6 {
		t.Fatalf("the last event is %+v (last seq %d), want the interrupted state as 6", got[5], info.LastSeq)
	}
	if objs, _ := st.List(ctx, storeKeys(ref).EventChunks(id)); len(objs) != 0 {
		t.Fatalf("%d chunks left after recovery", len(objs))
	}
}
