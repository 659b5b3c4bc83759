package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spawnit/spawnit/pkg/cluster"
	"github.com/spawnit/spawnit/pkg/store"
	"github.com/spawnit/spawnit/pkg/storekey"
)

// Several engines (replicas) may share one store. What they share is there:
//
//   - The lease (clients/<tenant>/<service>/lease.json) of the job running an operation
//     that changes state, renewed by its holder every TTL/3 and expiring after TTL (the
//     cluster's, cluster.DefaultTTL alone): an expired lease proves its holder stopped.
//   - The index of unfinished jobs and their records, which name the replica holding
//     each job: a queued job waits for the older ones of other replicas (FIFO across
//     replicas), and a job of a replica the cluster registry no longer sees is
//     interrupted.
//   - Cancel requests (clients/<tenant>/<service>/cancel/<job>.json), acted on by the
//     holder at its next tick (about a second).
//
// A sweeper in every engine (every TTL/2, and on demand when a job waits for the
// service or a caller asks whether it is busy) marks the jobs of dead replicas
// interrupted, with a conditional write so two sweepers never both write, releases the
// OpenTofu lockfile the job's tofu left and deletes the lease.

// lease is the cross-replica half of the service lock: every engine sharing a store
// writes it with a conditional create before running an operation that changes state,
// so two replicas never run tofu on one service at once, and a lockfile left by a killed
// tofu can be recognised as the holder's own. Its holder renews it (conditionally) every
// TTL/3; one whose Expires has passed was left by a holder that stopped.
type lease struct {
	LockHolder
	Operation Operation `json:"operation"`
	Expires   time.Time `json:"expires"`
	// Renewed is when its holder last wrote it.
	Renewed time.Time `json:"renewed"`
	// Instance is the Engine that wrote it (random per Engine); Replica its cluster id.
	Instance string `json:"instance,omitempty"`
	Replica  string `json:"replica,omitempty"`
}

// holderName names the replica (or, alone, the host) holding a lease.
func (l lease) holderName() string {
	if l.Replica != "" {
		return l.Replica
	}
	return l.Host
}

// ErrLeaseHeld: another process runs an operation on the service.
var ErrLeaseHeld = errors.New("another SpawnIt process is running an operation on this service")

// leaseHeldError says who holds the lease.
type leaseHeldError struct{ held lease }

func (e *leaseHeldError) Error() string {
	return fmt.Sprintf("%s (job %s on %s, pid %d, since %s)", ErrLeaseHeld, e.held.JobID, e.held.holderName(), e.held.PID, e.held.Since.Format(time.RFC3339))
}
func (e *leaseHeldError) Unwrap() error { return ErrLeaseHeld }

// replicaID names this engine in leases and job records: its cluster id, or "" alone.
func (c *Config) replicaID() string {
	if c.Cluster == nil {
		return ""
	}
	return c.Cluster.ID()
}

// leaseTTL is how long a lease lives without renewal.
func (c *Config) leaseTTL() time.Duration {
	if c.Cluster != nil {
		return c.Cluster.TTL()
	}
	return cluster.DefaultTTL
}

// tick is how often the engine renews the leases due (every TTL/3) and looks for cancel
// requests of its jobs.
func (c *Config) tick() time.Duration { return min(c.leaseTTL()/3, time.Second) }

// leaseNeeded: operations that may change state hold the lease; checks and output reads
// only read, without tofu's state lock.
func leaseNeeded(op Operation) bool { return op != OpDrift && op != OpOutputs }

// heldLeases are the leases this engine holds, by job id, with the ETag of their latest
// write: a renewal is conditional on it, so a lease taken over is never written back.
type heldLeases struct {
	mu sync.Mutex
	m  map[string]*heldLease
}

type heldLease struct {
	job  *Job
	l    lease
	etag string
}

func (e *ledger) hold(j *Job, l lease, etag string) {
	e.held.mu.Lock()
	defer e.held.mu.Unlock()
	if e.held.m == nil {
		e.held.m = map[string]*heldLease{}
	}
	e.held.m[j.ID()] = &heldLease{job: j, l: l, etag: etag}
}

