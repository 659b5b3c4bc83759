package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spawnit/spawnit/pkg/store"
	"github.com/spawnit/spawnit/pkg/storekey"
)

// Store is what the engine needs from durable storage: pkg/store's FS and S3 stores
// satisfy it. The engine keeps job records, intents and pre-destroy state snapshots
// there, under the service's prefix (see the keys below).
type Store interface {
	Get(ctx context.Context, key string) ([]byte, store.Object, error)
	Put(ctx context.Context, key string, data []byte, opts store.PutOptions) (store.Object, error)
	List(ctx context.Context, prefix string) ([]store.Object, error)
	Delete(ctx context.Context, key string) error
}

// ledger keeps what outlives a job in the store: job records (and their pruning),
// intents, the cross-process leases, and what recovery needs (errored state, the
// needs-recovery mark, jobs a dead process left). What the store cannot take when a job
// ends is written later, in order (finishLater).
type ledger struct {
	cfg     *Config
	log     *slog.Logger
	jobs    *jobTable // jobs this process holds: their records are read from memory
	locks   *locker
	records recordCache // job records' infos, parsed once per version
	// instance tells this Engine's leases from those of other processes (and of other
	// engines in this process), so one left by its own finished job can be taken over.
	instance string
	// stop is closed at shutdown: background retries (retryLater) give up.
	stop  chan struct{}
	loops *replicaLoops
	// held are the leases this engine holds and renews.
	held heldLeases
	// remoteBusy: the services on which the latest sweep saw another replica's user job.
	remoteBusy atomic.Pointer[map[ServiceRef]bool]
}

// storeKeys is the service's folder in the store (package storekey owns the layout).
func storeKeys(ref ServiceRef) storekey.Service { return storekey.For(ref.Client, ref.Service) }

// Keys the engine writes.
func jobKey(ref ServiceRef, id string) string { return storeKeys(ref).Job(id) }
func intentKey(ref ServiceRef) string         { return storeKeys(ref).Intent() }
func snapshotKey(ref ServiceRef) string       { return storeKeys(ref).PreDestroy() }
func erroredKey(ref ServiceRef) string        { return storeKeys(ref).Errored() }

func leaseKey(ref ServiceRef) string { return storeKeys(ref).Lease() }

// checkKey holds the record of the service's latest background job (one slot, so
// periodic checks do not grow the store).
func checkKey(ref ServiceRef) string { return storeKeys(ref).Check() }

func recordKey(info JobInfo) string {
	if info.Background {
		return checkKey(info.Service)
	}
	return jobKey(info.Service, info.ID)
}

// leaseStale reports whether a lease was left by a job that has ended: one of this
// engine's that is final (or forgotten), or any whose record in the store is final (a
// job's final record is saved before its lease is released, so a final record next to
// the lease means the release is what failed).
func (e *ledger) leaseStale(ctx context.Context, ref ServiceRef, held lease) bool {
	if _, err := parseJobID(held.JobID); err != nil {
		return false
	}
	if held.Instance == e.instance {
		// A job whose errored state is not stored yet keeps its lease until it is
		// (finishLater), so no process runs tofu on the state it could not save.
		j, ok := e.jobs.get(held.JobID)
		if !ok || j.ended() && !j.erroredPending.Load() {
			return true
		}
	}
	b, _, err := e.cfg.Store.Get(ctx, jobKey(ref, held.JobID))
	var rec jobRecord
	return err == nil && json.Unmarshal(b, &rec) == nil && rec.ID == held.JobID && rec.State.Final()
}

// releaseLease deletes the lease if it is still this job's. An error means the store
// could not tell or could not delete it.
func (e *ledger) releaseLease(ctx context.Context, j *Job) error {
	e.unhold(j.ID())
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cur, _, err := e.cfg.Store.Get(ctx, leaseKey(j.info.Service))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var held lease
	if json.Unmarshal(cur, &held) == nil && held.JobID == j.ID() {
		return e.cfg.Store.Delete(ctx, leaseKey(j.info.Service))
	}
	return nil
}

// Lease reports the cross-process lease of a service, if one is held (possibly by a
// process that died: expires says when it lapses).
func (e *ledger) Lease(ctx context.Context, ref ServiceRef) (holder LockHolder, expires time.Time, ok bool, err error) {
	if err := ref.Validate(); err != nil {
		return LockHolder{}, time.Time{}, false, err
	}
	b, _, err := e.cfg.Store.Get(ctx, leaseKey(ref))
	if errors.Is(err, fs.ErrNotExist) {
		return LockHolder{}, time.Time{}, false, nil
	}
	if err != nil {
		return LockHolder{}, time.Time{}, false, err
	}
	var l lease
	if err := json.Unmarshal(b, &l); err != nil {
		return LockHolder{}, time.Time{}, false, fmt.Errorf("lease of %s: %w", ref, err)
	}
	return l.LockHolder, l.Expires, true, nil
}

