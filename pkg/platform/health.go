package platform

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/pkg/apiv1"
	"github.com/spawnit/spawnit/pkg/redact"
	"github.com/spawnit/spawnit/pkg/store"
)

// Health statuses of a deployed service (apiv1.ServiceStatus.Health).
const (
	// HealthHealthy: the template's readiness checks passed (after the last apply, or
	// at the supervisor's last full check).
	HealthHealthy = "healthy"
	// HealthUnhealthy: a check failed at the supervisor's last full check.
	HealthUnhealthy = "unhealthy"
	// HealthUnknown: the checks could not run (not the Docker target, Docker
	// unreachable, the last apply's outputs unreadable).
	HealthUnknown = "unknown"
	// HealthNotReady: the last apply deployed the service, but its readiness checks
	// did not pass in time (the apply failed; the resources were kept).
	HealthNotReady = "not_ready"
)

// HealthRecord is a service's last health result, kept at
// clients/<tenant>/<service>/health.json.
type HealthRecord struct {
	Status    string    `json:"status"`
	Message   string    `json:"message,omitempty"`
	CheckedAt time.Time `json:"checked_at"`
}

func healthKey(ref engine.ServiceRef) string { return storeKeys(ref).Health() }

func (p *Platform) lastHealth(ctx context.Context, ref engine.ServiceRef) (*HealthRecord, error) {
	b, _, err := p.st.Get(ctx, healthKey(ref))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var h HealthRecord
	if err := json.Unmarshal(b, &h); err != nil {
		p.log.Warn("platform: unreadable health record ignored", "service", ref.String(), "err", err)
		return nil, nil
	}
	return &h, nil
}

// saveHealth records a health result and tells subscribers when the status changed. A
// failure to write is logged: health is advisory, and the next check writes it again.
func (p *Platform) saveHealth(ctx context.Context, ref engine.ServiceRef, status, msg string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	prev, _ := p.lastHealth(ctx, ref)
	rec := HealthRecord{Status: status, Message: msg, CheckedAt: p.now()}
	b, _ := json.Marshal(rec)
	if _, err := p.st.Put(ctx, healthKey(ref), b, store.PutOptions{ContentType: "application/json"}); err != nil {
		p.log.Warn("platform: could not save health", "service", ref.String(), "err", err)
		return
	}
	if prev == nil || prev.Status != status {
		p.publish(ref.Tenant(), apiv1.StatusEvent{Kind: "health", Service: ref.Service, Health: status, Message: msg, Time: rec.CheckedAt})
	}
}

// ProbeHealth refreshes a deployed Docker service's health: each readiness check of its
// template is tried once, with a short timeout, against the outputs of the apply that
// produced the current state. Services of other targets, without checks or not
// deployed are left alone. The result is recorded and published on change.
func (p *Platform) ProbeHealth(ctx context.Context, ref engine.ServiceRef) error {
	if err := ref.Validate(); err != nil {
		return err
	}
	svc, err := p.cat.GetService(ctx, ref)
	if err != nil {
		return err
	}
	if svc.Provider != checkedTarget || svc.Stopped != nil {
		return nil // a stopped service's probes would only find it stopped
	}
	tpl, err := p.cat.ServiceTemplate(ctx, &svc.Info)
	if err != nil || len(tpl.Readiness) == 0 {
		return nil //nolint:nilerr // a template that is gone has no checks to run
	}
	in, err := p.eng.Intent(ctx, ref)
	if err != nil {
		return err
	}
	if in.Kind != engine.IntentApplied || in.JobID == "" {
		return nil
	}
	info, err := p.jobInfo(ctx, ref, in.JobID)
	if err != nil {
		if errors.Is(err, store.ErrUnavailable) {
			return err
		}
		p.saveHealth(ctx, ref, HealthUnknown, "the outputs of the last apply cannot be read")
		return nil
	}
	status, msg := HealthHealthy, ""
	for _, c := range tpl.Readiness {
		pr, err := p.resolveProbe(ref, c, info.Outputs)
		if err != nil {
			status, msg = HealthUnknown, fmt.Sprintf("%s check: %v", c.Type, err)
			continue
		}
		res := pr.try(ctx)
		if res.ok {
			continue
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		msg = fmt.Sprintf("%s check of %s: %s", c.Type, pr.target, res.detail)
		if res.unknown {
			status = HealthUnknown
			continue
		}
		status = HealthUnhealthy
		break
	}
	p.saveHealth(ctx, ref, status, redact.New(secrets(svc)...).String(msg))
	return nil
}
