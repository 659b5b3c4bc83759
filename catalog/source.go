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
	files, err := s.c.ModuleFiles(ctx, info.Template, info.Provider)
	if err != nil {
		return nil, fmt.Errorf("catalog: service %s: %w", ref, err)
	}
	tfvars, _, err := s.c.st.Get(ctx, storeKeys(ref).Tfvars())
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s has no %s", ErrServiceNotFound, ref, engine.TfvarsFile)
	}
	if err != nil {
		return nil, fmt.Errorf("catalog: service %s: %w", ref, err)
	}
	files[engine.TfvarsFile] = tfvars
	if err := files.Validate(); err != nil {
		return nil, fmt.Errorf("catalog: service %s: %w", ref, err)
	}
	return files, nil
}