// saveJob writes the job's record. A record that is not final is preceded by the job's
// entry in the index of unfinished jobs (see RecoverInterrupted), and the entry goes
// once the final record is written: every record a dead process can leave unfinished
// has an entry.
func (e *ledger) saveJob(ctx context.Context, j *Job) error {
	rec := j.record()
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	entry := storeKeys(rec.Service).RunningJob(rec.ID)
	final := rec.State.Final()
	if !final {
		eb, _ := json.Marshal(unfinishedEntry{Host: rec.Host, Operation: rec.Operation, Record: recordKey(rec.JobInfo)})
		_, err := e.cfg.Store.Put(ctx, entry, eb, store.PutOptions{IfNoneMatch: true, ContentType: "application/json"})
		if err != nil && !errors.Is(err, store.ErrPreconditionFailed) {
			return fmt.Errorf("save job %s: %w", rec.ID, err)
		}
	}
	if _, err := e.cfg.Store.Put(ctx, recordKey(rec.JobInfo), b, store.PutOptions{ContentType: "application/json"}); err != nil {
		return fmt.Errorf("save job %s: %w", rec.ID, err)
	}
	if !final {
		j.flush.stored(rec.LastSeq)
	}
	if final {
		e.dropEventChunks(ctx, j)
		// One left behind (the store failed now) is removed by the next recovery.
		if err := e.cfg.Store.Delete(ctx, entry); err != nil {
			e.log.Warn("could not remove a finished job from the index of unfinished jobs", "job", rec.ID, "err", err)
		}
	}
	return nil
}

// unfinishedEntry is what an entry of the index of unfinished jobs holds, for people
// reading the store: recovery reads the record itself.
type unfinishedEntry struct {
	Host      string    `json:"host"`
	Operation Operation `json:"operation"`
	Record    string    `json:"record"`
}

// unfinishedGrace: an entry whose record does not exist is removed by recovery only
// once it is this old (its job may be between the two writes of saveJob).
const unfinishedGrace = time.Hour

// unfinishedRecords returns the keys of the job records that may not be final, from the
// index of unfinished jobs, removing the entries of jobs that have ended. In a store
// whose index was never built (written by a version without it, or removed), it scans
// every record instead; RecoverInterrupted marks the index built afterwards.
func (e *ledger) unfinishedRecords(ctx context.Context) (keys []string, scanned bool, err error) {
	_, _, err = e.cfg.Store.Get(ctx, storekey.RunningJobsBuilt)
	if errors.Is(err, fs.ErrNotExist) {
		objs, err := e.cfg.Store.List(ctx, storekey.TenantsPrefix)
		if err != nil {
			return nil, false, err
		}
		for _, o := range objs {
			_, _, isJob := storekey.ParseJob(o.Key)
			if _, isCheck := storekey.ParseCheck(o.Key); isJob || isCheck {
				keys = append(keys, o.Key)
			}
		}
		return keys, true, nil
	}
	if err != nil {
		return nil, false, err
	}
	entries, err := e.cfg.Store.List(ctx, storekey.RunningJobsPrefix)
	if err != nil {
		return nil, false, err
	}
	for _, o := range entries {
		s, id, ok := storekey.ParseRunningJob(o.Key)
		ref := ServiceRef{Client: s.Tenant, Service: s.Service}
		if !ok || ref.Validate() != nil {
			continue
		}
		// A background check's record is check.json, as long as no later check replaced it.
		found := false
		for _, key := range []string{jobKey(ref, id), checkKey(ref)} {
			b, _, err := e.cfg.Store.Get(ctx, key)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return nil, false, err
			}
			var rec jobRecord
			if json.Unmarshal(b, &rec) != nil || rec.ID != id {
				continue
			}
			found = true
			if rec.State.Final() {
				_ = e.cfg.Store.Delete(ctx, o.Key) // its job ended; the delete failed then
			} else {
				keys = append(keys, key)
			}
			break
		}
		if !found && timeNow().Sub(o.Modified) > unfinishedGrace {
			_ = e.cfg.Store.Delete(ctx, o.Key)
		}
	}
	return keys, false, nil
}

