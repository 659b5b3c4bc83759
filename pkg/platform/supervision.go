package platform

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spawnit/spawnit/engine"
)

// What a drift supervisor needs: every watched service, background checks that yield
// to users, reports it makes itself, and expiry. The supervisor is one more caller of
// the platform, with the same rules as users.

// Watched is a service with an intent (applied or destroyed): one a supervisor checks.
type Watched struct {
	Ref    engine.ServiceRef
	Target string
	Intent engine.IntentKind
	// IntentJob is the job that set the intent: it changes with every successful apply,
	// accept or destroy, after which the service deserves a fresh check.
	IntentJob     string
	Expires       *time.Time
	AutoRemediate bool
	// Stopped: a user stopped it; neither drift nor health is checked meanwhile.
	Stopped bool
}

// SystemSubject is the audit subject of actions SpawnIt takes on its own.
const SystemSubject = "spawnit:supervisor"

// WatchedServices lists the services of every tenant that were applied or destroyed,
// from their summaries in the service index (summary.go): one listing of the index,
// and a read of only the summaries that changed since this replica last read them.
func (p *Platform) WatchedServices(ctx context.Context) ([]Watched, error) {
	objs, err := p.cat.IndexObjects(ctx, "")
	if err != nil {
		return nil, err
	}
	docs, err := p.summariesOf(ctx, objs)
	if err != nil {
		return nil, err
	}
	var out []Watched
	for i, d := range docs {
		ref, ok := parseEntryKey(objs[i].Key)
		if !ok || d.Gone || d.Service.Status.Intent == engine.IntentNone {
			continue
		}
		st := d.Service.Status
		out = append(out, Watched{Ref: ref, Target: d.Service.Target, Intent: st.Intent, IntentJob: d.IntentJob,
			Expires: d.Service.ExpiresAt, AutoRemediate: d.Service.AutoRemediate, Stopped: st.Stopped})
	}
	return out, nil
}