func (e *ledger) unhold(id string) {
	e.held.mu.Lock()
	defer e.held.mu.Unlock()
	delete(e.held.m, id)
}

func (e *ledger) newLease(j *Job) lease {
	now := timeNow()
	return lease{LockHolder: LockHolder{JobID: j.ID(), Host: e.cfg.Host, PID: os.Getpid(), Since: now},
		Operation: j.info.Operation, Expires: now.Add(e.cfg.leaseTTL()), Renewed: now,
		Instance: e.instance, Replica: e.cfg.replicaID()}
}

// acquireLease takes the service's lease for j, once: a lease left by an ended job is
// taken over, and so is an expired one, after its job is marked interrupted (and the
// state lock its tofu left released). A lease held by a live job is a *leaseHeldError.
func (e *ledger) acquireLease(ctx context.Context, j *Job) error {
	ref := j.info.Service
	l := e.newLease(j)
	b, _ := json.Marshal(l)
	create := func() error {
		obj, err := e.cfg.Store.Put(ctx, leaseKey(ref), b, store.PutOptions{IfNoneMatch: true, ContentType: "application/json"})
		if err == nil {
			e.hold(j, l, obj.ETag)
		}
		return err
	}
	err := create()
	if err == nil || !errors.Is(err, store.ErrPreconditionFailed) {
		return err
	}
	cur, obj, gerr := e.cfg.Store.Get(ctx, leaseKey(ref))
	if gerr != nil {
		if errors.Is(gerr, fs.ErrNotExist) { // released meanwhile: try once more
			return create()
		}
		return gerr
	}
	var held lease
	valid := json.Unmarshal(cur, &held) == nil
	switch {
	case valid && e.leaseStale(ctx, ref, held):
		// Left by a job that has ended: its release failed, or its acquisition timed out
		// after the store had written it (the answer was lost).
		j.emit(Event{Type: EventLog, Level: "warn", Message: fmt.Sprintf("taking over the lease left by job %s, which has ended", held.JobID)})
	case valid && timeNow().Before(held.Expires):
		return &leaseHeldError{held}
	case valid:
		// Expired: its holder stopped renewing it. Its job ends first, as interrupted.
		e.interruptLeased(ctx, ref, held)
		j.emit(Event{Type: EventLog, Level: "warn", Message: fmt.Sprintf("taking over the lease of job %s: replica %s stopped renewing it at %s",
			held.JobID, held.holderName(), held.renewedAt(e.cfg.leaseTTL()).Format(time.RFC3339))})
	default:
		j.emit(Event{Type: EventLog, Level: "warn", Message: "taking over an unreadable lease"})
	}
	nobj, err := e.cfg.Store.Put(ctx, leaseKey(ref), b, store.PutOptions{IfMatch: obj.ETag, ContentType: "application/json"})
	if errors.Is(err, store.ErrPreconditionFailed) {
		return fmt.Errorf("%w (taken by another replica meanwhile)", ErrLeaseHeld)
	}
	if err == nil {
		e.hold(j, l, nobj.ETag)
	}
	return err
}

// renewedAt is when the lease was last written (leases of older versions lack Renewed).
func (l lease) renewedAt(ttl time.Duration) time.Time {
	if !l.Renewed.IsZero() {
		return l.Renewed
	}
	return l.Expires.Add(-ttl)
}

