package platform

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/spawnit/spawnit"
	"github.com/spawnit/spawnit/catalog"
	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/pkg/apiv1"
	"github.com/spawnit/spawnit/pkg/store"
)

// Templates lists the catalog as users see it (templateView).
func (p *Platform) Templates(ctx context.Context) ([]catalog.Template, error) {
	tpls, err := p.cat.List(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]catalog.Template, 0, len(tpls))
	for _, t := range tpls {
		if v := p.templateView(t); len(v.Targets) > 0 {
			out = append(out, v)
		}
	}
	return out, nil
}

// templateView is a template as users see it: its Targets are the enabled targets it
// has a module for.
func (p *Platform) templateView(t *catalog.Template) catalog.Template {
	targets := []string{}
	for _, name := range t.Targets {
		if _, ok := p.targets[name]; ok {
			targets = append(targets, name)
		}
	}
	v := *t
	v.Targets = targets
	return v
}

// Targets lists the enabled targets, sorted.
func (p *Platform) Targets() []string { return slices.Sorted(maps.Keys(p.targets)) }

// runOptions are the options of every operation on svc: its secrets masked, its
// target's environment, the sweep of its target's objects left outside its state
// (leftovers.go).
func (p *Platform) runOptions(svc *catalog.Service) []engine.RunOption {
	opts := []engine.RunOption{engine.WithSecrets(secrets(svc)...)}
	if env := p.targets[svc.Provider].Env; len(env) > 0 {
		opts = append(opts, engine.WithEnv(env))
	}
	if vars := p.targets[svc.Provider].variables(svc.Provider); len(vars) > 0 {
		opts = append(opts, engine.WithVars(vars))
	}
	if sweep := p.sweepFor(svc); sweep != nil {
		opts = append(opts, engine.WithSweep(sweep))
	}
	return opts
}

// Template returns one catalog entry as users see it (templateView).
func (p *Platform) Template(ctx context.Context, id string) (catalog.Template, error) {
	if err := spawnit.ValidateID(id); err != nil {
		return catalog.Template{}, fmt.Errorf("template: %w", err)
	}
	t, err := p.cat.Get(ctx, id)
	if err != nil {
		return catalog.Template{}, err
	}
	return p.templateView(t), nil
}

// CreateService stores a new service's configuration (no tofu runs). Input errors come
// back as one *catalog.ValidationError naming every bad field.
func (p *Platform) CreateService(ctx context.Context, a Actor, req apiv1.CreateService) (svc apiv1.Service, err error) {
	entry := AuditEntry{Action: ActionServiceCreate, Template: safeID(req.Template), Inputs: inputNames(req.Inputs)}
	defer func() {
		entry.Service = svc.ID
		p.audit(ctx, a, entry, err)
	}()
	if err := spawnit.ValidateID(a.Tenant); err != nil {
		return apiv1.Service{}, fmt.Errorf("tenant: %w", err)
	}
	// target is the documented field; provider, its older name, is still accepted.
	requested, field := req.Target, "target"
	if requested == "" {
		requested, field = req.Provider, "provider"
	} else if req.Provider != "" && req.Provider != requested {
		return apiv1.Service{}, &catalog.ValidationError{Fields: []catalog.FieldError{{Field: "target", Code: catalog.CodeInvalid,
			Reason: fmt.Sprintf("target %q and provider %q (its older name) differ: send one", requested, req.Provider)}}}
	}
	target := requested
	if target == "" {
		target = catalog.DefaultTarget
	}
	if _, ok := p.targets[target]; !ok && spawnit.ValidateID(target) == nil {
		return apiv1.Service{}, &catalog.ValidationError{Fields: []catalog.FieldError{{Field: field, Code: catalog.CodeEnum,
			Reason: fmt.Sprintf("target %s is not enabled on this server (enabled: %s)", target, strings.Join(p.Targets(), ", "))}}}
	}
	if err := p.checkCreateQuota(ctx, a.Tenant); err != nil {
		return apiv1.Service{}, err
	}
	created, err := p.cat.CreateService(ctx, a.Tenant, catalog.CreateRequest{
		Template:      req.Template,
		Provider:      requested,
		Name:          req.Name,
		Labels:        req.Labels,
		Expires:       req.ExpiresAt,
		AutoRemediate: req.AutoRemediate,
		Inputs:        req.Inputs,
		Settle:        p.settlePorts,
	})
	if err != nil {
		return apiv1.Service{}, renameFields(err, map[string]string{"expires": "expires_at", "provider": field}, "")
	}
	p.record(ctx, a, created.Ref(), catalog.RevisionOf(created, catalog.RevisionCreate))
	p.publishService(a.Tenant, created.Service, "created")
	return p.view(ctx, created)
}

