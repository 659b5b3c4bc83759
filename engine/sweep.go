package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	tfjson "github.com/hashicorp/terraform-json"

	"github.com/spawnit/spawnit/engine/internal/tofu"
)

// A cancel at the wrong instant leaves an object that the target created but the
// service's state does not record: tofu's graceful stop cancels the provider's
// in-flight call, the target (Docker) completes it anyway, and the provider, having
// got an error, never records the object's id. Nothing in OpenTofu knows it exists
// any more; it may hold a name, a port or a volume that the next apply or destroy
// needs. A sweep, given by the server that knows the target (WithSweep), finds such
// objects by the marks the service's templates put on them and removes them; the
// engine runs it while the job still holds the service, with the state read through
// tofu (show -json), after an apply that did not succeed and around a destroy.

// StateResource is one object the service's OpenTofu state records: what a sweep
// compares the target's real objects with.
type StateResource struct {
	Address string `json:"address"`
	Type    string `json:"type"`
	// ID is the object's "id" attribute (a Docker container's or network's id, a
	// volume's name).
	ID string `json:"id,omitempty"`
	// Deposed: an object replaced with create_before_destroy that the state still
	// tracks until it is destroyed.
	Deposed bool `json:"deposed,omitempty"`
}

// Leftover is an object of the service's target that carries the service's marks (a
// Docker object its labels) but that its state does not record.
type Leftover struct {
	Kind string `json:"kind"` // container, volume, network
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	// Removed: the sweep removed it. Otherwise Reason says why it is still there.
	Removed bool   `json:"removed,omitempty"`
	Reason  string `json:"reason,omitempty"`
}

func (l Leftover) String() string {
	s := l.Kind + " " + shortID(l.ID)
	if l.Name != "" && l.Name != l.ID {
		s += " (" + l.Name + ")"
	}
	return s
}

func shortID(id string) string {
	if len(id) == 64 && strings.Trim(id, "0123456789abcdef") == "" {
		return id[:12]
	}
	return id
}

// SweepFunc finds the objects of a service's target that carry the service's marks but
// are not among the state's, removes them when remove is set, and returns every one it
// found (Removed says which it removed, Reason why another stays). An error means it
// could not tell (the target did not answer).
type SweepFunc func(ctx context.Context, state []StateResource, remove bool) ([]Leftover, error)

// WithSweep gives an apply or a destroy the sweep of the service's target: after an
// apply that did not succeed (cancelled, failed), objects outside the state are
// removed (only reported when tofu could not save its state: the stored state is not
// reality then); before a destroy they are removed so that none holds what tofu
// destroys (a container holding a volume); after it, anything still marked is removed
// and the destroy fails, naming what remains, when something cannot be. The job's
// Leftovers and a "leftovers" event say what was found; the service's Intent keeps
// those still there.
func WithSweep(f SweepFunc) RunOption { return func(o *runOptions) { o.sweep = f } }

// sweepTimeout bounds a sweep (reading the state and the target's answers).
const sweepTimeout = 2 * time.Minute

// sweep reads the state, runs the job's sweep and records what it found on the job; it
// returns the leftovers still there. A job without a sweep finds none.
func (e *runner) sweep(j *Job, ws *workspace, remove bool) ([]Leftover, error) {
	if j.sweep == nil {
		return nil, nil
	}
	// The job's own context: a graceful cancel (which is often why this runs) does not
	// stop the sweep, a forced one does.
	ctx, cancel := context.WithTimeout(j.ctx, sweepTimeout)
	defer cancel()
	state, err := e.readState(j, ws)
	if err != nil {
		return nil, err
	}
	found, err := j.sweep(ctx, state, remove)
	if err != nil {
		return nil, err
	}
	var remaining []Leftover
	for _, l := range found {
		if !l.Removed {
			remaining = append(remaining, l)
		}
	}
	if len(found) > 0 {
		j.recordLeftovers(found)
	}
	return remaining, nil
}