// renewLeases rewrites the leases this engine holds that are due (TTL/3 after their last
// write). A lease that is gone or was rewritten by another replica was taken over: this
// engine was taken for dead, its job recorded interrupted elsewhere; the job is killed
// at once so that its tofu does not run beside the next holder's.
func (e *ledger) renewLeases(ctx context.Context) {
	ttl := e.cfg.leaseTTL()
	// Due half a tick early, so that a lease is rewritten every TTL/3, not every
	// TTL/3 plus a tick.
	dueAfter := ttl/3 - e.cfg.tick()/2
	e.held.mu.Lock()
	due := make([]heldLease, 0, len(e.held.m))
	for _, h := range e.held.m {
		if timeNow().Sub(h.l.Renewed) >= dueAfter {
			due = append(due, *h)
		}
	}
	e.held.mu.Unlock()
	for _, h := range due {
		now := timeNow()
		l := h.l
		l.Renewed, l.Expires = now, now.Add(ttl)
		b, _ := json.Marshal(l)
		obj, err := e.cfg.Store.Put(ctx, leaseKey(h.job.info.Service), b, store.PutOptions{IfMatch: h.etag, ContentType: "application/json"})
		e.held.mu.Lock()
		cur, still := e.held.m[h.job.ID()]
		switch {
		case !still || cur.etag != h.etag:
			// Released (or renewed) meanwhile.
		case err == nil:
			cur.l, cur.etag = l, obj.ETag
		case errors.Is(err, store.ErrPreconditionFailed) || errors.Is(err, fs.ErrNotExist):
			delete(e.held.m, h.job.ID())
		}
		e.held.mu.Unlock()
		if still && err != nil && (errors.Is(err, store.ErrPreconditionFailed) || errors.Is(err, fs.ErrNotExist)) {
			e.log.Error("lost the lease of a running job (another replica took it over): killing the job", "job", h.job.ID(), "service", h.job.info.Service.String())
			h.job.emit(Event{Type: EventLog, Level: "error", Message: "this replica lost the service's lease (another replica took it for dead): stopping tofu"})
			h.job.kill()
		} else if err != nil {
			e.log.Warn("could not renew a lease", "job", h.job.ID(), "err", err)
		}
	}
}

// runningJobsPrefix is the index of unfinished jobs.
const runningJobsPrefix = storekey.RunningJobsPrefix

// parseRunningJob parses a key of the index of unfinished jobs.
func parseRunningJob(key string) (ServiceRef, string, bool) {
	s, id, ok := storekey.ParseRunningJob(key)
	ref := ServiceRef{Client: s.Tenant, Service: s.Service}
	if !ok || ref.Validate() != nil {
		return ServiceRef{}, "", false
	}
	if _, err := parseJobID(id); err != nil {
		return ServiceRef{}, "", false
	}
	return ref, id, true
}

// readRecord reads the record of job id of the service: its job record, or the
// service's background check record when it is that job's.
func (e *ledger) readRecord(ctx context.Context, ref ServiceRef, id string) (key string, rec jobRecord, etag string, err error) {
	for _, key := range []string{jobKey(ref, id), checkKey(ref)} {
		b, obj, err := e.cfg.Store.Get(ctx, key)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return "", jobRecord{}, "", err
		}
		var rec jobRecord
		if json.Unmarshal(b, &rec) != nil || rec.ID != id {
			continue
		}
		return key, rec, obj.ETag, nil
	}
	return "", jobRecord{}, "", fs.ErrNotExist
}

// readLease returns the service's lease, nil when there is none (or it is unreadable).
func (e *ledger) readLease(ctx context.Context, ref ServiceRef) (*lease, error) {
	b, _, err := e.cfg.Store.Get(ctx, leaseKey(ref))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var l lease
	if json.Unmarshal(b, &l) != nil {
		return nil, nil
	}
	return &l, nil
}

// deadReason says why job rec, not this engine's and not final, can no longer end on its
// own ("" when its holder may still end it): its lease expired (the holder stopped
// renewing it), or, holding no lease, its replica is not alive in the cluster registry.
func (e *ledger) deadReason(ctx context.Context, rec jobRecord, l *lease) string {
	if l != nil && l.JobID == rec.ID {
		if timeNow().After(l.Expires) {
			return fmt.Sprintf("replica %s stopped renewing its lease at %s", l.holderName(), l.renewedAt(e.cfg.leaseTTL()).Format(time.RFC3339))
		}
		return ""
	}
	if e.cfg.Cluster == nil || rec.Replica == "" || rec.Replica == e.cfg.replicaID() {
		return ""
	}
	alive, err := e.cfg.Cluster.Alive(ctx, rec.Replica)
	if err != nil || alive {
		return ""
	}
	return fmt.Sprintf("replica %s stopped (no heartbeat for %s) before the job finished", rec.Replica, e.cfg.leaseTTL())
}