// ListServices lists every service of the tenant with its status, page after page
// (ServicesPage).
func (p *Platform) ListServices(ctx context.Context, a Actor) ([]apiv1.Service, error) {
	var out []apiv1.Service
	pg := Page{Limit: MaxPageLimit}
	for {
		page, err := p.ServicesPage(ctx, a, pg)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Services...)
		if page.NextCursor == "" {
			return out, nil
		}
		pg.Cursor = page.NextCursor
	}
}

// GetService returns one service of the tenant; another tenant's is not found.
func (p *Platform) GetService(ctx context.Context, a Actor, service string) (apiv1.Service, error) {
	ref, err := a.ref(service)
	if err != nil {
		return apiv1.Service{}, err
	}
	s, err := p.cat.GetService(ctx, ref)
	if err != nil {
		return apiv1.Service{}, err
	}
	return p.view(ctx, s)
}

// UpdateInputs replaces the service's inputs (the whole form) if ifMatch is still the
// configuration's ETag: ErrStale when it no longer is, catalog.ErrConflict when another
// update won the race after the check. A job already running keeps the configuration it
// started with.
func (p *Platform) UpdateInputs(ctx context.Context, a Actor, service string, inputs map[string]any, ifMatch string) (svc apiv1.Service, err error) {
	entry := AuditEntry{Action: ActionServiceUpdate, Service: service, Inputs: inputNames(inputs)}
	defer func() { p.audit(ctx, a, entry, err) }()
	ref, err := a.ref(service)
	if err != nil {
		return apiv1.Service{}, err
	}
	ifMatch = store.NormalizeETag(strings.TrimPrefix(strings.TrimSpace(ifMatch), "W/"))
	if ifMatch == "" || ifMatch == "*" {
		return apiv1.Service{}, fmt.Errorf("%w: If-Match must be the service's ETag", engine.ErrInvalidInput)
	}
	cur, err := p.cat.GetService(ctx, ref)
	if err != nil {
		return apiv1.Service{}, err
	}
	if cur.ETag != ifMatch {
		return apiv1.Service{}, fmt.Errorf("service %s: %w", ref, ErrStale)
	}
	updated, err := p.cat.UpdateInputsSettled(ctx, ref, inputs, ifMatch, p.settlePorts)
	if err != nil {
		// The catalog names input fields bare ("port"); a create names them
		// "inputs.port". One convention for API clients.
		return apiv1.Service{}, renameFields(err, nil, "inputs.")
	}
	// Ports the service no longer names are free again, unless it may be deployed: its
	// container may still publish them until the next apply, so they stay its own
	// until it is deleted.
	if deployed, err := p.deployed(ctx, ref); err == nil && !deployed {
		p.releasePorts(ctx, ref, cur.Provider, cur.Values, updated.Values)
	}
	p.record(ctx, a, ref, catalog.RevisionOf(updated, catalog.RevisionUpdate))
	p.publishService(a.Tenant, service, "updated")
	return p.view(ctx, updated)
}

// Settings are the parts of a service a user may change after creation besides its
// inputs. A nil field is left unchanged.
type Settings struct {
	// Expires sets the expiry (which must be in the future); RemoveExpiry removes it.
	Expires      *time.Time
	RemoveExpiry bool
	// AutoRemediate turns automatic remediation on or off.
	AutoRemediate *bool
}

