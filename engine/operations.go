package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	tfjson "github.com/hashicorp/terraform-json"
	"github.com/spawnit/spawnit/engine/internal/tofu"
	"github.com/spawnit/spawnit/pkg/store"
)

// execute runs the job's operation: sync the workdir from the source, init when needed,
// then the tofu command(s).
func (e *runner) execute(j *Job) error {
	ref := j.info.Service
	ctx := j.ctx
	// Checked again when the job starts: a job queued behind one that left errored state
	// was accepted before the service needed recovery. The stored state's lineage and
	// serial are in clear even when it is encrypted, and are checked before its key:
	// another service's state is encrypted under that service's key, so the key check
	// alone would call it a wrong key instead of the wrong state it is.
	if changesState(j.info.Operation) {
		if err := e.ledger.checkRecovery(j.softCtx, ref); err != nil {
			return err
		}
		if err := e.checkState(j.softCtx, ref); err != nil {
			return err
		}
	}
	// Then, before tofu or the workdir: a state under a key this server lacks fails the
	// job here, with nothing changed.
	enc, err := e.stateEncryption(j.softCtx, ref)
	if err != nil {
		return err
	}
	j.encryption = enc
	ws, err := e.workspaceFor(j)
	if err != nil {
		return err
	}
	// The variables file holds the service's secrets in clear: it lives in the workdir
	// only while the job runs.
	defer ws.removeSecrets()
	files, err := e.jobFiles(j)
	if err != nil {
		return fmt.Errorf("read service files: %w", err)
	}
	backend, err := e.backendOverride(ref)
	if err != nil {
		return err
	}
	needInit, hash, err := ws.sync(files, backend, e.cliConfig)
	if err != nil {
		return fmt.Errorf("prepare workdir: %w", err)
	}
	if needInit {
		if err := e.init(ctx, j, ws, hash); err != nil {
			return err
		}
	}
	if j.softCtx.Err() != nil {
		return errors.New("cancelled before tofu ran")
	}
	if holdsProviders(j.info.Operation) {
		release := e.holdProviders(j, ws)
		defer release()
	}
	switch j.info.Operation {
	case OpPlan:
		return e.plan(ctx, j, ws)
	case OpApply, OpAccept:
		return e.apply(ctx, j, ws)
	case OpDestroy:
		return e.destroy(ctx, j, ws)
	case OpDrift:
		return e.drift(ctx, j, ws)
	case OpOutputs:
		return e.captureOutputs(j, ws)
	}
	return fmt.Errorf("%w: operation %q", ErrInvalidInput, j.info.Operation)
}

// streamWriter turns tofu's -json output into job events and remembers what the job
// record needs (the last change summary, error diagnostics).
type streamWriter struct {
	lineWriter
	mu      sync.Mutex
	summary *ChangeSummary
	errs    []string
	planned []PlannedResource
	drifted []PlannedResource
	outputs map[string]Output
	outcome outcome
}

// planSummary builds a PlanSummary from the stream alone, which spares a plan job the
// second tofu run (show -json) that drift checks need for attribute-level detail.
func (w *streamWriter) planSummary() *PlanSummary {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := &PlanSummary{Resources: w.planned, Drift: w.drifted}
	if w.summary != nil {
		s.Add, s.Change, s.Destroy = w.summary.Add, w.summary.Change, w.summary.Remove
	}
	s.HasChanges = s.Add+s.Change+s.Destroy > 0
	return s
}

