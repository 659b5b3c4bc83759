package platform

import (
	"context"
	"errors"
	"fmt"

	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/pkg/supervisor"
)

// Supervised returns the platform as the drift supervisor sees it (supervisor.New
// takes it): every watched service, background checks that yield to users, health
// probes, expiry and auto-remediation, each audited under SystemSubject.
func (p *Platform) Supervised() supervisor.Platform { return supervised{p} }

type supervised struct{ p *Platform }

var (
	_ supervisor.Platform = supervised{}
	_ supervisor.Signals  = supervised{}
)

func (s supervised) Watched(ctx context.Context) ([]supervisor.Watched, error) {
	ws, err := s.p.WatchedServices(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]supervisor.Watched, 0, len(ws))
	for _, w := range ws {
		out = append(out, supervisor.Watched{Ref: w.Ref, Target: w.Target, Intent: w.Intent, IntentJob: w.IntentJob,
			Expires: w.Expires, AutoRemediate: w.AutoRemediate, Stopped: w.Stopped})
	}
	return out, nil
}

func (s supervised) Check(ctx context.Context, ref engine.ServiceRef) (*engine.DriftReport, error) {
	r, err := s.p.CheckDriftNow(ctx, ref)
	if errors.Is(err, ErrStopped) {
		err = fmt.Errorf("%w: %w", supervisor.ErrNotDue, err)
	}
	return r, err
}

func (s supervised) Record(ctx context.Context, ref engine.ServiceRef, r engine.DriftReport) error {
	return s.p.RecordDrift(ctx, ref, r)
}

func (s supervised) Signal(ctx context.Context, ref engine.ServiceRef, sig supervisor.Signal) error {
	return notDue(s.p.SignalDrift(ctx, ref, sig))
}

func (s supervised) Expire(ctx context.Context, ref engine.ServiceRef) error {
	return notDue(s.p.Expire(ctx, ref))
}

func (s supervised) Health(ctx context.Context, ref engine.ServiceRef) error {
	return s.p.ProbeHealth(ctx, ref)
}

func (s supervised) Remediate(ctx context.Context, ref engine.ServiceRef) (string, <-chan struct{}, error) {
	job, done, err := s.p.AutoRemediate(ctx, ref)
	return job, done, notDue(err)
}

// notDue gives the platform's ErrNotDue the supervisor's meaning; a service deleted
// since the supervisor listed it is not due either.
func notDue(err error) error {
	if errors.Is(err, ErrNotDue) || errors.Is(err, engine.ErrNotFound) {
		return fmt.Errorf("%w: %w", supervisor.ErrNotDue, err)
	}
	return err
}
