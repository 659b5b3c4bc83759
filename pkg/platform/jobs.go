package platform

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"time"

	"github.com/spawnit/spawnit"
	"github.com/spawnit/spawnit/catalog"
	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/pkg/apiv1"
)

// RunRequest asks for one operation on a service.
type RunRequest struct {
	Operation engine.Operation
	// IdempotencyKey, when set, makes a retry of the request (even a concurrent one)
	// return the job the first one created, for Config.IdempotencyTTL.
	IdempotencyKey string
	// NoQueue fails with engine.ErrLocked when the service is busy, instead of queueing
	// behind the job that holds it.
	NoQueue bool
	// Reason is recorded in the audit entry when the operation alone does not say why
	// (ReasonRemediate for an apply that undoes drift).
	Reason string
}

// Run starts a plan, apply, destroy, drift check or accept of a service and returns the
// new job (queued or running). The service's secret values are masked in the job's
// events. An apply waits for the template's readiness checks (Docker target) before
// it succeeds. Accepting drift (a refresh-only apply) needs a deployed service
// (ErrNotDeployed) whose template allows it (ErrAcceptDisabled).
func (p *Platform) Run(ctx context.Context, a Actor, service string, req RunRequest) (engine.JobInfo, error) {
	ref, err := a.ref(service)
	if err != nil {
		return engine.JobInfo{}, err
	}
	switch req.Operation {
	case engine.OpPlan, engine.OpApply, engine.OpDestroy, engine.OpDrift, engine.OpAccept:
	default:
		return engine.JobInfo{}, fmt.Errorf("%w: operation %q", engine.ErrInvalidInput, req.Operation)
	}
	if req.IdempotencyKey != "" {
		if err := ValidateIdempotencyKey(req.IdempotencyKey); err != nil {
			return engine.JobInfo{}, err
		}
	}
	if p.isClosed() {
		return engine.JobInfo{}, engine.ErrClosed
	}
	svc, err := p.cat.GetService(ctx, ref)
	if err != nil {
		return engine.JobInfo{}, err
	}
	if svc.Stopped != nil && (req.Operation == engine.OpDrift || req.Operation == engine.OpAccept) {
		// A check would only find the stop; accepting it would record it as wanted.
		err := fmt.Errorf("%s of %s: %w", req.Operation, ref, ErrStopped)
		p.audit(ctx, a, AuditEntry{Action: ActionJobSubmit, Service: ref.Service, Operation: req.Operation, Reason: req.Reason}, err)
		return engine.JobInfo{}, err
	}
	if req.Operation == engine.OpAccept {
		if err := p.checkAccept(ctx, svc); err != nil {
			p.audit(ctx, a, AuditEntry{Action: ActionJobSubmit, Service: ref.Service, Operation: req.Operation, Reason: req.Reason}, err)
			return engine.JobInfo{}, err
		}
	}
	if req.IdempotencyKey != "" {
		return p.runIdempotent(ctx, a, svc, req)
	}
	j, err := p.submit(ctx, a, svc, req)
	if err != nil {
		return engine.JobInfo{}, err
	}
	return hideSensitive(j.Info()), nil
}

// submit starts the job, audits the attempt and watches the job to its end.
func (p *Platform) submit(ctx context.Context, a Actor, svc *catalog.Service, req RunRequest) (j *engine.Job, err error) {
	ref := svc.Ref()
	entry := AuditEntry{Action: ActionJobSubmit, Service: ref.Service, Operation: req.Operation, Reason: req.Reason, Result: ResultAccepted}
	defer func() {
		if j != nil {
			entry.Job = j.ID()
		}
		p.audit(ctx, a, entry, err)
	}()
	unlock := p.lockService(ref)
	defer unlock()
	if p.isClosed() {
		return nil, engine.ErrClosed
	}
	// Quotas are the users': SpawnIt's own jobs (expiry, automatic remediation; drift
	// checks never come through here) are not refused for them. A retry of an
	// idempotent request that already has its job does not come here either: it
	// answers that job.
	if req.Reason != ReasonExpired && req.Reason != ReasonAutoRemediate {
		if err := p.checkRunQuota(ctx, ref, req.Operation); err != nil {
			return nil, err
		}
	}
	opts := p.runOptions(svc)
	if req.NoQueue {
		opts = append(opts, engine.FailIfLocked())
	}
	switch req.Operation {
	case engine.OpPlan:
		j, err = p.eng.Plan(ctx, ref, opts...)
	case engine.OpApply:
		if ready := p.readinessFor(ctx, svc); ready != nil {
			opts = append(opts, engine.WithReadiness(ready))
		}
		j, err = p.eng.Apply(ctx, ref, opts...)
	case engine.OpDestroy:
		j, err = p.eng.Destroy(ctx, ref, opts...)
	case engine.OpDrift:
		j, err = p.eng.CheckDrift(ctx, ref, opts...)
	case engine.OpAccept:
		j, err = p.eng.Accept(ctx, ref, opts...)
	}
	if err != nil {
		return nil, err
	}
	var after func(engine.JobInfo)
	if req.Operation == engine.OpApply {
		// The configuration this apply runs, recorded as a revision if it succeeds.
		rev := catalog.RevisionOf(svc, catalog.RevisionApply)
		after = func(info engine.JobInfo) { p.recordApply(a, rev, info) }
	}
	if svc.Stopped != nil && (req.Operation == engine.OpApply || req.Operation == engine.OpDestroy) {
		// The apply runs the containers again, or the destroy removes them: the stop
		// is over once it succeeded.
		before := after
		after = func(info engine.JobInfo) {
			if before != nil {
				before(info)
			}
			if info.State == engine.StateSucceeded {
				p.clearStopped(ref)
			}
		}
	}
	p.watch(j, a, after)
	return j, nil
}

