package engine

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"time"

	tfjson "github.com/hashicorp/terraform-json"

	"github.com/spawnit/spawnit"
)

// ServiceStatus is a service's drift status (architecture.md, "Drift"): the kernel's
// spawnit.DriftStatus.
type ServiceStatus = spawnit.DriftStatus

// Service statuses.
const (
	StatusInSync     = spawnit.DriftInSync
	StatusDrifted    = spawnit.DriftDrifted
	StatusMissing    = spawnit.DriftMissing
	StatusOrphaned   = spawnit.DriftOrphaned
	StatusPending    = spawnit.DriftPending
	StatusUnknown    = spawnit.DriftUnknown
	StatusNotChecked = spawnit.DriftNotChecked
)

// ResourceStatus is one resource's drift status (the kernel's).
type ResourceStatus = spawnit.ResourceStatus

// Resource statuses.
const (
	ResourceInSync     = spawnit.ResourceInSync
	ResourceModified   = spawnit.ResourceModified
	ResourceDeleted    = spawnit.ResourceDeleted
	ResourceUnexpected = spawnit.ResourceUnexpected
)

// IntentKind is what the last successful operation asked for (the kernel's).
type IntentKind = spawnit.IntentKind

// Intents.
const (
	IntentNone      = spawnit.IntentNone      // never applied
	IntentApplied   = spawnit.IntentApplied   // last success was an apply
	IntentDestroyed = spawnit.IntentDestroyed // last success was a destroy
)

// Intent is the service's desired existence, from its last successful apply or destroy.
type Intent struct {
	Kind  IntentKind `json:"kind"`
	JobID string     `json:"job_id,omitempty"`
	At    time.Time  `json:"at,omitempty"`
	// NeedsRecovery is set when tofu could not save state (errored.tfstate kept in the
	// store); applies are refused until an operator clears it.
	NeedsRecovery bool   `json:"needs_recovery,omitempty"`
	RecoveryNote  string `json:"recovery_note,omitempty"`
	// Survivors lists resources that still existed right after a successful destroy by
	// design (an image kept locally, say); they are not orphans.
	Survivors []string `json:"survivors,omitempty"`
	// Leftovers are objects of the service's target carrying its marks that its state
	// does not record and that the last sweep could not remove (see WithSweep).
	Leftovers []Leftover `json:"leftovers,omitempty"`
	// StateLineage and StateSerial identify the state the last successful operation
	// left. An operation that changes state refuses to run on a stored state that is
	// missing, unreadable, of another lineage or older (checkState).
	StateLineage string `json:"state_lineage,omitempty"`
	StateSerial  int64  `json:"state_serial,omitempty"`
}

// ResourceDrift is one resource's result.
type ResourceDrift struct {
	Address string         `json:"address"`
	Type    string         `json:"type"`
	Status  ResourceStatus `json:"status"`
	// Paths lists the changed attributes of a modified resource, e.g. "ports[0].external".
	Paths []string `json:"paths,omitempty"`
	// Planned is what applying the stored configuration would do to it (create, update,
	// delete, replace), when anything.
	Planned string `json:"planned,omitempty"`
	// Leftover is set on an object of the target that carries the service's marks but
	// that no state records (left by a failed destroy, or made by hand): its status is
	// unexpected, its Address the object's kind and id, its Type the object's kind.
	Leftover *Leftover `json:"leftover,omitempty"`
}

// DriftReport is the result of a drift check.
type DriftReport struct {
	Status    ServiceStatus   `json:"status"`
	Intent    IntentKind      `json:"intent"`
	Resources []ResourceDrift `json:"resources"`
	CheckedAt time.Time       `json:"checked_at"`
	Duration  time.Duration   `json:"duration_ns"`
	Error     string          `json:"error,omitempty"`
}

// PlannedResource is one entry of a plan summary.
type PlannedResource struct {
	Address string `json:"address"`
	Type    string `json:"type"`
	Action  string `json:"action"` // create, update, delete, replace, read, no-op
}

