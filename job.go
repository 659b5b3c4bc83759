package spawnit

import "fmt"

// Operation is what a job does.
type Operation string

// Operations.
const (
	OpPlan    Operation = "plan"
	OpApply   Operation = "apply"
	OpDestroy Operation = "destroy"
	OpDrift   Operation = "drift"
	// OpAccept records reality as the new state (a refresh-only apply): drift accepted.
	OpAccept Operation = "accept"
	// OpOutputs reads the module outputs, sensitive values included (they stay in memory
	// and are never persisted or sent as events).
	OpOutputs Operation = "outputs"
)

// JobState is where a job is in its life.
//
//	queued -> running -> succeeded | failed | cancelled
//	queued -> cancelled
//	running -> cancelling -> cancelled | failed | succeeded
//	(any non-final) -> interrupted   (found at start-up: the process running it died)
type JobState string

// Job states.
const (
	StateQueued      JobState = "queued"
	StateRunning     JobState = "running"
	StateCancelling  JobState = "cancelling"
	StateSucceeded   JobState = "succeeded"
	StateFailed      JobState = "failed"
	StateCancelled   JobState = "cancelled"
	StateInterrupted JobState = "interrupted"
)

// Final reports whether no further transition is possible.
func (s JobState) Final() bool {
	switch s {
	case StateSucceeded, StateFailed, StateCancelled, StateInterrupted:
		return true
	}
	return false
}

// transitions lists the states each non-final state may move to.
var transitions = map[JobState][]JobState{
	StateQueued:     {StateRunning, StateCancelled, StateInterrupted, StateFailed},
	StateRunning:    {StateCancelling, StateSucceeded, StateFailed, StateCancelled, StateInterrupted},
	StateCancelling: {StateCancelled, StateFailed, StateSucceeded, StateInterrupted},
}

// ErrInvalidTransition is returned for a state change the machine does not allow. It
// is a bug of the caller, never the user's: an internal error.
var ErrInvalidTransition = NewError(KindInternal, "invalid job state transition", "")

// CheckTransition returns nil when a job may move from one state to the other, and an
// error wrapping ErrInvalidTransition otherwise.
func CheckTransition(from, to JobState) error {
	for _, s := range transitions[from] {
		if s == to {
			return nil
		}
	}
	return fmt.Errorf("%w: %s -> %s", ErrInvalidTransition, from, to)
}

// EventType says what a job event carries.
type EventType string

// Event types. The tofu ones mirror OpenTofu's machine-readable UI (-json) messages; the
// engine adds job lifecycle events.
const (
	EventJobState       EventType = "job_state"      // the job moved to State
	EventLog            EventType = "log"            // a log line (tofu's, or the engine's)
	EventDiagnostic     EventType = "diagnostic"     // a warning or error from tofu
	EventPlannedChange  EventType = "planned_change" // a change the plan will make
	EventResourceDrift  EventType = "resource_drift" // a change made outside SpawnIt
	EventChangeSummary  EventType = "change_summary" // counts of changes (plan or apply)
	EventApplyStart     EventType = "apply_start"    // a resource operation started
	EventApplyProgress  EventType = "apply_progress" // still working on a resource
	EventApplyComplete  EventType = "apply_complete" // a resource operation finished
	EventApplyErrored   EventType = "apply_errored"  // a resource operation failed
	EventRefreshStart   EventType = "refresh_start"  // reading a resource's real state
	EventRefreshDone    EventType = "refresh_complete"
	EventOutputs        EventType = "outputs" // output values (sensitive ones without value)
	EventOther          EventType = "other"   // a tofu message type the engine does not model
	EventStreamTruncate EventType = "truncated"
	// EventLeftovers: objects of the service's target carrying its labels that its
	// state does not record (left by a cancelled call), removed or not.
	EventLeftovers EventType = "leftovers"
)
