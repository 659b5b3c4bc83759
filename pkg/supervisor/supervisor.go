// Package supervisor watches every deployed service for drift and expiry.
//
// Checks are scheduled per service with jitter, spread over the first interval after a
// start, capped in concurrency, backed off for services whose checks keep failing, and
// skipped (retried soon) while a user's job holds the service: a check runs as an engine
// background job, which never queues and which a user's job preempts.
//
// For the Docker target (on the engine Config.Docker names: the target's, where tofu
// deploys) two things keep the cost low enough for hundreds of services:
//   - Docker's event stream names the service a container, volume or network event is
//     about (through the labels every catalog module sets), and that service is checked
//     at once (debounced);
//   - the periodic sweep first compares a fingerprint of the service's Docker objects
//     (their whole configuration and running state: one shared listing of containers,
//     volumes, networks and images every few seconds, and an inspect of the due
//     service's containers only) with the one seen at its last full check, and runs
//     the full OpenTofu check only when it differs, or when the deep interval has
//     passed since the last full check: DockerDeepInterval (6h) for a service whose
//     every resource is a Docker object the fingerprint shows in full (every built-in
//     template's), DeepInterval (30m) for one whose plan reads more (a data source,
//     another kind of resource).
//
// So a change made to a Docker object without an event the supervisor saw (an event
// stream that dropped, a replica that was down) is still found within one Interval
// (5m): its fingerprint differs at the service's next sweep, and a full check runs.
// What no Docker object shows (a state or template changed outside SpawnIt's jobs;
// jobs make the service due at once) waits for the deep interval.
//
// Other targets get a full check every Interval.
//
// A removal (a container, volume or network destroyed) or a container's death is also
// shown at once, before its check, when the Platform implements Signals: the service's
// status says missing or drifted, unconfirmed, until the check confirms or corrects it.
//
// Events are coalesced per service: every event arriving while a check of the service
// is queued is merged into it, and events arriving while it runs lead to at most one
// follow-up check, and only when one came after the running check started (it may
// have looked before the change). Events caused by a remediation the supervisor started
// are merged into the check that follows that remediation.
//
// Several replicas sharing one store each run a supervisor, and every replica on one
// Docker host receives the same Docker events: with Config.Cluster set, a replica
// checks, probes, expires and remediates only the services it owns (Cluster.Owns of
// OwnerKey, a consistent assignment over the live replicas), and ignores the events of
// the others. Ownership is read again every OwnershipEvery: when a replica dies, its
// services move to the survivors once their heartbeat refresh no longer sees it (one
// TTL), and each gained service is checked within Handover, in case its previous owner
// died between a Docker event and the check it called for.
//
// After each full check of a deployed Docker service the supervisor refreshes its health
// (the template's readiness probes, tried once). A service whose owner turned
// auto-remediation on is re-applied when a check finds it drifted or missing, at most
// once per RemediateEvery. A service whose expiry passed is destroyed on time (the
// expiry wakes the supervisor), not at its next check.
package supervisor

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/pkg/dockerapi"
)

// Watched is a service the supervisor watches.
type Watched struct {
	Ref    engine.ServiceRef
	Target string
	Intent engine.IntentKind
	// IntentJob is the job that set the intent; a new one (an apply, accept or destroy
	// that succeeded) makes the service due for a check.
	IntentJob     string
	Expires       *time.Time
	AutoRemediate bool
	// Stopped: a user stopped the service's containers on purpose. It is neither
	// checked nor probed nor remediated until it runs again (its expiry still applies).
	Stopped bool
}

// maxPostpone bounds the debounces added while a container is being removed.
const maxPostpone = 20

// maxDebounceWait bounds how many debounces a stream of events may push a check back.
const maxDebounceWait = 4

// ErrNotDue is what Expire and Remediate return (wrapped) when what the supervisor saw
// no longer holds (the expiry moved, auto-remediation was turned off): not a failure.
var ErrNotDue = errors.New("supervisor: no longer due")

// Cluster tells whether this replica is the one to supervise a key among the replicas
// sharing the store (pkg/cluster's Registry is one). It is asked often: it must answer
// from memory.
type Cluster interface {
	Owns(key string) bool
}

