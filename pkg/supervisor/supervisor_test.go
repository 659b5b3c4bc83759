package supervisor

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spawnit/spawnit/engine"
)

// fakePlatform records calls; checks take a little time so concurrency shows.
type fakePlatform struct {
	mu      sync.Mutex
	targets []Target
	checks  map[engine.ServiceRef][]time.Time
	busy    map[engine.ServiceRef]bool
	failing map[engine.ServiceRef]bool
	expired map[engine.ServiceRef]int
	// status is what checks report (in_sync when unset); health and remediated count
	// calls.
	status       map[engine.ServiceRef]engine.ServiceStatus
	health       map[engine.ServiceRef]int
	remediated   map[engine.ServiceRef]int
	remediateErr error
	expireErr    error
	running      atomic.Int32
	maxActive    atomic.Int32
}

func newFake(n int) *fakePlatform {
	f := &fakePlatform{checks: map[engine.ServiceRef][]time.Time{}, busy: map[engine.ServiceRef]bool{},
		failing: map[engine.ServiceRef]bool{}, expired: map[engine.ServiceRef]int{},
		status: map[engine.ServiceRef]engine.ServiceStatus{}, health: map[engine.ServiceRef]int{}, remediated: map[engine.ServiceRef]int{}}
	for i := range n {
		f.targets = append(f.targets, Target{Ref: engine.ServiceRef{Client: "c", Service: fmt.Sprintf("s%d", i)}, Provider: "aws", Intent: engine.IntentApplied})
	}
	return f
}

func (f *fakePlatform) Targets(context.Context) ([]Target, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Target(nil), f.targets...), nil
}

func (f *fakePlatform) Check(ctx context.Context, ref engine.ServiceRef) (*engine.DriftReport, error) {
	n := f.running.Add(1)
	defer f.running.Add(-1)
	for {
		m := f.maxActive.Load()
		if n <= m || f.maxActive.CompareAndSwap(m, n) {
			break
		}
	}
	time.Sleep(20 * time.Millisecond)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.checks[ref] = append(f.checks[ref], time.Now())
	if f.busy[ref] {
		return nil, fmt.Errorf("drift: %w", engine.ErrLocked)
	}
	if f.failing[ref] {
		return nil, fmt.Errorf("tofu exploded")
	}
	if st, ok := f.status[ref]; ok {
		return &engine.DriftReport{Status: st}, nil
	}
	return &engine.DriftReport{Status: engine.StatusInSync}, nil
}

func (f *fakePlatform) Record(context.Context, engine.ServiceRef, engine.DriftReport) error {
	return nil
}

func (f *fakePlatform) Expire(_ context.Context, ref engine.ServiceRef) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, t := range f.targets {
		if t.Ref == ref && t.Intent != engine.IntentApplied {
			return fmt.Errorf("already destroyed: %w", ErrNotDue) // as the platform reads it
		}
	}
	f.expired[ref]++
	if f.expireErr != nil {
		return f.expireErr
	}
	for i := range f.targets {
		if f.targets[i].Ref == ref {
			f.targets[i].Intent = engine.IntentDestroyed
		}
	}
	return nil
}

func (f *fakePlatform) Health(_ context.Context, ref engine.ServiceRef) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.health[ref]++
	return nil
}

func (f *fakePlatform) Remediate(_ context.Context, ref engine.ServiceRef) (<-chan struct{}, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.remediateErr != nil {
		return nil, f.remediateErr
	}
	f.remediated[ref]++
	done := make(chan struct{})
	close(done)
	return done, nil
}

func (f *fakePlatform) count(ref engine.ServiceRef) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.checks[ref])
}

