package platform

import (
	"context"
	"fmt"
	"time"

	"github.com/spawnit/spawnit/catalog"
	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/pkg/apiv1"
)

// Audit actions of versions.
const (
	ActionServiceUpgrade = "service.upgrade"  // an upgrade (or downgrade) applied and recorded
	ActionBulkUpgrade    = "template.upgrade" // an operator's upgrade of every service of a template
)

// UpgradeRequest asks to move a service to another version of its template.
type UpgradeRequest struct {
	// Version to move to: the template's latest when empty. A lower version than the
	// service's is a downgrade, the same operation.
	Version string
	// Inputs override values for the new version (an input it added, say).
	Inputs map[string]any
}

// Upgrade is one service's move to another version: what it does to the inputs and the
// job that plans or applies it.
type Upgrade struct {
	Tenant       string
	Service      string
	From         string
	To           string
	ReleaseNotes string
	Added        []string
	Removed      []string
	Job          *engine.JobInfo
	// Err is set, in a bulk upgrade, for a service that could not be planned or moved.
	Err error
}

// UpgradeOffer returns the offer of a newer version of the service's template, or nil
// when it runs the latest (or its template is gone).
func (p *Platform) upgradeOffer(ctx context.Context, s *catalog.Service) *apiv1.UpgradeOffer {
	latest, err := p.cat.Get(ctx, s.Template)
	if err != nil || !s.VersionPinned || catalog.CompareVersions(latest.Version, s.TemplateVersion) <= 0 {
		return nil
	}
	return &apiv1.UpgradeOffer{From: s.TemplateVersion, To: latest.Version, ReleaseNotes: latest.ReleaseNotes}
}

// TemplateVersions lists a template's published versions.
func (p *Platform) TemplateVersions(ctx context.Context, id string) ([]catalog.Version, error) {
	return p.cat.Versions(ctx, id)
}

// PlanUpgrade plans the move of a service to another version: the plan job runs the new
// version's module with the migrated inputs; nothing is recorded, and the service stays
// on its version.
func (p *Platform) PlanUpgrade(ctx context.Context, a Actor, service string, req UpgradeRequest) (Upgrade, error) {
	return p.upgrade(ctx, a, service, req, engine.OpPlan)
}

// ApplyUpgrade moves a service to another version: an apply of the new version's module
// with the migrated inputs, recorded (inputs and version) only once it succeeded. A
// failed apply leaves the service pinned to its old version.
func (p *Platform) ApplyUpgrade(ctx context.Context, a Actor, service string, req UpgradeRequest) (Upgrade, error) {
	return p.upgrade(ctx, a, service, req, engine.OpApply)
}