// OwnerKey is the key Cluster.Owns is asked about for a service: one replica at a time
// supervises it.
func OwnerKey(ref engine.ServiceRef) string { return "supervise/" + ref.String() }

// Platform is what the supervisor needs from the rest of SpawnIt.
type Platform interface {
	// Watched lists every service of every tenant that has an intent (applied or destroyed).
	Watched(ctx context.Context) ([]Watched, error)
	// Check runs a background drift check (engine.ErrLocked when the service is busy),
	// records its report and publishes a status change; it returns the report.
	Check(ctx context.Context, ref engine.ServiceRef) (*engine.DriftReport, error)
	// Record stores and publishes a report the supervisor made itself.
	Record(ctx context.Context, ref engine.ServiceRef, report engine.DriftReport) error
	// Expire destroys a service whose expiry passed, as a logged, audited job.
	Expire(ctx context.Context, ref engine.ServiceRef) error
	// Health refreshes a deployed service's recorded health with quick probes.
	Health(ctx context.Context, ref engine.ServiceRef) error
	// Remediate starts an apply of a drifted or missing service whose owner turned
	// auto-remediation on, as a logged, audited job that never queues (engine.ErrLocked
	// when busy, here or on another replica). It returns the job's id and a channel
	// closed when that job has ended.
	Remediate(ctx context.Context, ref engine.ServiceRef) (job string, done <-chan struct{}, err error)
}

// Config tunes the supervisor. Zero values take the defaults in brackets.
type Config struct {
	Interval     time.Duration // periodic check of each service [5m]
	DeepInterval time.Duration // full check even when the Docker fingerprint is unchanged [30m]
	Concurrency  int           // checks at once [2]
	Debounce     time.Duration // wait after a Docker event before checking [500ms]
	BusyRetry    time.Duration // retry after a service was busy [30s]
	MaxBackoff   time.Duration // longest wait after repeated failures [30m]
	Refresh      time.Duration // how often the list of watched services is re-read [30s]
	// RemediateEvery is the least time between two automatic remediations of one
	// service [Interval].
	RemediateEvery time.Duration
	DockerEvents   bool // follow Docker events (else periodic sweeps only)
	// Cluster, when set, splits the services among the replicas sharing the store:
	// this supervisor acts only on those it owns. Nil: it supervises every service.
	Cluster Cluster
	// OwnershipEvery is how often ownership is read again [1s]; Handover bounds when a
	// service gained from a replica that left is first checked [min(1m, Interval)].
	OwnershipEvery, Handover time.Duration
	// Docker is the engine the docker target deploys to, whose events and objects are
	// watched (platform.Platform.Docker); nil: the one the process's own environment
	// names (DOCKER_HOST, else the local socket).
	Docker *dockerapi.Client
	Logger *slog.Logger

	// DockerDeepInterval replaces DeepInterval for services whose every resource is a
	// Docker object the fingerprint shows in full (container, volume, network, image)
	// [6h]: for them an unchanged fingerprint means an unchanged plan, and the full
	// check is only a safety net for what no Docker listing shows (a state restored by
	// hand, say).
	DockerDeepInterval time.Duration
}

// The defaults of Config.Interval and Config.DeepInterval.
const (
	DefaultInterval     = 5 * time.Minute
	DefaultDeepInterval = 30 * time.Minute
	// DefaultDockerDeepInterval: see Config.DockerDeepInterval.
	DefaultDockerDeepInterval = 6 * time.Hour
)

func (c *Config) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.Interval, DefaultInterval)
	def(&c.DeepInterval, DefaultDeepInterval)
	def(&c.DockerDeepInterval, DefaultDockerDeepInterval)
	def(&c.Debounce, 500*time.Millisecond)
	def(&c.BusyRetry, 30*time.Second)
	def(&c.MaxBackoff, 30*time.Minute)
	def(&c.Refresh, 30*time.Second)
	def(&c.RemediateEvery, c.Interval)
	def(&c.OwnershipEvery, time.Second)
	def(&c.Handover, min(time.Minute, c.Interval))
	if c.Concurrency <= 0 {
		c.Concurrency = 2
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
}