// LoadJob reads a job's record and event log from the store (finished jobs survive a
// restart this way). Another process's running job has the events it has written so far.
func (e *ledger) LoadJob(ctx context.Context, ref ServiceRef, id string) (JobInfo, []Event, error) {
	return e.loadJob(ctx, ref, id, 0)
}

// loadJob is LoadJob for a reader that has the events through after already: event
// chunks holding only those are not read (the events returned may still start earlier).
func (e *ledger) loadJob(ctx context.Context, ref ServiceRef, id string, after int64) (JobInfo, []Event, error) {
	if err := ref.Validate(); err != nil {
		return JobInfo{}, nil, err
	}
	if j, ok := e.jobs.get(id); ok && j.info.Service == ref {
		return j.Info(), j.Events(0), nil
	}
	if _, err := parseJobID(id); err != nil {
		return JobInfo{}, nil, err
	}
	b, _, err := e.cfg.Store.Get(ctx, jobKey(ref, id))
	if errors.Is(err, fs.ErrNotExist) {
		// Perhaps the latest background check.
		b, _, err = e.cfg.Store.Get(ctx, checkKey(ref))
		var rec jobRecord
		if err == nil && (json.Unmarshal(b, &rec) != nil || rec.ID != id) {
			err = fs.ErrNotExist
		}
	}
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return JobInfo{}, nil, fmt.Errorf("%w: job %s", ErrNotFound, id)
		}
		return JobInfo{}, nil, err
	}
	var rec jobRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return JobInfo{}, nil, fmt.Errorf("job %s: corrupt record: %w", id, err)
	}
	if !rec.State.Final() {
		// Another process runs it (or ran it and died): its later events are in chunks.
		// Unlisted (the store failed): the record's events, the rest at the next read.
		evs, _ := e.withChunks(ctx, rec, after)
		rec.Events = evs
		if n := len(evs); n > 0 {
			rec.LastSeq = max(rec.LastSeq, evs[n-1].Seq)
		}
	}
	return rec.JobInfo, rec.Events, nil
}

// ListJobs lists a service's jobs, newest first (running ones as they are now).
// Background checks are not listed (see Background).
func (e *ledger) ListJobs(ctx context.Context, ref ServiceRef) ([]JobInfo, error) {
	if err := ref.Validate(); err != nil {
		return nil, err
	}
	objs, err := e.cfg.Store.List(ctx, storeKeys(ref).Jobs())
	if err != nil {
		return nil, err
	}
	var out []JobInfo
	for _, o := range objs {
		if info, err := e.recordInfo(ctx, o); err == nil {
			out = append(out, info) // else deleted meanwhile, or unreadable
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].CreatedAt.After(out[b].CreatedAt) })
	return out, nil
}

// LastJob returns the newest job of the service's history, nil when it has none: the
// user's job holding the service in this process, else the record written last (a
// service runs one job at a time, so the newest record is the last job's; records
// written at the same instant are told apart by their creation time).
func (e *ledger) LastJob(ctx context.Context, ref ServiceRef) (*JobInfo, error) {
	if err := ref.Validate(); err != nil {
		return nil, err
	}
	if h, ok := e.locks.holder(ref); ok {
		if j, ok := e.jobs.get(h.JobID); ok && !j.info.Background {
			info := j.Info()
			return &info, nil
		}
	}
	objs, err := e.cfg.Store.List(ctx, storeKeys(ref).Jobs())
	if err != nil {
		return nil, err
	}
	var newest time.Time
	for _, o := range objs {
		if o.Modified.After(newest) {
			newest = o.Modified
		}
	}
	var best *JobInfo
	for _, o := range objs {
		if o.Modified.Before(newest) {
			continue
		}
		info, err := e.recordInfo(ctx, o)
		if errors.Is(err, store.ErrUnavailable) {
			return nil, err
		}
		if err == nil && (best == nil || info.CreatedAt.After(best.CreatedAt)) {
			best = &info
		}
	}
	return best, nil
}

// recordCache keeps the JobInfo of job records by key, valid for one version (ETag):
// listings read a service's records on every call (the service list reads every
// service's last job), and a record carries its whole event log.
type recordCache struct {
	mu sync.Mutex
	m  map[string]cachedRecord
}

type cachedRecord struct {
	etag string
	info JobInfo
}

// maxCachedRecords bounds the cache; a full cache starts over.
const maxCachedRecords = 4096