func run(t *testing.T, cfg Config, f *fakePlatform, d time.Duration) *Supervisor {
	t.Helper()
	s := New(cfg, f)
	s.docker = nil // these tests are about scheduling only
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if err := s.Run(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSpreadAfterStartAndConcurrencyCap(t *testing.T) {
	f := newFake(40)
	run(t, Config{Interval: 2 * time.Second, Concurrency: 3, Refresh: time.Second}, f, 2500*time.Millisecond)
	var firsts []time.Time
	for _, tg := range f.targets {
		c := f.checks[tg.Ref]
		if len(c) == 0 {
			t.Fatalf("%s never checked within one interval", tg.Ref)
		}
		firsts = append(firsts, c[0])
	}
	// Spread: not all in the same 200 ms.
	lo, hi := firsts[0], firsts[0]
	for _, ts := range firsts {
		if ts.Before(lo) {
			lo = ts
		}
		if ts.After(hi) {
			hi = ts
		}
	}
	if hi.Sub(lo) < time.Second {
		t.Fatalf("first checks bunched within %s", hi.Sub(lo))
	}
	if m := f.maxActive.Load(); m > 3 {
		t.Fatalf("%d checks at once, cap 3", m)
	}
}

func TestBusyRetriesSoonAndFailuresBackOff(t *testing.T) {
	f := newFake(3)
	busy, failing, ok := f.targets[0].Ref, f.targets[1].Ref, f.targets[2].Ref
	f.busy[busy], f.failing[failing] = true, true
	s := run(t, Config{Interval: 300 * time.Millisecond, BusyRetry: 100 * time.Millisecond, MaxBackoff: 10 * time.Second, Refresh: time.Second}, f, 2*time.Second)
	nb, nf, nok := f.count(busy), f.count(failing), f.count(ok)
	if nb < 8 {
		t.Fatalf("busy service retried %d times in 2s (retry every ~100ms)", nb)
	}
	// Back-off doubles: 200ms, 400ms, 800ms, 1.6s... → at most ~4 tries in 2 s.
	if nf > 5 || nf < 2 {
		t.Fatalf("failing service checked %d times: no back-off", nf)
	}
	if nok < 4 {
		t.Fatalf("healthy service checked %d times (interval 300ms)", nok)
	}
	st := s.Stats()
	if st.Busy == 0 || st.Failures == 0 || st.FullChecks == 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestCheckSoonDebounces(t *testing.T) {
	f := newFake(1)
	ref := f.targets[0].Ref
	s := New(Config{Interval: time.Hour, Debounce: 150 * time.Millisecond, Refresh: time.Hour}, f)
	s.docker = nil
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	go func() {
		time.Sleep(100 * time.Millisecond) // after the first refresh
		for range 5 {
			s.CheckSoon(ref)
			time.Sleep(30 * time.Millisecond)
		}
	}()
	_ = s.Run(ctx)
	// The start schedules the first check within the hour; the burst adds exactly one.
	if n := f.count(ref); n != 1 {
		t.Fatalf("%d checks after a burst of 5 events, want 1", n)
	}
}

func TestExpiryDestroysOnce(t *testing.T) {
	f := newFake(2)
	past := time.Now().Add(-time.Minute)
	f.targets[0].Expires = &past
	run(t, Config{Interval: 200 * time.Millisecond, Refresh: 100 * time.Millisecond}, f, 1500*time.Millisecond)
	if f.expired[f.targets[0].Ref] != 1 {
		t.Fatalf("expired %d times", f.expired[f.targets[0].Ref])
	}
	if f.expired[f.targets[1].Ref] != 0 {
		t.Fatal("a service without expiry was destroyed")
	}
}

func TestAutoRemediationIsRateLimited(t *testing.T) {
	f := newFake(3)
	auto, manual, fine := f.targets[0].Ref, f.targets[1].Ref, f.targets[2].Ref
	f.targets[0].AutoRemediate, f.targets[2].AutoRemediate = true, true
	f.status[auto], f.status[manual] = engine.StatusMissing, engine.StatusDrifted
	s := run(t, Config{Interval: 100 * time.Millisecond, RemediateEvery: time.Second, Refresh: time.Second}, f, 2500*time.Millisecond)
	if n := f.count(auto); n < 10 {
		t.Fatalf("drifted service checked %d times", n)
	}
	// Checked every ~100 ms, remediated at most once a second: 2 or 3 times in 2.5 s.
	if n := f.remediated[auto]; n < 2 || n > 3 {
		t.Fatalf("remediated %d times in 2.5s (at most once a second)", n)
	}
	if f.remediated[manual] != 0 || f.remediated[fine] != 0 {
		t.Fatalf("remediated without auto_remediate (%d) or without drift (%d)", f.remediated[manual], f.remediated[fine])
	}
	if st := s.Stats(); st.Remediations != f.remediated[auto] {
		t.Fatalf("stats %+v", st)
	}

	// Nothing started (no longer due, or busy): the next check may try again at once.
	f2 := newFake(1)
	f2.targets[0].AutoRemediate = true
	f2.status[f2.targets[0].Ref] = engine.StatusMissing
	f2.remediateErr = fmt.Errorf("turned off: %w", ErrNotDue)
	run(t, Config{Interval: 100 * time.Millisecond, RemediateEvery: time.Hour, Refresh: time.Second}, f2, time.Second)
	if n := f2.count(f2.targets[0].Ref); n < 5 {
		t.Fatalf("checked %d times", n)
	}
}

func TestHealthFollowsFullChecksOfDockerServices(t *testing.T) {
	f := newFake(3)
	f.targets[0].Provider, f.targets[1].Provider = "docker", "docker"
	f.targets[1].Intent = engine.IntentDestroyed
	run(t, Config{Interval: 200 * time.Millisecond, Refresh: time.Second}, f, time.Second)
	if f.health[f.targets[0].Ref] == 0 || f.health[f.targets[0].Ref] != f.count(f.targets[0].Ref) {
		t.Fatalf("deployed docker service: %d health probes for %d checks", f.health[f.targets[0].Ref], f.count(f.targets[0].Ref))
	}
	if f.health[f.targets[1].Ref] != 0 || f.health[f.targets[2].Ref] != 0 {
		t.Fatal("health probed for a destroyed service or another target")
	}
}

func TestExpiryIsOnTime(t *testing.T) {
	f := newFake(1)
	soon := time.Now().Add(300 * time.Millisecond)
	f.targets[0].Expires = &soon
	start := time.Now()
	s := New(Config{Interval: time.Hour, Refresh: time.Hour}, f)
	s.docker = nil
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = s.Run(ctx); close(done) }()
	for f.expiredCount(f.targets[0].Ref) == 0 && time.Since(start) < 3*time.Second {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	if f.expired[f.targets[0].Ref] != 1 || time.Since(start) > time.Second {
		t.Fatalf("expired %d times after %s, want once, on time (interval 1h)", f.expired[f.targets[0].Ref], time.Since(start))
	}

	// An expiry moved since the listing: no failure, no busy loop.
	f2 := newFake(1)
	past := time.Now().Add(-time.Minute)
	f2.targets[0].Expires = &past
	f2.expireErr = fmt.Errorf("moved: %w", ErrNotDue)
	s2 := run(t, Config{Interval: time.Hour, Refresh: 300 * time.Millisecond}, f2, time.Second)
	if n := f2.expired[f2.targets[0].Ref]; n < 1 || n > 4 {
		t.Fatalf("Expire called %d times in 1s (once per refresh at most)", n)
	}
	if st := s2.Stats(); st.Failures != 0 || st.Expired != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestNewIntentMeansCheckSoon(t *testing.T) {
	f := newFake(1)
	ref := f.targets[0].Ref
	s := New(Config{Interval: time.Hour, Refresh: 100 * time.Millisecond, Debounce: 10 * time.Millisecond}, f)
	s.docker = nil
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	go func() {
		time.Sleep(300 * time.Millisecond)
		f.mu.Lock()
		f.targets[0].IntentJob = "job-2" // a user's apply succeeded
		f.mu.Unlock()
	}()
	_ = s.Run(ctx)
	// The start schedules one check within the hour; the new intent brings one now.
	if n := f.count(ref); n < 1 {
		t.Fatalf("%d checks after the intent changed", n)
	}
}

func (f *fakePlatform) expiredCount(ref engine.ServiceRef) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.expired[ref]
}

func TestTurningAutoRemediationOnActsSoon(t *testing.T) {
	f := newFake(1)
	ref := f.targets[0].Ref
	f.status[ref] = engine.StatusMissing
	s := New(Config{Interval: time.Hour, Refresh: 100 * time.Millisecond}, f)
	s.docker = nil
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.Prime(ctx); err != nil { // checked once: missing, next check within the hour
		t.Fatal(err)
	}
	go func() {
		time.Sleep(200 * time.Millisecond)
		f.mu.Lock()
		f.targets[0].AutoRemediate = true
		f.mu.Unlock()
	}()
	_ = s.Run(ctx)
	if n := f.remediated[ref]; n != 1 {
		t.Fatalf("remediated %d times after auto_remediate was turned on, want once at once", n)
	}
}