// watch is the supervisor's memory of one service.
type watch struct {
	svc Watched
	// burstAt is when the first event of the current debounce began: a steady stream
	// of events (a container restarting in a loop) pushes the check back by at most
	// maxDebounceWait debounces, never for ever.
	burstAt     time.Time
	next        time.Time
	failures    int
	running     bool
	fingerprint string // Docker fingerprint at the last full check
	fullAt      time.Time
	status      engine.ServiceStatus
	expiring    bool
	remediated  time.Time // last automatic remediation submitted
	// recheck: an event came after the running check started, which may have looked
	// before the change: check again as soon as it ends.
	recheck     bool
	expireAfter time.Time // retry an expiry that failed no sooner
	// eventAt is when the newest Docker event (or request) about the service came;
	// startedAt when its newest check started; fullStartedAt when its newest full check
	// (a plan, not a health probe) started.
	eventAt, startedAt, fullStartedAt time.Time
	// remediating: a remediation this supervisor started runs; the check that follows
	// it covers the events it causes. remediationJob is its job, whose new intent needs
	// no check of its own.
	remediating    bool
	remediationJob string
	// owned: this replica owned the service at the last ownership reading.
	owned bool
	// postponed counts the debounces added while a container of the service was
	// being removed.
	postponed int

	// fingerprinted: every resource of the last full check's report is a Docker object
	// the fingerprint shows in full (DockerDeepInterval applies). healthAt: the last
	// health probe.
	fingerprinted bool
	healthAt      time.Time
}

// remediable reports whether the last check found drift that auto-remediation would
// undo: such a service gets full checks even when Docker shows no change, since the
// check is what remediates it.
func (w *watch) remediable() bool {
	return (w.status == engine.StatusDrifted || w.status == engine.StatusMissing) && w.svc.AutoRemediate
}

// expiryDue returns when the service must be destroyed, if it has an expiry, is
// deployed and no expiry is in progress.
func (w *watch) expiryDue() (time.Time, bool) {
	t := w.svc
	if t.Expires == nil || t.Intent != engine.IntentApplied || w.expiring {
		return time.Time{}, false
	}
	if w.expireAfter.After(*t.Expires) {
		return w.expireAfter, true
	}
	return *t.Expires, true
}

// Stats counts what the supervisor did, for metrics and benchmarks.
type Stats struct {
	FullChecks, SkippedByFingerprint, EventChecks, Busy, Failures, Expired, Inventories int
	HealthProbes, Remediations                                                          int
	// Inspected counts the containers inspected for fingerprints.
	Inspected int
	// SkippedStopped counts due checks skipped because a user stopped the service.
	SkippedStopped int
	// MergedEvents counts debounced events that asked for no check of their own (one
	// was queued, or ran and had started after them, or a remediation ran); NotOwned
	// the events and due checks left to the replica that owns the service; Gained the
	// services taken over from replicas that left.
	MergedEvents, NotOwned, Gained int
	// Signals counts the removals and stops shown at once as unconfirmed drift (see
	// Signals); SignalsIgnored those left to the check alone (the service was stopped
	// by a user, busy with a job, not deployed, restarted meanwhile, or a newer check
	// had recorded its result).
	Signals, SignalsIgnored int
}

// Supervisor schedules drift checks and expiries.
type Supervisor struct {
	cfg    Config
	p      Platform
	log    *slog.Logger
	docker *docker

	mu      sync.Mutex
	watches map[engine.ServiceRef]*watch
	inv     *dockerInventory
	invAt   time.Time
	stats   Stats
	urgent  map[engine.ServiceRef]*time.Timer
	wake    chan struct{}
	slots   chan struct{}
	wg      sync.WaitGroup

	signalling int // drift signals being recorded
}

// New returns a supervisor; Run starts it.
func New(cfg Config, p Platform) *Supervisor {
	cfg.defaults()
	s := &Supervisor{cfg: cfg, p: p, log: cfg.Logger, watches: map[engine.ServiceRef]*watch{},
		urgent: map[engine.ServiceRef]*time.Timer{}, wake: make(chan struct{}, 1), slots: make(chan struct{}, cfg.Concurrency)}
	api := cfg.Docker
	if api == nil {
		var err error
		if api, err = dockerapi.New(); err != nil {
			s.log.Warn("supervisor: no Docker engine; full checks only", "err", err)
		}
	}
	if api != nil {
		s.docker = &docker{api: api}
	}
	return s
}

