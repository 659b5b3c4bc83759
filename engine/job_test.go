package engine

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestJobStateMachine(t *testing.T) {
	allowed := []struct{ from, to JobState }{
		{StateQueued, StateRunning}, {StateQueued, StateCancelled}, {StateRunning, StateSucceeded},
		{StateRunning, StateFailed}, {StateRunning, StateCancelling}, {StateCancelling, StateCancelled},
		{StateRunning, StateInterrupted},
	}
	for _, c := range allowed {
		if err := checkTransition(c.from, c.to); err != nil {
			t.Errorf("%s -> %s refused: %v", c.from, c.to, err)
		}
	}
	refused := []struct{ from, to JobState }{
		{StateSucceeded, StateRunning}, {StateFailed, StateSucceeded}, {StateCancelled, StateRunning},
		{StateQueued, StateSucceeded}, {StateQueued, StateCancelling}, {StateInterrupted, StateRunning},
	}
	for _, c := range refused {
		if err := checkTransition(c.from, c.to); !errors.Is(err, ErrInvalidTransition) {
			t.Errorf("%s -> %s allowed", c.from, c.to)
		}
	}
}

func TestJobFinishOnce(t *testing.T) {
	j := newJob(JobInfo{ID: "j", State: StateQueued})
	if err := j.transition(StateRunning, ""); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wins := make(chan JobState, 20)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			to := StateSucceeded
			if i%2 == 0 {
				to = StateCancelled
			}
			if j.finish(to, "") {
				wins <- to
			}
		}()
	}
	wg.Wait()
	close(wins)
	// Until the engine has saved the record and freed the service (Done), the job shows
	// the state it ended from.
	if info := j.Info(); info.State != StateRunning || info.EndedAt != nil {
		t.Fatalf("before Done the job shows %s", info.State)
	}
	j.markDone()
	n := 0
	for s := range wins {
		n++
		if j.Info().State != s {
			t.Fatalf("state %s, winner %s", j.Info().State, s)
		}
	}
	if n != 1 {
		t.Fatalf("%d finishes won, want exactly 1", n)
	}
	finals := 0
	for _, ev := range j.Events(0) {
		if ev.Type == EventJobState && ev.State.Final() {
			finals++
		}
	}
	if finals != 1 {
		t.Fatalf("%d final events", finals)
	}
}

func TestFollowResumesWithoutGapsOrDuplicates(t *testing.T) {
	j := newJob(JobInfo{ID: "j", State: StateQueued})
	_ = j.transition(StateRunning, "")
	go func() {
		for i := range 500 {
			j.emit(Event{Type: EventLog, Message: "line"})
			if i%50 == 0 {
				time.Sleep(time.Millisecond)
			}
		}
		j.finish(StateSucceeded, "")
		j.markDone()
	}()
	// A follower that stops after 100 events, then resumes from the last seq it saw.
	var seen []int64
	ctx := context.Background()
	for ev := range j.Follow(ctx, 0) {
		seen = append(seen, ev.Seq)
		if len(seen) == 100 {
			break
		}
	}
	for ev := range j.Follow(ctx, seen[len(seen)-1]) {
		seen = append(seen, ev.Seq)
	}
	for i, s := range seen {
		if s != int64(i+1) {
			t.Fatalf("event %d has seq %d: gap or duplicate", i, s)
		}
	}
	last := j.Events(0)
	if int64(len(seen)) != last[len(last)-1].Seq || !j.Info().State.Final() {
		t.Fatalf("follower saw %d of %d events", len(seen), last[len(last)-1].Seq)
	}
}

func TestFollowStopsOnContext(t *testing.T) {
	j := newJob(JobInfo{ID: "j", State: StateQueued})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	n := 0
	for range j.Follow(ctx, 0) {
		n++
	}
	if n != 0 || ctx.Err() == nil {
		t.Fatalf("follow returned early: %d events", n)
	}
}

func TestEventLogBounded(t *testing.T) {
	j := newJob(JobInfo{ID: "j", State: StateRunning})
	for range MaxEvents + 100 {
		j.emit(Event{Type: EventLog, Message: "x"})
	}
	j.emit(Event{Type: EventChangeSummary, Summary: &ChangeSummary{Add: 1}})
	evs := j.Events(0)
	if len(evs) > MaxEvents+2 {
		t.Fatalf("%d events kept", len(evs))
	}
	if evs[len(evs)-1].Type != EventChangeSummary {
		t.Fatal("non-log events must be kept past the bound")
	}
	var truncated bool
	for _, ev := range evs {
		truncated = truncated || ev.Type == EventStreamTruncate
	}
	if !truncated {
		t.Fatal("no truncation marker")
	}
	// resuming after the bound still works
	tail := j.Events(evs[len(evs)-2].Seq)
	if len(tail) != 1 || tail[0].Type != EventChangeSummary {
		t.Fatalf("tail %+v", tail)
	}
}