func (e *runner) outputWriter(j *Job) *streamWriter {
	w := &streamWriter{}
	w.emit = func(line []byte, truncated bool) {
		ev := parseUILine(line)
		if truncated {
			ev.Message += " … (line truncated)"
		}
		w.mu.Lock()
		w.outcome.add(ev)
		switch {
		case ev.Type == EventChangeSummary && ev.Summary != nil:
			s := *ev.Summary
			w.summary = &s
		case (ev.Type == EventPlannedChange || ev.Type == EventResourceDrift) && ev.Resource != nil:
			pr := PlannedResource{Address: ev.Resource.Address, Type: ev.Resource.Type, Action: ev.Resource.Action}
			if ev.Type == EventPlannedChange {
				w.planned = append(w.planned, pr)
			} else {
				w.drifted = append(w.drifted, pr)
			}
		case ev.Type == EventOutputs:
			w.outputs = ev.Outputs
		case ev.Type == EventDiagnostic && ev.Diagnostic != nil && ev.Diagnostic.Severity == "error":
			msg := ev.Diagnostic.Summary
			if ev.Diagnostic.Detail != "" {
				msg += ": " + ev.Diagnostic.Detail
			}
			w.errs = append(w.errs, msg)
		}
		w.mu.Unlock()
		j.emit(ev)
	}
	return w
}

// failure explains a failed tofu command: one plain sentence naming the cause (see
// outcome.cause), then tofu's own error diagnostics when there are any (the exit error
// alone says only "exit status 1").
func (w *streamWriter) failure(what string, err error) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	lead := ""
	if c := w.outcome.cause(); c != "" {
		lead = c + "\n"
	}
	if len(w.errs) > 0 {
		return fmt.Errorf("%s%s failed: %s", lead, what, strings.Join(w.errs, "; "))
	}
	return fmt.Errorf("%s%s failed: %w", lead, what, err)
}

// changes is what an apply or destroy did: tofu's own summary after a complete run,
// else the counts of what happened before it stopped (outcome.summary), never the
// plan's counts.
func (w *streamWriter) changes(op string, failed bool) *ChangeSummary {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !failed && w.summary != nil {
		return w.summary
	}
	return w.outcome.summary(op)
}

// runTofu runs one tofu command as a process the job holds: a cancel reaches tofu as one
// SIGINT (also one that came before tofu started), a forced cancel kills its process
// group, and whatever is left of the group (providers) when tofu returns is killed, so
// nothing outlives the job. stdout receives tofu's output (nil discards it).
func (e *runner) runTofu(j *Job, ws *workspace, args []string, stdout io.Writer) error {
	return e.runTofuHeld(j, ws, args, stdout, true)
}

// runTofuToEnd is runTofu for a short read that must complete after a graceful cancel
// (the state a sweep compares with): only a forced cancel stops it.
func (e *runner) runTofuToEnd(j *Job, ws *workspace, args []string, stdout io.Writer) error {
	return e.runTofuHeld(j, ws, args, stdout, false)
}

func (e *runner) runTofuHeld(j *Job, ws *workspace, args []string, stdout io.Writer, interruptible bool) error {
	if err := j.ctx.Err(); err != nil {
		return fmt.Errorf("tofu %s not started: %w", args[0], err)
	}
	p, err := ws.tf.Start(args, stdout, nil)
	if err != nil {
		return err
	}
	j.proc.set(p)
	stopInterrupt := func() bool { return false }
	if interruptible {
		stopInterrupt = context.AfterFunc(j.softCtx, p.Interrupt)
	}
	stopKill := context.AfterFunc(j.ctx, p.Kill)
	err = p.Wait()
	stopInterrupt()
	stopKill()
	p.Kill()
	j.proc.set(nil)
	if err != nil && (j.ctx.Err() != nil || tofu.Killed(err)) {
		// tofu did not get to release its state lock: an S3 lockfile would block every
		// later operation on the service.
		e.releaseStaleLock(j, ws)
	}
	return err
}

// lockInfo is the part of OpenTofu's lock record (the S3 lockfile's content) the engine
// reads.
type lockInfo struct {
	ID      string    `json:"ID"`
	Who     string    `json:"Who"`
	Created time.Time `json:"Created"`
}