// Stats returns counters since start.
func (s *Supervisor) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// CheckSoon schedules a check of ref as soon as possible (debounced), e.g. after a
// Docker event or a user's request. Requests arriving while a check is queued are merged
// into it; while one runs, into at most one follow-up check. A service another replica
// owns is left to it.
func (s *Supervisor) CheckSoon(ref engine.ServiceRef) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w, ok := s.watches[ref]
	if !ok {
		return // not a service of this store (another SpawnIt on the same Docker host)
	}
	w.eventAt = time.Now()
	if t, ok := s.urgent[ref]; ok {
		// Pushed back while the burst is young; past that, the armed timer fires and
		// the events after it make the next burst.
		if w.eventAt.Sub(w.burstAt) < maxDebounceWait*s.cfg.Debounce {
			t.Reset(s.cfg.Debounce)
		}
		return
	}
	w.burstAt = w.eventAt
	s.urgent[ref] = time.AfterFunc(s.cfg.Debounce, func() { s.eventDue(ref) })
}

// eventDue acts on the debounced events of ref: it queues a full check, unless one is
// queued, running and started after the newest event, or will follow a remediation.
// While one of the service's containers is being removed, it waits one more debounce
// (a few at most): the destroy event is to come, and one check after it sees it all.
func (s *Supervisor) eventDue(ref engine.ServiceRef) {
	owned := s.owns(ref)
	if owned && s.docker != nil {
		s.mu.Lock()
		w, ok := s.watches[ref]
		wait := ok && !w.running && !w.remediating && w.postponed < maxPostpone
		s.mu.Unlock()
		if wait {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			removing, err := s.docker.removing(ctx, ref)
			cancel()
			if err == nil && removing {
				s.mu.Lock()
				w.postponed++
				if t, ok := s.urgent[ref]; ok {
					t.Reset(s.cfg.Debounce) // this timer, fired: armed again
				} else {
					s.urgent[ref] = time.AfterFunc(s.cfg.Debounce, func() { s.eventDue(ref) })
				}
				s.mu.Unlock()
				return
			}
		}
	}
	s.mu.Lock()
	delete(s.urgent, ref)
	w, ok := s.watches[ref]
	if ok {
		w.postponed = 0
	}
	switch {
	case !ok:
	case !owned:
		s.stats.NotOwned++
	case w.remediating:
		s.stats.MergedEvents++ // the check after the remediation sees it
	case w.running:
		if w.eventAt.After(w.startedAt) && !w.recheck {
			w.recheck = true
			s.stats.EventChecks++
		} else {
			s.stats.MergedEvents++
		}
	case w.next.IsZero() && w.fingerprint == "":
		s.stats.MergedEvents++ // a full check is queued already
	case w.eventAt.Before(w.fullStartedAt):
		// A full check that began after the newest event ran meanwhile (the check
		// after a remediation can end within the debounce of the events it caused).
		s.stats.MergedEvents++
	default:
		w.next = time.Time{}
		w.fingerprint = "" // force a full check
		s.stats.EventChecks++
	}
	s.mu.Unlock()
	s.poke()
}

// owns reports whether this replica supervises ref.
func (s *Supervisor) owns(ref engine.ServiceRef) bool {
	return s.cfg.Cluster == nil || s.cfg.Cluster.Owns(OwnerKey(ref))
}

// refreshOwnership reads who owns each watched service: a service gained from a
// replica that left is checked within Handover (spread, so that a death does not
// start all its services' checks at once).
func (s *Supervisor) refreshOwnership() {
	if s.cfg.Cluster == nil {
		return
	}
	s.mu.Lock()
	refs := make([]engine.ServiceRef, 0, len(s.watches))
	for ref := range s.watches {
		refs = append(refs, ref)
	}
	s.mu.Unlock()
	owned := make(map[engine.ServiceRef]bool, len(refs))
	for _, ref := range refs {
		owned[ref] = s.owns(ref)
	}
	now := time.Now()
	gained, lost := 0, 0
	s.mu.Lock()
	for ref, o := range owned {
		w, ok := s.watches[ref]
		if !ok || o == w.owned {
			continue
		}
		w.owned = o
		if !o {
			lost++
			continue
		}
		gained++
		s.stats.Gained++
		if at := now.Add(time.Duration(rand.Int64N(int64(s.cfg.Handover)))); w.next.After(at) {
			w.next = at
		}
		w.fingerprint = ""
	}
	s.mu.Unlock()
	if gained+lost > 0 {
		s.log.Info("supervisor: the replicas changed; services moved", "gained", gained, "lost", lost)
		s.poke()
	}
}