// watch follows a job to its end: it publishes each state change to the tenant's
// subscribers, tells the observer, keeps a drift check's report, then runs after. The
// channel it returns is closed once all of that is done.
func (p *Platform) watch(j *engine.Job, a Actor, after func(engine.JobInfo)) <-chan struct{} {
	done := make(chan struct{})
	p.watches.Add(1)
	go func() {
		defer p.watches.Done()
		defer close(done)
		first := j.Info()
		// Follow ends after the final event, once the job record is saved: it never
		// outlives the job, and the engine ends every job at shutdown.
		for ev := range j.Follow(context.Background(), 0) {
			if ev.Type == engine.EventJobState {
				info := first
				info.State = ev.State
				if first.Background {
					// A supervisor's check is not in the service's history: its
					// report, when it changes the status, is published (recordDrift).
					p.announce(first.Service.Tenant(), jobStatus(info, ev.Time))
				} else {
					p.publish(first.Service.Tenant(), jobStatus(info, ev.Time))
				}
			}
		}
		info := j.Info()
		if p.obs != nil {
			p.obs.JobEnded(info)
		}
		if info.Operation == engine.OpDrift && info.Drift != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			if err := p.recordDrift(ctx, info.Service, *info.Drift); err != nil {
				p.log.Error("platform: could not save drift report", "service", info.Service.String(), "err", err)
			}
			cancel()
		}
		if info.Operation == engine.OpDestroy && info.State == engine.StateSucceeded {
			// Nothing is deployed any more: a health result would describe the past.
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			if err := p.st.Delete(ctx, healthKey(info.Service)); err != nil {
				p.log.Warn("platform: could not remove health record", "service", info.Service.String(), "err", err)
			}
			cancel()
		}
		if after != nil {
			after(info)
		}
		if !first.Background {
			// What the end changed besides the job's state: the intent, the stop mark,
			// the health record, the configuration after an upgrade.
			p.touch(context.Background(), info.Service)
		}
	}()
	return done
}

// checkAccept refuses to accept drift of a service that is not deployed (accepting
// would record it as applied) or whose template forbids it. A template that is gone
// no longer forbids anything.
func (p *Platform) checkAccept(ctx context.Context, svc *catalog.Service) error {
	in, err := p.eng.Intent(ctx, svc.Ref())
	if err != nil {
		return err
	}
	if in.Kind != engine.IntentApplied {
		return ErrNotDeployed
	}
	tpl, err := p.cat.ServiceTemplate(ctx, &svc.Info)
	switch {
	case errors.Is(err, catalog.ErrTemplateNotFound), errors.Is(err, catalog.ErrInvalidTemplate):
		return nil
	case err != nil:
		return err
	case !tpl.AcceptsDrift():
		return ErrAcceptDisabled
	}
	return nil
}

// ListJobs lists a service's jobs, newest first, sensitive output values removed. A
// deleted service's jobs stay readable; a service that never existed is not found.
func (p *Platform) ListJobs(ctx context.Context, a Actor, service string) ([]engine.JobInfo, error) {
	ref, err := a.ref(service)
	if err != nil {
		return nil, err
	}
	jobs, err := p.eng.ListJobs(ctx, ref)
	if err != nil {
		return nil, err
	}
	if len(jobs) == 0 {
		if _, err := p.cat.GetService(ctx, ref); err != nil {
			return nil, err
		}
	}
	out := make([]engine.JobInfo, 0, len(jobs))
	for _, j := range jobs {
		out = append(out, hideSensitive(j))
	}
	return out, nil
}

