package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spawnit/spawnit/pkg/store"
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

func servicePrefix(ref ServiceRef) string {
	return "clients/" + ref.Client + "/" + ref.Service + "/"
}

// Keys the engine writes.
func jobKey(ref ServiceRef, id string) string { return servicePrefix(ref) + "jobs/" + id + ".json" }
func intentKey(ref ServiceRef) string         { return servicePrefix(ref) + "intent.json" }
func snapshotKey(ref ServiceRef) string       { return servicePrefix(ref) + "pre-destroy.tfstate" }
func erroredKey(ref ServiceRef) string        { return servicePrefix(ref) + "errored.tfstate" }

func leaseKey(ref ServiceRef) string { return servicePrefix(ref) + "lease.json" }

// lease is the cross-process half of the service lock: every process sharing a store
// writes it with a conditional create before running an operation that changes state,
// so two SpawnIt processes never run tofu on one service at once, and a lockfile left by
// a killed tofu can be recognised as the holder's own. It expires on its own (job timeout
// plus grace) so a crashed holder cannot block a service forever.
type lease struct {
	LockHolder
	Operation Operation `json:"operation"`
	Expires   time.Time `json:"expires"`
}

// ErrLeaseHeld: another process runs an operation on the service.
var ErrLeaseHeld = errors.New("another SpawnIt process is running an operation on this service")

func (e *Engine) acquireLease(ctx context.Context, j *Job, ttl time.Duration) error {
	ref := j.info.Service
	l := lease{LockHolder: LockHolder{JobID: j.ID(), Host: e.cfg.Host, PID: os.Getpid(), Since: timeNow()},
		Operation: j.info.Operation, Expires: timeNow().Add(ttl)}
	b, _ := json.Marshal(l)
	_, err := e.cfg.Store.Put(ctx, leaseKey(ref), b, store.PutOptions{IfNoneMatch: true, ContentType: "application/json"})
	if err == nil || !errors.Is(err, store.ErrPreconditionFailed) {
		return err
	}
	cur, obj, gerr := e.cfg.Store.Get(ctx, leaseKey(ref))
	if gerr != nil {
		if errors.Is(gerr, fs.ErrNotExist) { // released meanwhile: try once more
			_, err = e.cfg.Store.Put(ctx, leaseKey(ref), b, store.PutOptions{IfNoneMatch: true, ContentType: "application/json"})
			return err
		}
		return gerr
	}
	var held lease
	if json.Unmarshal(cur, &held) == nil && timeNow().Before(held.Expires) {
		return fmt.Errorf("%w (job %s on %s, pid %d, since %s)", ErrLeaseHeld, held.JobID, held.Host, held.PID, held.Since.Format(time.RFC3339))
	}
	// Expired (its holder died): take it over, conditionally, so only one taker wins.
	j.emit(Event{Type: EventLog, Level: "warn", Message: fmt.Sprintf("taking over an expired lease of job %s on %s", held.JobID, held.Host)})
	_, err = e.cfg.Store.Put(ctx, leaseKey(ref), b, store.PutOptions{IfMatch: obj.ETag, ContentType: "application/json"})
	return err
}

// releaseLease deletes the lease if it is still this job's.
func (e *Engine) releaseLease(j *Job) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cur, _, err := e.cfg.Store.Get(ctx, leaseKey(j.info.Service))
	if err != nil {
		return
	}
	var held lease
	if json.Unmarshal(cur, &held) == nil && held.JobID == j.ID() {
		_ = e.cfg.Store.Delete(ctx, leaseKey(j.info.Service))
	}
}