func TestLockerFIFOAndFailFast(t *testing.T) {
	l := newLocker(2, "h", 1)
	ref := ServiceRef{Client: "c", Service: "s"}
	mk := func(id string) *Job { return newJob(JobInfo{ID: id, Service: ref, State: StateQueued}) }
	a, b, c := mk("a"), mk("b"), mk("c")
	for _, j := range []*Job{a, b, c} {
		if p, err := l.enqueue(j, false); err != nil || p != nil {
			t.Fatal(err, p)
		}
	}
	if _, err := l.enqueue(mk("d"), true); !errors.Is(err, ErrLocked) {
		t.Fatalf("fail-fast on a busy service: %v", err)
	}
	if h, ok := l.holder(ref); !ok || h.JobID != "a" || h.Host != "h" || h.PID != 1 {
		t.Fatalf("holder %+v", h)
	}
	l.release(c) // not the holder: no effect
	if h, _ := l.holder(ref); h.JobID != "a" {
		t.Fatal("a non-holder released the lock")
	}
	l.release(a)
	select {
	case <-b.granted:
	default:
		t.Fatal("b not granted after a")
	}
	l.release(a) // twice: no effect
	if h, _ := l.holder(ref); h.JobID != "b" {
		t.Fatal("double release moved the lock")
	}
	if !l.dequeue(c) {
		t.Fatal("c should be removable from the queue")
	}
	l.release(b)
	if l.busy(ref) {
		t.Fatal("service still busy after the queue emptied")
	}
	// other services are independent
	other := newJob(JobInfo{ID: "o", Service: ServiceRef{Client: "c", Service: "t"}})
	if _, err := l.enqueue(other, true); err != nil {
		t.Fatal(err)
	}
}

func TestLockerUserJobPreemptsBackground(t *testing.T) {
	l := newLocker(2, "h", 1)
	ref := ServiceRef{Client: "c", Service: "s"}
	check := newJob(JobInfo{ID: "check", Service: ref, Background: true})
	if _, err := l.enqueue(check, true); err != nil {
		t.Fatal(err)
	}
	queuedUser := newJob(JobInfo{ID: "u1", Service: ref})
	user := newJob(JobInfo{ID: "u2", Service: ref})
	// Another background job never queues.
	other := newJob(JobInfo{ID: "check2", Service: ref, Background: true})
	if _, err := l.enqueue(other, true); !errors.Is(err, ErrLocked) {
		t.Fatal("a second check must not queue")
	}
	if l.busy(ref) {
		t.Fatal("a background check alone must not make the service busy for users")
	}
	if p, err := l.enqueue(queuedUser, true); p != check || err != nil {
		t.Fatalf("a user's fail-fast job must preempt the running check, not fail: %v", err)
	}
	if p, _ := l.enqueue(user, false); p != check {
		t.Fatal("the check is still the holder to stop")
	}
	// The check releasing its lock hands it to the first user job, in order.
	l.release(check)
	if h, _ := l.holder(ref); h.JobID != "u1" {
		t.Fatalf("holder %s, want the first user job", h.JobID)
	}
	// The check cannot release a lock it no longer holds.
	holder, _ := l.holder(ref)
	l.release(check)
	if h, _ := l.holder(ref); h.JobID != holder.JobID {
		t.Fatal("a preempted check released a user's lock")
	}
}

func TestValidateID(t *testing.T) {
	good := []string{"a", "c1", "svc-abc123", "0x"}
	bad := []string{"", "../x", "/etc", "a/b", "a\x00b", "A", "a.b", "-a", "a b", "с1" /* Cyrillic */, "c１", string(make([]byte, 64))}
	for _, id := range good {
		if err := ValidateID(id); err != nil {
			t.Errorf("%q rejected: %v", id, err)
		}
	}
	for _, id := range bad {
		if err := ValidateID(id); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("%q accepted", id)
		}
	}
	long := make([]byte, 64)
	for i := range long {
		long[i] = 'a'
	}
	if ValidateID(string(long)) == nil {
		t.Error("64-character id accepted")
	}
}

func TestFilesValidate(t *testing.T) {
	ok := Files{"main.tf": nil, "modules/x/main.tf": nil, TfvarsFile: nil}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"../x.tf", "/etc/passwd", "a/../../b", ".terraform/x", "spawnit_backend_override.tf.json", "x_override.tf", "override.tf.json", "a\\b", "a\x00", "./a"} {
		if err := (Files{p: nil}).Validate(); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("%q accepted", p)
		}
	}
}
