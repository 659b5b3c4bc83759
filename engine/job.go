package engine

import (
	"context"
	"fmt"
	"iter"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spawnit/spawnit"
	"github.com/spawnit/spawnit/pkg/redact"
)

// Operation is what a job does (the kernel's type; its constants are repeated here).
type Operation = spawnit.Operation

// Operations.
const (
	OpPlan    = spawnit.OpPlan
	OpApply   = spawnit.OpApply
	OpDestroy = spawnit.OpDestroy
	OpDrift   = spawnit.OpDrift
	// OpAccept records reality as the new state (a refresh-only apply): drift accepted.
	OpAccept = spawnit.OpAccept
	// OpOutputs reads the module outputs, sensitive values included (they stay in memory
	// in the job's Info and are never persisted or sent as events).
	OpOutputs = spawnit.OpOutputs
)

// JobState is where a job is in its life; the kernel holds the states and the
// transitions allowed between them (spawnit.CheckTransition).
//
//	queued -> running -> succeeded | failed | cancelled
//	queued -> cancelled
//	running -> cancelling -> cancelled | failed | succeeded
//	(any non-final) -> interrupted   (found at start-up: the process running it died)
type JobState = spawnit.JobState

// Job states.
const (
	StateQueued      = spawnit.StateQueued
	StateRunning     = spawnit.StateRunning
	StateCancelling  = spawnit.StateCancelling
	StateSucceeded   = spawnit.StateSucceeded
	StateFailed      = spawnit.StateFailed
	StateCancelled   = spawnit.StateCancelled
	StateInterrupted = spawnit.StateInterrupted
)

// ErrInvalidTransition is returned for a state change the machine does not allow.
var ErrInvalidTransition error = spawnit.ErrInvalidTransition

func checkTransition(from, to JobState) error { return spawnit.CheckTransition(from, to) }

// LockHolder says who holds a service's lock.
type LockHolder struct {
	JobID string    `json:"job_id"`
	Host  string    `json:"host"`
	PID   int       `json:"pid"`
	Since time.Time `json:"since"`
}

// JobInfo is a snapshot of a job, as stored and as returned to callers.
type JobInfo struct {
	ID        string     `json:"id"`
	Operation Operation  `json:"operation"`
	Service   ServiceRef `json:"service"`
	State     JobState   `json:"state"`
	CreatedAt time.Time  `json:"created_at"`
	StartedAt *time.Time `json:"started_at,omitempty"`
	EndedAt   *time.Time `json:"ended_at,omitempty"`
	// CancelRequestedAt is set by the first cancel; a forced cancel is allowed a cool-off later.
	CancelRequestedAt *time.Time `json:"cancel_requested_at,omitempty"`
	Error             string     `json:"error,omitempty"`
	// Background: a supervisor's check (see Background). Its record is not part of the
	// service's job history: only the latest one is kept.
	Background bool `json:"background,omitempty"`
	// Holder is the process that ran (or runs) the job.
	Host string `json:"host"`
	PID  int    `json:"pid"`

	Changes *ChangeSummary    `json:"changes,omitempty"`
	Plan    *PlanSummary      `json:"plan,omitempty"`
	Outputs map[string]Output `json:"outputs,omitempty"`
	Drift   *DriftReport      `json:"drift,omitempty"`
	// Leftovers are the objects outside the state that the job's sweeps found (see
	// WithSweep), removed or not.
	Leftovers []Leftover `json:"leftovers,omitempty"`
	// LastSeq is the sequence number of the last event.
	LastSeq int64 `json:"last_seq"`
}

// Duration is how long the job ran (so far).
func (i JobInfo) Duration() time.Duration {
	if i.StartedAt == nil {
		return 0
	}
	end := time.Now()
	if i.EndedAt != nil {
		end = *i.EndedAt
	}
	return end.Sub(*i.StartedAt)
}

// MaxEvents bounds a job's in-memory event log; past it, log lines are dropped (one
// "truncated" event says so) while lifecycle, resource and summary events are kept.
const MaxEvents = 50_000