// recordInfo is the info of the job whose record o lists: from memory while this
// process holds the job, else from the record, parsed once per version.
func (e *ledger) recordInfo(ctx context.Context, o store.Object) (JobInfo, error) {
	id := storekey.JobIDOf(o.Key)
	if j, ok := e.jobs.get(id); ok {
		return j.Info(), nil
	}
	c := &e.records
	c.mu.Lock()
	cached, ok := c.m[o.Key]
	c.mu.Unlock()
	if ok && o.ETag != "" && cached.etag == o.ETag {
		cached.info.Outputs = copyOutputs(cached.info.Outputs)
		return cached.info, nil
	}
	b, obj, err := e.cfg.Store.Get(ctx, o.Key)
	if err != nil {
		return JobInfo{}, err
	}
	var info JobInfo // the record's fields but its events
	if err := json.Unmarshal(b, &info); err != nil {
		return JobInfo{}, fmt.Errorf("job record %s: %w", o.Key, err)
	}
	if obj.ETag != "" {
		c.mu.Lock()
		if len(c.m) >= maxCachedRecords {
			clear(c.m)
		}
		c.m[o.Key] = cachedRecord{etag: obj.ETag, info: info}
		c.mu.Unlock()
		info.Outputs = copyOutputs(info.Outputs)
	}
	return info, nil
}

// DefaultJobHistory is Config.JobHistory's default.
const DefaultJobHistory = 100

// pruneJobs deletes the service's oldest finished job records beyond Config.JobHistory.
// Records are ordered by when they were last written (a job's final record is written
// when it ends); one that is not final (recovery needs it) or cannot be read is kept. Failures
// only leave a few records more, tried again when the next job ends.
func (e *ledger) pruneJobs(ctx context.Context, ref ServiceRef) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	objs, err := e.cfg.Store.List(ctx, storeKeys(ref).Jobs())
	if err != nil || len(objs) <= e.cfg.JobHistory {
		return
	}
	sort.Slice(objs, func(a, b int) bool { return objs[a].Modified.Before(objs[b].Modified) })
	for _, o := range objs[:len(objs)-e.cfg.JobHistory] {
		if info, err := e.recordInfo(ctx, o); err != nil || !info.State.Final() {
			continue
		}
		if err := e.cfg.Store.Delete(ctx, o.Key); err != nil {
			e.log.Warn("could not delete an old job record", "key", o.Key, "err", err)
			return
		}
		// Event chunks a dead process left (a final record written normally took its own).
		e.deleteEventChunks(ctx, ref, storekey.JobIDOf(o.Key))
	}
}

// Intent returns the service's intent (IntentNone when it was never applied).
func (e *ledger) Intent(ctx context.Context, ref ServiceRef) (Intent, error) {
	if err := ref.Validate(); err != nil {
		return Intent{}, err
	}
	b, _, err := e.cfg.Store.Get(ctx, intentKey(ref))
	if errors.Is(err, fs.ErrNotExist) {
		return Intent{}, nil
	}
	if err != nil {
		return Intent{}, err
	}
	var in Intent
	if err := json.Unmarshal(b, &in); err != nil {
		return Intent{}, fmt.Errorf("intent of %s: %w", ref, err)
	}
	return in, nil
}

func (e *ledger) saveIntent(ctx context.Context, ref ServiceRef, in Intent) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	_, err = e.cfg.Store.Put(ctx, intentKey(ref), b, store.PutOptions{ContentType: "application/json"})
	return err
}

// ClearRecovery is the operator's acknowledgement that a service whose state could not
// be saved was repaired (for example by pushing the kept errored.tfstate), or that its
// stored state is right as it is: applies are accepted again, on the state now stored.
func (e *ledger) ClearRecovery(ctx context.Context, ref ServiceRef) error {
	in, err := e.Intent(ctx, ref)
	if err != nil {
		return err
	}
	in.NeedsRecovery, in.RecoveryNote = false, ""
	in.StateLineage, in.StateSerial = "", 0
	return e.saveIntent(ctx, ref, in)
}