// Lease reports the cross-process lease of a service, if one is held (possibly by a
// process that died: expires says when it lapses).
func (e *Engine) Lease(ctx context.Context, ref ServiceRef) (holder LockHolder, expires time.Time, ok bool, err error) {
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

func (e *Engine) saveJob(ctx context.Context, j *Job) error {
	rec := j.record()
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if _, err := e.cfg.Store.Put(ctx, jobKey(rec.Service, rec.ID), b, store.PutOptions{ContentType: "application/json"}); err != nil {
		return fmt.Errorf("save job %s: %w", rec.ID, err)
	}
	return nil
}

// LoadJob reads a job's record and event log from the store (finished jobs survive a
// restart this way).
func (e *Engine) LoadJob(ctx context.Context, ref ServiceRef, id string) (JobInfo, []Event, error) {
	if err := ref.Validate(); err != nil {
		return JobInfo{}, nil, err
	}
	if j, ok := e.Job(id); ok && j.info.Service == ref {
		return j.Info(), j.Events(0), nil
	}
	if _, err := parseJobID(id); err != nil {
		return JobInfo{}, nil, err
	}
	b, _, err := e.cfg.Store.Get(ctx, jobKey(ref, id))
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
	return rec.JobInfo, rec.Events, nil
}

// ListJobs lists a service's jobs, newest first (running ones as they are now).
func (e *Engine) ListJobs(ctx context.Context, ref ServiceRef) ([]JobInfo, error) {
	if err := ref.Validate(); err != nil {
		return nil, err
	}
	objs, err := e.cfg.Store.List(ctx, servicePrefix(ref)+"jobs/")
	if err != nil {
		return nil, err
	}
	var out []JobInfo
	for _, o := range objs {
		id := strings.TrimSuffix(o.Key[strings.LastIndexByte(o.Key, '/')+1:], ".json")
		if j, ok := e.Job(id); ok {
			out = append(out, j.Info())
			continue
		}
		b, _, err := e.cfg.Store.Get(ctx, o.Key)
		if err != nil {
			continue // deleted meanwhile
		}
		var rec jobRecord
		if json.Unmarshal(b, &rec) == nil {
			out = append(out, rec.JobInfo)
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].CreatedAt.After(out[b].CreatedAt) })
	return out, nil
}

// Intent returns the service's intent (IntentNone when it was never applied).
func (e *Engine) Intent(ctx context.Context, ref ServiceRef) (Intent, error) {
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

func (e *Engine) saveIntent(ctx context.Context, ref ServiceRef, in Intent) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	_, err = e.cfg.Store.Put(ctx, intentKey(ref), b, store.PutOptions{ContentType: "application/json"})
	return err
}

// ClearRecovery is the operator's acknowledgement that a service whose state could not
// be saved was repaired (for example by pushing the kept errored.tfstate): applies are
// accepted again.
func (e *Engine) ClearRecovery(ctx context.Context, ref ServiceRef) error {
	in, err := e.Intent(ctx, ref)
	if err != nil {
		return err
	}
	in.NeedsRecovery, in.RecoveryNote = false, ""
	return e.saveIntent(ctx, ref, in)
}

// RecoverInterrupted marks jobs that this host left queued or running (the process died)
// as interrupted. Call it once at start-up, before accepting jobs. It never re-runs
// anything. Locks are in-process, so a dead process's locks are already gone; tofu's
// own S3 lockfile, if one was left, is reported by the next run's diagnostics.
func (e *Engine) RecoverInterrupted(ctx context.Context) ([]JobInfo, error) {
	objs, err := e.cfg.Store.List(ctx, "clients/")
	if err != nil {
		return nil, err
	}
	var fixed []JobInfo
	for _, o := range objs {
		if !strings.Contains(o.Key, "/jobs/") || !strings.HasSuffix(o.Key, ".json") {
			continue
		}
		b, obj, err := e.cfg.Store.Get(ctx, o.Key)
		if err != nil {
			continue
		}
		var rec jobRecord
		if json.Unmarshal(b, &rec) != nil || rec.State.Final() {
			continue
		}
		if rec.Host != e.cfg.Host {
			continue // another replica's job: it recovers its own
		}
		if _, live := e.Job(rec.ID); live {
			continue
		}
		now := timeNow()
		rec.State = StateInterrupted
		rec.EndedAt = &now
		rec.Error = "the SpawnIt process running this job stopped before it finished"
		rec.LastSeq++
		rec.Events = append(rec.Events, Event{Seq: rec.LastSeq, Time: now, Type: EventJobState, State: StateInterrupted, Level: "error", Message: "job interrupted: " + rec.Error})
		nb, _ := json.Marshal(rec)
		if _, err := e.cfg.Store.Put(ctx, o.Key, nb, store.PutOptions{IfMatch: obj.ETag, ContentType: "application/json"}); err != nil {
			continue
		}
		// Its lease, if it took one, is stale: free the service now rather than at expiry.
		if lb, _, err := e.cfg.Store.Get(ctx, leaseKey(rec.Service)); err == nil {
			var l lease
			if json.Unmarshal(lb, &l) == nil && l.JobID == rec.ID {
				_ = e.cfg.Store.Delete(ctx, leaseKey(rec.Service))
			}
		}
		fixed = append(fixed, rec.JobInfo)
	}
	return fixed, nil
}
