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
	watched []Watched
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
	// hold, when set, keeps every check waiting until it is closed; started is told
	// when a check begins.
	hold    chan struct{}
	started chan struct{}
}

func newFake(n int) *fakePlatform {
	f := &fakePlatform{checks: map[engine.ServiceRef][]time.Time{}, busy: map[engine.ServiceRef]bool{},
		failing: map[engine.ServiceRef]bool{}, expired: map[engine.ServiceRef]int{},
		status: map[engine.ServiceRef]engine.ServiceStatus{}, health: map[engine.ServiceRef]int{}, remediated: map[engine.ServiceRef]int{}}
	for i := range n {
		f.watched = append(f.watched, Watched{Ref: engine.ServiceRef{Client: "c", Service: fmt.Sprintf("s%d", i)}, Target: "aws", Intent: engine.IntentApplied})
	}
	return f
}

func (f *fakePlatform) Watched(context.Context) ([]Watched, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Watched(nil), f.watched...), nil
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
	if f.hold != nil {
		f.started <- struct{}{}
		<-f.hold
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
	for _, t := range f.watched {
		if t.Ref == ref && t.Intent != engine.IntentApplied {
			return fmt.Errorf("already destroyed: %w", ErrNotDue) // as the platform reads it
		}
	}
	f.expired[ref]++
	if f.expireErr != nil {
		return f.expireErr
	}
	for i := range f.watched {
		if f.watched[i].Ref == ref {
			f.watched[i].Intent = engine.IntentDestroyed
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

func (f *fakePlatform) Remediate(_ context.Context, ref engine.ServiceRef) (string, <-chan struct{}, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.remediateErr != nil {
		return "", nil, f.remediateErr
	}
	f.remediated[ref]++
	done := make(chan struct{})
	close(done)
	return fmt.Sprintf("remediation-%d", f.remediated[ref]), done, nil
}

func (f *fakePlatform) count(ref engine.ServiceRef) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.checks[ref])
}

func (f *fakePlatform) remediatedCount(ref engine.ServiceRef) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.remediated[ref]
}

func (f *fakePlatform) healthCount(ref engine.ServiceRef) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.health[ref]
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

// patience bounds every wait on the supervisor: far above what any of these tests
// needs, so that a loaded CI machine (a 2-core runner, -race, Docker and OpenTofu busy
// next door) slows them down instead of failing them.
const patience = 60 * time.Second

// runUntil runs a new supervisor until cond holds and at least least has passed (cond
// is polled), or until patience runs out; it returns the supervisor and how long it
// ran. Assertions that bound what happens in a time are then made against that
// measured time, not against the time the test meant to run.
func runUntil(t *testing.T, cfg Config, f *fakePlatform, least time.Duration, cond func() bool) (*Supervisor, time.Duration) {
	t.Helper()
	s := New(cfg, f)
	s.docker = nil // these tests are about scheduling only
	return s, runSupervisor(t, s, least, cond)
}