// Job is a running or finished operation. Its methods are safe for concurrent use.
type Job struct {
	mu      sync.Mutex
	info    JobInfo
	events  []Event
	dropped int
	changed chan struct{} // closed and replaced on every append: a broadcast to followers
	done    chan struct{}
	mask    redact.Redactor // the job's secret values, hidden in its events and error
	// endedFrom and endedErr are the state and error the job had before its final
	// state: what Info shows until Done.
	endedFrom JobState
	endedErr  string

	// set by the engine
	ctx        context.Context // the job's own context: cancelled by a forced cancel
	hardCancel context.CancelFunc
	softCtx    context.Context // cancelled by the first cancel: no new step starts
	softCancel context.CancelFunc
	failFast   bool
	replica    string            // the cluster id of the replica holding it
	env        map[string]string // added to tofu's environment (WithEnv)
	vars       map[string]string // module variables, given as TF_VAR_<name> (WithVars)
	encryption string            // TF_ENCRYPTION for the job's service ("" for none)
	keyErr     error             // the job failed for want of the right key (set before it ends)
	readiness  ReadinessFunc     // after an apply: wait for the service to be ready
	sweep      SweepFunc         // objects of the target outside the state (WithSweep)
	files      Files             // the job's files instead of the Source's (WithFiles)
	preempted  atomic.Bool       // cancelled to let a user's job run
	granted    chan struct{}     // closed when the service lock (and a slot) is granted
	proc       procHandle
	// timeout is how long the job may run; timedOut is set (under mu) when it ran longer.
	timeout  time.Duration
	timedOut bool
	// clock is the time the job's transitions record (time.Now; tests set their own).
	clock func() time.Time

	// erroredPending: tofu left errored.tfstate and the store did not take it yet.
	erroredPending atomic.Bool

	// flush carries the job's events to the store while it runs (eventlog.go).
	flush eventFlush
}

func newJob(info JobInfo) *Job {
	ctx, hard := context.WithCancel(context.Background())
	soft, softCancel := context.WithCancel(ctx)
	return &Job{
		info:       info,
		changed:    make(chan struct{}),
		done:       make(chan struct{}),
		ctx:        ctx,
		hardCancel: hard,
		softCtx:    soft,
		softCancel: softCancel,
		granted:    make(chan struct{}),
		clock:      time.Now,
	}
}

// ID returns the job's id.
func (j *Job) ID() string { return j.info.ID }

// Info returns a snapshot of the job. Its state is final once the job is done: its
// record saved and the service freed, so whoever sees it final finds the service free
// (Done closes at the same moment). While it ends, it shows the state it ended from.
func (j *Job) Info() JobInfo {
	j.mu.Lock()
	defer j.mu.Unlock()
	info := j.snapshot()
	if info.State.Final() && !j.isDone() {
		info.State, info.EndedAt, info.Error = j.endedFrom, nil, j.endedErr
	}
	return info
}

// ended reports whether the job reached its final state, done or not yet.
func (j *Job) ended() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.info.State.Final()
}

func (j *Job) snapshot() JobInfo {
	info := j.info
	info.Outputs = copyOutputs(info.Outputs)
	info.Leftovers = append([]Leftover(nil), info.Leftovers...)
	return info
}

func copyOutputs(in map[string]Output) map[string]Output {
	if in == nil {
		return nil
	}
	out := make(map[string]Output, len(in))
	for k, v := range in {
		out[k] = v
	}
	return out
}

// Done is closed when the job reaches a final state.
func (j *Job) Done() <-chan struct{} { return j.done }

// Wait blocks until the job ends or ctx is done, and returns the final snapshot.
func (j *Job) Wait(ctx context.Context) (JobInfo, error) {
	select {
	case <-j.done:
		return j.Info(), nil
	case <-ctx.Done():
		return j.Info(), ctx.Err()
	}
}

// Events returns the events recorded so far with Seq > after, without waiting.
func (j *Job) Events(after int64) []Event {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.eventsAfter(after)
}

func (j *Job) eventsAfter(after int64) []Event {
	// Seq n sits at index n-1 unless log lines were dropped past MaxEvents; search from
	// the end in that case (rare, bounded by MaxEvents).
	if after < 0 {
		after = 0
	}
	if int(after) <= len(j.events) && (after == 0 || j.events[after-1].Seq == after) {
		return append([]Event(nil), j.events[after:]...)
	}
	for i := len(j.events) - 1; i >= 0; i-- {
		if j.events[i].Seq <= after {
			return append([]Event(nil), j.events[i+1:]...)
		}
	}
	return append([]Event(nil), j.events...)
}