// Idle reports whether nothing is under way or asked for: no check, expiry or
// remediation runs, no event waits out its debounce and no check is due at once. Tests
// and benchmarks wait for it before counting what was done.
func (s *Supervisor) Idle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.urgent) > 0 || s.signalling > 0 {
		return false
	}
	for _, w := range s.watches {
		if w.running || w.remediating || w.recheck || w.next.IsZero() {
			return false
		}
	}
	return true
}

func (s *Supervisor) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run supervises until ctx ends.
func (s *Supervisor) Run(ctx context.Context) error {
	if s.cfg.DockerEvents && s.docker != nil {
		s.wg.Add(1)
		go func() { defer s.wg.Done(); s.followDocker(ctx) }()
	}
	defer s.wg.Wait()
	refresh := time.NewTicker(s.cfg.Refresh)
	defer refresh.Stop()
	ownership := time.NewTicker(s.cfg.OwnershipEvery)
	defer ownership.Stop()
	if s.cfg.Cluster == nil {
		ownership.Stop()
	}
	s.refreshWatched(ctx, true)
	for {
		s.dispatch(ctx)
		wait := s.untilNext()
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-refresh.C:
			s.refreshWatched(ctx, false)
		case <-ownership.C:
			s.refreshOwnership()
		case <-s.wake:
		case <-timer.C:
		}
		timer.Stop()
	}
}

func (s *Supervisor) untilNext() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	wait := s.cfg.Refresh
	now := time.Now()
	for _, w := range s.watches {
		if w.running {
			continue
		}
		next := w.next
		if at, ok := w.expiryDue(); ok && at.Before(next) && w.owned {
			next = at
		}
		if d := next.Sub(now); d < wait {
			wait = d
		}
	}
	return max(wait, 10*time.Millisecond)
}

func (s *Supervisor) jittered(d time.Duration) time.Duration {
	// ±10 % so services checked together drift apart.
	return d + time.Duration((rand.Float64()*0.2-0.1)*float64(d))
}

// refreshWatched reconciles the watch list with the platform's services. At start every
// service gets a random first check within one interval, so a restart does not check
// them all at once.
func (s *Supervisor) refreshWatched(ctx context.Context, start bool) {
	watched, err := s.p.Watched(ctx)
	if err != nil {
		s.log.Warn("supervisor: cannot list services", "err", err)
		return
	}
	owned := make(map[engine.ServiceRef]bool, len(watched))
	for _, t := range watched {
		owned[t.Ref] = s.owns(t.Ref)
	}
	now := time.Now()
	s.mu.Lock()
	seen := map[engine.ServiceRef]bool{}
	for _, t := range watched {
		seen[t.Ref] = true
		if w, ok := s.watches[t.Ref]; ok {
			if w.svc.Stopped && !t.Stopped {
				// Started again: check it soon, in full.
				w.next = now.Add(s.cfg.Debounce)
				w.fingerprint = ""
			}
			if (w.svc.Intent != t.Intent || w.svc.IntentJob != t.IntentJob) && t.IntentJob != w.remediationJob {
				// An apply, accept or destroy finished (not this supervisor's
				// remediation, which a check follows already): check soon, and expire
				// again only if the new intent calls for it.
				w.next = now
				w.fingerprint = ""
				w.expiring = false
			}
			drifted := w.status == engine.StatusDrifted || w.status == engine.StatusMissing
			if t.AutoRemediate && !w.svc.AutoRemediate && drifted {
				w.next = now // auto-remediation just turned on for a drifted service
			}
			w.svc = t
			continue
		}
		first := now.Add(time.Duration(rand.Int64N(int64(s.cfg.Interval))))
		if !start {
			first = now.Add(s.cfg.Debounce) // a service applied while we run: check it soon
		}
		s.watches[t.Ref] = &watch{svc: t, next: first, owned: owned[t.Ref]}
	}
	for ref, w := range s.watches {
		if !seen[ref] && !w.running {
			delete(s.watches, ref)
		}
	}
	s.mu.Unlock()
}

