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
	mu        sync.Mutex
	targets   []Target
	checks    map[engine.ServiceRef][]time.Time
	busy      map[engine.ServiceRef]bool
	failing   map[engine.ServiceRef]bool
	expired   map[engine.ServiceRef]int
	running   atomic.Int32
	maxActive atomic.Int32
}

func newFake(n int) *fakePlatform {
	f := &fakePlatform{checks: map[engine.ServiceRef][]time.Time{}, busy: map[engine.ServiceRef]bool{},
		failing: map[engine.ServiceRef]bool{}, expired: map[engine.ServiceRef]int{}}
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
	return &engine.DriftReport{Status: engine.StatusInSync}, nil
}

func (f *fakePlatform) Record(context.Context, engine.ServiceRef, engine.DriftReport) error {
	return nil
}

func (f *fakePlatform) Expire(_ context.Context, ref engine.ServiceRef) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.expired[ref]++
	for i := range f.targets {
		if f.targets[i].Ref == ref {
			f.targets[i].Intent = engine.IntentDestroyed
		}
	}
	return nil
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
