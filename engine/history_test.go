package engine

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestJobHistoryPruned: when a job ends, the service keeps its newest JobHistory
// finished records; older finished ones are deleted, a record that is not final (a job
// a dead process left running, which recovery still needs) is kept, and so is the
// latest background check, which lives apart.
func TestJobHistoryPruned(t *testing.T) {
	e, st := unitEngine(t, false)
	ref := ServiceRef{Client: "acme", Service: "web"}
	record := func(state JobState, background bool) string {
		id := uuid.NewString()
		info := JobInfo{ID: id, Operation: OpPlan, Service: ref, State: state, CreatedAt: timeNow(), Background: background}
		putJSON(t, st, recordKey(info), jobRecord{JobInfo: info})
		return id
	}
	running := record(StateRunning, false)
	var old []string
	for range 9 {
		old = append(old, record(StateSucceeded, false))
	}
	check := record(StateSucceeded, true)
	time.Sleep(50 * time.Millisecond) // the newer records are written measurably later
	var recent []string
	for range DefaultJobHistory {
		recent = append(recent, record(StateFailed, false))
	}

	e.ledger.pruneJobs(context.Background(), ref)

	for _, id := range old {
		if exists(st, jobKey(ref, id)) {
			t.Errorf("old finished job %s kept", id)
		}
	}
	for _, id := range recent {
		if !exists(st, jobKey(ref, id)) {
			t.Fatalf("recent job %s deleted", id)
		}
	}
	if !exists(st, jobKey(ref, running)) {
		t.Error("a job record that is not final was deleted")
	}
	if info, _, err := e.LoadJob(context.Background(), ref, check); err != nil || !info.Background {
		t.Errorf("the latest background check: %+v, %v", info, err)
	}
	jobs, err := e.ListJobs(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != DefaultJobHistory+1 {
		t.Errorf("ListJobs lists %d jobs, want %d", len(jobs), DefaultJobHistory+1)
	}
	// Under the limit, nothing goes.
	e.ledger.pruneJobs(context.Background(), ref)
	if again, _ := e.ListJobs(context.Background(), ref); len(again) != len(jobs) {
		t.Errorf("a second prune deleted %d more records", len(jobs)-len(again))
	}
}

// TestJobEndPrunes: the end of a job is what prunes the history.
func TestJobEndPrunes(t *testing.T) {
	e, st := unitEngine(t, false)
	e.cfg.JobHistory = 3
	ref := ServiceRef{Client: "acme", Service: "api"}
	for range 5 {
		info := JobInfo{ID: uuid.NewString(), Operation: OpPlan, Service: ref, State: StateSucceeded, CreatedAt: timeNow()}
		putJSON(t, st, jobKey(ref, info.ID), jobRecord{JobInfo: info})
	}
	time.Sleep(50 * time.Millisecond)
	j, err := e.Plan(context.Background(), ref) // fails (no module, no tofu), and ends
	if err != nil {
		t.Fatal(err)
	}
	<-j.Done()
	jobs, err := e.ListJobs(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 3 || jobs[0].ID != j.ID() {
		t.Fatalf("after a job ended with JobHistory 3: %d jobs, newest %s (want %s)", len(jobs), jobs[0].ID, j.ID())
	}
}

// TestLastJobFollowsRecordChanges: the last job follows the newest record as it is
// rewritten (infos are cached per record version), and background checks are not it.
func TestLastJobFollowsRecordChanges(t *testing.T) {
	e, st := unitEngine(t, false)
	ref := ServiceRef{Client: "acme", Service: "last"}
	if last, err := e.LastJob(context.Background(), ref); err != nil || last != nil {
		t.Fatalf("a service without jobs: %+v, %v", last, err)
	}
	older := JobInfo{ID: uuid.NewString(), Operation: OpPlan, Service: ref, State: StateSucceeded, CreatedAt: timeNow()}
	putJSON(t, st, recordKey(older), jobRecord{JobInfo: older})
	time.Sleep(50 * time.Millisecond) // the newer record is written measurably later
	id := uuid.NewString()
	for _, state := range []JobState{StateRunning, StateSucceeded, StateInterrupted} {
		info := JobInfo{ID: id, Operation: OpApply, Service: ref, State: state, CreatedAt: timeNow()}
		putJSON(t, st, recordKey(info), jobRecord{JobInfo: info, Events: []Event{{Seq: 1, Type: EventLog, Message: "x"}}})
		check := JobInfo{ID: uuid.NewString(), Operation: OpDrift, Service: ref, State: StateSucceeded, CreatedAt: timeNow(), Background: true}
		putJSON(t, st, recordKey(check), jobRecord{JobInfo: check})
		for range 2 { // the second read comes from the cache
			last, err := e.LastJob(context.Background(), ref)
			if err != nil || last == nil || last.ID != id || last.State != state {
				t.Fatalf("after the record says %s: %+v, %v", state, last, err)
			}
		}
	}
}