// dispatch starts due checks and expiries, up to the concurrency cap.
func (s *Supervisor) dispatch(ctx context.Context) {
	now := time.Now()
	s.mu.Lock()
	var due []*watch
	for _, w := range s.watches {
		at, expiring := w.expiryDue()
		if !w.running && (!now.Before(w.next) || (expiring && w.owned && !now.Before(at))) {
			due = append(due, w)
		}
	}
	s.mu.Unlock()
	if len(due) == 0 {
		return
	}
	// Another replica supervises the services it owns: this one keeps their schedule
	// (should it gain them) without acting.
	mine := due[:0]
	for _, w := range due {
		s.mu.Lock()
		ref := w.svc.Ref
		s.mu.Unlock()
		if s.owns(ref) {
			mine = append(mine, w)
			continue
		}
		s.mu.Lock()
		w.next = now.Add(s.jittered(s.cfg.Interval))
		s.stats.NotOwned++
		s.mu.Unlock()
	}
	if due = mine; len(due) == 0 {
		return
	}
	// One Docker inventory (four listings) serves every due Docker service, and is
	// reused for a few seconds: with hundreds of services, some are due every second.
	// Only the due services' containers are inspected, fresh. A container replaced
	// since the listing leaves a mark in the fingerprint (a full check follows); one
	// created since is in the next listing, and its event forces a full check anyway.
	var inv *dockerInventory
	s.mu.Lock()
	if s.inv != nil && time.Since(s.invAt) < min(s.cfg.Interval/10, 15*time.Second) {
		inv = s.inv
	}
	s.mu.Unlock()
	if s.docker != nil && inv == nil {
		ictx, cancel := context.WithTimeout(ctx, 30*time.Second)
		var err error
		inv, err = s.docker.inventory(ictx)
		cancel()
		if err != nil {
			s.log.Warn("supervisor: docker inventory failed; full checks only", "docker_host", s.docker.api.Host(), "err", err)
			inv = nil
		} else {
			s.mu.Lock()
			s.inv, s.invAt = inv, time.Now()
			s.stats.Inventories++
			s.mu.Unlock()
		}
	}
	for _, w := range due {
		s.mu.Lock()
		t := w.svc
		if at, ok := w.expiryDue(); ok && !now.Before(at) {
			w.expiring, w.running = true, true
			s.mu.Unlock()
			s.start(ctx, func() { s.expire(ctx, w, t.Ref) })
			continue
		}
		if t.Stopped {
			// Stopped on purpose: what a check would find is the stop, not drift.
			w.next = now.Add(s.jittered(s.cfg.Interval))
			w.fingerprint = ""
			s.stats.SkippedStopped++
			s.mu.Unlock()
			continue
		}
		s.mu.Unlock()
		// Only the due service's containers are inspected: at steady state that is
		// one service every Interval/N, whatever the number of containers listed.
		fp := ""
		if t.Target == "docker" && inv != nil {
			fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			var n int
			var err error
			fp, n, err = s.docker.fingerprint(fctx, inv, t.Ref)
			cancel()
			if err != nil {
				s.log.Warn("supervisor: docker inspect failed; full check", "service", t.Ref.String(), "err", err)
				fp = ""
			}
			s.mu.Lock()
			s.stats.Inspected += n
			s.mu.Unlock()
		}
		s.mu.Lock()
		if fp != "" && fp == w.fingerprint && time.Since(w.fullAt) < s.deepInterval(w) && !w.remediable() && !w.running {
			// Nothing Docker shows changed since the last full check.
			w.next = now.Add(s.jittered(s.cfg.Interval))
			s.stats.SkippedByFingerprint++
			if t.Intent == engine.IntentApplied && time.Since(w.healthAt) >= s.cfg.DeepInterval {
				// Health is not in the fingerprint (a process that hangs in a running
				// container): probed at least every DeepInterval, plan or not.
				w.running, w.startedAt = true, time.Now()
				s.mu.Unlock()
				s.start(ctx, func() { s.probe(ctx, w, t) })
				continue
			}
			s.mu.Unlock()
			continue
		}
		if w.running { // an event's check started meanwhile
			s.mu.Unlock()
			continue
		}
		w.running, w.startedAt = true, time.Now()
		w.fullStartedAt = w.startedAt
		s.mu.Unlock()
		s.start(ctx, func() { s.check(ctx, w, t, fp, inv) })
	}
}

