package catalog

import (
	"context"
	"errors"
	"fmt"

	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/pkg/store"
)

// ServiceSource gives the engine a service's working set from the store: the module of
// its template for its target, plus its terraform.tfvars.json. Modules therefore come
// only from the catalog; nothing a user sends becomes a file other than the tfvars.
type ServiceSource struct {
	c *Catalog
}

var _ engine.Source = (*ServiceSource)(nil)

// NewServiceSource returns the engine.Source backed by c.
func NewServiceSource(c *Catalog) *ServiceSource { return &ServiceSource{c: c} }

// Files implements engine.Source.
func (s *ServiceSource) Files(ctx context.Context, ref engine.ServiceRef) (engine.Files, error) {
	if err := ref.Validate(); err != nil {
		return nil, err
	}
	info, err := s.c.readInfo(ctx, ref)
	if err != nil {
		return nil, err
	}
	// A service runs its pinned version's module, whatever happened to the template
	// since; one that could not be pinned (its template gone) runs the folder's.
	var files engine.Files
	if info.VersionPinned {
		files, err = s.c.VersionModuleFiles(ctx, info.Template, info.TemplateVersion, info.Provider)
	} else {
		files, err = s.c.ModuleFiles(ctx, info.Template, info.Provider)
	}
	if err != nil {
		return nil, fmt.Errorf("catalog: service %s: %w", ref, err)
	}
	stored, obj, err := s.c.st.Get(ctx, storeKeys(ref).Tfvars())
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s has no %s", ErrServiceNotFound, ref, engine.TfvarsFile)
	}
	if err != nil {
		return nil, fmt.Errorf("catalog: service %s: %w", ref, err)
	}
	// The workdir gets the secrets in clear; the store keeps them sealed, and a file
	// still in clear (or under a previous key) is sealed anew now: its migration.
	sensitive := s.c.sensitiveNames(ctx, info)
	tfvars, reseal, err := s.c.openTfvars(ref, stored, sensitive)
	if err != nil {
		return nil, err
	}
	if reseal {
		if err := s.c.resealTfvars(ctx, ref, tfvars, sensitive, obj.ETag); err != nil {
			s.c.log.Warn("catalog: could not seal a service's secrets with the current key; the next run tries again", "service", ref.String(), "error", err)
		}
	}
	files[engine.TfvarsFile] = tfvars
	if err := files.Validate(); err != nil {
		return nil, fmt.Errorf("catalog: service %s: %w", ref, err)
	}
	return files, nil
}
