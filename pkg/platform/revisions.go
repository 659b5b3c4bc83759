package platform

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spawnit/spawnit"
	"github.com/spawnit/spawnit/catalog"
	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/pkg/apiv1"
	"github.com/spawnit/spawnit/pkg/store"
)

// ActionServiceRestore: a revision's inputs were restored (and a plan started).
const ActionServiceRestore = "service.restore"

// ErrRevisionVersion: the revision ran another version of the template than the
// service does now. Restoring inputs never changes the module a service runs: move
// the service to that version first (an upgrade or downgrade, planned and applied
// on purpose), then restore.
var ErrRevisionVersion error = spawnit.NewError(spawnit.KindConflict, "the revision ran another template version than the service", "")

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
// template version is refused (ErrRevisionVersion): the version changes only through
// an upgrade or downgrade.
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
	if rev.TemplateVersion != cur.TemplateVersion {
		return Restored{}, fmt.Errorf("%w: revision %d ran %s %s, the service runs %s: move it to %s first, then restore",
			ErrRevisionVersion, number, cur.Template, rev.TemplateVersion, cur.TemplateVersion, rev.TemplateVersion)
	}
	ifMatch = store.NormalizeETag(strings.TrimPrefix(strings.TrimSpace(ifMatch), "W/"))
	switch {
	case ifMatch == "" || ifMatch == "*":
		ifMatch = cur.ETag
	case ifMatch != cur.ETag:
		return Restored{}, fmt.Errorf("service %s: %w", ref, ErrStale)
	}
	entry.Inputs = inputNames(rev.Inputs)
	updated, err := p.cat.UpdateInputs(ctx, ref, rev.Inputs, ifMatch)
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