// interruptLeased ends, as interrupted, the job of an expired lease when its record is
// not final yet.
func (e *ledger) interruptLeased(ctx context.Context, ref ServiceRef, held lease) {
	if _, err := parseJobID(held.JobID); err != nil {
		return
	}
	if _, mine := e.jobs.get(held.JobID); mine {
		return
	}
	key, rec, etag, err := e.readRecord(ctx, ref, held.JobID)
	if err != nil || rec.State.Final() {
		return
	}
	e.interrupt(ctx, key, rec, etag, fmt.Sprintf("replica %s stopped renewing its lease at %s",
		held.holderName(), held.renewedAt(e.cfg.leaseTTL()).Format(time.RFC3339)))
}

// interrupt marks job rec (its record at key, version etag) interrupted for reason. The
// write is conditional: when another replica (or the holder) wrote the record since it
// was read, nothing is done and false is returned. Then it removes the S3 lockfile the
// job's tofu left when the job held the lease (see deadLock), the lease and the job's
// entry in the index of unfinished jobs.
func (e *ledger) interrupt(ctx context.Context, key string, rec jobRecord, etag, reason string) bool {
	now := timeNow()
	l, _ := e.readLease(ctx, rec.Service)
	leased := l != nil && l.JobID == rec.ID
	var lockKey, lockMsg string
	if leased {
		lockKey, lockMsg = e.deadLock(ctx, rec.JobInfo)
	}
	// The events its process wrote after the record (live event chunks): the
	// interrupted event follows them.
	if evs, err := e.withChunks(ctx, rec, 0); err == nil && len(evs) > 0 {
		rec.Events, rec.LastSeq = evs, max(rec.LastSeq, evs[len(evs)-1].Seq)
	}
	rec.State = StateInterrupted
	rec.EndedAt = &now
	rec.Error = reason
	if lockMsg != "" {
		rec.LastSeq++
		rec.Events = append(rec.Events, Event{Seq: rec.LastSeq, Time: now, Type: EventLog, Level: "warn", Message: lockMsg})
	}
	rec.LastSeq++
	rec.Events = append(rec.Events, Event{Seq: rec.LastSeq, Time: now, Type: EventJobState, State: StateInterrupted, Level: "error", Message: "job interrupted: " + reason})
	nb, _ := json.Marshal(rec)
	if _, err := e.cfg.Store.Put(ctx, key, nb, store.PutOptions{IfMatch: etag, ContentType: "application/json"}); err != nil {
		return false
	}
	if lockKey != "" {
		if err := e.cfg.Store.Delete(ctx, lockKey); err != nil {
			e.log.Warn("could not remove the state lock an interrupted job left", "job", rec.ID, "key", lockKey, "err", err)
		}
	}
	if leased {
		// Deleted only while it is still this job's: a taker may have replaced it since.
		if cur, err := e.readLease(ctx, rec.Service); err == nil && cur != nil && cur.JobID == rec.ID {
			_ = e.cfg.Store.Delete(ctx, leaseKey(rec.Service))
		}
	}
	_ = e.cfg.Store.Delete(ctx, storeKeys(rec.Service).RunningJob(rec.ID))
	e.deleteEventChunks(ctx, rec.Service, rec.ID)
	e.log.Warn("job interrupted", "job", rec.ID, "service", rec.Service.String(), "reason", reason, "state_lock_released", lockKey != "")
	return true
}

