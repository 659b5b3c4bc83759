package platform

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/spawnit/spawnit"
	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/pkg/apiv1"
	"github.com/spawnit/spawnit/pkg/store"
	"github.com/spawnit/spawnit/pkg/storekey"
)

// Quota bounds what one tenant may have: services (configured), deployed services and
// unfinished jobs (queued or running, on any replica). 0 means no limit.
type Quota struct {
	Services    int
	Deployed    int
	RunningJobs int
}

// Quota errors. Each is checked before anything is created or submitted.
var (
	// ErrQuotaServices: the tenant has its maximum of services (409 quota_exceeded).
	ErrQuotaServices = spawnit.NewError(spawnit.KindQuotaExceeded, "quota exceeded: services", "")
	// ErrQuotaDeployed: the tenant has its maximum of deployed services, and an apply
	// would deploy one more (409 quota_exceeded).
	ErrQuotaDeployed = spawnit.NewError(spawnit.KindQuotaExceeded, "quota exceeded: deployed services", "")
	// ErrQuotaJobs: the tenant's jobs that have not ended are at its maximum (429
	// too_many_jobs); retry once one ended.
	ErrQuotaJobs = spawnit.NewError(spawnit.KindTooManyJobs, "quota exceeded: running jobs", "")
)

// quotaOverride is a tenant's own limits as stored (storekey.Quota): a nil field keeps
// the server's default.
type quotaOverride struct {
	Services    *int `json:"services,omitempty"`
	Deployed    *int `json:"deployed,omitempty"`
	RunningJobs *int `json:"running_jobs,omitempty"`
}

func (o quotaOverride) apply(q Quota) Quota {
	if o.Services != nil {
		q.Services = *o.Services
	}
	if o.Deployed != nil {
		q.Deployed = *o.Deployed
	}
	if o.RunningJobs != nil {
		q.RunningJobs = *o.RunningJobs
	}
	return q
}

// override reads the tenant's override record; the zero override when there is none.
func (p *Platform) override(ctx context.Context, tenant string) (quotaOverride, error) {
	b, _, err := p.st.Get(ctx, storekey.Quota(tenant))
	if errors.Is(err, store.ErrNotFound) {
		return quotaOverride{}, nil
	}
	if err != nil {
		return quotaOverride{}, fmt.Errorf("platform: read the quota of %s: %w", tenant, err)
	}
	var o quotaOverride
	if err := json.Unmarshal(b, &o); err != nil {
		// A record that does not parse must not lift the limits: the defaults hold.
		p.log.Error("platform: unreadable quota record: the defaults apply", "tenant", tenant, "err", err)
		return quotaOverride{}, nil
	}
	return o, nil
}

// limits is the tenant's quota: the server's defaults with its override applied.
func (p *Platform) limits(ctx context.Context, tenant string) (Quota, quotaOverride, error) {
	o, err := p.override(ctx, tenant)
	if err != nil {
		return Quota{}, quotaOverride{}, err
	}
	return o.apply(p.quotas), o, nil
}

// countServices is how many services the tenant has, from the store's index.
func (p *Platform) countServices(ctx context.Context, tenant string) (int, error) {
	refs, err := p.cat.ServiceRefs(ctx, tenant)
	return len(refs), err
}

// countRunningJobs is how many of the tenant's jobs have not ended, on any replica:
// the entries of the store's index of unfinished jobs.
func (p *Platform) countRunningJobs(ctx context.Context, tenant string) (int, error) {
	objs, err := p.st.List(ctx, storekey.TenantRunningJobs(tenant))
	if err != nil {
		return 0, fmt.Errorf("platform: list the running jobs of %s: %w", tenant, err)
	}
	return len(objs), nil
}

// deployedServices lists the tenant's services that hold resources (by their intent:
// applied, needing recovery or with leftovers), read from the store.
func (p *Platform) deployedServices(ctx context.Context, tenant string) (map[string]bool, error) {
	refs, err := p.cat.ServiceRefs(ctx, tenant)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, ref := range refs {
		in, err := p.eng.Intent(ctx, ref)
		if err != nil {
			return nil, err
		}
		if in.Kind == engine.IntentApplied || in.NeedsRecovery || len(in.Leftovers) > 0 {
			out[ref.Service] = true
		}
	}
	return out, nil
}