func (p *Platform) upgrade(ctx context.Context, a Actor, service string, req UpgradeRequest, op engine.Operation) (Upgrade, error) {
	ref, err := a.ref(service)
	if err != nil {
		return Upgrade{}, err
	}
	if p.isClosed() {
		return Upgrade{}, engine.ErrClosed
	}
	m, err := p.cat.PrepareMigration(ctx, ref, req.Version, req.Inputs)
	if err != nil {
		return Upgrade{}, err
	}
	svc, err := p.cat.GetService(ctx, ref)
	if err != nil {
		return Upgrade{}, err
	}
	entry := AuditEntry{Action: ActionJobSubmit, Service: ref.Service, Operation: op, Reason: "upgrade " + m.From + " -> " + m.To, Result: ResultAccepted}
	opts := append(p.runOptions(svc), engine.WithFiles(m.Files), engine.WithSecrets(catalog.SecretValues(m.Values, m.Template.SensitiveNames())...))
	unlock := p.lockService(ref)
	var j *engine.Job
	if op == engine.OpPlan {
		j, err = p.eng.Plan(ctx, ref, opts...)
	} else {
		if ready := p.readinessOf(svc, m.Template); ready != nil {
			opts = append(opts, engine.WithReadiness(ready))
		}
		j, err = p.eng.Apply(ctx, ref, opts...)
	}
	unlock()
	if j != nil {
		entry.Job = j.ID()
	}
	p.audit(ctx, a, entry, err)
	if err != nil {
		return Upgrade{}, err
	}
	var after func(engine.JobInfo)
	if op == engine.OpApply {
		after = func(info engine.JobInfo) {
			if info.State != engine.StateSucceeded {
				p.log.Info("platform: upgrade failed; the service keeps its version", "service", ref.String(), "version", m.From, "job", info.ID)
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err := p.cat.CommitMigration(ctx, m)
			if err != nil {
				p.log.Error("platform: upgrade applied but not recorded", "service", ref.String(), "from", m.From, "to", m.To, "err", err)
			}
			p.audit(ctx, a, AuditEntry{Action: ActionServiceUpgrade, Service: ref.Service, Job: info.ID, Reason: m.From + " -> " + m.To, Result: ResultOK}, err)
			p.publishService(ref.Tenant(), ref.Service, "updated")
		}
	}
	p.watch(j, a, after)
	info := hideSensitive(j.Info())
	return Upgrade{Tenant: ref.Tenant(), Service: ref.Service, From: m.From, To: m.To, ReleaseNotes: m.Template.ReleaseNotes,
		Added: m.Added, Removed: m.Removed, Job: &info}, nil
}

// BulkUpgradeRequest asks to move every service of a template (of every tenant) to one
// version.
type BulkUpgradeRequest struct {
	// To is the version to move to (the template's latest when empty); From, when set,
	// limits the upgrade to services on that version.
	To   string
	From string
	// DryRun plans each service's upgrade and waits for the plans instead of applying.
	DryRun bool
}

// BulkUpgrade moves every service of a template that is not on the version already,
// of every tenant: the caller (the API) lets operators only call it. A dry run plans each move and returns once the plans ended (their
// summaries in each Upgrade's Job); otherwise each service's upgrade is applied as its
// own job (as ApplyUpgrade), and the jobs are returned as they start. A service that
// cannot be moved (an input the new version refuses, a busy service) is listed with
// its error; the others go on.
func (p *Platform) BulkUpgrade(ctx context.Context, a Actor, template string, req BulkUpgradeRequest) (to string, out []Upgrade, err error) {
	defer func() {
		p.audit(ctx, a, AuditEntry{Action: ActionBulkUpgrade, Template: safeID(template), Reason: fmt.Sprintf("to %s, dry run %v, %d services", to, req.DryRun, len(out))}, err)
	}()
	var tpl *catalog.Template
	if req.To == "" {
		tpl, err = p.cat.Get(ctx, template)
	} else {
		tpl, err = p.cat.GetVersion(ctx, template, req.To)
	}
	if err != nil {
		return "", nil, err
	}
	refs, err := p.cat.AllServiceRefs(ctx)
	if err != nil {
		return "", nil, err
	}
	out = []Upgrade{}
	for _, ref := range refs {
		svc, err := p.cat.GetService(ctx, ref)
		if err != nil || svc.Template != template || svc.TemplateVersion == tpl.Version || (req.From != "" && svc.TemplateVersion != req.From) {
			continue
		}
		actor := Actor{Tenant: ref.Tenant(), Subject: a.Subject, RequestID: a.RequestID, HomeTenant: a.Tenant}
		if actor.HomeTenant == actor.Tenant {
			actor.HomeTenant = ""
		}
		op := engine.OpApply
		if req.DryRun {
			op = engine.OpPlan
		}
		u, err := p.upgrade(ctx, actor, ref.Service, UpgradeRequest{Version: tpl.Version}, op)
		if err != nil {
			u = Upgrade{Tenant: ref.Tenant(), Service: ref.Service, From: svc.TemplateVersion, To: tpl.Version, Err: err}
		}
		out = append(out, u)
	}
	if req.DryRun {
		for i := range out {
			if out[i].Job == nil {
				continue
			}
			info, err := p.waitJob(ctx, out[i].Job.Service, out[i].Job.ID)
			if err != nil {
				return tpl.Version, out, err
			}
			out[i].Job = &info
		}
	}
	return tpl.Version, out, nil
}

// waitJob waits for a job to end and returns its final record.
func (p *Platform) waitJob(ctx context.Context, ref engine.ServiceRef, id string) (engine.JobInfo, error) {
	j, ok := p.eng.Job(id)
	if !ok {
		info, _, err := p.eng.LoadJob(ctx, ref, id)
		return hideSensitive(info), err
	}
	select {
	case <-j.Done():
	case <-ctx.Done():
		return engine.JobInfo{}, ctx.Err()
	}
	return hideSensitive(j.Info()), nil
}
