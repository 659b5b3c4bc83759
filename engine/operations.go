package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/terraform-exec/tfexec"
	tfjson "github.com/hashicorp/terraform-json"
	"github.com/spawnit/spawnit/pkg/store"
)

// execute runs the job's operation: sync the workdir from the source, init when needed,
// then the tofu command(s).
func (e *Engine) execute(j *Job) error {
	ref := j.info.Service
	ctx := j.ctx
	ws, err := e.workspaceFor(ref)
	if err != nil {
		return err
	}
	files, err := e.cfg.Source.Files(j.softCtx, ref)
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

func (e *Engine) outputWriter(j *Job) *streamWriter {
	w := &streamWriter{}
	w.emit = func(line []byte, truncated bool) {
		ev := parseUILine(line)
		if truncated {
			ev.Message += " … (line truncated)"
		}
		w.mu.Lock()
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

// stderrWriter records tofu's stderr (panics, crashes) as error log lines.
func stderrWriter(j *Job) *lineWriter {
	return &lineWriter{emit: func(line []byte, truncated bool) {
		j.emit(Event{Type: EventLog, Level: "error", Message: string(line)})
	}}
}

// failure explains a failed tofu command with tofu's own error diagnostics when there
// are any (the exit error alone says only "exit status 1").
func (w *streamWriter) failure(what string, err error) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.errs) > 0 {
		return fmt.Errorf("%s failed: %s", what, strings.Join(w.errs, "; "))
	}
	return fmt.Errorf("%s failed: %w", what, err)
}

// runTofu runs one tofu step while tracking its process: a cancel that arrives while it
// runs reaches tofu as SIGINT, and whatever is left of its process group (providers)
// when it returns is killed, so nothing outlives the job.
//
// terraform-exec's *JSON methods replace the Terraform's stdout writer and leave it set,
// so every step starts and ends with both writers reset: output of one command never
// leaks into another's events (tofu output -json prints sensitive values).
func (e *Engine) runTofu(j *Job, ws *workspace, f func(ctx context.Context) error) error {
	dir := ws.dir
	ws.tf.SetStdout(io.Discard)
	defer func() {
		ws.tf.SetStdout(io.Discard)
		ws.tf.SetStderr(io.Discard)
	}()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		j.proc.watch(dir, stop, func(pid int) {
			if j.softCtx.Err() != nil {
				interrupt(pid)
			}
		})
	}()
	j.proc.set(0)
	err := f(j.ctx)
	close(stop)
	wg.Wait()
	killGroup(j.proc.get())
	j.proc.set(0)
	if err != nil && (j.ctx.Err() != nil || diedBySignal(err)) {
		// tofu did not get to release its state lock: an S3 lockfile would block every
		// later operation on the service.
		e.releaseStaleLock(j, ws)
	}
	return err
}

// diedBySignal reports whether tofu was killed rather than exiting on its own.
func diedBySignal(err error) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() != syscall.SIGINT
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
func (e *Engine) releaseStaleLock(j *Job, ws *workspace) {
	// Only jobs holding the lease can own a lockfile: drift checks and output reads run
	// without tofu's lock, and the scratch workdir of orphan checks uses a local backend.
	if e.cfg.Backend.S3 == nil || j.info.Operation == OpDrift || j.info.Operation == OpOutputs ||
		ws.dir != filepath.Join(e.cfg.WorkDir, ws.ref.Client, ws.ref.Service) {
		return
	}
	key := StateKey(ws.ref) + ".tflock"
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
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ws.tf.SetStdout(io.Discard)
	ws.tf.SetStderr(io.Discard)
	if err := ws.tf.ForceUnlock(ctx, li.ID); err != nil {
		j.emit(Event{Type: EventLog, Level: "error", Message: "could not release the state lock left by the killed tofu: " + err.Error()})
		return
	}
	j.emit(Event{Type: EventLog, Level: "warn", Message: "released the state lock left by the killed tofu process"})
}

