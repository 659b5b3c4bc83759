package catalog

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/pkg/store"
)

// Migration is what moving a service to another version of its template (an upgrade,
// or a downgrade: the same operation) does: the version's module and the service's
// inputs carried over. Nothing is recorded until Commit, after an apply of Files
// succeeded; until then the service stays pinned to From.
type Migration struct {
	Service engine.ServiceRef
	From    string
	To      string
	// Template is the version moved to.
	Template *Template
	// Values are the inputs for To (secrets in clear): the current ones it still has,
	// the overrides given, and defaults (or generated secrets) for the rest.
	Values map[string]any
	// Added lists the inputs To has and the service had no value for; Removed the
	// service's inputs To no longer has (dropped).
	Added   []string
	Removed []string
	// Files are To's module for the service's target and its terraform.tfvars.json.
	Files engine.Files
	// tfvarsETag is the service's tfvars the migration started from: Commit refuses
	// when they changed meanwhile.
	tfvarsETag string
}

// PrepareMigration computes the move of a service to version of its template (the
// template's latest version when version is ""), with overrides for inputs of the new
// version (a value for an input it added, say; a sensitive one left absent or masked
// keeps its value). Values the new version refuses come back as one *ValidationError
// whose fields are "inputs.<name>" (and "version" for a version that does not exist or
// lacks the service's target).
func (c *Catalog) PrepareMigration(ctx context.Context, ref engine.ServiceRef, version string, overrides map[string]any) (*Migration, error) {
	svc, err := c.GetService(ctx, ref)
	if err != nil {
		return nil, err
	}
	if svc.ETag == "" {
		return nil, fmt.Errorf("%w: service %s has no inputs (a create or delete was interrupted)", engine.ErrInvalidInput, ref)
	}
	var tpl *Template
	if version == "" {
		tpl, err = c.Get(ctx, svc.Template)
	} else {
		tpl, err = c.GetVersion(ctx, svc.Template, version)
	}
	switch {
	case errors.Is(err, engine.ErrNotFound), errors.Is(err, engine.ErrInvalidInput), errors.Is(err, ErrInvalidTemplate):
		return nil, &ValidationError{Fields: []FieldError{{Field: "version", Code: CodeUnknown,
			Reason: fmt.Sprintf("template %s has no usable version %q", svc.Template, version)}}}
	case err != nil:
		return nil, err
	}
	if !tpl.HasTarget(svc.Provider) {
		return nil, &ValidationError{Fields: []FieldError{{Field: "version", Code: CodeEnum,
			Reason: fmt.Sprintf("version %s of %s has no module for target %s", tpl.Version, tpl.ID, svc.Provider)}}}
	}
	m := &Migration{Service: ref, From: svc.TemplateVersion, To: tpl.Version, Template: tpl, tfvarsETag: svc.ETag}
	kept, inputs := map[string]any{}, map[string]any{}
	for name, v := range svc.Values {
		if _, ok := tpl.Field(name); ok {
			kept[name] = v
			inputs[name] = v
		} else {
			m.Removed = append(m.Removed, name)
		}
	}
	for _, f := range tpl.Inputs {
		if _, ok := svc.Values[f.Name]; !ok {
			m.Added = append(m.Added, f.Name)
		}
	}
	maps.Copy(inputs, overrides)
	values, err := tpl.ValidateUpdate(inputs, kept)
	var ve *ValidationError
	if errors.As(err, &ve) {
		out := &ValidationError{}
		for _, f := range ve.Fields {
			f.Field = "inputs." + f.Field
			out.Fields = append(out.Fields, f)
		}
		return nil, out
	}
	if err != nil {
		return nil, err
	}
	m.Values = values
	slices.Sort(m.Removed)
	files, err := c.VersionModuleFiles(ctx, tpl.ID, tpl.Version, svc.Provider)
	if err != nil {
		return nil, err
	}
	tfvars, err := tpl.Render(values, ServerValues{TenantID: ref.Tenant(), ServiceID: ref.Service, ServiceName: svc.Name})
	if err != nil {
		return nil, err
	}
	files[engine.TfvarsFile] = tfvars
	m.Files = files
	return m, nil
}

// CommitMigration records a migration whose apply succeeded: the service's inputs
// become m.Values and its version m.To. It fails with ErrConflict when the service's
// inputs or version changed since PrepareMigration. The inputs are written first: a
// failure between the two writes leaves the new inputs with the old version, which
// the next plan shows.
func (c *Catalog) CommitMigration(ctx context.Context, m *Migration) error {
	// The workdir's copy holds the secrets in clear; the stored one has them sealed.
	tfvars, err := c.sealTfvars(m.Service, m.Files[engine.TfvarsFile], m.Template.SensitiveNames())
	if err != nil {
		return fmt.Errorf("catalog: upgrade service %s: %w", m.Service, err)
	}
	_, err = c.st.Put(ctx, storeKeys(m.Service).Tfvars(), tfvars, store.PutOptions{IfMatch: m.tfvarsETag, ContentType: "application/json"})
	if errors.Is(err, store.ErrPreconditionFailed) {
		return fmt.Errorf("%w (service %s: its inputs changed during the upgrade)", ErrConflict, m.Service)
	}
	if err != nil {
		return fmt.Errorf("catalog: upgrade service %s: %w", m.Service, err)
	}
	for attempt := 0; attempt < infoUpdateAttempts; attempt++ {
		data, obj, err := c.st.Get(ctx, storeKeys(m.Service).Info())
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("%w: %s", ErrServiceNotFound, m.Service)
		}
		if err != nil {
			return fmt.Errorf("catalog: read service %s: %w", m.Service, err)
		}
		cur, err := parseInfo(m.Service, data)
		if err != nil {
			return err
		}
		if cur.TemplateVersion != m.From && cur.TemplateVersion != m.To {
			return fmt.Errorf("%w (service %s: moved to version %s meanwhile)", ErrConflict, m.Service, cur.TemplateVersion)
		}
		next := *cur
		next.TemplateVersion, next.VersionPinned = m.To, true
		for _, n := range m.Template.SensitiveNames() {
			if !slices.Contains(next.Sensitive, n) {
				next.Sensitive = append(next.Sensitive, n)
			}
		}
		err = c.writeInfo(ctx, m.Service, data, obj.ETag, next)
		if errors.Is(err, store.ErrPreconditionFailed) {
			continue
		}
		if err != nil {
			return err
		}
		c.log.Info("catalog: service moved to another version", "service", m.Service.String(), "from", m.From, "to", m.To)
		return nil
	}
	return fmt.Errorf("%w (service %s: info.json kept changing)", ErrConflict, m.Service)
}