// UpdateSettings changes a service's expiry and auto-remediation. Settings are
// independent of the inputs and of each other, so no ETag is needed: concurrent
// updates are applied one after the other, none lost, and the last one sets each
// setting it names. An expiry moved into the future saves the service from a pending
// expiry; a past one is refused (to destroy now, destroy).
func (p *Platform) UpdateSettings(ctx context.Context, a Actor, service string, set Settings) (svc apiv1.Service, err error) {
	entry := AuditEntry{Action: ActionServiceSettings, Service: service}
	if set.Expires != nil || set.RemoveExpiry {
		entry.Settings = append(entry.Settings, "expires_at")
	}
	if set.AutoRemediate != nil {
		entry.Settings = append(entry.Settings, "auto_remediate")
	}
	defer func() { p.audit(ctx, a, entry, err) }()
	ref, err := a.ref(service)
	if err != nil {
		return apiv1.Service{}, err
	}
	if set.Expires != nil && set.RemoveExpiry {
		return apiv1.Service{}, &catalog.ValidationError{Fields: []catalog.FieldError{{Field: "expires_at", Code: catalog.CodeInvalid, Reason: "set an expiry or remove it, not both"}}}
	}
	if set.Expires != nil && !set.Expires.After(p.now()) {
		return apiv1.Service{}, &catalog.ValidationError{Fields: []catalog.FieldError{{Field: "expires_at", Code: catalog.CodeRange, Reason: "must be in the future"}}}
	}
	if len(entry.Settings) == 0 {
		return apiv1.Service{}, &catalog.ValidationError{Fields: []catalog.FieldError{{Field: "", Code: catalog.CodeRequired, Reason: "name at least one setting: expires_at, auto_remediate"}}}
	}
	updated, err := p.cat.UpdateInfo(ctx, ref, func(i *catalog.Info) error {
		switch {
		case set.RemoveExpiry:
			i.Expires = nil
		case set.Expires != nil:
			t := set.Expires.UTC()
			i.Expires = &t
		}
		if set.AutoRemediate != nil {
			i.AutoRemediate = *set.AutoRemediate
		}
		return nil
	})
	if err != nil {
		return apiv1.Service{}, err
	}
	p.publishService(a.Tenant, service, "updated")
	return p.view(ctx, updated)
}

// DeleteService removes a service's configuration. It refuses while a job runs or waits
// (ErrBusy) and while the service is deployed (ErrResourcesExist) unless destroy is set:
// then it starts a destroy job, returned, and removes the configuration once that job
// succeeds. A nil job means the configuration is gone already.
func (p *Platform) DeleteService(ctx context.Context, a Actor, service string, destroy bool) (job *engine.JobInfo, err error) {
	entry := AuditEntry{Action: ActionServiceDelete, Service: service}
	defer func() {
		if job != nil {
			entry.Job, entry.Operation, entry.Result = job.ID, engine.OpDestroy, ResultAccepted
		}
		p.audit(ctx, a, entry, err)
	}()
	ref, err := a.ref(service)
	if err != nil {
		return nil, err
	}
	svc, err := p.cat.GetService(ctx, ref)
	if err != nil {
		return nil, err
	}
	unlock := p.lockService(ref)
	defer unlock()
	// Asked of the store: a job another replica runs or queues counts.
	if busy, err := p.eng.ServiceBusy(ctx, ref); err != nil || busy {
		return nil, cmp.Or(err, ErrBusy)
	}
	deployed, err := p.deployed(ctx, ref)
	if err != nil {
		return nil, err
	}
	if deployed {
		if !destroy {
			return nil, ErrResourcesExist
		}
		if p.isClosed() {
			return nil, engine.ErrClosed
		}
		// FailIfLocked: a job submitted since the check must not find this destroy
		// queued behind it, followed by a delete of the configuration it needs.
		j, err := p.eng.Destroy(ctx, ref, append(p.runOptions(svc), engine.FailIfLocked())...)
		if err != nil {
			return nil, err
		}
		p.watch(j, a, func(info engine.JobInfo) { p.deleteAfterDestroy(a, ref, info) })
		info := hideSensitive(j.Info())
		return &info, nil
	}
	if err := p.cat.DeleteService(ctx, ref); err != nil {
		return nil, err
	}
	p.dropClaims(ctx, ref)
	p.releaseAllPorts(ctx, ref, svc.Provider)
	p.publishService(a.Tenant, service, "deleted")
	return nil, nil
}