// releaseStaleLock removes the S3 lockfile a killed tofu left, but only when it is this
// job's own: created after the job started, while the job held both the in-process lock
// and the cross-process lease, so no other process could have taken it. An older lock
// stays for its holder. It needs the engine's Store to be the state
// bucket (as the server configures it); otherwise it says what to unlock.
func (e *runner) releaseStaleLock(j *Job, ws *workspace) {
	// Only jobs holding the lease can own a lockfile: drift checks and output reads run
	// without tofu's lock, and the scratch workdir of orphan checks uses a local backend.
	if e.cfg.Backend.S3 == nil || j.info.Operation == OpDrift || j.info.Operation == OpOutputs || e.ledger.loops.dead.Load() ||
		ws.dir != filepath.Join(e.cfg.WorkDir, ws.ref.Client, ws.ref.Service) {
		return
	}
	key := storeKeys(ws.ref).StateLock()
	b, _, err := e.cfg.Store.Get(context.Background(), key)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	var li lockInfo
	if err != nil || json.Unmarshal(b, &li) != nil || li.ID == "" {
		j.emit(Event{Type: EventLog, Level: "warn", Message: "tofu was killed and its state lock could not be read; if later runs report a lock, an operator must unlock " + key})
		return
	}
	started := j.Info().StartedAt
	if started == nil || li.Created.Before(started.Add(-time.Second)) {
		j.emit(Event{Type: EventLog, Level: "warn", Message: "the state lock predates this job; left for its holder: " + li.Who})
		return
	}
	if err := forceUnlock(ws, li.ID); err != nil {
		j.emit(Event{Type: EventLog, Level: "error", Message: "could not release the state lock left by the killed tofu: " + err.Error()})
		return
	}
	j.emit(Event{Type: EventLog, Level: "warn", Message: "released the state lock left by the killed tofu process"})
}

// forceUnlock removes the state lock lockID, giving tofu a minute.
func forceUnlock(ws *workspace, lockID string) error {
	p, err := ws.tf.Start(tofu.ForceUnlock(lockID), nil, nil)
	if err != nil {
		return err
	}
	t := time.AfterFunc(time.Minute, p.Kill)
	defer t.Stop()
	return p.Wait()
}

func (e *runner) planInto(ctx context.Context, j *Job, ws *workspace, opts tofu.PlanOptions) (*plan, error) {
	w := e.outputWriter(j)
	err := e.runTofu(j, ws, tofu.Plan(opts), w)
	w.Close()
	if err != nil {
		return nil, w.failure("tofu plan", err)
	}
	// Decoded here rather than into terraform-json's Plan, which drops the "errored" flag.
	var raw bytes.Buffer
	err = e.runTofu(j, ws, tofu.ShowPlan(opts.Out), &raw)
	if err != nil {
		return nil, fmt.Errorf("tofu show: %w", err)
	}
	return decodePlan(raw.Bytes())
}

func (e *runner) plan(ctx context.Context, j *Job, ws *workspace) error {
	w := e.outputWriter(j)
	err := e.runTofu(j, ws, tofu.Plan(tofu.PlanOptions{Out: planFile}), w)
	w.Close()
	if err != nil {
		return w.failure("tofu plan", err)
	}
	sum := w.planSummary()
	j.update(func(i *JobInfo) {
		i.Plan = sum
		i.Changes = &ChangeSummary{Add: sum.Add, Change: sum.Change, Remove: sum.Destroy, Operation: "plan"}
	})
	return nil
}