// checkCreateQuota refuses a new service when the tenant has its maximum.
func (p *Platform) checkCreateQuota(ctx context.Context, tenant string) error {
	q, _, err := p.limits(ctx, tenant)
	if err != nil || q.Services <= 0 {
		return err
	}
	n, err := p.countServices(ctx, tenant)
	if err != nil {
		return err
	}
	if n >= q.Services {
		return fmt.Errorf("%w: this tenant has %d of its %d services; delete one first", ErrQuotaServices, n, q.Services)
	}
	return nil
}

// checkRunQuota refuses a job when the tenant's unfinished jobs are at their maximum,
// and an apply that would deploy one service more than the tenant may have.
func (p *Platform) checkRunQuota(ctx context.Context, ref engine.ServiceRef, op engine.Operation) error {
	q, _, err := p.limits(ctx, ref.Tenant())
	if err != nil {
		return err
	}
	if q.RunningJobs > 0 {
		n, err := p.countRunningJobs(ctx, ref.Tenant())
		if err != nil {
			return err
		}
		if n >= q.RunningJobs {
			return fmt.Errorf("%w: this tenant has %d of its %d jobs queued or running; retry once one has ended", ErrQuotaJobs, n, q.RunningJobs)
		}
	}
	if q.Deployed > 0 && op == engine.OpApply {
		deployed, err := p.deployedServices(ctx, ref.Tenant())
		if err != nil {
			return err
		}
		if !deployed[ref.Service] && len(deployed) >= q.Deployed {
			return fmt.Errorf("%w: this tenant has %d of its %d services deployed; destroy one first", ErrQuotaDeployed, len(deployed), q.Deployed)
		}
	}
	return nil
}

// QuotaUsage returns the tenant's limits, its usage and its override (a.Tenant).
func (p *Platform) QuotaUsage(ctx context.Context, a Actor) (apiv1.QuotaUsage, error) {
	if err := spawnit.ValidateID(a.Tenant); err != nil {
		return apiv1.QuotaUsage{}, fmt.Errorf("tenant: %w", err)
	}
	q, o, err := p.limits(ctx, a.Tenant)
	if err != nil {
		return apiv1.QuotaUsage{}, err
	}
	services, err := p.countServices(ctx, a.Tenant)
	if err != nil {
		return apiv1.QuotaUsage{}, err
	}
	deployed, err := p.deployedServices(ctx, a.Tenant)
	if err != nil {
		return apiv1.QuotaUsage{}, err
	}
	jobs, err := p.countRunningJobs(ctx, a.Tenant)
	if err != nil {
		return apiv1.QuotaUsage{}, err
	}
	return apiv1.QuotaUsage{
		Tenant:   a.Tenant,
		Limits:   apiv1.Quota{Services: q.Services, Deployed: q.Deployed, RunningJobs: q.RunningJobs},
		Usage:    apiv1.Quota{Services: services, Deployed: len(deployed), RunningJobs: jobs},
		Override: apiv1.QuotaOverride(o),
		Defaults: apiv1.Quota{Services: p.quotas.Services, Deployed: p.quotas.Deployed, RunningJobs: p.quotas.RunningJobs},
	}, nil
}

// SetQuota records the tenant's override of the default quota (a.Tenant; nil fields
// keep the default, all nil removes the override). Every replica reads it from the
// store at each check. Only operators may (the API checks the role).
func (p *Platform) SetQuota(ctx context.Context, a Actor, o apiv1.QuotaOverride) (u apiv1.QuotaUsage, err error) {
	var set []string
	for name, v := range map[string]*int{"services": o.Services, "deployed": o.Deployed, "running_jobs": o.RunningJobs} {
		if v != nil {
			set = append(set, name)
			if *v < 0 {
				return apiv1.QuotaUsage{}, fmt.Errorf("%w: quota %s must be 0 (no limit) or more", spawnit.ErrInvalidInput, name)
			}
		}
	}
	defer func() {
		p.audit(ctx, a, AuditEntry{Action: ActionQuotaSet, Settings: slices.Sorted(slices.Values(set))}, err)
	}()
	if err := spawnit.ValidateID(a.Tenant); err != nil {
		return apiv1.QuotaUsage{}, fmt.Errorf("tenant: %w", err)
	}
	key := storekey.Quota(a.Tenant)
	if len(set) == 0 {
		if err := p.st.Delete(ctx, key); err != nil && !errors.Is(err, store.ErrNotFound) {
			return apiv1.QuotaUsage{}, err
		}
	} else {
		b, _ := json.Marshal(quotaOverride(o))
		if _, err := p.st.Put(ctx, key, b, store.PutOptions{ContentType: "application/json"}); err != nil {
			return apiv1.QuotaUsage{}, err
		}
	}
	return p.QuotaUsage(ctx, a)
}
