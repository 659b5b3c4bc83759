package platform

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spawnit/spawnit/catalog"
	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/pkg/apiv1"
	"github.com/spawnit/spawnit/pkg/store"
)

// ActionServiceRestore: a revision's inputs were restored (and a plan started).
const ActionServiceRestore = "service.restore"

// revisionBy is who a revision names: the user, or SpawnIt itself.
func revisionBy(a Actor) string { return a.Subject }

// record keeps rev as the service's next revision. A failure is logged, not returned:
// the change it records has happened already.
func (p *Platform) record(ctx context.Context, a Actor, ref engine.ServiceRef, rev catalog.Revision) (catalog.Revision, bool) {
	out, err := p.cat.RecordRevision(ctx, ref, rev, revisionBy(a))
	if err != nil {
		p.log.Error("platform: could not record a configuration revision", "service", ref.String(), "kind", rev.Kind, "err", err)
		return catalog.Revision{}, false
	}
	return out, true
}

// recordApply keeps the configuration an apply ran as a revision, with the state's
// serial after it, once the apply succeeded.
func (p *Platform) recordApply(a Actor, rev catalog.Revision, info engine.JobInfo) {
	if info.State != engine.StateSucceeded {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rev.Job = info.ID
	if in, err := p.eng.Intent(ctx, info.Service); err == nil && in.JobID == info.ID {
		rev.StateSerial = in.StateSerial
	}
	p.record(ctx, a, info.Service, rev)
}

// Revisions lists the service's configuration revisions, newest first.
func (p *Platform) Revisions(ctx context.Context, a Actor, service string) ([]apiv1.Revision, error) {
	ref, err := a.ref(service)
	if err != nil {
		return nil, err
	}
	revs, err := p.cat.Revisions(ctx, ref)
	if err != nil {
		return nil, err
	}
	out := make([]apiv1.Revision, 0, len(revs))
	for _, r := range revs {
		out = append(out, WireRevision(r))
	}
	return out, nil
}

// Revision returns one of the service's revisions.
func (p *Platform) Revision(ctx context.Context, a Actor, service string, number int) (apiv1.Revision, error) {
	ref, err := a.ref(service)
	if err != nil {
		return apiv1.Revision{}, err
	}
	r, err := p.cat.GetRevision(ctx, ref, number)
	if err != nil {
		return apiv1.Revision{}, err
	}
	return WireRevision(r), nil
}

// CompareRevisions lists the fields that differ from revision from to revision to.
func (p *Platform) CompareRevisions(ctx context.Context, a Actor, service string, from, to int) (apiv1.RevisionComparison, error) {
	ref, err := a.ref(service)
	if err != nil {
		return apiv1.RevisionComparison{}, err
	}
	rf, err := p.cat.GetRevision(ctx, ref, from)
	if err != nil {
		return apiv1.RevisionComparison{}, err
	}
	rt, err := p.cat.GetRevision(ctx, ref, to)
	if err != nil {
		return apiv1.RevisionComparison{}, err
	}
	out := apiv1.RevisionComparison{From: from, To: to, Changes: []apiv1.RevisionChange{}}
	for _, c := range catalog.CompareRevisions(rf, rt) {
		out.Changes = append(out.Changes, apiv1.RevisionChange(c))
	}
	return out, nil
}

// Restored is what RestoreRevision did: the service with the revision's inputs, the
// revision recording it, and the plan job started for it.
type Restored struct {
	Service  apiv1.Service
	Revision apiv1.Revision
	Job      engine.JobInfo
}

// RestoreRevision sets the service's inputs to those of revision number (a secret
// masked there keeps its current value: revisions never hold secrets) and starts a
// plan of them; nothing is applied until the user asks. ifMatch, when given, must be
// the configuration's current ETag (ErrStale otherwise). A revision of another
// template version moves the service's pin to that version too (its inputs migrated
// as an upgrade migrates them: a field error when that version no longer accepts
// them, or is not published); the plan then runs that version's module. Ports are
// claimed as on any update.
func (p *Platform) RestoreRevision(ctx context.Context, a Actor, service string, number int, ifMatch string) (res Restored, err error) {
	entry := AuditEntry{Action: ActionServiceRestore, Service: service}
	defer func() {
		if res.Job.ID != "" {
			entry.Job, entry.Operation = res.Job.ID, engine.OpPlan
		}
		p.audit(ctx, a, entry, err)
	}()
	ref, err := a.ref(service)
	if err != nil {
		return Restored{}, err
	}
	if p.isClosed() {
		return Restored{}, engine.ErrClosed
	}
	rev, err := p.cat.GetRevision(ctx, ref, number)
	if err != nil {
		return Restored{}, err
	}
	cur, err := p.cat.GetService(ctx, ref)
	if err != nil {
		return Restored{}, err
	}
	ifMatch = store.NormalizeETag(strings.TrimPrefix(strings.TrimSpace(ifMatch), "W/"))
	switch {
	case ifMatch == "" || ifMatch == "*":
		ifMatch = cur.ETag
	case ifMatch != cur.ETag:
		return Restored{}, fmt.Errorf("service %s: %w", ref, ErrStale)
	}
	entry.Inputs = inputNames(rev.Inputs)
	if rev.TemplateVersion != "" && rev.TemplateVersion != cur.TemplateVersion {
		// First the version, with the revision's inputs migrated to it; the update
		// below then settles the ports, as for any change of inputs.
		m, err := p.cat.PrepareMigration(ctx, ref, rev.TemplateVersion, rev.Inputs)
		if err != nil {
			return Restored{}, fmt.Errorf("revision %d ran %s %s: %w", number, cur.Template, rev.TemplateVersion, err)
		}
		if err := p.cat.CommitMigration(ctx, m); err != nil {
			return Restored{}, err
		}
		entry.Reason = "version " + m.From + " -> " + m.To
		if cur, err = p.cat.GetService(ctx, ref); err != nil {
			return Restored{}, err
		}
		ifMatch = cur.ETag
	}
	updated, err := p.cat.UpdateInputsSettled(ctx, ref, rev.Inputs, ifMatch, p.settlePorts)
	if err != nil {
		return Restored{}, renameFields(err, nil, "inputs.")
	}
	next := catalog.RevisionOf(updated, catalog.RevisionRestore)
	next.RestoredFrom = number
	recorded, _ := p.record(ctx, a, ref, next)
	p.publishService(a.Tenant, service, "updated")
	view, err := p.view(ctx, updated)
	if err != nil {
		return Restored{}, err
	}
	j, err := p.submit(ctx, a, updated, RunRequest{Operation: engine.OpPlan})
	if err != nil {
		return Restored{}, err
	}
	return Restored{Service: view, Revision: WireRevision(recorded), Job: hideSensitive(j.Info())}, nil
}

// WireRevision is a revision as the API shows it.
func WireRevision(r catalog.Revision) apiv1.Revision {
	return apiv1.Revision{
		Number:          r.Number,
		Kind:            r.Kind,
		Inputs:          r.Inputs,
		TemplateVersion: r.TemplateVersion,
		StateSerial:     r.StateSerial,
		Job:             r.Job,
		RestoredFrom:    r.RestoredFrom,
		By:              r.By,
		At:              r.At,
	}
}