func (e *runner) apply(ctx context.Context, j *Job, ws *workspace) error {
	w := e.outputWriter(j)
	err := e.runTofu(j, ws, tofu.Apply(j.info.Operation == OpAccept), w)
	w.Close()
	changes := w.changes("apply", err != nil)
	j.update(func(i *JobInfo) { i.Changes = changes })
	creates := j.info.Operation == OpApply
	if rerr := e.keepErroredState(j, ws); rerr != nil {
		// The stored state is not reality: report what is outside it, remove nothing.
		if creates {
			e.sweepAndNote(j, ws, false)
		}
		return rerr
	}
	if err != nil {
		// A cancel may have cut a create the target completed anyway.
		if creates {
			e.sweepAndNote(j, ws, true)
		}
		return w.failure("tofu apply", err)
	}
	// The stream's outputs message carries every value but the sensitive ones; those are
	// read on demand (Engine.Outputs), which saves each apply a `tofu output` run.
	j.update(func(i *JobInfo) { i.Outputs = w.outputs })
	intent := Intent{Kind: IntentApplied, JobID: j.ID(), At: timeNow()}
	if prev, err := e.ledger.Intent(context.Background(), j.info.Service); err == nil && len(prev.Leftovers) > 0 {
		// Leftovers an earlier sweep could not remove: try again, keep those still there.
		intent.Leftovers = prev.Leftovers
		if remaining, err := e.sweep(j, ws, true); err == nil {
			intent.Leftovers = remaining
		}
	}
	if err := e.ledger.saveIntent(context.Background(), j.info.Service, e.markState(intent, j)); err != nil {
		return err
	}
	if j.readiness == nil || j.info.Operation != OpApply {
		return nil
	}
	j.emit(Event{Type: EventLog, Level: "info", Message: "waiting for the service to be ready"})
	if err := j.readiness(j.softCtx, w.outputs, func(msg string) {
		j.emit(Event{Type: EventLog, Level: "info", Message: msg})
	}); err != nil {
		return fmt.Errorf("the service was deployed but is not ready (its resources are kept for inspection): %w", err)
	}
	j.emit(Event{Type: EventLog, Level: "info", Message: "the service is ready"})
	return nil
}

func (e *runner) captureOutputs(j *Job, ws *workspace) error {
	var stdout bytes.Buffer
	if err := e.runTofu(j, ws, tofu.Output(), &stdout); err != nil {
		return fmt.Errorf("tofu output: %w", err)
	}
	var meta map[string]uiOV
	if err := json.Unmarshal(stdout.Bytes(), &meta); err != nil {
		return fmt.Errorf("tofu output: %w", err)
	}
	outs := make(map[string]Output, len(meta))
	var secrets []string
	for name, m := range meta {
		outs[name] = Output{Sensitive: m.Sensitive, Type: m.Type, Value: m.Value}
		if m.Sensitive {
			var s string
			if json.Unmarshal(m.Value, &s) == nil {
				secrets = append(secrets, s)
			}
		}
	}
	j.mu.Lock()
	j.mask.Add(secrets...)
	j.info.Outputs = outs
	j.appendLocked(Event{Type: EventOutputs, Level: "info", Message: fmt.Sprintf("%d outputs", len(outs)), Outputs: redactOutputs(outs)})
	j.mu.Unlock()
	return nil
}

