package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/spawnit/spawnit/pkg/keyring"
)

// scheduler turns requests into jobs and runs them: one at a time per service in
// arrival order and at most MaxParallel at once (locker), each on its own goroutine
// from the service's grant to its settlement. The job decides what a cancel or a
// timeout does (job.go), the runner runs tofu, the ledger writes.
type scheduler struct {
	cfg    *Config
	log    *slog.Logger
	jobs   *jobTable
	locks  *locker
	ledger *ledger
	runner *runner
	// stop is closed by shutdown: background retries (ledger.retryLater) give up.
	stop chan struct{}
	// loops renew leases, act on cancel requests and sweep dead replicas' jobs.
	loops *replicaLoops
}

// jobTable holds the jobs this process knows: running, queued and recently finished.
// Closing it (shutdown) and adding a job are atomic with respect to each other, so a
// job is either refused or among those shutdown waits for.
type jobTable struct {
	mu       sync.Mutex
	m        map[string]*Job
	finished []string // ids of finished jobs kept in memory, oldest first
	closed   bool
	wg       sync.WaitGroup // one per job whose goroutine runs
}

// maxFinishedInMemory bounds finished jobs kept in memory; older ones are read back
// from the store.
const maxFinishedInMemory = 1000

func newJobTable() *jobTable { return &jobTable{m: map[string]*Job{}} }

func (t *jobTable) get(id string) (*Job, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	j, ok := t.m[id]
	return j, ok
}

// add registers j and counts its goroutine, unless the table is closed.
func (t *jobTable) add(j *Job) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	t.m[j.ID()] = j
	t.wg.Add(1)
	return true
}

func (t *jobTable) isClosed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.closed
}

// close refuses further jobs and returns those it holds; first says whether this call
// closed it.
func (t *jobTable) close() (jobs []*Job, first bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	first = !t.closed
	t.closed = true
	jobs = make([]*Job, 0, len(t.m))
	for _, j := range t.m {
		jobs = append(jobs, j)
	}
	return jobs, first
}

// unfinished returns the jobs held that have not ended.
func (t *jobTable) unfinished() []*Job {
	t.mu.Lock()
	all := make([]*Job, 0, len(t.m))
	for _, j := range t.m {
		all = append(all, j)
	}
	t.mu.Unlock()
	out := all[:0]
	for _, j := range all {
		if !j.ended() {
			out = append(out, j)
		}
	}
	return out
}

// forget marks j finished: the oldest finished jobs beyond maxFinishedInMemory leave
// memory.
func (t *jobTable) forget(j *Job) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.finished = append(t.finished, j.ID())
	for len(t.finished) > maxFinishedInMemory {
		delete(t.m, t.finished[0])
		t.finished = t.finished[1:]
	}
}

func (e *scheduler) submit(ctx context.Context, ref ServiceRef, op Operation, opts []RunOption) (*Job, error) {
	if err := ref.Validate(); err != nil {
		return nil, err
	}
	var o runOptions
	for _, f := range opts {
		f(&o)
	}
	if o.timeout <= 0 {
		o.timeout = e.cfg.JobTimeout
	}
	if err := ValidateEnv(o.env); err != nil {
		return nil, err
	}
	if err := ValidateVars(o.vars); err != nil {
		return nil, err
	}
	if o.files != nil {
		if err := o.files.Validate(); err != nil {
			return nil, err
		}
	}
	if e.jobs.isClosed() {
		return nil, ErrClosed
	}
	if changesState(op) {
		if err := e.ledger.checkRecovery(ctx, ref); err != nil {
			return nil, err
		}
	}
	if o.failFast && !e.locks.busy(ref) {
		// Another replica's job counts as much as one of this engine's.
		a, err := e.ledger.serviceActivity(ctx, ref)
		if err != nil {
			return nil, err
		}
		if a.leased || a.userJob && !o.background {
			return nil, fmt.Errorf("%s %s: %w (a job of another replica)", op, ref, ErrLocked)
		}
	}
	j := e.newJob(ref, op, o)
	preempt, err := e.locks.enqueue(j, o.failFast)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", op, ref, err)
	}
	if preempt != nil {
		preempt.preempt(op)
	}
	// The record must exist before the job can run, so a crash leaves a trace that start-up
	// turns into "interrupted". A store that cannot take it fails the request, lock freed.
	if err := e.ledger.saveJob(ctx, j); err != nil {
		if !e.locks.dequeue(j) {
			e.locks.release(j)
		}
		return nil, err
	}
	if !e.jobs.add(j) {
		if !e.locks.dequeue(j) {
			e.locks.release(j)
		}
		j.finish(StateCancelled, "engine shutting down")
		_ = e.ledger.saveJob(context.Background(), j)
		j.markDone()
		return nil, ErrClosed
	}
	if e.cfg.Cluster != nil {
		// Other replicas may stream it: its events go to the store as they happen.
		go e.ledger.publishEvents(j)
	}
	go e.run(j)
	return j, nil
}

// newJob is the queued job of a request.
func (e *scheduler) newJob(ref ServiceRef, op Operation, o runOptions) *Job {
	j := newJob(JobInfo{
		ID: uuid.NewString(), Operation: op, Service: ref, State: StateQueued,
		CreatedAt: timeNow(), Host: e.cfg.Host, PID: os.Getpid(), Background: o.background,
	})
	j.mask.Add(o.secrets...)
	j.env = o.env
	j.vars = o.vars
	for k, v := range o.env {
		if secretEnvName(k) {
			j.mask.Add(v)
		}
	}
	j.failFast = o.failFast
	j.replica = e.cfg.replicaID()
	j.readiness = o.readiness
	j.sweep = o.sweep
	j.files = o.files
	j.timeout = o.timeout
	j.emit(Event{Type: EventJobState, State: StateQueued, Level: "info", Message: fmt.Sprintf("job queued: %s %s", op, ref)})
	return j
}