// deadLock finds the S3 lockfile the tofu of an interrupted job left when its process
// died. The caller checked that the job still held the service's lease, so no other
// process could have run tofu on the service since it started; only a lock created after
// the job started is its own, as releaseStaleLock decides for a tofu killed under a live
// engine. Like that one, it needs the engine's Store to be the state bucket; elsewhere it
// finds no lock.
func (e *ledger) deadLock(ctx context.Context, rec JobInfo) (key, msg string) {
	if e.cfg.Backend.S3 == nil || rec.StartedAt == nil || !leaseNeeded(rec.Operation) {
		return "", ""
	}
	key = storeKeys(rec.Service).StateLock()
	b, _, err := e.cfg.Store.Get(ctx, key)
	if err != nil {
		return "", ""
	}
	var li lockInfo
	if json.Unmarshal(b, &li) != nil || li.ID == "" || li.Created.Before(rec.StartedAt.Add(-time.Second)) {
		return "", ""
	}
	return key, "released the state lock (" + li.ID + ", " + li.Who + ") left by this job's tofu when its SpawnIt process died"
}

// sweep interrupts the unfinished jobs of other replicas that can no longer end (see
// deadReason) and notes the services on which another replica has a user's job, for
// Busy.
func (e *ledger) sweep(ctx context.Context) {
	entries, err := e.cfg.Store.List(ctx, runningJobsPrefix)
	if err != nil {
		e.log.Warn("sweep: could not list unfinished jobs", "err", err)
		return
	}
	busy := map[ServiceRef]bool{}
	leases := map[ServiceRef]*lease{}
	for _, o := range entries {
		ref, id, ok := parseRunningJob(o.Key)
		if !ok {
			continue
		}
		if _, mine := e.jobs.get(id); mine {
			continue
		}
		key, rec, etag, err := e.readRecord(ctx, ref, id)
		if err != nil || rec.State.Final() {
			continue
		}
		if rec.Replica != "" && rec.Replica == e.cfg.replicaID() {
			continue // this replica's own, being submitted (or left by a former run: recovery's)
		}
		l, seen := leases[ref]
		if !seen {
			l, _ = e.readLease(ctx, ref)
			leases[ref] = l
		}
		if reason := e.deadReason(ctx, rec, l); reason != "" && e.interrupt(ctx, key, rec, etag, reason) {
			continue
		}
		if !rec.Background {
			busy[ref] = true
		}
	}
	e.remoteBusy.Store(&busy)
}

// busyElsewhere reports whether the latest sweep saw a user's job of another replica
// on the service.
func (e *ledger) busyElsewhere(ref ServiceRef) bool {
	m := e.remoteBusy.Load()
	return m != nil && (*m)[ref]
}

// activity is what the store says about a service's jobs, read now.
type activity struct {
	userJob bool // a user's job, here or on another replica, is queued or running
	leased  bool // a live lease is held (by any job, a background one included)
}

// serviceActivity reads the service's unfinished jobs and lease from the store,
// interrupting on the way the jobs of dead replicas. The jobs of this engine are read
// from memory.
func (e *ledger) serviceActivity(ctx context.Context, ref ServiceRef) (activity, error) {
	var a activity
	l, err := e.readLease(ctx, ref)
	if err != nil {
		return a, err
	}
	entries, err := e.cfg.Store.List(ctx, storeKeys(ref).RunningJobs())
	if err != nil {
		return a, err
	}
	for _, o := range entries {
		_, id, ok := parseRunningJob(o.Key)
		if !ok {
			continue
		}
		if j, mine := e.jobs.get(id); mine {
			if !j.ended() {
				a.userJob = a.userJob || !j.info.Background
				a.leased = a.leased || l != nil && l.JobID == id
			}
			continue
		}
		key, rec, etag, err := e.readRecord(ctx, ref, id)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return a, err
		}
		if rec.State.Final() {
			continue
		}
		if reason := e.deadReason(ctx, rec, l); reason != "" && e.interrupt(ctx, key, rec, etag, reason) {
			continue
		}
		a.userJob = a.userJob || !rec.Background
		a.leased = a.leased || l != nil && l.JobID == id && timeNow().Before(l.Expires)
	}
	return a, nil
}