// deepInterval is how long an unchanged fingerprint stands for a full check of w: long
// when every resource of w is a Docker object the fingerprint shows in full, short when
// the plan reads something Docker does not show.
func (s *Supervisor) deepInterval(w *watch) time.Duration {
	if w.fingerprinted {
		return s.cfg.DockerDeepInterval
	}
	return s.cfg.DeepInterval
}

func (s *Supervisor) start(ctx context.Context, f func()) {
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer func() { <-s.slots; s.poke() }()
		f()
	}()
}

func (s *Supervisor) check(ctx context.Context, w *watch, t Watched, fp string, inv *dockerInventory) {
	ref := t.Ref
	report, err := s.p.Check(ctx, ref)
	if err == nil && report != nil && t.Intent == engine.IntentApplied && t.Target == "docker" {
		// Health rides on full checks: a few quick probes, Docker target only.
		herr := s.p.Health(ctx, ref)
		s.mu.Lock()
		s.stats.HealthProbes++
		w.healthAt = time.Now()
		s.mu.Unlock()
		if herr != nil && ctx.Err() == nil {
			s.log.Warn("supervisor: health probe failed", "service", ref.String(), "err", herr)
		}
	}
	remediate := s.recordCheck(ctx, w, t, fp, inv, report, err)
	if remediate && s.owns(ref) {
		s.remediate(ctx, w, ref)
	} else if remediate {
		s.mu.Lock()
		w.remediated = time.Time{} // moved to another replica meanwhile: its call
		s.mu.Unlock()
	}
	s.mu.Lock()
	w.running = false
	s.mu.Unlock()
}

// probe refreshes the health of a deployed Docker service whose plan a sweep skipped.
func (s *Supervisor) probe(ctx context.Context, w *watch, t Watched) {
	err := s.p.Health(ctx, t.Ref)
	if err != nil && ctx.Err() == nil {
		s.log.Warn("supervisor: health probe failed", "service", t.Ref.String(), "err", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.HealthProbes++
	w.healthAt = time.Now()
	w.running = false
	if w.recheck {
		// An event came while it ran: a full check, now.
		w.recheck, w.fingerprint, w.next = false, "", time.Now()
	}
}

// recordCheck schedules the next check after one ended, and says whether the service
// is to be remediated now.
func (s *Supervisor) recordCheck(ctx context.Context, w *watch, t Watched, fp string, inv *dockerInventory, report *engine.DriftReport, err error) (remediate bool) {
	ref := t.Ref
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if w.recheck {
		// Whatever this check found, an event came in while it ran: the next check is
		// a full one, now (after a failure, its back-off still applies).
		defer func() {
			w.recheck, w.fingerprint = false, ""
			if err == nil {
				w.next = now
			}
		}()
	}
	switch {
	case errors.Is(err, engine.ErrLocked):
		s.stats.Busy++
		w.next = now.Add(s.jittered(s.cfg.BusyRetry))
	case errors.Is(err, ErrNotDue):
		// Stopped by a user since the listing: the next listing says so.
		w.next = now.Add(s.jittered(s.cfg.Refresh))
	case err != nil || report == nil:
		s.stats.Failures++
		w.failures++
		backoff := min(s.cfg.BusyRetry<<min(w.failures, 16), s.cfg.MaxBackoff)
		w.next = now.Add(s.jittered(backoff))
		s.log.Warn("supervisor: drift check failed", "service", ref.String(), "failures", w.failures, "err", err)
	default:
		s.stats.FullChecks++
		w.failures = 0
		w.fingerprint, w.fullAt, w.status = fp, now, report.Status
		w.fingerprinted = fingerprinted(report)
		w.next = now.Add(s.jittered(s.cfg.Interval))
		// Labelled Docker objects no state records (a destroyed service's, recreated
		// outside) are found by the drift check itself: the platform's sweep, report-only.
		if t.AutoRemediate && t.Intent == engine.IntentApplied && (report.Status == engine.StatusDrifted || report.Status == engine.StatusMissing) {
			if w.remediated.IsZero() || now.Sub(w.remediated) >= s.cfg.RemediateEvery {
				w.remediated = now
				return true
			}
			s.log.Info("supervisor: drift left alone for now: remediated recently", "service", ref.String(),
				"drift", report.Status, "last_remediation", w.remediated)
		}
	}
	return false
}

// remediate asks the platform to re-apply the service; once that job has ended, the
// service is checked again.
func (s *Supervisor) remediate(ctx context.Context, w *watch, ref engine.ServiceRef) {
	s.mu.Lock()
	w.remediating = true // from now, events are the remediation's or merged into its check
	s.mu.Unlock()
	job, done, err := s.p.Remediate(ctx, ref)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		w.remediating = false
	}
	switch {
	case errors.Is(err, ErrNotDue):
		w.remediated = time.Time{} // nothing started: the next check may remediate
	case errors.Is(err, engine.ErrLocked):
		s.stats.Busy++
		w.remediated = time.Time{}
	case err != nil:
		s.stats.Failures++
		s.log.Warn("supervisor: auto-remediation could not start", "service", ref.String(), "err", err)
	default:
		s.stats.Remediations++
		w.remediationJob = job
		s.log.Info("supervisor: auto-remediation started", "service", ref.String(), "job", job)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			select {
			case <-done:
			case <-ctx.Done():
				return
			}
			// One check after the remediation, whatever events it caused.
			s.mu.Lock()
			w.remediating = false
			w.next, w.fingerprint = time.Time{}, ""
			s.mu.Unlock()
			s.poke()
		}()
	}
}