// GetJob returns one of the service's jobs. Sensitive output values are removed unless
// reveal is set; revealing is audited. Values are known while the job is in memory, and
// afterwards for the apply that produced the current state.
func (p *Platform) GetJob(ctx context.Context, a Actor, service, id string, reveal bool) (engine.JobInfo, error) {
	ref, err := a.ref(service)
	if err != nil {
		return engine.JobInfo{}, err
	}
	info, err := p.jobInfo(ctx, ref, id)
	if err != nil || !reveal || !hasSensitive(info.Outputs) {
		return hideSensitive(info), err
	}
	info = p.revealOutputs(ctx, ref, info)
	p.audit(ctx, a, AuditEntry{Action: ActionOutputsReveal, Service: ref.Service, Job: info.ID, Operation: info.Operation}, nil)
	return info, nil
}

// jobInfo returns a job of ref as the engine has it (live snapshot or stored record),
// sensitive values included. A job of another service or tenant is not found.
func (p *Platform) jobInfo(ctx context.Context, ref engine.ServiceRef, id string) (engine.JobInfo, error) {
	if j, ok := p.eng.Job(id); ok {
		if info := j.Info(); info.Service == ref {
			return info, nil
		}
		return engine.JobInfo{}, fmt.Errorf("%w: job %s", engine.ErrNotFound, id)
	}
	info, _, err := p.eng.LoadJob(ctx, ref, id)
	return info, err
}

// revealOutputs fills sensitive output values of a stored apply from the state it
// produced, when it is still the service's current state (the intent's job).
func (p *Platform) revealOutputs(ctx context.Context, ref engine.ServiceRef, info engine.JobInfo) engine.JobInfo {
	if !missingValues(info.Outputs) {
		return info
	}
	in, err := p.eng.Intent(ctx, ref)
	if err != nil || in.JobID != info.ID || in.Kind != engine.IntentApplied {
		return info
	}
	b, _, err := p.st.Get(ctx, engine.StateKey(ref))
	if err != nil {
		return info
	}
	var st struct {
		Outputs map[string]struct {
			Value json.RawMessage `json:"value"`
		} `json:"outputs"`
	}
	if json.Unmarshal(b, &st) != nil {
		return info
	}
	values := map[string]json.RawMessage{}
	for k, o := range st.Outputs {
		values[k] = o.Value
	}
	if stateEncrypted(b) {
		// Only tofu reads an encrypted state: a short outputs job.
		current, err := p.eng.Outputs(ctx, ref)
		if err != nil {
			p.log.Warn("platform: could not read the outputs to reveal", "service", ref.String(), "error", err)
			return info
		}
		for k, o := range current {
			values[k] = o.Value
		}
	}
	outs := make(map[string]engine.Output, len(info.Outputs))
	for k, o := range info.Outputs {
		if o.Sensitive && len(o.Value) == 0 {
			o.Value = values[k]
		}
		outs[k] = o
	}
	info.Outputs = outs
	return info
}

// Cancel cancels one of the service's jobs: the first cancel stops tofu gracefully, a
// forced one (after the engine's cool-off) kills it.
func (p *Platform) Cancel(ctx context.Context, a Actor, service, id string, force bool) (info engine.JobInfo, err error) {
	entry := AuditEntry{Action: ActionJobCancel, Service: service}
	defer func() {
		entry.Job, entry.Operation = info.ID, info.Operation
		p.audit(ctx, a, entry, err)
	}()
	ref, err := a.ref(service)
	if err != nil {
		return engine.JobInfo{}, err
	}
	// The engine cancels its own jobs at once, and records a cancel request for the
	// replica holding any other.
	info, err = p.eng.CancelJob(ctx, ref, id, force)
	if info.ID == "" {
		return engine.JobInfo{}, err
	}
	return hideSensitive(info), err
}

// Events returns the job's events with Seq > after, as recorded so far.
func (p *Platform) Events(ctx context.Context, a Actor, service, id string, after int64) ([]engine.Event, error) {
	ref, err := a.ref(service)
	if err != nil {
		return nil, err
	}
	if j, ok := p.eng.Job(id); ok {
		if j.Info().Service != ref {
			return nil, fmt.Errorf("%w: job %s", engine.ErrNotFound, id)
		}
		return j.Events(after), nil
	}
	_, evs, err := p.eng.LoadJob(ctx, ref, id)
	if err != nil {
		return nil, err
	}
	return eventsAfter(evs, after), nil
}

