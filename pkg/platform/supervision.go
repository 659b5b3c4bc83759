package platform

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spawnit/spawnit/catalog"
	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/pkg/store"
)

// What a drift supervisor needs: every watched service, background checks that yield
// to users, reports it makes itself, and expiry. The supervisor is one more caller of
// the platform, with the same rules as users.

// Watched is a service with an intent (applied or destroyed): one a supervisor checks.
type Watched struct {
	Ref      engine.ServiceRef
	Provider string
	Intent   engine.IntentKind
	Expires  *time.Time
}

// SystemSubject is the audit subject of actions SpawnIt takes on its own.
const SystemSubject = "spawnit:supervisor"

// WatchedServices lists the services of every tenant that were applied or destroyed.
func (p *Platform) WatchedServices(ctx context.Context) ([]Watched, error) {
	objs, err := p.st.List(ctx, "clients/")
	if err != nil {
		return nil, err
	}
	var out []Watched
	for _, o := range objs {
		parts := strings.Split(o.Key, "/")
		if len(parts) != 4 || parts[3] != catalog.InfoFile {
			continue
		}
		ref := engine.ServiceRef{Client: parts[1], Service: parts[2]}
		if ref.Validate() != nil {
			continue
		}
		in, err := p.eng.Intent(ctx, ref)
		if err != nil {
			if errors.Is(err, store.ErrUnavailable) {
				return nil, err
			}
			continue
		}
		if in.Kind == engine.IntentNone {
			continue
		}
		svc, err := p.cat.GetService(ctx, ref)
		if err != nil {
			if errors.Is(err, store.ErrUnavailable) {
				return nil, err
			}
			continue // deleted since the listing, or unreadable (the catalog logs it)
		}
		out = append(out, Watched{Ref: ref, Provider: svc.Provider, Intent: in.Kind, Expires: svc.Expires})
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
	j, err := p.eng.CheckDrift(ctx, ref, engine.Background(), engine.WithSecrets(secrets(svc)...))
	if err != nil {
		return nil, err
	}
	done := p.watch(j, Actor{Tenant: ref.Client, Subject: SystemSubject}, nil)
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

// Expire starts the destroy of a service whose expiry passed, audited under
// SystemSubject. The configuration is kept, so its owner sees what expired.
func (p *Platform) Expire(ctx context.Context, ref engine.ServiceRef) error {
	_, err := p.Run(ctx, Actor{Tenant: ref.Client, Subject: SystemSubject}, ref.Service, RunRequest{Operation: engine.OpDestroy, NoQueue: true})
	return err
}
