package engine

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// testJob is a job in state, with a clock the test moves.
func testJob(t *testing.T, state JobState) (*Job, *time.Time) {
	t.Helper()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	j := newJob(JobInfo{ID: "j", Operation: OpApply, State: StateQueued})
	j.clock = func() time.Time { return now }
	j.timeout = time.Hour
	path := map[JobState][]JobState{
		StateQueued:     nil,
		StateRunning:    {StateRunning},
		StateCancelling: {StateRunning, StateCancelling},
		StateSucceeded:  {StateRunning, StateSucceeded},
		StateFailed:     {StateRunning, StateFailed},
		StateCancelled:  {StateCancelled},
	}[state]
	for _, s := range path {
		if err := j.transition(s, ""); err != nil {
			t.Fatal(err)
		}
	}
	return j, &now
}

func (j *Job) state() JobState {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.info.State
}

func TestCancelDecisions(t *testing.T) {
	const coolOff = 10 * time.Second
	for _, tc := range []struct {
		name    string
		state   JobState
		force   bool
		elapsed time.Duration // since the first cancel, for a cancelling job
		result  cancelResult
		err     error
		after   JobState
		soft    bool // the job's steps stop: tofu is interrupted
		hard    bool // tofu's process group is killed
	}{
		{name: "queued", state: StateQueued, result: cancelQueued, after: StateQueued},
		{name: "queued forced", state: StateQueued, force: true, result: cancelQueued, after: StateQueued},
		{name: "running", state: StateRunning, after: StateCancelling, soft: true},
		{name: "running forced first", state: StateRunning, force: true, err: ErrCoolOff, after: StateCancelling, soft: true},
		{name: "cancelling again", state: StateCancelling, elapsed: time.Hour, after: StateCancelling},
		{name: "forced within the cool-off", state: StateCancelling, force: true, elapsed: coolOff - time.Second, err: ErrCoolOff, after: StateCancelling},
		{name: "forced after the cool-off", state: StateCancelling, force: true, elapsed: coolOff, after: StateCancelling, soft: true, hard: true},
		{name: "succeeded", state: StateSucceeded, err: ErrJobFinished, after: StateSucceeded},
		{name: "failed forced", state: StateFailed, force: true, err: ErrJobFinished, after: StateFailed},
		{name: "cancelled", state: StateCancelled, err: ErrJobFinished, after: StateCancelled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j, now := testJob(t, tc.state)
			*now = now.Add(tc.elapsed)
			res, err := j.cancel(tc.force, coolOff)
			if res != tc.result || !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
				t.Fatalf("cancel = %v, %v; want %v, %v", res, err, tc.result, tc.err)
			}
			if s := j.state(); s != tc.after {
				t.Fatalf("state %s, want %s", s, tc.after)
			}
			if soft := j.softCtx.Err() != nil; soft != tc.soft {
				t.Fatalf("steps stopped: %v, want %v", soft, tc.soft)
			}
			if hard := j.ctx.Err() != nil; hard != tc.hard {
				t.Fatalf("tofu killed: %v, want %v", hard, tc.hard)
			}
		})
	}
}

func TestCoolOffSaysWhatIsLeft(t *testing.T) {
	j, now := testJob(t, StateCancelling)
	*now = now.Add(3 * time.Second)
	_, err := j.cancel(true, 10*time.Second)
	if !errors.Is(err, ErrCoolOff) || !strings.Contains(err.Error(), "7s left") {
		t.Fatalf("forced cancel 3s after the first: %v", err)
	}
}

func TestOutcome(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		name                          string
		err                           error
		timedOut, preempted, canceled bool
		state                         JobState
		msg                           string
	}{
		{name: "success", state: StateSucceeded},
		{name: "success despite a late cancel", canceled: true, state: StateSucceeded},
		{name: "error", err: boom, state: StateFailed, msg: "boom"},
		{name: "cancelled", err: boom, canceled: true, state: StateCancelled, msg: "cancelled: boom"},
		{name: "preempted", err: boom, preempted: true, canceled: true, state: StateCancelled, msg: "stopped to let a user's job run"},
		{name: "timed out", err: boom, timedOut: true, canceled: true, state: StateFailed, msg: "timed out after 1h0m0s: boom"},
		{name: "timed out while preempted", err: boom, timedOut: true, preempted: true, state: StateFailed, msg: "timed out after 1h0m0s: boom"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j, _ := testJob(t, StateRunning)
			j.timedOut = tc.timedOut
			j.preempted.Store(tc.preempted)
			if tc.canceled {
				j.softCancel()
			}
			state, msg := j.outcome(tc.err)
			if state != tc.state || msg != tc.msg {
				t.Fatalf("outcome = %s %q; want %s %q", state, msg, tc.state, tc.msg)
			}
		})
	}
}