// deleteAfterDestroy removes the configuration once its destroy job succeeded, unless
// someone queued another job for the service meanwhile.
func (p *Platform) deleteAfterDestroy(a Actor, ref engine.ServiceRef, info engine.JobInfo) {
	if info.State != engine.StateSucceeded {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	entry := AuditEntry{Action: ActionServiceDeleted, Service: ref.Service, Job: info.ID, Operation: engine.OpDestroy}
	unlock := p.lockService(ref)
	svc, err := p.cat.GetService(ctx, ref)
	var busy bool
	if err == nil {
		busy, err = p.eng.ServiceBusy(ctx, ref)
	}
	switch {
	case err != nil:
	case busy:
		err = ErrBusy
	default:
		err = p.cat.DeleteService(ctx, ref)
	}
	unlock()
	if err != nil {
		p.log.Warn("platform: configuration kept after destroy", "service", ref.String(), "reason", ErrorKind(err))
	} else {
		p.dropClaims(ctx, ref)
		p.releaseAllPorts(ctx, ref, svc.Provider)
		p.publishService(ref.Tenant(), ref.Service, "deleted")
	}
	p.audit(ctx, a, entry, err)
}

// deployed reports whether the service may have infrastructure: its intent is
// "applied", it needs recovery, objects left outside its state remain, or its state (kept in the store under
// engine.StateKey when the store also holds state) still lists managed resources,
// which a failed first apply leaves without an "applied" intent.
func (p *Platform) deployed(ctx context.Context, ref engine.ServiceRef) (bool, error) {
	in, err := p.eng.Intent(ctx, ref)
	if err != nil {
		return false, err
	}
	if in.Kind == engine.IntentApplied || in.NeedsRecovery || len(in.Leftovers) > 0 {
		return true, nil
	}
	b, _, err := p.st.Get(ctx, engine.StateKey(ref))
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if stateEncrypted(b) {
		// Only tofu can read its resources; serial and lineage are in clear. The state
		// the last successful destroy left has none; any other may (a failed apply).
		var m struct {
			Lineage string `json:"lineage"`
			Serial  int64  `json:"serial"`
		}
		_ = json.Unmarshal(b, &m)
		return in.Kind != engine.IntentDestroyed || m.Lineage != in.StateLineage || m.Serial != in.StateSerial, nil
	}
	return stateHasResources(b), nil
}

// stateEncrypted reports whether a stored state is encrypted by OpenTofu.
func stateEncrypted(state []byte) bool {
	var s struct {
		EncryptedData json.RawMessage `json:"encrypted_data"`
	}
	return json.Unmarshal(state, &s) == nil && len(s.EncryptedData) > 0
}

func stateHasResources(state []byte) bool {
	var s struct {
		Resources []struct {
			Mode      string            `json:"mode"`
			Instances []json.RawMessage `json:"instances"`
		} `json:"resources"`
	}
	if json.Unmarshal(state, &s) != nil {
		return true // unreadable state: assume the worst rather than orphan resources
	}
	for _, r := range s.Resources {
		if r.Mode == "managed" && len(r.Instances) > 0 {
			return true
		}
	}
	return false
}

// view builds the API's picture of a service: configuration with secrets masked, plus
// intent, last drift report, busy and last job.
func (p *Platform) view(ctx context.Context, s *catalog.Service) (apiv1.Service, error) {
	v, _, err := p.viewIntent(ctx, s)
	return v, err
}

// viewIntent is view, with the intent it read.
func (p *Platform) viewIntent(ctx context.Context, s *catalog.Service) (apiv1.Service, engine.Intent, error) {
	ref := s.Ref()
	// The records are independent: read them at once, not one after another.
	var (
		in    engine.Intent
		drift *driftRecord
		h     *HealthRecord
		last  *apiv1.JobRef
		up    *apiv1.UpgradeOffer
	)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) { in, err = p.eng.Intent(gctx, ref); return err })
	g.Go(func() (err error) { drift, _, err = p.readDrift(gctx, ref); return err })
	g.Go(func() (err error) { h, err = p.lastHealth(gctx, ref); return err })
	g.Go(func() (err error) { last, err = p.lastJob(gctx, ref); return err })
	g.Go(func() error { up = p.upgradeOffer(gctx, s); return nil })
	if err := g.Wait(); err != nil {
		return apiv1.Service{}, engine.Intent{}, err
	}
	v := apiv1.Service{
		ID:              s.Service,
		Name:            s.Name,
		Template:        s.Template,
		TemplateVersion: s.TemplateVersion,
		Target:          s.Provider,
		Provider:        s.Provider,
		Labels:          s.Labels,
		CreatedAt:       s.Created,
		UpdatedAt:       s.Updated,
		ExpiresAt:       s.Expires,
		AutoRemediate:   s.AutoRemediate,
		Inputs:          s.MaskedValues(),
		ETag:            s.ETag,
		Status: apiv1.ServiceStatus{
			Intent:        in.Kind,
			Drift:         engine.StatusNotChecked,
			Busy:          p.eng.Busy(ref),
			NeedsRecovery: in.NeedsRecovery,
			RecoveryNote:  in.RecoveryNote,
			Expired:       s.Expires != nil && !p.now().Before(*s.Expires),
			Leftovers:     WireLeftovers(in.Leftovers),
		},
	}
	if s.Stopped != nil && in.Kind == engine.IntentApplied {
		at := *s.Stopped
		v.Status.Stopped, v.Status.StoppedAt = true, &at
	}
	if v.UpdatedAt.IsZero() {
		v.UpdatedAt = s.Created
	}
	v.Upgrade = up
	showDrift(&v.Status, drift)
	var rep *engine.DriftReport
	if drift != nil && drift.checked() {
		rep = &drift.DriftReport
	}
	if in.Kind == engine.IntentApplied && h != nil && !v.Status.Stopped {
		at := h.CheckedAt
		v.Status.Health, v.Status.HealthMessage, v.Status.HealthAt = h.Status, h.Message, &at
		// A drift check since the last health check found resources gone: whatever
		// the health check said then, the service cannot be healthy now.
		if rep != nil && rep.Status == engine.StatusMissing && rep.CheckedAt.After(h.CheckedAt) {
			at := rep.CheckedAt
			v.Status.Health, v.Status.HealthMessage, v.Status.HealthAt = HealthUnhealthy, "resources are missing (drift check)", &at
		}
	}
	v.Status.LastJob = last
	return v, in, nil
}