// PlanSummary is the readable part of a saved plan.
type PlanSummary struct {
	HasChanges bool              `json:"has_changes"`
	Add        int               `json:"add"`
	Change     int               `json:"change"`
	Destroy    int               `json:"destroy"`
	Resources  []PlannedResource `json:"resources"`
	Drift      []PlannedResource `json:"drift,omitempty"`
}

// actionName folds tofu's action lists into one word.
func actionName(a tfjson.Actions) string {
	switch {
	case a.NoOp():
		return "no-op"
	case a.Create():
		return "create"
	case a.Read():
		return "read"
	case a.Update():
		return "update"
	case a.Delete():
		return "delete"
	case a.Replace():
		return "replace"
	case a.Forget():
		return "forget"
	}
	return "unknown"
}

// summarizePlan turns `tofu show -json <planfile>` into a PlanSummary.
func summarizePlan(p *tfjson.Plan) *PlanSummary {
	s := &PlanSummary{}
	for _, rc := range p.ResourceChanges {
		if rc == nil || rc.Change == nil || rc.Mode != tfjson.ManagedResourceMode {
			continue
		}
		act := actionName(rc.Change.Actions)
		s.Resources = append(s.Resources, PlannedResource{Address: rc.Address, Type: rc.Type, Action: act})
		switch act {
		case "create":
			s.Add++
		case "update":
			s.Change++
		case "delete":
			s.Destroy++
		case "replace":
			s.Add++
			s.Destroy++
		}
	}
	for _, rc := range p.ResourceDrift {
		if rc == nil || rc.Change == nil || rc.Mode != tfjson.ManagedResourceMode {
			continue
		}
		s.Drift = append(s.Drift, PlannedResource{Address: rc.Address, Type: rc.Type, Action: actionName(rc.Change.Actions)})
	}
	s.HasChanges = s.Add+s.Change+s.Destroy > 0
	return s
}

// Classify compares a refresh-aware plan of the stored configuration with the service's
// intent. orphans lists resources found to still exist after a destroy (from the
// engine's refresh of the pre-destroy state); it is ignored unless intent is destroyed.
//
// It decides from the plan JSON only: resource_drift says what changed outside SpawnIt
// (update: modified, delete: deleted), resource_changes what applying would do, and
// prior_state what exists now.
func Classify(planJSON []byte, intent IntentKind, orphans []ResourceDrift) (*DriftReport, error) {
	p, err := decodePlan(planJSON)
	if err != nil {
		return nil, err
	}
	return classify(p, intent, orphans), nil
}

// plan is tofu's plan JSON as terraform-json decodes it, plus the top-level "errored"
// flag (format 1.2) that terraform-json does not model.
type plan struct {
	*tfjson.Plan
	errored bool
}

func decodePlan(b []byte) (*plan, error) {
	var p tfjson.Plan
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("decode plan JSON: %w", err)
	}
	var flags struct {
		Errored bool `json:"errored"`
	}
	_ = json.Unmarshal(b, &flags)
	return &plan{Plan: &p, errored: flags.Errored}, nil
}