func (e *Engine) planInto(ctx context.Context, j *Job, ws *workspace, out string, opts ...tfexec.PlanOption) (*plan, error) {
	w := e.outputWriter(j)
	opts = append(opts, tfexec.Out(out))
	err := e.runTofu(j, ws, func(ctx context.Context) error {
		_, err := ws.tf.PlanJSON(ctx, w, opts...)
		return err
	})
	w.Close()
	if err != nil {
		return nil, w.failure("tofu plan", err)
	}
	// ShowPlanFile decodes into terraform-json's Plan, which drops the "errored" flag;
	// the raw JSON is captured through the stdout tee to read it.
	var raw bytes.Buffer
	err = e.runTofu(j, ws, func(ctx context.Context) error {
		ws.tf.SetStdout(&raw)
		_, err := ws.tf.ShowPlanFile(ctx, out)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("tofu show: %w", err)
	}
	return decodePlan(raw.Bytes())
}

func (e *Engine) plan(ctx context.Context, j *Job, ws *workspace) error {
	w := e.outputWriter(j)
	err := e.runTofu(j, ws, func(ctx context.Context) error {
		_, err := ws.tf.PlanJSON(ctx, w, tfexec.Out(planFile))
		return err
	})
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

func (e *Engine) apply(ctx context.Context, j *Job, ws *workspace) error {
	w := e.outputWriter(j)
	var opts []tfexec.ApplyOption
	if j.info.Operation == OpAccept {
		opts = append(opts, tfexec.RefreshOnly(true))
	}
	err := e.runTofu(j, ws, func(ctx context.Context) error {
		return ws.tf.ApplyJSON(ctx, w, opts...)
	})
	w.Close()
	j.update(func(i *JobInfo) { i.Changes = w.summary })
	if rerr := e.keepErroredState(j, ws); rerr != nil {
		return rerr
	}
	if err != nil {
		return w.failure("tofu apply", err)
	}
	// The stream's outputs message carries every value but the sensitive ones; those are
	// read on demand (Engine.Outputs), which saves each apply a `tofu output` run.
	j.update(func(i *JobInfo) { i.Outputs = w.outputs })
	if err := e.saveIntent(context.Background(), j.info.Service, Intent{Kind: IntentApplied, JobID: j.ID(), At: timeNow()}); err != nil {
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

func (e *Engine) captureOutputs(j *Job, ws *workspace) error {
	var meta map[string]tfexec.OutputMeta
	err := e.runTofu(j, ws, func(ctx context.Context) error {
		var err error
		meta, err = ws.tf.Output(ctx)
		return err
	})
	if err != nil {
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
	j.mask.add(secrets...)
	j.info.Outputs = outs
	j.appendLocked(Event{Type: EventOutputs, Level: "info", Message: fmt.Sprintf("%d outputs", len(outs)), Outputs: redactOutputs(outs)})
	j.mu.Unlock()
	return nil
}

func (e *Engine) destroy(ctx context.Context, j *Job, ws *workspace) error {
	ref := j.info.Service
	// Keep what existed before the destroy: the drift check refreshes it later to find
	// resources that are still (or again) there.
	var state string
	err := e.runTofu(j, ws, func(ctx context.Context) error {
		var err error
		state, err = ws.tf.StatePull(ctx)
		return err
	})
	if err != nil {
		return fmt.Errorf("tofu state pull: %w", err)
	}
	if hasResources(state) {
		if _, err := e.cfg.Store.Put(context.Background(), snapshotKey(ref), []byte(state), store.PutOptions{}); err != nil {
			return fmt.Errorf("save pre-destroy snapshot: %w", err)
		}
	}
	w := e.outputWriter(j)
	err = e.runTofu(j, ws, func(ctx context.Context) error {
		return ws.tf.DestroyJSON(ctx, w)
	})
	w.Close()
	j.update(func(i *JobInfo) { i.Changes = w.summary })
	if rerr := e.keepErroredState(j, ws); rerr != nil {
		return rerr
	}
	if err != nil {
		return w.failure("tofu destroy", err)
	}
	intent := Intent{Kind: IntentDestroyed, JobID: j.ID(), At: timeNow()}
	// What exists right after a successful destroy was left on purpose (keep_locally
	// images and the like): later drift checks must not call it orphaned.
	if hasResources(state) {
		survivors, err := e.findOrphans(ctx, j, ref)
		if err != nil {
			j.emit(Event{Type: EventLog, Level: "warn", Message: "could not list resources kept by the destroy: " + err.Error()})
		}
		for _, s := range survivors {
			intent.Survivors = append(intent.Survivors, s.Address)
		}
	}
	return e.saveIntent(context.Background(), ref, intent)
}

func hasResources(state string) bool {
	var s struct {
		Resources []json.RawMessage `json:"resources"`
	}
	return json.Unmarshal([]byte(state), &s) == nil && len(s.Resources) > 0
}

// keepErroredState moves errored.tfstate (written by tofu when it could not save state)
// into the store beside the state and marks the service as needing recovery.
func (e *Engine) keepErroredState(j *Job, ws *workspace) error {
	p := filepath.Join(ws.dir, erroredStateFile)
	b, err := os.ReadFile(p)
	if err != nil {
		return nil
	}
	ref := j.info.Service
	if _, err := e.cfg.Store.Put(context.Background(), erroredKey(ref), b, store.PutOptions{}); err != nil {
		return fmt.Errorf("tofu could not save state, and keeping errored.tfstate failed too (left in %s): %w", ws.dir, err)
	}
	_ = os.Remove(p)
	in, _ := e.Intent(context.Background(), ref)
	in.NeedsRecovery = true
	in.RecoveryNote = "tofu could not save state; the last state it had is kept at " + erroredKey(ref)
	if err := e.saveIntent(context.Background(), ref, in); err != nil {
		return err
	}
	return fmt.Errorf("%w: kept at %s", ErrNeedsRecovery, erroredKey(ref))
}

func (e *Engine) drift(ctx context.Context, j *Job, ws *workspace) error {
	start := time.Now()
	ref := j.info.Service
	intent, err := e.Intent(context.Background(), ref)
	if err != nil {
		return err
	}
	// -lock=false: a check only reads, and must never hold the state lock a user's job needs.
	plan, err := e.planInto(ctx, j, ws, driftPlanFile, tfexec.Lock(false), tfexec.Refresh(true))
	if err != nil {
		report := &DriftReport{Status: StatusUnknown, Intent: intent.Kind, CheckedAt: timeNow(), Duration: time.Since(start), Error: err.Error()}
		j.update(func(i *JobInfo) { i.Drift = report })
		return err
	}
	var orphans []ResourceDrift
	if intent.Kind == IntentDestroyed {
		if orphans, err = e.findOrphans(ctx, j, ref); err == nil {
			orphans = slices.DeleteFunc(orphans, func(o ResourceDrift) bool { return slices.Contains(intent.Survivors, o.Address) })
		} else {
			report := &DriftReport{Status: StatusUnknown, Intent: intent.Kind, CheckedAt: timeNow(), Duration: time.Since(start), Error: err.Error()}
			j.update(func(i *JobInfo) { i.Drift = report })
			return err
		}
	}
	report := classify(plan, intent.Kind, orphans)
	report.CheckedAt = timeNow()
	report.Duration = time.Since(start)
	j.update(func(i *JobInfo) { i.Drift = report; i.Plan = summarizePlan(plan.Plan) })
	j.emit(Event{Type: EventLog, Level: "info", Message: "drift status: " + string(report.Status)})
	return nil
}

// findOrphans refreshes the state the service had before its last destroy, in a scratch
// workdir with a local copy of that state, and returns what still exists. Resources whose
// identity is their name (volumes, networks) are found even when recreated outside.
func (e *Engine) findOrphans(ctx context.Context, j *Job, ref ServiceRef) ([]ResourceDrift, error) {
	snap, _, err := e.cfg.Store.Get(context.Background(), snapshotKey(ref))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read pre-destroy snapshot: %w", err)
	}
	dir, err := e.ensureDir(filepath.Join(e.cfg.WorkDir, ref.Client, ".orphans-"+ref.Service))
	if err != nil {
		return nil, err
	}
	statePath := filepath.Join(dir, "spawnit_snapshot.tfstate")
	files, err := e.cfg.Source.Files(j.softCtx, ref)
	if err != nil {
		return nil, err
	}
	backend, _ := json.Marshal(map[string]any{"terraform": map[string]any{"backend": map[string]any{"local": map[string]any{"path": statePath}}}})
	tf, err := e.newTerraform(dir)
	if err != nil {
		return nil, err
	}
	ws := &workspace{ref: ref, dir: dir, tf: tf}
	needInit, hash, err := ws.sync(files, backend, e.cliConfig)
	if err != nil {
		return nil, err
	}
	// After sync, which removes files the source does not list.
	if err := writeFileAtomic(statePath, snap, 0o600); err != nil {
		return nil, err
	}
	if needInit {
		if err := e.init(ctx, j, ws, hash); err != nil {
			return nil, err
		}
	}
	j.emit(Event{Type: EventLog, Level: "info", Message: "refreshing the pre-destroy state to find resources left behind"})
	plan, err := e.planInto(ctx, j, ws, driftPlanFile, tfexec.Lock(false), tfexec.RefreshOnly(true))
	if err != nil {
		return nil, err
	}
	var out []ResourceDrift
	if plan.PriorState != nil && plan.PriorState.Values != nil {
		walkResources(plan.PriorState.Values.RootModule, func(r *tfjson.StateResource) {
			if r.Mode == tfjson.ManagedResourceMode {
				out = append(out, ResourceDrift{Address: r.Address, Type: r.Type, Status: ResourceUnexpected})
			}
		})
	}
	return out, nil
}

var _ io.Closer = (*streamWriter)(nil)