// Follow yields every event with Seq > after, waiting for new ones, and stops after the
// job's final event or when ctx is done. Each follower reads the shared log at its own
// pace: a slow follower never slows the job.
func (j *Job) Follow(ctx context.Context, after int64) iter.Seq[Event] {
	return func(yield func(Event) bool) {
		for {
			j.mu.Lock()
			batch := j.eventsAfter(after)
			changed := j.changed
			finished := j.info.State.Final() && j.isDone()
			j.mu.Unlock()
			for _, ev := range batch {
				if !yield(ev) {
					return
				}
				after = ev.Seq
			}
			if len(batch) > 0 {
				continue
			}
			if finished {
				return
			}
			select {
			case <-changed:
			case <-ctx.Done():
				return
			}
		}
	}
}

func (j *Job) isDone() bool {
	select {
	case <-j.done:
		return true
	default:
		return false
	}
}

// emit appends an event, masking secrets, and wakes followers.
func (j *Job) emit(ev Event) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.appendLocked(ev)
}

func (j *Job) appendLocked(ev Event) {
	if len(j.events) >= MaxEvents && ev.Type == EventLog {
		if j.dropped == 0 {
			j.dropped++
			j.appendLocked(Event{Type: EventStreamTruncate, Level: "warn",
				Message: fmt.Sprintf("more than %d events: further log lines are dropped", MaxEvents)})
			return
		}
		j.dropped++
		return
	}
	if ev.Time.IsZero() {
		ev.Time = time.Now().UTC()
	}
	maskEvent(&j.mask, &ev)
	j.info.LastSeq++
	ev.Seq = j.info.LastSeq
	j.events = append(j.events, ev)
	close(j.changed)
	j.changed = make(chan struct{})
}

// transition moves the job to a new state and records it as an event.
func (j *Job) transition(to JobState, errMsg string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.transitionLocked(to, errMsg)
}

func (j *Job) transitionLocked(to JobState, errMsg string) error {
	if err := checkTransition(j.info.State, to); err != nil {
		return err
	}
	now := j.clock().UTC()
	if to.Final() {
		j.endedFrom, j.endedErr = j.info.State, j.info.Error
	}
	j.info.State = to
	switch {
	case to == StateRunning:
		j.info.StartedAt = &now
	case to == StateCancelling:
		j.info.CancelRequestedAt = &now
	case to.Final():
		j.info.EndedAt = &now
	}
	if errMsg != "" {
		j.info.Error = j.mask.String(errMsg)
	}
	msg := "job " + string(to)
	level := "info"
	if errMsg != "" {
		msg += ": " + errMsg
		level = "error"
	}
	j.appendLocked(Event{Type: EventJobState, State: to, Level: level, Message: msg})
	return nil
}

// finish records the final state once; later calls are ignored, so a cancel racing
// completion ends in exactly one final state. Done is closed separately (markDone),
// after the record is saved and the lock released, so a caller that waited for the job
// finds the service free.
func (j *Job) finish(to JobState, errMsg string) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.info.State.Final() {
		return false
	}
	return j.transitionLocked(to, errMsg) == nil
}

// markDone closes Done once and wakes followers so they see the end.
func (j *Job) markDone() {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.isDone() {
		return
	}
	close(j.done)
	close(j.changed)
	j.changed = make(chan struct{})
}

func (j *Job) update(f func(info *JobInfo)) {
	j.mu.Lock()
	defer j.mu.Unlock()
	f(&j.info)
}

// record returns what is persisted: the snapshot (sensitive output values removed) and
// the event log.
func (j *Job) record() jobRecord {
	j.mu.Lock()
	defer j.mu.Unlock()
	info := j.snapshot()
	info.Outputs = redactOutputs(info.Outputs)
	return jobRecord{JobInfo: info, Replica: j.replica, Events: append([]Event(nil), j.events...)}
}

type jobRecord struct {
	JobInfo
	// Replica is the cluster id of the replica holding the job (Config.Cluster), empty
	// for an engine alone on its store: how other replicas tell whether it is alive.
	Replica string  `json:"replica,omitempty"`
	Events  []Event `json:"events"`
}

// The decisions of a job's life: what a cancel, a timeout, a user's job arriving behind
// a check and the end of tofu's run do to the job. They change only the job's state,
// its event log and its contexts; the runner holding tofu's process reacts to the
// contexts (softCtx done: tofu is interrupted once; ctx done: its process group is
// killed), and the engine does the writing.

// cancelResult says what a cancel request left for the engine to do.
type cancelResult int

const (
	// cancelDone: nothing more (tofu is being stopped, or will be before it starts).
	cancelDone cancelResult = iota
	// cancelQueued: the job waits in its service's queue; the engine removes it and,
	// when it was still there, ends it as cancelled.
	cancelQueued
)