// runSupervisor is runUntil for a supervisor the test made (and perhaps primed).
func runSupervisor(t *testing.T, s *Supervisor, least time.Duration, cond func() bool) time.Duration {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := time.Now()
	errc := make(chan error, 1)
	go func() { errc <- s.Run(ctx) }()
	if !waitFor(least, patience, cond) {
		cancel()
		<-errc
		t.Fatalf("condition not met after %s", time.Since(start).Round(time.Millisecond))
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	return time.Since(start)
}

// waitFor polls cond until it holds and at least least has passed; false when it still
// does not hold after max.
func waitFor(least, max time.Duration, cond func() bool) bool {
	start := time.Now()
	for {
		ok := cond()
		if ok && time.Since(start) >= least {
			return true
		}
		if !ok && time.Since(start) > max {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// watched reports whether the supervisor has read ref from the platform yet.
func watched(s *Supervisor, ref engine.ServiceRef) func() bool {
	return func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		_, ok := s.watches[ref]
		return ok
	}
}

func TestSpreadAfterStartAndConcurrencyCap(t *testing.T) {
	f := newFake(40)
	allChecked := func() bool {
		for _, tg := range f.watched {
			if f.count(tg.Ref) == 0 {
				return false
			}
		}
		return true
	}
	// Run until every service was checked once (each first check is due within the 2 s
	// interval; a loaded machine may take longer to get to them).
	_, took := runUntil(t, Config{Interval: 2 * time.Second, Concurrency: 3, Refresh: time.Second}, f, 0, allChecked)
	t.Logf("every service checked once after %s", took.Round(time.Millisecond))
	var firsts []time.Time
	for _, tg := range f.watched {
		firsts = append(firsts, f.checks[tg.Ref][0])
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
	busy, failing, ok := f.watched[0].Ref, f.watched[1].Ref, f.watched[2].Ref
	f.busy[busy], f.failing[failing] = true, true
	// At least 2 s, and until the busy service was retried 8 times (every ~100ms), the
	// healthy one checked 4 times (every ~300ms) and the failing one retried once: a
	// loaded machine may need longer than 2 s for that.
	s, took := runUntil(t, Config{Interval: 300 * time.Millisecond, BusyRetry: 100 * time.Millisecond, MaxBackoff: 10 * time.Second, Refresh: time.Second}, f,
		2*time.Second, func() bool { return f.count(busy) >= 8 && f.count(ok) >= 4 && f.count(failing) >= 2 })
	nb, nf, nok := f.count(busy), f.count(failing), f.count(ok)
	// Rates, against the time the run took: the healthy service about every 300ms (at
	// least every 900ms even when loaded), the busy one well over one and a half times
	// as often (every ~100ms plus the check; with the interval instead it would be as
	// often).
	if nok < int(took/(900*time.Millisecond)) {
		t.Fatalf("healthy service checked %d times in %s (interval 300ms)", nok, took.Round(time.Millisecond))
	}
	if 2*nb <= 3*nok {
		t.Fatalf("busy service retried %d times while the healthy one was checked %d times (retry every ~100ms, interval 300ms)", nb, nok)
	}
	// Back-off doubles: 200ms, 400ms, 800ms, 1.6s... (less 10 % jitter at most) → the
	// k-th retry comes no sooner than 0.9×200ms×(2^k-1) after the first check: at most
	// ~4 tries in 2 s, and only one more each time the run doubles. Without back-off
	// (retries every ~100ms, as for busy) it would be ten times that.
	maxTries := 1
	for k := 1; time.Duration(float64(200*time.Millisecond)*0.9*float64(int(1)<<k-1)) <= took; k++ {
		maxTries++
	}
	if nf > maxTries+1 || nf < 2 {
		t.Fatalf("failing service checked %d times in %s (back-off allows %d): no back-off", nf, took.Round(time.Millisecond), maxTries)
	}
	t.Logf("in %s: busy %d, failing %d, healthy %d checks", took.Round(time.Millisecond), nb, nf, nok)
	st := s.Stats()
	if st.Busy == 0 || st.Failures == 0 || st.FullChecks == 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestCheckSoonDebounces(t *testing.T) {
	f := newFake(1)
	ref := f.watched[0].Ref
	// The start schedules the first check within the interval: 1000 h, so that it
	// never falls within the test. Events 30 ms apart and a debounce of 1 s: one
	// event's debounce cannot run out before the next one even on a loaded machine.
	const debounce = time.Second
	s := New(Config{Interval: 1000 * time.Hour, Debounce: debounce, Refresh: 1000 * time.Hour}, f)
	s.docker = nil
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { _ = s.Run(ctx); close(done) }()
	if !waitFor(0, patience, watched(s, ref)) { // after the first refresh
		t.Fatal("the supervisor never read its targets")
	}
	for range 5 {
		s.CheckSoon(ref)
		time.Sleep(30 * time.Millisecond)
	}
	if !waitFor(0, patience, func() bool { return f.count(ref) >= 1 }) {
		t.Fatal("no check after a burst of 5 events")
	}
	time.Sleep(2 * debounce) // a second debounced check, if any, would have come by now
	cancel()
	<-done
	if n := f.count(ref); n != 1 {
		t.Fatalf("%d checks after a burst of 5 events, want 1", n)
	}
}

// TestSteadyEventsStillCheck: events that keep coming faster than the debounce (a
// container restarting in a loop) push the check back by a few debounces, not for ever:
// a check runs while they still come.
func TestSteadyEventsStillCheck(t *testing.T) {
	f := newFake(1)
	ref := f.watched[0].Ref
	const debounce = 200 * time.Millisecond
	s := New(Config{Interval: 1000 * time.Hour, Debounce: debounce, Refresh: 1000 * time.Hour}, f)
	s.docker = nil
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { _ = s.Run(ctx); close(done) }()
	if !waitFor(0, patience, watched(s, ref)) {
		t.Fatal("the supervisor never read its targets")
	}
	// Events every 20 ms, a tenth of the debounce, until the check comes.
	checked := waitFor(0, patience, func() bool {
		s.CheckSoon(ref)
		time.Sleep(20 * time.Millisecond) // between events, not an assertion
		return f.count(ref) >= 1
	})
	cancel()
	<-done
	if !checked {
		t.Fatal("no check while events kept coming faster than the debounce")
	}
}

// TestEventDuringCheckRechecks: an event arriving while the service's check runs (which
// may have looked before the change) brings another check as soon as that one ends,
// not an interval later.
func TestEventDuringCheckRechecks(t *testing.T) {
	f := newFake(1)
	ref := f.watched[0].Ref
	f.hold, f.started = make(chan struct{}), make(chan struct{}, 16)
	s := New(Config{Interval: 1000 * time.Hour, Debounce: 10 * time.Millisecond, Refresh: 1000 * time.Hour}, f)
	s.docker = nil
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { _ = s.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	if !waitFor(0, patience, watched(s, ref)) {
		t.Fatal("the supervisor never read its targets")
	}
	s.CheckSoon(ref)
	select {
	case <-f.started:
	case <-time.After(patience):
		t.Fatal("no check after an event")
	}
	events := s.Stats().EventChecks
	s.CheckSoon(ref) // while the check runs
	if !waitFor(0, patience, func() bool { return s.Stats().EventChecks > events }) {
		t.Fatal("the second event was not taken")
	}
	close(f.hold)
	if !waitFor(0, patience, func() bool { return f.count(ref) >= 2 }) {
		t.Fatalf("%d checks: the event that came during a check was lost", f.count(ref))
	}
}

func TestExpiryDestroysOnce(t *testing.T) {
	f := newFake(2)
	past := time.Now().Add(-time.Minute)
	f.watched[0].Expires = &past
	// 1.5 s: several refreshes and checks after the expiry, and until it happened.
	runUntil(t, Config{Interval: 200 * time.Millisecond, Refresh: 100 * time.Millisecond}, f, 1500*time.Millisecond,
		func() bool { return f.expiredCount(f.watched[0].Ref) >= 1 })
	if f.expired[f.watched[0].Ref] != 1 {
		t.Fatalf("expired %d times", f.expired[f.watched[0].Ref])
	}
	if f.expired[f.watched[1].Ref] != 0 {
		t.Fatal("a service without expiry was destroyed")
	}
}

func TestAutoRemediationIsRateLimited(t *testing.T) {
	f := newFake(3)
	auto, manual, fine := f.watched[0].Ref, f.watched[1].Ref, f.watched[2].Ref
	f.watched[0].AutoRemediate, f.watched[2].AutoRemediate = true, true
	f.status[auto], f.status[manual] = engine.StatusMissing, engine.StatusDrifted
	// At least 2.5 s, and until the drifted service was checked 10 times and remediated
	// twice: a loaded machine may need longer.
	s, took := runUntil(t, Config{Interval: 100 * time.Millisecond, RemediateEvery: time.Second, Refresh: time.Second}, f, 2500*time.Millisecond,
		func() bool { return f.count(auto) >= 10 && f.remediatedCount(auto) >= 2 })
	if n := f.count(auto); n < int(took/(500*time.Millisecond)) {
		t.Fatalf("drifted service checked %d times in %s (interval 100ms)", n, took.Round(time.Millisecond))
	}
	// Checked every ~100 ms, remediated at most once a second: 2 or 3 times in 2.5 s,
	// one more for each further second the run took.
	if n, most := f.remediated[auto], int(took/time.Second)+1; n < 2 || n > most {
		t.Fatalf("remediated %d times in %s (at most once a second: %d)", n, took.Round(time.Millisecond), most)
	}
	if f.remediated[manual] != 0 || f.remediated[fine] != 0 {
		t.Fatalf("remediated without auto_remediate (%d) or without drift (%d)", f.remediated[manual], f.remediated[fine])
	}
	if st := s.Stats(); st.Remediations != f.remediated[auto] {
		t.Fatalf("stats %+v", st)
	}

	// Nothing started (no longer due, or busy): the next check may try again at once.
	f2 := newFake(1)
	f2.watched[0].AutoRemediate = true
	f2.status[f2.watched[0].Ref] = engine.StatusMissing
	f2.remediateErr = fmt.Errorf("turned off: %w", ErrNotDue)
	_, took = runUntil(t, Config{Interval: 100 * time.Millisecond, RemediateEvery: time.Hour, Refresh: time.Second}, f2, time.Second,
		func() bool { return f2.count(f2.watched[0].Ref) >= 5 })
	if n := f2.count(f2.watched[0].Ref); n < int(took/(500*time.Millisecond)) {
		t.Fatalf("checked %d times in %s (interval 100ms)", n, took.Round(time.Millisecond))
	}
}

func TestHealthFollowsFullChecksOfDockerServices(t *testing.T) {
	f := newFake(3)
	f.watched[0].Target, f.watched[1].Target = "docker", "docker"
	f.watched[1].Intent = engine.IntentDestroyed
	runUntil(t, Config{Interval: 200 * time.Millisecond, Refresh: time.Second}, f, time.Second,
		func() bool { return f.healthCount(f.watched[0].Ref) >= 1 })
	if f.health[f.watched[0].Ref] == 0 || f.health[f.watched[0].Ref] != f.count(f.watched[0].Ref) {
		t.Fatalf("deployed docker service: %d health probes for %d checks", f.health[f.watched[0].Ref], f.count(f.watched[0].Ref))
	}
	if f.health[f.watched[1].Ref] != 0 || f.health[f.watched[2].Ref] != 0 {
		t.Fatal("health probed for a destroyed service or another target")
	}
}

func TestExpiryIsOnTime(t *testing.T) {
	f := newFake(1)
	soon := time.Now().Add(300 * time.Millisecond)
	f.watched[0].Expires = &soon
	start := time.Now()
	s := New(Config{Interval: time.Hour, Refresh: time.Hour}, f)
	s.docker = nil
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = s.Run(ctx); close(done) }()
	waitFor(0, patience, func() bool { return f.expiredCount(f.watched[0].Ref) > 0 })
	took := time.Since(start)
	cancel()
	<-done
	// Due 300 ms after the start. Without the expiry waking the supervisor it would wait
	// for the next check or refresh, an hour away; 10 s leaves a loaded machine room.
	if f.expired[f.watched[0].Ref] != 1 || took > 10*time.Second {
		t.Fatalf("expired %d times after %s, want once, on time (interval 1h)", f.expired[f.watched[0].Ref], took)
	}

	// An expiry moved since the listing: no failure, no busy loop.
	f2 := newFake(1)
	past := time.Now().Add(-time.Minute)
	f2.watched[0].Expires = &past
	f2.expireErr = fmt.Errorf("moved: %w", ErrNotDue)
	s2 := run(t, Config{Interval: time.Hour, Refresh: 300 * time.Millisecond}, f2, time.Second)
	if n := f2.expired[f2.watched[0].Ref]; n < 1 || n > 4 {
		t.Fatalf("Expire called %d times in 1s (once per refresh at most)", n)
	}
	if st := s2.Stats(); st.Failures != 0 || st.Expired != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestNewIntentMeansCheckSoon(t *testing.T) {
	f := newFake(1)
	ref := f.watched[0].Ref
	// The start schedules one check within the interval, 1000 h: never within the test.
	s := New(Config{Interval: 1000 * time.Hour, Refresh: 100 * time.Millisecond, Debounce: 10 * time.Millisecond}, f)
	s.docker = nil
	took := runSupervisor(t, s, 0, func() bool {
		if !watched(s, ref)() { // the supervisor knows the old intent first
			return false
		}
		f.mu.Lock()
		f.watched[0].IntentJob = "job-2" // a user's apply succeeded
		f.mu.Unlock()
		return f.count(ref) >= 1
	})
	// The new intent brings a check at the next refresh (100 ms), not within the interval.
	t.Logf("checked %s after the start", took.Round(time.Millisecond))
}

func (f *fakePlatform) expiredCount(ref engine.ServiceRef) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.expired[ref]
}

func TestTurningAutoRemediationOnActsSoon(t *testing.T) {
	f := newFake(1)
	ref := f.watched[0].Ref
	f.status[ref] = engine.StatusMissing
	s := New(Config{Interval: 1000 * time.Hour, Refresh: 100 * time.Millisecond, Debounce: 100 * time.Millisecond}, f)
	s.docker = nil
	if err := s.Prime(context.Background()); err != nil { // checked once: missing, next check within the interval
		t.Fatal(err)
	}
	primed := f.count(ref)
	f.mu.Lock()
	f.watched[0].AutoRemediate = true
	f.mu.Unlock()
	// Until the remediation, and the check that follows it (once that job ended): that
	// check finds the service still missing and must leave it alone (RemediateEvery is
	// the interval).
	var remediatedAfter time.Duration
	start := time.Now()
	took := runSupervisor(t, s, 0, func() bool {
		if f.remediatedCount(ref) == 0 {
			return false
		}
		if remediatedAfter == 0 {
			remediatedAfter = time.Since(start)
		}
		return f.count(ref) >= primed+2
	})
	if n := f.remediated[ref]; n != 1 {
		t.Fatalf("remediated %d times after auto_remediate was turned on, want once at once", n)
	}
	// At once: at the next refresh (100 ms), not at the next check (within 1000 h).
	if remediatedAfter > 10*time.Second {
		t.Fatalf("remediated %s after auto_remediate was turned on", remediatedAfter)
	}
	t.Logf("remediated %s after auto_remediate was turned on; ran %s", remediatedAfter.Round(time.Millisecond), took.Round(time.Millisecond))
}

// fakeCluster owns the keys of the services it is told to; safe for concurrent use.
type fakeCluster struct {
	mu    sync.Mutex
	owned map[engine.ServiceRef]bool
}

func (c *fakeCluster) Owns(key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for ref, ok := range c.owned {
		if ok && OwnerKey(ref) == key {
			return true
		}
	}
	return false
}

func (c *fakeCluster) set(ref engine.ServiceRef, owned bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.owned[ref] = owned
}

// TestOnlyOwnedServicesAreSupervised: a replica checks, expires and remediates only
// the services it owns, leaves events about the others, and checks a service it gains
// (its previous owner left) within Handover.
func TestOnlyOwnedServicesAreSupervised(t *testing.T) {
	f := newFake(2)
	mine, theirs := f.watched[0].Ref, f.watched[1].Ref
	past := time.Now().Add(-time.Minute)
	f.watched[0].Expires = &past
	later := time.Now().Add(2 * time.Second) // expires while another replica owns it
	f.watched[1].Expires = &later
	c := &fakeCluster{owned: map[engine.ServiceRef]bool{mine: true}}
	s := New(Config{Interval: 1000 * time.Hour, Refresh: 100 * time.Millisecond, Debounce: 10 * time.Millisecond,
		OwnershipEvery: 20 * time.Millisecond, Handover: 50 * time.Millisecond, Cluster: c}, f)
	s.docker = nil
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = s.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	if !waitFor(0, patience, func() bool { return f.expiredCount(mine) == 1 }) {
		t.Fatal("the owned service did not expire")
	}
	s.CheckSoon(mine)
	s.CheckSoon(theirs)
	if !waitFor(0, patience, func() bool { return f.count(mine) == 1 && s.Stats().NotOwned > 0 && s.Idle() }) {
		t.Fatalf("an event about the owned service: %d checks; stats %+v", f.count(mine), s.Stats())
	}
	if !waitFor(0, patience, func() bool { return time.Now().After(later.Add(500 * time.Millisecond)) }) {
		t.Fatal("unreachable")
	}
	if n, e := f.count(theirs), f.expiredCount(theirs); n != 0 || e != 0 {
		t.Fatalf("another replica's service: %d checks, %d expiries", n, e)
	}

	// Its owner leaves: the service moves here, and its expiry is acted on.
	c.set(theirs, true)
	if !waitFor(0, patience, func() bool { return f.expiredCount(theirs) == 1 }) {
		t.Fatalf("gained service: %d expiries; stats %+v", f.expiredCount(theirs), s.Stats())
	}
	if st := s.Stats(); st.Gained != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestEventsCoalesce: events during a running check bring one follow-up check, and
// only when one came after the check started; events during a remediation are merged
// into the check that follows it.
func TestEventsCoalesce(t *testing.T) {
	f := newFake(1)
	ref := f.watched[0].Ref
	f.hold, f.started = make(chan struct{}), make(chan struct{}, 16)
	s := New(Config{Interval: 1000 * time.Hour, Debounce: 10 * time.Millisecond, Refresh: 1000 * time.Hour}, f)
	s.docker = nil
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = s.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	if !waitFor(0, patience, watched(s, ref)) {
		t.Fatal("the supervisor never read its targets")
	}
	s.CheckSoon(ref)
	<-f.started
	// Three events while the check runs: one follow-up check.
	for range 3 {
		s.CheckSoon(ref)
	}
	if !waitFor(0, patience, func() bool { s.mu.Lock(); defer s.mu.Unlock(); return len(s.urgent) == 0 }) {
		t.Fatal("events not taken")
	}
	s.CheckSoon(ref)
	f.hold <- struct{}{}
	<-f.started // the follow-up
	close(f.hold)
	if !waitFor(0, patience, func() bool { return f.count(ref) == 2 && s.Idle() }) {
		t.Fatalf("%d checks", f.count(ref))
	}
	if n := f.count(ref); n != 2 {
		t.Fatalf("%d checks for events during one check, want 2", n)
	}
}

// TestStoppedServiceIsLeftAlone: a service a user stopped is neither checked, probed
// nor remediated, however drifted its last check found it; once started again it is
// checked soon.
func TestStoppedServiceIsLeftAlone(t *testing.T) {
	f := newFake(2)
	stopped, other := f.watched[0].Ref, f.watched[1].Ref
	for i := range f.watched {
		f.watched[i].Target, f.watched[i].AutoRemediate = "docker", true
	}
	f.watched[0].Stopped = true
	f.status[stopped] = engine.StatusDrifted
	s := New(Config{Interval: 100 * time.Millisecond, Refresh: 100 * time.Millisecond, RemediateEvery: time.Millisecond}, f)
	s.docker = nil
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-errc; err != nil {
			t.Error(err)
		}
	}()
	if !waitFor(0, patience, func() bool { return f.count(other) >= 5 && s.Stats().SkippedStopped >= 3 }) {
		t.Fatalf("the running service was checked %d times, the stopped one skipped %d", f.count(other), s.Stats().SkippedStopped)
	}
	if f.count(stopped) != 0 || f.healthCount(stopped) != 0 || f.remediatedCount(stopped) != 0 {
		t.Fatalf("stopped service: %d checks, %d probes, %d remediations", f.count(stopped), f.healthCount(stopped), f.remediatedCount(stopped))
	}
	f.mu.Lock()
	f.watched[0].Stopped = false
	f.mu.Unlock()
	if !waitFor(0, patience, func() bool { return f.count(stopped) >= 1 && f.remediatedCount(stopped) >= 1 }) {
		t.Fatalf("started again: %d checks, %d remediations", f.count(stopped), f.remediatedCount(stopped))
	}
}