func (e *runner) destroy(ctx context.Context, j *Job, ws *workspace) error {
	ref := j.info.Service
	// Keep what existed before the destroy: the drift check refreshes it later to find
	// resources that are still (or again) there.
	var pulled bytes.Buffer
	if err := e.runTofu(j, ws, tofu.StatePull(), &pulled); err != nil {
		return fmt.Errorf("tofu state pull: %w", err)
	}
	state := pulled.String()
	if hasResources(state) {
		// tofu state pull prints the state decrypted: the copy kept is sealed.
		snap := e.sealSnapshot(ref, storeKeys(ref).PreDestroy(), pulled.Bytes())
		if _, err := e.cfg.Store.Put(context.Background(), snapshotKey(ref), snap, store.PutOptions{}); err != nil {
			return fmt.Errorf("save pre-destroy snapshot: %w", err)
		}
	}
	// Objects outside the state can hold what tofu destroys (a container left by a
	// cancelled create holds the volume, whose removal would wait until the provider's
	// timeout): they go first.
	e.sweepAndNote(j, ws, true)
	w := e.outputWriter(j)
	err := e.runTofu(j, ws, tofu.Destroy(), w)
	w.Close()
	changes := w.changes("destroy", err != nil)
	j.update(func(i *JobInfo) { i.Changes = changes })
	if rerr := e.keepErroredState(j, ws); rerr != nil {
		e.sweepAndNote(j, ws, false)
		return rerr
	}
	if err != nil {
		e.sweepAndNote(j, ws, true)
		return w.failure("tofu destroy", err)
	}
	// Nothing carrying the service's marks may outlive its destroy.
	remaining, sweepErr := e.sweep(j, ws, true)
	intent := Intent{Kind: IntentDestroyed, JobID: j.ID(), At: timeNow(), Leftovers: remaining}
	// What exists right after a successful destroy was left on purpose (keep_locally
	// images and the like): later drift checks must not call it orphaned.
	if hasResources(state) {
		survivors, _, err := e.findOrphans(ctx, j, ref)
		if err != nil {
			j.emit(Event{Type: EventLog, Level: "warn", Message: "could not list resources kept by the destroy: " + err.Error()})
		}
		for _, s := range survivors {
			intent.Survivors = append(intent.Survivors, s.Address)
		}
	}
	if err := e.ledger.saveIntent(context.Background(), ref, e.markState(intent, j)); err != nil {
		return err
	}
	switch {
	case sweepErr != nil:
		return fmt.Errorf("tofu destroyed the state's resources, but whether objects carrying the service's labels remain could not be checked: %w", sweepErr)
	case len(remaining) > 0:
		return leftoversError(remaining)
	}
	return nil
}

func hasResources(state string) bool {
	var s struct {
		Resources []json.RawMessage `json:"resources"`
	}
	return json.Unmarshal([]byte(state), &s) == nil && len(s.Resources) > 0
}

// keepErroredState moves errored.tfstate (written by tofu when it could not save state)
// into the store beside the state and marks the service as needing recovery. When the
// store does not take it (it is down: the likely reason tofu could not save), the file
// stays in the workdir, the job's end retries (finishLater), and applies are refused
// meanwhile (checkRecovery finds the file).
func (e *runner) keepErroredState(j *Job, ws *workspace) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ref := j.info.Service
	found, err := e.ledger.keepErrored(ctx, ref, ws.dir)
	switch {
	case !found:
		return nil
	case err != nil:
		j.erroredPending.Store(true)
		return fmt.Errorf("%w: tofu could not save state, and keeping errored.tfstate failed too (left in %s; SpawnIt retries in the background): %w", ErrNeedsRecovery, ws.dir, err)
	}
	return fmt.Errorf("%w: kept at %s", ErrNeedsRecovery, erroredKey(ref))
}

// stateMark identifies a state: what checkState compares.
type stateMark struct {
	Lineage string `json:"lineage"`
	Serial  int64  `json:"serial"`
}

var errCorruptState = errors.New("not a valid state")

// readStateMark reads the lineage and serial of the service's stored state: in the
// engine's Store with the S3 backend (the server keeps both in one bucket; with another
// store the state is not found and nothing is checked), in the local state file
// otherwise.
// Serial and lineage stay in clear in an encrypted state.
func (e *runner) readStateMark(ctx context.Context, ref ServiceRef) (m stateMark, found bool, err error) {
	b, found, err := e.readRawState(ctx, ref)
	if err != nil || !found {
		return stateMark{}, found, err
	}
	if json.Unmarshal(b, &m) != nil || m.Lineage == "" {
		return stateMark{}, true, errCorruptState
	}
	return m, true, nil
}

// markState records in an intent which state the successful job j left.
func (e *runner) markState(in Intent, j *Job) Intent {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, found, err := e.readStateMark(ctx, j.info.Service)
	if err != nil || !found {
		if err != nil {
			j.emit(Event{Type: EventLog, Level: "warn", Message: "could not read the state just saved, so the next operation cannot check it: " + err.Error()})
		}
		return in
	}
	in.StateLineage, in.StateSerial = m.Lineage, m.Serial
	return in
}