// cancel applies a cancel request. The first cancel of a running job moves it to
// cancelling and stops it gracefully; a forced one is refused (ErrCoolOff) until
// coolOff has passed since then, and kills tofu. A finished job refuses any
// (ErrJobFinished).
func (j *Job) cancel(force bool, coolOff time.Duration) (cancelResult, error) {
	j.mu.Lock()
	switch state := j.info.State; {
	case state.Final():
		j.mu.Unlock()
		return cancelDone, ErrJobFinished
	case state == StateQueued:
		j.mu.Unlock()
		return cancelQueued, nil
	case state == StateRunning:
		_ = j.transitionLocked(StateCancelling, "")
		j.mu.Unlock()
		j.softCancel()
		if force {
			return cancelDone, fmt.Errorf("%w: graceful cancel sent; force again after %s", ErrCoolOff, coolOff)
		}
		return cancelDone, nil
	default: // cancelling
		since := j.clock().Sub(*j.info.CancelRequestedAt)
		if !force {
			j.mu.Unlock()
			return cancelDone, nil
		}
		if since < coolOff {
			j.mu.Unlock()
			return cancelDone, fmt.Errorf("%w: %s left", ErrCoolOff, (coolOff - since).Round(time.Second))
		}
		j.appendLocked(Event{Type: EventLog, Level: "warn", Message: "forced cancel: killing tofu and its providers"})
		j.mu.Unlock()
		j.hardCancel()
		return cancelDone, nil
	}
}

// cancelQueued ends a job that was removed from its queue before it ran; false when it
// had ended already.
func (j *Job) cancelQueued() bool { return j.finish(StateCancelled, "cancelled while queued") }

// preempt stops a background check at once for a user's op waiting behind it. A check
// only reads (its plan takes no state lock and writes no state), so it is killed rather
// than asked: tofu's graceful stop waits for in-flight provider calls, which is exactly
// what a stuck check is blocked on.
func (j *Job) preempt(by Operation) {
	j.preempted.Store(true)
	j.emit(Event{Type: EventLog, Level: "info", Message: "a user's " + string(by) + " is waiting: stopping this check"})
	j.softCancel()
	j.hardCancel()
}

// timeOut stops a job that ran longer than its timeout as a cancel would (tofu is
// interrupted and the job shows cancelling); its end will be failed.
func (j *Job) timeOut() {
	j.mu.Lock()
	j.timedOut = true
	j.appendLocked(Event{Type: EventLog, Level: "error", Message: fmt.Sprintf("job timed out after %s: interrupting tofu", j.timeout)})
	if j.info.State == StateRunning {
		_ = j.transitionLocked(StateCancelling, "")
	}
	j.mu.Unlock()
	j.softCancel()
}

// overdue kills tofu when the job has not ended a grace period after timing out (a
// hung provider ignores the interrupt). It reports whether it did.
func (j *Job) overdue() bool {
	if j.isDone() {
		return false
	}
	j.emit(Event{Type: EventLog, Level: "error", Message: "tofu did not stop within the grace period: killing it"})
	j.hardCancel()
	return true
}

// kill stops the job at once (tofu's process group killed): what is left at shutdown.
func (j *Job) kill() { j.hardCancel() }

// outcome decides the final state of a job whose operation returned err: a timeout
// fails it, a preemption or a cancel cancels it, an error fails it.
func (j *Job) outcome(err error) (JobState, string) {
	j.mu.Lock()
	timedOut := j.timedOut
	j.mu.Unlock()
	switch {
	case err == nil:
		return StateSucceeded, ""
	case timedOut:
		return StateFailed, fmt.Sprintf("timed out after %s: %v", j.timeout, err)
	case j.preempted.Load():
		return StateCancelled, "stopped to let a user's job run"
	case j.softCtx.Err() != nil:
		return StateCancelled, "cancelled: " + err.Error()
	default:
		return StateFailed, err.Error()
	}
}

// endWrites says what the end of the job writes at once, given whether it holds the
// service's lease: its final record and the lease's release, unless tofu left an
// errored state the store did not take yet. Until that is stored (and the service is
// marked as needing recovery) both wait, so no process takes the service and runs tofu
// on the state tofu could not save.
func (j *Job) endWrites(leased bool) (saveRecord, releaseLease bool) {
	pending := j.erroredPending.Load()
	return !pending, leased && !pending
}

// settled reports whether the end of the job is fully written: its record saved, its
// lease (if any) released and no errored state left to store.
func (j *Job) settled(saved, released bool) bool {
	return saved && released && !j.erroredPending.Load()
}