func (s *Supervisor) expire(ctx context.Context, w *watch, ref engine.ServiceRef) {
	err := s.p.Expire(ctx, ref)
	s.mu.Lock()
	defer s.mu.Unlock()
	w.running = false
	now := time.Now()
	switch {
	case err == nil:
		s.stats.Expired++
		w.next = now.Add(s.jittered(s.cfg.Interval))
		// The destroy runs. Once it succeeds the new intent ends the expiry; should it
		// fail, the service is still deployed and expired: try again an interval later
		// (the platform reads the intent again first, so a success is never repeated).
		w.expiring = false
		w.expireAfter = now.Add(s.jittered(s.cfg.Interval))
	case errors.Is(err, ErrNotDue):
		// The expiry moved or went away since the last listing: forget the old one
		// until the next refresh brings the new one.
		w.expiring = false
		w.svc.Expires = nil
	case errors.Is(err, engine.ErrLocked):
		s.stats.Busy++
		w.expiring = false
		w.expireAfter = now.Add(s.jittered(s.cfg.BusyRetry))
	default:
		w.expiring = false
		w.failures++
		w.expireAfter = now.Add(s.jittered(min(s.cfg.BusyRetry<<min(w.failures, 16), s.cfg.MaxBackoff)))
		s.log.Warn("supervisor: expiry destroy failed", "service", ref.String(), "err", err)
	}
}

// followDocker follows Docker events, reconnecting with a pause when the stream drops.
func (s *Supervisor) followDocker(ctx context.Context) {
	for ctx.Err() == nil {
		err := s.docker.events(ctx, func(ev dockerEvent) {
			if !relevant(ev) {
				return
			}
			s.mu.Lock()
			inv := s.inv
			s.mu.Unlock()
			if ref, ok := inv.serviceOf(ev); ok {
				if !s.owns(ref) {
					s.mu.Lock()
					if _, watched := s.watches[ref]; watched {
						s.stats.NotOwned++
					}
					s.mu.Unlock()
					return
				}
				s.log.Debug("supervisor: docker event", "service", ref.String(), "type", ev.Type, "action", ev.Action)
				s.signal(ctx, ref, ev)
				s.CheckSoon(ref)
			}
		})
		if ctx.Err() != nil {
			return
		}
		s.log.Warn("supervisor: docker event stream ended; reconnecting", "docker_host", s.docker.api.Host(), "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(2 * time.Second):
		}
	}
}