// checkState refuses to run tofu on a stored state that is not the one the service's
// last successful operation left: missing, unreadable, of another lineage or with a
// lower serial (an older copy put back, another service's state). tofu would take it
// as it is, act on the wrong picture of reality and overwrite it. The stored state is
// left untouched and the service marked as needing recovery, with what was found.
func (e *runner) checkState(ctx context.Context, ref ServiceRef) error {
	in, err := e.ledger.Intent(ctx, ref)
	if err != nil {
		return fmt.Errorf("read intent of %s: %w", ref, err)
	}
	if in.StateLineage == "" {
		return nil // never recorded (no successful operation yet, or an older SpawnIt)
	}
	m, found, err := e.readStateMark(ctx, ref)
	var problem string
	switch {
	case errors.Is(err, errCorruptState):
		problem = "the stored state is not a valid OpenTofu state"
	case err != nil:
		return fmt.Errorf("read the stored state: %w", err)
	case !found:
		problem = "the stored state is missing"
	case m.Lineage != in.StateLineage:
		problem = fmt.Sprintf("the stored state has lineage %s", m.Lineage)
	case m.Serial < in.StateSerial:
		problem = fmt.Sprintf("the stored state has serial %d, older than the last one saved", m.Serial)
	default:
		return nil
	}
	note := fmt.Sprintf("%s; the last successful operation (job %s) left lineage %s, serial %d. tofu was not run and the stored state is untouched",
		problem, in.JobID, in.StateLineage, in.StateSerial)
	in.NeedsRecovery, in.RecoveryNote = true, note
	if err := e.ledger.saveIntent(ctx, ref, in); err != nil {
		return err
	}
	return fmt.Errorf("%w: %s", ErrNeedsRecovery, note)
}

func (e *runner) drift(ctx context.Context, j *Job, ws *workspace) error {
	start := time.Now()
	ref := j.info.Service
	intent, err := e.ledger.Intent(context.Background(), ref)
	if err != nil {
		return err
	}
	// -lock=false: a check only reads, and must never hold the state lock a user's job needs.
	plan, err := e.planInto(ctx, j, ws, tofu.PlanOptions{Out: driftPlanFile, NoLock: true})
	if err != nil {
		report := &DriftReport{Status: StatusUnknown, Intent: intent.Kind, CheckedAt: timeNow(), Duration: time.Since(start), Error: err.Error()}
		j.update(func(i *JobInfo) { i.Drift = report })
		return err
	}
	var orphans []ResourceDrift
	// What the service's states record: the refreshed state and, for a destroyed
	// service, the objects of its pre-destroy state that still exist.
	known := stateResources(plan.Plan)
	if intent.Kind == IntentDestroyed {
		var still []StateResource
		if orphans, still, err = e.findOrphans(ctx, j, ref); err == nil {
			known = append(known, still...)
			orphans = slices.DeleteFunc(orphans, func(o ResourceDrift) bool { return slices.Contains(intent.Survivors, o.Address) })
		} else {
			report := &DriftReport{Status: StatusUnknown, Intent: intent.Kind, CheckedAt: timeNow(), Duration: time.Since(start), Error: err.Error()}
			j.update(func(i *JobInfo) { i.Drift = report })
			return err
		}
	}
	report := classify(plan, intent.Kind, orphans)
	addLeftovers(report, e.findLeftovers(j, known))
	report.CheckedAt = timeNow()
	report.Duration = time.Since(start)
	j.update(func(i *JobInfo) { i.Drift = report; i.Plan = summarizePlan(plan.Plan) })
	j.emit(Event{Type: EventLog, Level: "info", Message: "drift status: " + string(report.Status)})
	return nil
}