// jobAhead returns the oldest unfinished job of another replica that needs the service's
// lease and came before j (by creation time, then id: every replica orders them alike),
// nil when there is none: j waits for it, so applies run in order of arrival across
// replicas as they do on one. Jobs of dead replicas met on the way are interrupted.
func (e *ledger) jobAhead(ctx context.Context, j *Job) (*jobRecord, error) {
	ref := j.info.Service
	entries, err := e.cfg.Store.List(ctx, storeKeys(ref).RunningJobs())
	if err != nil {
		return nil, err
	}
	var l *lease
	leaseRead := false
	var best *jobRecord
	for _, o := range entries {
		_, id, ok := parseRunningJob(o.Key)
		if !ok || id == j.ID() {
			continue
		}
		if _, mine := e.jobs.get(id); mine {
			continue // this engine's queue is in order already
		}
		key, rec, etag, err := e.readRecord(ctx, ref, id)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if rec.State.Final() || rec.Background || !leaseNeeded(rec.Operation) || !before(rec.JobInfo, j.info) {
			continue
		}
		if !leaseRead {
			if l, err = e.readLease(ctx, ref); err != nil {
				return nil, err
			}
			leaseRead = true
		}
		if reason := e.deadReason(ctx, rec, l); reason != "" && e.interrupt(ctx, key, rec, etag, reason) {
			continue
		}
		if best == nil || before(rec.JobInfo, best.JobInfo) {
			best = &rec
		}
	}
	return best, nil
}

// before orders jobs by arrival: creation time, then id.
func before(a, b JobInfo) bool {
	if !a.CreatedAt.Equal(b.CreatedAt) {
		return a.CreatedAt.Before(b.CreatedAt)
	}
	return a.ID < b.ID
}

// holderOf names the replica (or host) of a job.
func holderOf(rec jobRecord) string {
	if rec.Replica != "" {
		return rec.Replica
	}
	return rec.Host
}

// cancelRequest is a cancel recorded in the store for the replica holding the job.
type cancelRequest struct {
	Force       bool      `json:"force"`
	RequestedAt time.Time `json:"requested_at"`
	// By is the replica (or host) that recorded it.
	By string `json:"by"`
}

func cancelKey(ref ServiceRef, id string) string { return storeKeys(ref).CancelRequest(id) }

// replicaLoops are the engine's background work for the replicas sharing its store.
type replicaLoops struct {
	quit     chan struct{} // closed once shutdown has ended every job
	quitOnce sync.Once
	// dead stops the loops at once without any cleanup (tests: a replica that dies).
	dead atomic.Bool
}

func (r *replicaLoops) stop() { r.quitOnce.Do(func() { close(r.quit) }) }

// startLoops starts the tick (lease renewals, cancel requests) and the sweeper.
func (e *scheduler) startLoops() {
	go e.every(e.cfg.tick(), func(ctx context.Context) {
		e.ledger.renewLeases(ctx)
		e.watchCancels(ctx)
	})
	go e.every(e.cfg.leaseTTL()/2, e.ledger.sweep)
}

// every runs f every period until the engine has shut down (or died).
func (e *scheduler) every(period time.Duration, f func(ctx context.Context)) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-e.loops.quit:
			return
		case <-t.C:
		}
		if e.loops.dead.Load() {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), max(period, 5*time.Second))
		f(ctx)
		cancel()
	}
}

// watchCancels acts on the cancel requests other replicas recorded for this engine's
// jobs, as a local Cancel would.
func (e *scheduler) watchCancels(ctx context.Context) {
	for _, j := range e.jobs.unfinished() {
		key := cancelKey(j.info.Service, j.ID())
		b, _, err := e.cfg.Store.Get(ctx, key)
		if err != nil {
			continue
		}
		var req cancelRequest
		_ = json.Unmarshal(b, &req)
		err = e.cancel(j.ID(), req.Force)
		e.log.Info("cancel requested through the store", "job", j.ID(), "by", req.By, "force", req.Force, "err", err)
		_ = e.cfg.Store.Delete(ctx, key) // the acknowledgement its requester waits for
	}
}

