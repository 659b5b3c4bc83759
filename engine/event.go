package engine

import (
	"encoding/json"
	"time"

	"github.com/spawnit/spawnit"
)

// EventType says what an Event carries (the kernel's type).
type EventType = spawnit.EventType

// Event types. The tofu ones mirror OpenTofu's machine-readable UI (-json) messages; the
// engine adds job lifecycle events.
const (
	EventJobState       = spawnit.EventJobState       // the job moved to State
	EventLog            = spawnit.EventLog            // a log line (tofu's, or the engine's)
	EventDiagnostic     = spawnit.EventDiagnostic     // a warning or error from tofu
	EventPlannedChange  = spawnit.EventPlannedChange  // a change the plan will make
	EventResourceDrift  = spawnit.EventResourceDrift  // a change made outside SpawnIt
	EventChangeSummary  = spawnit.EventChangeSummary  // counts of changes (plan or apply)
	EventApplyStart     = spawnit.EventApplyStart     // a resource operation started
	EventApplyProgress  = spawnit.EventApplyProgress  // still working on a resource
	EventApplyComplete  = spawnit.EventApplyComplete  // a resource operation finished
	EventApplyErrored   = spawnit.EventApplyErrored   // a resource operation failed
	EventRefreshStart   = spawnit.EventRefreshStart   // reading a resource's real state
	EventRefreshDone    = spawnit.EventRefreshDone    // a resource's real state was read
	EventOutputs        = spawnit.EventOutputs        // output values (sensitive ones without value)
	EventOther          = spawnit.EventOther          // a tofu message type the engine does not model
	EventStreamTruncate = spawnit.EventStreamTruncate // log lines were dropped past MaxEvents
	EventLeftovers      = spawnit.EventLeftovers      // objects found outside the state (see WithSweep)
)

// Event is one numbered entry of a job's event log. Seq starts at 1 and has no gaps, so a
// follower resuming after Seq n misses nothing and sees nothing twice.
type Event struct {
	Seq     int64     `json:"seq"`
	Time    time.Time `json:"time"`
	Type    EventType `json:"type"`
	Level   string    `json:"level,omitempty"` // info, warn, error
	Message string    `json:"message,omitempty"`

	State      JobState          `json:"state,omitempty"`
	Resource   *ResourceEvent    `json:"resource,omitempty"`
	Summary    *ChangeSummary    `json:"summary,omitempty"`
	Diagnostic *Diagnostic       `json:"diagnostic,omitempty"`
	Outputs    map[string]Output `json:"outputs,omitempty"`
	// Leftovers is set for EventLeftovers: what a sweep found.
	Leftovers []Leftover `json:"leftovers,omitempty"`
	// Raw is set for EventOther: tofu's message type, for forward compatibility.
	Raw string `json:"raw_type,omitempty"`
}

// ResourceEvent describes the resource a planned change, drift or apply hook is about.
type ResourceEvent struct {
	Address string  `json:"address"`
	Type    string  `json:"type,omitempty"`
	Name    string  `json:"name,omitempty"`
	Action  string  `json:"action,omitempty"` // create, update, delete, replace, read, noop
	Reason  string  `json:"reason,omitempty"`
	IDKey   string  `json:"id_key,omitempty"`
	IDValue string  `json:"id_value,omitempty"`
	Elapsed float64 `json:"elapsed_seconds,omitempty"`
}

// ChangeSummary counts a plan's or an apply's changes.
type ChangeSummary struct {
	Add       int    `json:"add"`
	Change    int    `json:"change"`
	Remove    int    `json:"remove"`
	Import    int    `json:"import"`
	Operation string `json:"operation,omitempty"` // plan, apply, destroy
	// Failed counts the changes that failed and NotReached those never tried because
	// tofu stopped first: a failed apply's counts say what happened, not what was
	// planned.
	Failed     int `json:"failed,omitempty"`
	NotReached int `json:"not_reached,omitempty"`
}

// Diagnostic is a warning or error reported by tofu.
type Diagnostic struct {
	Severity string `json:"severity"`
	Summary  string `json:"summary"`
	Detail   string `json:"detail,omitempty"`
	Address  string `json:"address,omitempty"`
}

// Output is one module output. Value is left empty for sensitive outputs in events and
// persisted records; use Engine.Outputs to read sensitive values deliberately.
type Output struct {
	Sensitive bool            `json:"sensitive"`
	Type      json.RawMessage `json:"type,omitempty"`
	Value     json.RawMessage `json:"value,omitempty"`
}

// redacted returns outputs with sensitive values removed.
func redactOutputs(in map[string]Output) map[string]Output {
	if in == nil {
		return nil
	}
	out := make(map[string]Output, len(in))
	for k, v := range in {
		if v.Sensitive {
			v.Value = nil
		}
		out[k] = v
	}
	return out
}