// findLeftovers runs the job's sweep, report-only, during a drift check: the objects
// of the target carrying the service's marks that none of known records. A sweep that
// cannot tell is noted in the job's events; the check goes on without it.
func (e *runner) findLeftovers(j *Job, known []StateResource) []Leftover {
	if j.sweep == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(j.ctx, sweepTimeout)
	defer cancel()
	found, err := j.sweep(ctx, known, false)
	if err != nil {
		j.emit(Event{Type: EventLog, Level: "warn", Message: "could not look for objects left outside the state: " + err.Error()})
		return nil
	}
	if len(found) == 0 {
		return nil
	}
	names := make([]string, len(found))
	for i := range found {
		found[i].Reason, found[i].Removed = leftoverReason, false
		names[i] = found[i].String()
	}
	j.emit(Event{Type: EventLeftovers, Level: "warn", Message: fmt.Sprintf("%d object(s) carry the service's labels but are not in its state: %s", len(found), strings.Join(names, ", ")),
		Leftovers: append([]Leftover(nil), found...)})
	return found
}

// findOrphans refreshes the state the service had before its last destroy, in a scratch
// workdir with a local copy of that state, and returns what still exists, as drift and
// as the objects it found. Resources whose identity is their name (volumes, networks)
// are found even when recreated outside.
func (e *runner) findOrphans(ctx context.Context, j *Job, ref ServiceRef) ([]ResourceDrift, []StateResource, error) {
	snap, _, err := e.cfg.Store.Get(context.Background(), snapshotKey(ref))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read pre-destroy snapshot: %w", err)
	}
	if snap, err = e.openSnapshot(ref, storeKeys(ref).PreDestroy(), snap); err != nil {
		return nil, nil, fmt.Errorf("read pre-destroy snapshot: %w", err)
	}
	ws, err := e.orphanWorkspace(j)
	if err != nil {
		return nil, nil, err
	}
	statePath := filepath.Join(ws.dir, "spawnit_snapshot.tfstate")
	defer func() {
		ws.removeSecrets()
		_ = os.Remove(statePath)
		_ = os.Remove(filepath.Join(ws.dir, driftPlanFile))
	}()
	files, err := e.jobFiles(j)
	if err != nil {
		return nil, nil, err
	}
	backend, _ := json.Marshal(map[string]any{"terraform": map[string]any{"backend": map[string]any{"local": map[string]any{"path": statePath}}}})
	needInit, hash, err := ws.sync(files, backend, e.cliConfig)
	if err != nil {
		return nil, nil, err
	}
	// After sync, which removes files the source does not list.
	if err := writeFileAtomic(statePath, snap, 0o600); err != nil {
		return nil, nil, err
	}
	if needInit {
		if err := e.init(ctx, j, ws, hash); err != nil {
			return nil, nil, err
		}
	}
	j.emit(Event{Type: EventLog, Level: "info", Message: "refreshing the pre-destroy state to find resources left behind"})
	plan, err := e.planInto(ctx, j, ws, tofu.PlanOptions{Out: driftPlanFile, NoLock: true, RefreshOnly: true})
	if err != nil {
		return nil, nil, err
	}
	var out []ResourceDrift
	if plan.PriorState != nil && plan.PriorState.Values != nil {
		walkResources(plan.PriorState.Values.RootModule, func(r *tfjson.StateResource) {
			if r.Mode == tfjson.ManagedResourceMode {
				out = append(out, ResourceDrift{Address: r.Address, Type: r.Type, Status: ResourceUnexpected})
			}
		})
	}
	return out, stateResources(plan.Plan), nil
}

var _ io.Closer = (*streamWriter)(nil)

// jobFiles are the files a job runs: those it was given (WithFiles), or the Source's.
func (e *runner) jobFiles(j *Job) (Files, error) {
	if j.files != nil {
		out := make(Files, len(j.files))
		for k, v := range j.files {
			out[k] = v
		}
		return out, nil
	}
	return e.cfg.Source.Files(j.softCtx, j.info.Service)
}