// RecoverInterrupted marks jobs that a dead process left queued or running as
// interrupted (see leftByDeadProcess). Call it once at start-up, before accepting jobs. It never re-runs
// anything. It finds them through the index of unfinished jobs the engine keeps in the
// store (index/jobs/), not by reading every record. In-process locks died with the
// process; the lease of an interrupted job is deleted, and so is the S3 lockfile its
// tofu left (one created after the job started, while it held the lease), so the next
// operation finds the service free.
//
// It first kills what the dead process left running in the workdirs: tofu dies with
// the server, but its providers and provisioner commands outlive it.
func (e *ledger) RecoverInterrupted(ctx context.Context) ([]JobInfo, error) {
	if killed := killOrphans(e.cfg.WorkDir); len(killed) > 0 {
		e.log.Warn("killed processes a previous SpawnIt process left running in its workdirs", "processes", killed)
	}
	e.keepLeftErrored(ctx)
	recordKeys, scanned, err := e.unfinishedRecords(ctx)
	if err != nil {
		return nil, err
	}
	var fixed []JobInfo
	complete := scanned // every unfinished record found has its entry
	for _, key := range recordKeys {
		b, obj, err := e.cfg.Store.Get(ctx, key)
		if err != nil {
			continue
		}
		var rec jobRecord
		if json.Unmarshal(b, &rec) != nil || rec.State.Final() {
			continue
		}
		if scanned {
			// Rebuilding the index from the records: whoever recovers this job later (this
			// process after a failure below, another replica) finds it there.
			eb, _ := json.Marshal(unfinishedEntry{Host: rec.Host, Operation: rec.Operation, Record: key})
			_, err := e.cfg.Store.Put(ctx, storeKeys(rec.Service).RunningJob(rec.ID), eb, store.PutOptions{IfNoneMatch: true, ContentType: "application/json"})
			if err != nil && !errors.Is(err, store.ErrPreconditionFailed) {
				complete = false // the next start scans again
			}
		}
		if !e.leftByDeadProcess(ctx, rec) {
			continue
		}
		reason := "the SpawnIt process running this job stopped before it finished"
		if rec.Replica != "" && rec.Replica != e.cfg.replicaID() {
			reason = "replica " + rec.Replica + " stopped before the job finished"
		}
		if e.interrupt(ctx, key, rec, obj.ETag, reason) {
			rec.State = StateInterrupted
			rec.Error = reason
			fixed = append(fixed, rec.JobInfo)
		}
	}
	if scanned && complete {
		// Every unfinished record has an entry now, and every later one gets its entry
		// first (saveJob): from now on the index is enough.
		if _, err := e.cfg.Store.Put(ctx, storekey.RunningJobsBuilt, []byte(`{"built":true}`), store.PutOptions{ContentType: "application/json"}); err != nil {
			e.log.Warn("could not mark the index of unfinished jobs built; the next start scans every record again", "err", err)
		}
	}
	return fixed, nil
}

// leftByDeadProcess reports whether job rec, found unfinished at start-up, was left by a
// process that is gone. With a cluster registry, it is judged by its replica's liveness,
// whatever host the replica ran on (a replacement with another name recovers its
// predecessor's jobs), or, on this host, by whether its process still runs; a job of a
// replica still alive, or still within its TTL, is left to it or to the sweeper. Records without a replica (an engine alone on its store, or an
// older version) are judged by host: this host's, unless a sibling process with that
// PID still runs.
func (e *ledger) leftByDeadProcess(ctx context.Context, rec jobRecord) bool {
	if _, live := e.jobs.get(rec.ID); live {
		return false
	}
	if rec.Replica != "" && e.cfg.Cluster != nil {
		if rec.Replica == e.cfg.replicaID() {
			return true // a former run of this replica, under the same id
		}
		if rec.Host == e.cfg.Host && (rec.PID == os.Getpid() || !siblingAlive(rec.PID)) {
			// A former process on this host (a restart): gone for sure, so its jobs are
			// recovered now rather than once its heartbeat has aged past the TTL.
			return true
		}
		alive, err := e.cfg.Cluster.Alive(ctx, rec.Replica)
		return err == nil && !alive
	}
	if rec.Host != e.cfg.Host {
		return false // another host's job: it recovers its own
	}
	return rec.PID == os.Getpid() || !siblingAlive(rec.PID)
}

// keepLeftErrored stores the errored.tfstate files that a previous process left in the
// workdirs because the store was down, now or, failing that, in the background.
func (e *ledger) keepLeftErrored(ctx context.Context) {
	matches, _ := filepath.Glob(filepath.Join(e.cfg.WorkDir, "*", "*", erroredStateFile))
	for _, p := range matches {
		dir := filepath.Dir(p)
		ref := ServiceRef{Client: filepath.Base(filepath.Dir(dir)), Service: filepath.Base(dir)}
		if ref.Validate() != nil {
			continue
		}
		keep := func(ctx context.Context) error { _, err := e.keepErrored(ctx, ref, dir); return err }
		if err := keep(ctx); err != nil {
			e.retryLater("errored state of "+ref.String(), keep)
			continue
		}
		e.log.Warn("kept the errored.tfstate a previous process left in a workdir; the service needs recovery", "service", ref.String())
	}
}