func TestTimeOutThenOverdue(t *testing.T) {
	j, _ := testJob(t, StateRunning)
	j.timeOut()
	if j.state() != StateCancelling || j.softCtx.Err() == nil || j.ctx.Err() != nil {
		t.Fatalf("after the timeout: %s, steps stopped %v, killed %v", j.state(), j.softCtx.Err() != nil, j.ctx.Err() != nil)
	}
	if !j.overdue() || j.ctx.Err() == nil {
		t.Fatal("a job still running after the grace period is not killed")
	}
	if state, _ := j.outcome(errors.New("signal: killed")); state != StateFailed {
		t.Fatalf("a timed-out job ends %s", state)
	}
	// One that ended in time is left alone.
	k, _ := testJob(t, StateRunning)
	k.timeOut()
	k.finish(StateFailed, "timed out")
	k.markDone()
	if k.overdue() {
		t.Fatal("a finished job was killed")
	}
}

func TestTimeOutOfACancellingJobKeepsItsState(t *testing.T) {
	j, _ := testJob(t, StateCancelling)
	before := len(j.Events(0))
	j.timeOut()
	if j.state() != StateCancelling {
		t.Fatalf("state %s", j.state())
	}
	if evs := j.Events(0); len(evs) != before+1 || evs[len(evs)-1].Level != "error" {
		t.Fatalf("events after the timeout: %+v", evs[before:])
	}
}

func TestPreemptKillsAtOnce(t *testing.T) {
	j, _ := testJob(t, StateRunning)
	j.info.Background = true
	j.preempt(OpApply)
	if !j.preempted.Load() || j.softCtx.Err() == nil || j.ctx.Err() == nil {
		t.Fatal("a preempted check is not stopped at once")
	}
	if state, msg := j.outcome(errors.New("signal: killed")); state != StateCancelled || !strings.Contains(msg, "user's job") {
		t.Fatalf("a preempted check ends %s %q", state, msg)
	}
}

func TestEndWrites(t *testing.T) {
	for _, tc := range []struct {
		leased, pending     bool
		save, release       bool
		saved, released, ok bool
	}{
		{leased: false, save: true, release: false, saved: true, released: true, ok: true},
		{leased: true, save: true, release: true, saved: true, released: true, ok: true},
		{leased: true, save: true, release: true, saved: false, released: true, ok: false},
		{leased: true, save: true, release: true, saved: true, released: false, ok: false},
		// tofu left an errored state the store did not take: record and lease wait.
		{leased: true, pending: true, save: false, release: false, saved: false, released: false, ok: false},
	} {
		j, _ := testJob(t, StateSucceeded)
		j.erroredPending.Store(tc.pending)
		save, release := j.endWrites(tc.leased)
		if save != tc.save || release != tc.release {
			t.Errorf("%+v: endWrites = %v, %v", tc, save, release)
		}
		if ok := j.settled(tc.saved, tc.released); ok != tc.ok {
			t.Errorf("%+v: settled = %v", tc, ok)
		}
	}
}

// A cancel racing the job's completion ends it in exactly one final state, with one
// final event, whichever wins.
func TestCancelRacingCompletion(t *testing.T) {
	for _, start := range []JobState{StateQueued, StateRunning} {
		for range 50 {
			j, _ := testJob(t, start)
			var wg sync.WaitGroup
			wg.Add(2)
			go func() {
				defer wg.Done()
				if res, _ := j.cancel(false, time.Second); res == cancelQueued {
					j.cancelQueued()
				}
			}()
			go func() {
				defer wg.Done()
				if start == StateQueued {
					if j.transition(StateRunning, "") != nil {
						return // cancelled first
					}
				}
				j.finish(j.outcome(nil))
			}()
			wg.Wait()
			j.markDone()
			info := j.Info()
			if !info.State.Final() {
				t.Fatalf("from %s: not final: %s", start, info.State)
			}
			finals := 0
			for _, ev := range j.Events(0) {
				if ev.Type == EventJobState && ev.State.Final() {
					finals++
					if ev.State != info.State {
						t.Fatalf("final event %s, state %s", ev.State, info.State)
					}
				}
			}
			if finals != 1 {
				t.Fatalf("from %s: %d final events", start, finals)
			}
		}
	}
}