// cancel carries out Engine.Cancel: the job decides (Job.cancel); a queued job is taken
// out of its queue here.
func (e *scheduler) cancel(id string, force bool) error {
	j, ok := e.jobs.get(id)
	if !ok {
		return fmt.Errorf("%w: job %s", ErrNotFound, id)
	}
	res, err := j.cancel(force, e.cfg.CancelCoolOff)
	if res == cancelQueued {
		if e.locks.dequeue(j) {
			if j.cancelQueued() {
				_ = e.ledger.saveJob(context.Background(), j)
				e.jobs.forget(j)
				j.markDone()
			}
			j.softCancel() // wakes run(), which returns without the service
			return nil
		}
		// It was granted the service meanwhile: run() sees the cancel before starting tofu.
		j.softCancel()
	}
	return err
}

// shutdown carries out Engine.Shutdown.
func (e *scheduler) shutdown(ctx context.Context) error {
	jobs, first := e.jobs.close()
	if first {
		close(e.stop)
	}
	// Leases are renewed until every job has ended.
	defer e.loops.stop()
	for _, j := range jobs {
		_ = e.cancel(j.ID(), false)
	}
	done := make(chan struct{})
	go func() { e.jobs.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	for _, j := range jobs {
		j.kill()
	}
	<-done
	return ctx.Err()
}

// run is job j's goroutine: it waits for the service, takes a slot (and the lease for
// an operation that changes state), runs the operation under the job's timeout and
// settles its end.
func (e *scheduler) run(j *Job) {
	defer e.jobs.wg.Done()
	ref := j.info.Service
	select {
	case <-j.granted:
	case <-j.softCtx.Done():
		// Cancelled while queued; Cancel may have raced the grant.
		select {
		case <-j.granted:
		default:
			return
		}
	}
	slot, leased := false, false
	end := func(state JobState, msg string) { e.settle(j, state, msg, slot, leased) }
	if j.softCtx.Err() != nil {
		end(StateCancelled, "cancelled before it started")
		return
	}
	// Operations that change state also hold the cross-replica lease, after the older
	// jobs of other replicas (takeLease); checks and output reads only read, without
	// tofu's state lock, and need none. The lease comes before a slot: a job waiting for
	// another replica does not keep this engine's other services waiting.
	if leaseNeeded(j.info.Operation) {
		if err := e.takeLease(j); err != nil {
			if j.softCtx.Err() != nil {
				end(StateCancelled, "cancelled while waiting for the service")
				return
			}
			_ = j.transition(StateRunning, "")
			end(StateFailed, "could not take the service's lease: "+err.Error())
			return
		}
		leased = true
	}
	if err := e.locks.acquireSlot(j.softCtx); err != nil {
		end(StateCancelled, "cancelled while waiting for a free slot")
		return
	}
	slot = true
	if err := j.transition(StateRunning, ""); err != nil {
		end(StateCancelled, "cancelled before it started")
		return
	}
	_ = e.ledger.saveJob(context.Background(), j)
	e.log.Info("job started", "job", j.ID(), "op", j.info.Operation, "service", ref.String())

	timer := time.AfterFunc(j.timeout, func() {
		j.timeOut()
		time.AfterFunc(e.cfg.KillGrace, func() { j.overdue() })
	})
	err := e.runner.execute(j)
	if errors.Is(err, keyring.ErrWrongKey) {
		j.keyErr = err
	}
	timer.Stop()
	end(j.outcome(err))
	info := j.Info()
	e.log.Info("job finished", "job", j.ID(), "op", info.Operation, "service", ref.String(), "state", info.State, "duration", info.Duration())
}

// settle ends job j in state: it records the final state, saves it, frees the service
// and only then closes Done, so whoever waited for the job finds the record written and
// the lock free. What the store cannot take now (it is down) is written later, in order
// (finishLater). slot and leased say what the job holds besides the service.
func (e *scheduler) settle(j *Job, state JobState, msg string, slot, leased bool) {
	ref := j.info.Service
	j.finish(state, msg)
	save, release := j.endWrites(leased)
	saved, released := false, !leased
	if save {
		saved = e.ledger.saveJob(context.Background(), j) == nil
	}
	if saved && !j.info.Background {
		e.ledger.pruneJobs(context.Background(), ref)
	}
	if release {
		released = e.ledger.releaseLease(context.Background(), j) == nil
	}
	if !j.settled(saved, released) {
		e.log.Error("the store did not take the end of a job: retrying in the background", "job", j.ID(),
			"record_saved", saved, "lease_released", released, "errored_state_kept", !j.erroredPending.Load())
		e.ledger.finishLater(j, saved, released)
	}
	if slot {
		e.locks.releaseSlot()
	}
	// A cancel request recorded for it (by another replica) has nothing left to cancel.
	_ = e.cfg.Store.Delete(context.Background(), cancelKey(ref, j.ID()))
	e.locks.release(j)
	j.hardCancel()
	e.jobs.forget(j)
	j.markDone()
}

// changesState reports whether an operation may write the service's state.
func changesState(op Operation) bool { return op == OpApply || op == OpDestroy || op == OpAccept }