// sweepAndNote sweeps after a job step that did not succeed, keeps the leftovers still
// there in the service's intent, and says in the job's events when it could not.
func (e *runner) sweepAndNote(j *Job, ws *workspace, remove bool) {
	if j.sweep == nil {
		return
	}
	remaining, err := e.sweep(j, ws, remove)
	if err != nil {
		j.emit(Event{Type: EventLog, Level: "warn", Message: "could not look for objects left outside the state: " + err.Error()})
		return
	}
	e.noteLeftovers(j, remaining)
}

// noteLeftovers records in the service's intent the leftovers still there (none
// clears them), when that changes it.
func (e *runner) noteLeftovers(j *Job, remaining []Leftover) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ref := j.info.Service
	in, err := e.ledger.Intent(ctx, ref)
	if err != nil {
		j.emit(Event{Type: EventLog, Level: "warn", Message: "could not record the leftovers on the service: " + err.Error()})
		return
	}
	if len(in.Leftovers) == 0 && len(remaining) == 0 {
		return
	}
	in.Leftovers = remaining
	if err := e.ledger.saveIntent(ctx, ref, in); err != nil {
		j.emit(Event{Type: EventLog, Level: "warn", Message: "could not record the leftovers on the service: " + err.Error()})
	}
}

// readState lists the objects of the service's state (tofu show -json), deposed ones
// included. It runs after a graceful cancel too: only a forced one stops it.
func (e *runner) readState(j *Job, ws *workspace) ([]StateResource, error) {
	var out bytes.Buffer
	if err := e.runTofuToEnd(j, ws, tofu.ShowState(), &out); err != nil {
		return nil, fmt.Errorf("tofu show: %w", err)
	}
	return parseStateResources(out.Bytes())
}

// parseStateResources reads the managed resources of `tofu show -json` (a state).
func parseStateResources(b []byte) ([]StateResource, error) {
	var st tfjson.State
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("tofu show: %w", err)
	}
	out := []StateResource{}
	if st.Values == nil {
		return out, nil
	}
	walkResources(st.Values.RootModule, func(r *tfjson.StateResource) {
		if r.Mode != tfjson.ManagedResourceMode {
			return
		}
		id, _ := r.AttributeValues["id"].(string)
		out = append(out, StateResource{Address: r.Address, Type: r.Type, ID: id, Deposed: r.DeposedKey != ""})
	})
	return out, nil
}

// recordLeftovers adds what a sweep found to the job (a leftover found again replaces
// its earlier entry) and says so in one event.
func (j *Job) recordLeftovers(found []Leftover) {
	var removed, kept []string
	for _, l := range found {
		if l.Removed {
			removed = append(removed, l.String())
		} else {
			kept = append(kept, l.String()+": "+l.Reason)
		}
	}
	var msg []string
	level := "warn"
	if len(removed) > 0 {
		msg = append(msg, fmt.Sprintf("removed %d object(s) left outside the state: %s", len(removed), strings.Join(removed, ", ")))
	}
	if len(kept) > 0 {
		level = "error"
		msg = append(msg, fmt.Sprintf("%d object(s) outside the state remain: %s", len(kept), strings.Join(kept, "; ")))
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, l := range found {
		replaced := false
		for i, have := range j.info.Leftovers {
			if have.Kind == l.Kind && have.ID == l.ID {
				j.info.Leftovers[i], replaced = l, true
			}
		}
		if !replaced {
			j.info.Leftovers = append(j.info.Leftovers, l)
		}
	}
	j.appendLocked(Event{Type: EventLeftovers, Level: level, Message: strings.Join(msg, "; "), Leftovers: append([]Leftover(nil), found...)})
}

// leftoversError is a destroy's failure when objects carrying the service's marks
// remain after it.
func leftoversError(remaining []Leftover) error {
	parts := make([]string, len(remaining))
	for i, l := range remaining {
		parts[i] = l.String() + ": " + l.Reason
	}
	return fmt.Errorf("tofu destroyed the state's resources, but %d object(s) carrying the service's labels remain (not in the state, and not removable): %s",
		len(remaining), strings.Join(parts, "; "))
}