func classify(p *plan, intent IntentKind, orphans []ResourceDrift) *DriftReport {
	r := &DriftReport{Intent: intent, Resources: []ResourceDrift{}}
	if p == nil || p.errored {
		r.Status = StatusUnknown
		r.Error = "the plan did not complete (tofu reported errors)"
		return r
	}
	existing := map[string]*tfjson.StateResource{}
	if p.PriorState != nil && p.PriorState.Values != nil {
		walkResources(p.PriorState.Values.RootModule, func(res *tfjson.StateResource) {
			if res.Mode == tfjson.ManagedResourceMode {
				existing[res.Address] = res
			}
		})
	}
	// Results are collected by address; indexes (not pointers) keep them stable while
	// the slice grows.
	byAddr := map[string]int{}
	add := func(d ResourceDrift) int {
		r.Resources = append(r.Resources, d)
		byAddr[d.Address] = len(r.Resources) - 1
		return byAddr[d.Address]
	}
	var deleted, modified int
	for _, rc := range p.ResourceDrift {
		if rc == nil || rc.Change == nil || rc.Mode != tfjson.ManagedResourceMode {
			continue
		}
		switch {
		case rc.Change.Actions.Delete():
			deleted++
			add(ResourceDrift{Address: rc.Address, Type: rc.Type, Status: ResourceDeleted})
		case rc.Change.Actions.Update() || rc.Change.Actions.Replace():
			// Providers report null-versus-empty normalisations as drift; only real
			// differences count.
			if paths := changedPaths(rc.Change.Before, rc.Change.After); len(paths) > 0 {
				modified++
				add(ResourceDrift{Address: rc.Address, Type: rc.Type, Status: ResourceModified, Paths: paths})
			}
		}
	}
	addrs := make([]string, 0, len(existing))
	for a := range existing {
		addrs = append(addrs, a)
	}
	sort.Strings(addrs)
	for _, a := range addrs {
		if _, ok := byAddr[a]; !ok {
			add(ResourceDrift{Address: a, Type: existing[a].Type, Status: ResourceInSync})
		}
	}
	var pending int
	for _, rc := range p.ResourceChanges {
		if rc == nil || rc.Change == nil || rc.Mode != tfjson.ManagedResourceMode {
			continue
		}
		act := actionName(rc.Change.Actions)
		if act == "no-op" || act == "read" {
			continue
		}
		if i, ok := byAddr[rc.Address]; ok {
			r.Resources[i].Planned = act
			if r.Resources[i].Status == ResourceInSync {
				pending++
			}
			continue
		}
		// A change to a resource that neither exists nor drifted: new in the configuration.
		pending++
		add(ResourceDrift{Address: rc.Address, Type: rc.Type, Status: ResourceInSync, Planned: act})
	}

	switch intent {
	case IntentDestroyed:
		// Anything still in state after a destroy exists against the intent.
		unexpected := len(existing)
		for a := range existing {
			r.Resources[byAddr[a]].Status = ResourceUnexpected
		}
		for _, o := range orphans {
			if i, ok := byAddr[o.Address]; ok {
				if r.Resources[i].Status != ResourceUnexpected {
					r.Resources[i].Status = ResourceUnexpected
					r.Resources[i].Planned = ""
					unexpected++
				}
				continue
			}
			o.Status = ResourceUnexpected
			add(o)
			unexpected++
		}
		// Creates planned for a destroyed service are expected, not pending work.
		kept := r.Resources[:0]
		for _, d := range r.Resources {
			if d.Status == ResourceUnexpected || d.Status == ResourceModified {
				kept = append(kept, d)
			}
		}
		r.Resources = kept
		if unexpected > 0 {
			r.Status = StatusOrphaned
		} else {
			r.Status = StatusInSync
		}
	case IntentApplied:
		switch {
		case len(existing) == 0 && pending > 0:
			// The state has nothing although the service was applied: its state was lost
			// or reset, and everything would be created again.
			r.Status = StatusMissing
			for i := range r.Resources {
				if r.Resources[i].Planned == "create" {
					r.Resources[i].Status = ResourceDeleted
				}
			}
		case deleted > 0:
			// Deleted outside SpawnIt: the service (or part of it) is gone. This wins over
			// modifications, since a service missing a resource is likely down.
			r.Status = StatusMissing
		case modified > 0:
			r.Status = StatusDrifted
		case pending > 0:
			r.Status = StatusPending
		default:
			r.Status = StatusInSync
		}
	default: // never applied
		if pending > 0 || len(p.ResourceChanges) > 0 {
			r.Status = StatusPending
		} else {
			r.Status = StatusInSync
		}
	}
	sort.SliceStable(r.Resources, func(a, b int) bool { return r.Resources[a].Address < r.Resources[b].Address })
	return r
}