// cancelAnywhere carries out Engine.CancelJob.
func (e *scheduler) cancelAnywhere(ctx context.Context, ref ServiceRef, id string, force bool) (JobInfo, error) {
	if err := ref.Validate(); err != nil {
		return JobInfo{}, err
	}
	if _, err := parseJobID(id); err != nil {
		return JobInfo{}, err
	}
	if j, ok := e.jobs.get(id); ok && j.info.Service == ref {
		err := e.cancel(id, force)
		return j.Info(), err
	}
	info, _, err := e.ledger.LoadJob(ctx, ref, id)
	if err != nil {
		return JobInfo{}, err
	}
	// The answer is the one the holder's Job.cancel gives; the record tells it.
	var answer error
	switch info.State {
	case StateRunning:
		if force {
			answer = fmt.Errorf("%w: graceful cancel sent; force again after %s", ErrCoolOff, e.cfg.CancelCoolOff)
		}
	case StateCancelling:
		if force && info.CancelRequestedAt != nil {
			if since := timeNow().Sub(*info.CancelRequestedAt); since < e.cfg.CancelCoolOff {
				return info, fmt.Errorf("%w: %s left", ErrCoolOff, (e.cfg.CancelCoolOff - since).Round(time.Second))
			}
		}
	default:
		if info.State.Final() {
			return info, ErrJobFinished
		}
	}
	by := e.cfg.replicaID()
	if by == "" {
		by = e.cfg.Host
	}
	b, _ := json.Marshal(cancelRequest{Force: force, RequestedAt: timeNow(), By: by})
	key := cancelKey(ref, id)
	if _, err := e.cfg.Store.Put(ctx, key, b, store.PutOptions{ContentType: "application/json"}); err != nil {
		return info, err
	}
	// The holder acts within a tick and removes the request; the answer then shows the
	// job as a local cancel's does. A holder that never answers is dead: the sweeper
	// interrupts its job.
	deadline := time.Now().Add(3*e.cfg.tick() + 2*time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if _, _, err := e.cfg.Store.Get(ctx, key); errors.Is(err, fs.ErrNotExist) {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	if cur, _, err := e.ledger.LoadJob(ctx, ref, id); err == nil {
		info = cur
	}
	if info.State == StateRunning {
		now := timeNow()
		info.State, info.CancelRequestedAt = StateCancelling, &now
	}
	return info, answer
}

// takeLease waits until j may run: no older job of another replica needs the service,
// and j holds its lease. The wait shows in j's events; a job that must not queue fails
// at once.
func (e *scheduler) takeLease(j *Job) error {
	announced := ""
	for {
		ctx, cancel := context.WithTimeout(j.softCtx, 30*time.Second)
		ahead, err := e.ledger.jobAhead(ctx, j)
		if err == nil && ahead == nil {
			err = e.ledger.acquireLease(ctx, j)
		}
		cancel()
		if err == nil && ahead == nil {
			return nil
		}
		if j.softCtx.Err() != nil {
			return j.softCtx.Err()
		}
		var waiting string
		var held *leaseHeldError
		switch {
		case ahead != nil:
			waiting = fmt.Sprintf("waiting for job %s (%s) on replica %s", ahead.ID, ahead.Operation, holderOf(*ahead))
			err = fmt.Errorf("%w (job %s on %s)", ErrLeaseHeld, ahead.ID, holderOf(*ahead))
		case errors.As(err, &held):
			waiting = fmt.Sprintf("waiting for job %s (%s) on replica %s", held.held.JobID, held.held.Operation, held.held.holderName())
		case errors.Is(err, ErrLeaseHeld):
			waiting = "waiting for the service's lease"
		default:
			return err
		}
		if j.failFast {
			return err
		}
		if waiting != announced {
			j.emit(Event{Type: EventLog, Level: "info", Message: waiting})
			announced = waiting
		}
		select {
		case <-j.softCtx.Done():
			return j.softCtx.Err()
		case <-time.After(e.cfg.tick()):
		}
	}
}