// CheckDriftNow runs a background drift check (engine.ErrLocked when a job holds the
// service; a user's job arriving meanwhile stops it) and returns its report once it is
// recorded and published.
func (p *Platform) CheckDriftNow(ctx context.Context, ref engine.ServiceRef) (*engine.DriftReport, error) {
	if err := ref.Validate(); err != nil {
		return nil, err
	}
	if p.isClosed() {
		return nil, engine.ErrClosed
	}
	svc, err := p.cat.GetService(ctx, ref)
	if err != nil {
		return nil, err
	}
	if svc.Stopped != nil {
		return nil, fmt.Errorf("drift check of %s: %w", ref, ErrStopped)
	}
	j, err := p.eng.CheckDrift(ctx, ref, append(p.runOptions(svc), engine.Background())...)
	if err != nil {
		return nil, err
	}
	done := p.watch(j, Actor{Tenant: ref.Tenant(), Subject: SystemSubject}, nil)
	select {
	case <-done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	info := j.Info()
	if info.Drift == nil {
		return nil, fmt.Errorf("drift check of %s ended %s: %s", ref, info.State, info.Error)
	}
	return info.Drift, nil
}

// RecordDrift keeps a report made outside a check job as the service's last one.
func (p *Platform) RecordDrift(ctx context.Context, ref engine.ServiceRef, report engine.DriftReport) error {
	if err := ref.Validate(); err != nil {
		return err
	}
	return p.recordDrift(ctx, ref, report)
}

// Expire starts the destroy of a service whose expiry passed, as a job audited under
// SystemSubject with reason "expired". The configuration is kept, so its owner sees
// what expired (its last job, Status.Expired). The expiry is read again first: one
// moved or removed since the supervisor's listing gives ErrNotDue, as does a service
// that is no longer deployed.
func (p *Platform) Expire(ctx context.Context, ref engine.ServiceRef) error {
	if err := ref.Validate(); err != nil {
		return err
	}
	svc, err := p.cat.GetService(ctx, ref)
	if err != nil {
		return err
	}
	if svc.Expires == nil || p.now().Before(*svc.Expires) {
		return fmt.Errorf("expiry of %s: %w", ref, ErrNotDue)
	}
	in, err := p.eng.Intent(ctx, ref)
	if err != nil {
		return err
	}
	if in.Kind != engine.IntentApplied {
		return fmt.Errorf("expiry of %s (not deployed): %w", ref, ErrNotDue)
	}
	if busy, err := p.busyAnywhere(ctx, ref); err != nil || busy {
		// A job holds the service (the destroy asked for last time, perhaps): retry
		// later, without an audit entry for every try.
		return errors.Join(fmt.Errorf("expiry of %s: %w", ref, engine.ErrLocked), err)
	}
	p.log.Info("platform: service expired; destroying it", "service", ref.String(), "expires", svc.Expires)
	_, err = p.Run(ctx, Actor{Tenant: ref.Tenant(), Subject: SystemSubject}, ref.Service,
		RunRequest{Operation: engine.OpDestroy, NoQueue: true, Reason: ReasonExpired})
	return err
}

// AutoRemediate starts an apply of a deployed service that a check found drifted or
// missing and whose owner turned auto-remediation on, as a job audited under
// SystemSubject with reason "auto_remediate". The setting, the intent and the last
// report are read again first: ErrNotDue when one of them no longer calls for it. It
// never queues: engine.ErrLocked when a user's job or another remediation is queued or
// runs for the service, in this process or, holding its lease, in another replica (so
// no remediation starts only to fail on the lease and stay in the user's history). It
// returns the job's id and a channel closed when the job has ended.
func (p *Platform) AutoRemediate(ctx context.Context, ref engine.ServiceRef) (string, <-chan struct{}, error) {
	if err := ref.Validate(); err != nil {
		return "", nil, err
	}
	svc, err := p.cat.GetService(ctx, ref)
	if err != nil {
		return "", nil, err
	}
	if !svc.AutoRemediate {
		return "", nil, fmt.Errorf("auto-remediation of %s (turned off): %w", ref, ErrNotDue)
	}
	if svc.Stopped != nil {
		return "", nil, fmt.Errorf("auto-remediation of %s (stopped by a user): %w", ref, ErrNotDue)
	}
	in, err := p.eng.Intent(ctx, ref)
	if err != nil {
		return "", nil, err
	}
	rep, err := p.lastDrift(ctx, ref)
	if err != nil {
		return "", nil, err
	}
	if in.Kind != engine.IntentApplied || rep == nil || (rep.Status != engine.StatusDrifted && rep.Status != engine.StatusMissing) {
		return "", nil, fmt.Errorf("auto-remediation of %s (not drifted): %w", ref, ErrNotDue)
	}
	if busy, err := p.busyAnywhere(ctx, ref); err != nil || busy {
		return "", nil, errors.Join(fmt.Errorf("auto-remediation of %s: %w", ref, engine.ErrLocked), err)
	}
	p.log.Info("platform: remediating drift on its own", "service", ref.String(), "drift", rep.Status)
	info, err := p.Run(ctx, Actor{Tenant: ref.Tenant(), Subject: SystemSubject}, ref.Service,
		RunRequest{Operation: engine.OpApply, NoQueue: true, Reason: ReasonAutoRemediate})
	if err != nil {
		return "", nil, err
	}
	done := make(chan struct{})
	j, ok := p.eng.Job(info.ID)
	if !ok {
		close(done) // already ended and forgotten
		return info.ID, done, nil
	}
	go func() {
		defer close(done)
		select {
		case <-j.Done():
		case <-ctx.Done():
		}
	}()
	return info.ID, done, nil
}

// busyAnywhere reports whether a user's job (or a remediation) is queued or runs for
// the service: in this process (the engine's busy answer), or in another replica that
// holds the service's lease (a lease past its expiry was left by a dead holder).
func (p *Platform) busyAnywhere(ctx context.Context, ref engine.ServiceRef) (bool, error) {
	if busy, err := p.eng.ServiceBusy(ctx, ref); busy || err != nil {
		return busy, err
	}
	_, expires, held, err := p.eng.Lease(ctx, ref)
	if err != nil {
		return false, err
	}
	return held && p.now().Before(expires), nil
}