func walkResources(m *tfjson.StateModule, f func(*tfjson.StateResource)) {
	if m == nil {
		return
	}
	for _, res := range m.Resources {
		if res != nil {
			f(res)
		}
	}
	for _, c := range m.ChildModules {
		walkResources(c, f)
	}
}

// changedPaths lists attribute paths whose values differ between before and after
// (decoded JSON), in a stable order. Lists are compared element by element.
func changedPaths(before, after any) []string {
	var out []string
	diffValues("", before, after, &out)
	slices.Sort(out)
	return slices.Compact(out)
}

func diffValues(path string, a, b any, out *[]string) {
	switch av := a.(type) {
	case map[string]any:
		bv, ok := b.(map[string]any)
		if !ok {
			if !(isEmpty(a) && isEmpty(b)) {
				*out = append(*out, orRoot(path))
			}
			return
		}
		keys := map[string]bool{}
		for k := range av {
			keys[k] = true
		}
		for k := range bv {
			keys[k] = true
		}
		for k := range keys {
			p := k
			if path != "" {
				p = path + "." + k
			}
			diffValues(p, av[k], bv[k], out)
		}
	case []any:
		bv, ok := b.([]any)
		if !ok || len(av) != len(bv) {
			if !(isEmpty(a) && isEmpty(b)) {
				*out = append(*out, orRoot(path))
			}
			return
		}
		for i := range av {
			diffValues(path+"["+strconv.Itoa(i)+"]", av[i], bv[i], out)
		}
	default:
		if !jsonEqual(a, b) && !(isEmpty(a) && isEmpty(b)) {
			*out = append(*out, orRoot(path))
		}
	}
}

// isEmpty treats null like the zero value of any type: providers flip between them
// (null vs [] for a list, null vs false for a bool) without anything changing.
func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case bool:
		return !x
	case string:
		return x == ""
	case float64:
		return x == 0
	case json.Number:
		return x == "0"
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}

func orRoot(p string) string {
	if p == "" {
		return "(resource)"
	}
	return p
}

func jsonEqual(a, b any) bool {
	if reflect.DeepEqual(a, b) {
		return true
	}
	// json.Number vs float64 and the like: compare encodings.
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(ja) == string(jb)
}

// addLeftovers adds to a report the objects a sweep found outside the state, each an
// unexpected resource: a destroyed (or never applied) service that has any is
// orphaned, and a deployed one drifted unless it is already missing resources.
func addLeftovers(r *DriftReport, found []Leftover) {
	if len(found) == 0 || r.Status == StatusUnknown {
		return
	}
	for _, l := range found {
		l := l
		r.Resources = append(r.Resources, ResourceDrift{Address: l.String(), Type: l.Kind, Status: ResourceUnexpected, Leftover: &l})
	}
	switch {
	case r.Intent != IntentApplied:
		r.Status = StatusOrphaned
	case r.Status != StatusMissing:
		r.Status = StatusDrifted
	}
}

// leftoverReason is what a drift check says of an object it found outside the state.
const leftoverReason = "not in the service's state: left by a destroy that did not finish, or made outside SpawnIt"

// stateResources lists the managed objects of a plan's (refreshed) prior state.
func stateResources(p *tfjson.Plan) []StateResource {
	out := []StateResource{}
	if p == nil || p.PriorState == nil || p.PriorState.Values == nil {
		return out
	}
	walkResources(p.PriorState.Values.RootModule, func(r *tfjson.StateResource) {
		if r.Mode != tfjson.ManagedResourceMode {
			return
		}
		id, _ := r.AttributeValues["id"].(string)
		out = append(out, StateResource{Address: r.Address, Type: r.Type, ID: id, Deposed: r.DeposedKey != ""})
	})
	return out
}