// FollowJob yields the job's events with Seq > after: a running job's as they happen,
// whichever replica runs it (another's through the store, engine.Follow), until its
// final event or until ctx is done; a finished job's from its stored record.
// Each follower reads at its own pace, so a slow one never slows the job. Whether the
// job has ended when the sequence stops is for the caller to ask (GetJob).
func (p *Platform) FollowJob(ctx context.Context, a Actor, service, id string, after int64) (iter.Seq[engine.Event], error) {
	ref, err := a.ref(service)
	if err != nil {
		return nil, err
	}
	// Whichever replica runs the job: another's events are followed in the store.
	return p.eng.Follow(ctx, ref, id, after)
}

// Drift returns the service's last drift report, or one saying not_checked.
func (p *Platform) Drift(ctx context.Context, a Actor, service string) (engine.DriftReport, error) {
	ref, err := a.ref(service)
	if err != nil {
		return engine.DriftReport{}, err
	}
	if _, err := p.cat.GetService(ctx, ref); err != nil {
		return engine.DriftReport{}, err
	}
	rep, err := p.lastDrift(ctx, ref)
	if err != nil {
		return engine.DriftReport{}, err
	}
	if rep != nil {
		return *rep, nil
	}
	in, err := p.eng.Intent(ctx, ref)
	if err != nil {
		return engine.DriftReport{}, err
	}
	return engine.DriftReport{Status: engine.StatusNotChecked, Intent: in.Kind, Resources: []engine.ResourceDrift{}}, nil
}

// Subscribe returns a subscription to the tenant's status events (job state changes,
// drift status changes, services created, updated and deleted).
func (p *Platform) Subscribe(a Actor) (*Subscription, error) {
	if err := spawnit.ValidateID(a.Tenant); err != nil {
		return nil, fmt.Errorf("tenant: %w", err)
	}
	sub := p.broker.Subscribe(a.Tenant)
	if p.feed != nil {
		p.feed.follow(a.Tenant)
	}
	return sub, nil
}

func driftKey(ref engine.ServiceRef) string { return storeKeys(ref).Drift() }

// lastDrift returns the service's last drift check's report (nil when none was made).
func (p *Platform) lastDrift(ctx context.Context, ref engine.ServiceRef) (*engine.DriftReport, error) {
	rec, _, err := p.readDrift(ctx, ref)
	if err != nil || rec == nil || !rec.checked() {
		return nil, err
	}
	return &rec.DriftReport, nil
}

// recordDrift keeps a check's report as the service's last one, and tells subscribers
// when the status shown changed (not on every check): a signal of a Docker event the
// check began after is kept in front of it; an older one, which the check looked at,
// is confirmed or corrected by the report and the event says so.
func (p *Platform) recordDrift(ctx context.Context, ref engine.ServiceRef, rep engine.DriftReport) error {
	if p.obs != nil {
		p.obs.DriftChecked(rep)
	}
	var prev driftRecord
	stillPending := false
	err := p.updateDrift(ctx, ref, func(rec *driftRecord) bool {
		prev = *rec
		rec.DriftReport = rep
		if rec.pending() == nil {
			rec.Signal = nil
		}
		stillPending = rec.Signal != nil
		return true
	})
	if err != nil {
		return err
	}
	if stillPending {
		return nil // the status shown is the signal's until a check answers it
	}
	if !prev.checked() || prev.Status != rep.Status || prev.pending() != nil {
		p.publish(ref.Tenant(), apiv1.StatusEvent{Kind: "drift", Service: ref.Service, Drift: rep.Status, Time: p.now()})
	}
	return nil
}

func eventsAfter(evs []engine.Event, after int64) []engine.Event {
	for i, ev := range evs {
		if ev.Seq > after {
			return evs[i:]
		}
	}
	return nil
}

// hideSensitive removes sensitive output values (the engine keeps them in a live job's
// snapshot).
func hideSensitive(info engine.JobInfo) engine.JobInfo {
	if !hasSensitive(info.Outputs) {
		return info
	}
	outs := make(map[string]engine.Output, len(info.Outputs))
	for k, o := range info.Outputs {
		if o.Sensitive {
			o.Value = nil
		}
		outs[k] = o
	}
	info.Outputs = outs
	return info
}

func hasSensitive(outs map[string]engine.Output) bool {
	for _, o := range outs {
		if o.Sensitive {
			return true
		}
	}
	return false
}

func missingValues(outs map[string]engine.Output) bool {
	for _, o := range outs {
		if o.Sensitive && len(o.Value) == 0 {
			return true
		}
	}
	return false
}