// lastJob is the service's newest job. The supervisor's checks are not jobs of the
// service's history: their results show as the drift status.
func (p *Platform) lastJob(ctx context.Context, ref engine.ServiceRef) (*apiv1.JobRef, error) {
	info, err := p.eng.LastJob(ctx, ref)
	if err != nil || info == nil {
		return nil, err
	}
	return &apiv1.JobRef{ID: info.ID, Operation: info.Operation, State: info.State}, nil
}

func (p *Platform) publishService(tenant, service, what string) {
	p.publish(tenant, apiv1.StatusEvent{Kind: "service", Service: service, Message: what, Time: p.now()})
}

// secrets are the service's sensitive values, which the engine masks in every event.
func secrets(s *catalog.Service) []string { return catalog.SecretValues(s.Values, s.Sensitive) }

// renameFields rewrites the field names of a validation error: renamed maps whole
// names, prefix is put before the others. Other errors pass unchanged.
func renameFields(err error, renamed map[string]string, prefix string) error {
	var ve *catalog.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	out := &catalog.ValidationError{Fields: make([]catalog.FieldError, 0, len(ve.Fields))}
	for _, f := range ve.Fields {
		if n, ok := renamed[f.Field]; ok {
			f.Field = n
		} else if prefix != "" && f.Field != "" {
			f.Field = prefix + f.Field
		} else if prefix != "" {
			f.Field = strings.TrimSuffix(prefix, ".")
		}
		out.Fields = append(out.Fields, f)
	}
	return out
}

var inputNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]{0,63}$`)

func inputNames(inputs map[string]any) []string {
	names := make([]string, 0, len(inputs))
	for k := range inputs {
		// Only what could be a variable name; anything else is data, not a name.
		if inputNameRe.MatchString(k) {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	return names
}

func safeID(id string) string {
	if spawnit.ValidateID(id) != nil {
		return ""
	}
	return id
}

// Recover is an operator's statement that a service marked "needs recovery" (tofu could
// not save its state, or the stored state no longer matches what SpawnIt last wrote) was
// repaired: jobs that change state are accepted again. Refused while a job runs.
func (p *Platform) Recover(ctx context.Context, a Actor, service string) (svc apiv1.Service, err error) {
	entry := AuditEntry{Action: ActionServiceRecover, Service: service}
	defer func() { p.audit(ctx, a, entry, err) }()
	ref, err := a.ref(service)
	if err != nil {
		return apiv1.Service{}, err
	}
	s, err := p.cat.GetService(ctx, ref)
	if err != nil {
		return apiv1.Service{}, err
	}
	if busy, err := p.eng.ServiceBusy(ctx, ref); err != nil || busy {
		return apiv1.Service{}, cmp.Or(err, ErrBusy)
	}
	if err := p.eng.ClearRecovery(ctx, ref); err != nil {
		return apiv1.Service{}, err
	}
	p.touch(ctx, ref)
	return p.view(ctx, s)
}
