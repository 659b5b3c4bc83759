package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/spawnit/spawnit"
	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/pkg/store"
	"github.com/spawnit/spawnit/pkg/storekey"
)

// The service index (index/services/<tenant>/<service>, see docs/store.md) lists a
// tenant's services, or every tenant's, without scanning clients/, where each service
// also keeps its job records, claims and state. info.json stays the truth: an entry
// only says "look here". The catalog keeps the entries a superset of the services:
// CreateService writes a service's entry before its info.json, DeleteService removes
// it after, and listings read info.json for every entry, so an entry left behind by a
// failed create or delete is skipped, never shown. RebuildIndex brings the index back
// from the service folders: listings call it when the index was never built (a store
// written by an older version) or was removed, and operators (or a periodic sweep) may
// call it after repairing a store by hand.

// IndexEntry is what a service's entry holds: who the service is (for people reading the
// bucket, and so that an entry can be told from a corrupt one) and the summary the
// service list shows, which the platform keeps current (package platform, summary.go).
// The catalog writes entries without a summary; a listing that finds none builds it.
type IndexEntry struct {
	Tenant   string    `json:"tenant"`
	Service  string    `json:"service"`
	Template string    `json:"template,omitempty"`
	Provider string    `json:"provider,omitempty"`
	Created  time.Time `json:"created,omitzero"`
	// Summary is the service as the list shows it (opaque to the catalog), built at
	// SummaryAt.
	Summary   json.RawMessage `json:"summary,omitempty"`
	SummaryAt time.Time       `json:"summary_at,omitzero"`
}

// indexRecheck: how long ensureIndex trusts the built mark it saw.
const indexRecheck = 2 * time.Second

// indexGrace: an entry without an info.json is removed by RebuildIndex only once it is
// this old, so a create between its entry and its info.json is never undone.
const indexGrace = 10 * time.Minute

func newIndexEntry(ref engine.ServiceRef, info *Info) []byte {
	e := IndexEntry{Tenant: ref.Tenant(), Service: ref.Service}
	if info != nil {
		e.Template, e.Provider, e.Created = info.Template, info.Provider, info.Created
	}
	b, _ := json.Marshal(e)
	return b
}

// validEntry reports whether an entry's content names the service its key names.
func validEntry(ref engine.ServiceRef, data []byte) bool {
	var e IndexEntry
	return json.Unmarshal(data, &e) == nil && e.Tenant == ref.Tenant() && e.Service == ref.Service
}

// IndexedService is one entry of the service index as read: ETag is the entry's (for
// a conditional rewrite); Entry is its content, zero (but for Tenant and Service) when
// the content was corrupt (Valid false).
type IndexedService struct {
	Ref   engine.ServiceRef
	ETag  string
	Valid bool
	Entry IndexEntry
}

// IndexPage lists one page of a tenant's index entries, sorted by service id: at most
// limit entries of services after the id after ("" for the first page). Like
// ServiceRefs, an entry may name a service that no longer exists.
func (c *Catalog) IndexPage(ctx context.Context, tenant, after string, limit int) ([]store.Object, error) {
	if err := spawnit.ValidateID(tenant); err != nil {
		return nil, fmt.Errorf("tenant: %w", err)
	}
	// The built mark seen a moment ago is trusted, so that a page costs no extra read;
	// an empty page checks it again (the index may have been removed meanwhile).
	trusted := time.Since(time.Unix(0, c.indexSeen.Load())) < indexRecheck
	if !trusted {
		if err := c.ensureIndex(ctx); err != nil {
			return nil, err
		}
	}
	startAfter := ""
	if after != "" {
		startAfter = storekey.For(tenant, after).ServiceEntry()
	}
	objs, err := store.ListPage(ctx, c.st, storekey.TenantIndex(tenant), startAfter, limit)
	if err != nil {
		return nil, fmt.Errorf("catalog: list services of %s: %w", tenant, err)
	}
	if len(objs) == 0 && trusted {
		c.indexSeen.Store(0)
		return c.IndexPage(ctx, tenant, after, limit)
	}
	return objs, nil
}

// IndexObjects lists every index entry of a tenant (every tenant's when tenant is ""),
// with their ETags, sorted by key: a replica's cache of entries is checked against it.
func (c *Catalog) IndexObjects(ctx context.Context, tenant string) ([]store.Object, error) {
	prefix := storekey.ServicesIndexPrefix
	if tenant != "" {
		if err := spawnit.ValidateID(tenant); err != nil {
			return nil, fmt.Errorf("tenant: %w", err)
		}
		prefix = storekey.TenantIndex(tenant)
	}
	if err := c.ensureIndex(ctx); err != nil {
		return nil, err
	}
	objs, err := c.st.List(ctx, prefix)
	if err != nil {
		return nil, fmt.Errorf("catalog: list services: %w", err)
	}
	return objs, nil
}

// ReadIndexEntry reads the entry of the service key names (a key IndexPage or
// IndexObjects returned). It wraps store.ErrNotFound when the entry is gone.
func (c *Catalog) ReadIndexEntry(ctx context.Context, key string) (IndexedService, error) {
	s, ok := storekey.ParseServiceEntry(key)
	ref := engine.ServiceRef{Client: s.Tenant, Service: s.Service}
	if !ok || ref.Validate() != nil {
		return IndexedService{}, fmt.Errorf("%w: %q is no service index entry", engine.ErrInvalidInput, key)
	}
	data, obj, err := c.st.Get(ctx, key)
	if err != nil {
		return IndexedService{}, fmt.Errorf("catalog: read index entry of %s: %w", ref, err)
	}
	out := IndexedService{Ref: ref, ETag: obj.ETag}
	var e IndexEntry
	if json.Unmarshal(data, &e) == nil && e.Tenant == ref.Tenant() && e.Service == ref.Service {
		out.Valid, out.Entry = true, e
	} else {
		out.Entry = IndexEntry{Tenant: ref.Tenant(), Service: ref.Service}
	}
	return out, nil
}

// ServiceEntry reads the index entry of one service (see ReadIndexEntry).
func (c *Catalog) ServiceEntry(ctx context.Context, ref engine.ServiceRef) (IndexedService, error) {
	if err := ref.Validate(); err != nil {
		return IndexedService{}, err
	}
	return c.ReadIndexEntry(ctx, storeKeys(ref).ServiceEntry())
}

// WriteIndexEntry writes a service's entry if it is still the one with ETag etag (""
// when there was none: a create-only write). A lost race wraps
// store.ErrPreconditionFailed: read the entry again and retry.
func (c *Catalog) WriteIndexEntry(ctx context.Context, ref engine.ServiceRef, e IndexEntry, etag string) (store.Object, error) {
	if err := ref.Validate(); err != nil {
		return store.Object{}, err
	}
	e.Tenant, e.Service = ref.Tenant(), ref.Service
	data, err := json.Marshal(e)
	if err != nil {
		return store.Object{}, err
	}
	opts := store.PutOptions{IfMatch: etag, IfNoneMatch: etag == "", ContentType: "application/json"}
	obj, err := c.st.Put(ctx, storeKeys(ref).ServiceEntry(), data, opts)
	if err != nil {
		return store.Object{}, fmt.Errorf("catalog: write index entry of %s: %w", ref, err)
	}
	return obj, nil
}

// addToIndex writes the service's entry, create-only: an entry already there (a
// concurrent create drawing the same id, a rebuild) is as good.
func (c *Catalog) addToIndex(ctx context.Context, ref engine.ServiceRef, info *Info) error {
	_, err := c.st.Put(ctx, storeKeys(ref).ServiceEntry(), newIndexEntry(ref, info),
		store.PutOptions{IfNoneMatch: true, ContentType: "application/json"})
	if err != nil && !errors.Is(err, store.ErrPreconditionFailed) {
		return fmt.Errorf("catalog: index service %s: %w", ref, err)
	}
	return nil
}

// ServiceRefs lists the ids of a tenant's services from the index, sorted by id. An id
// may name a service deleted meanwhile (or a create that failed half-way): read it
// before trusting it (GetService says ErrServiceNotFound).
func (c *Catalog) ServiceRefs(ctx context.Context, tenant string) ([]engine.ServiceRef, error) {
	if err := spawnit.ValidateID(tenant); err != nil {
		return nil, fmt.Errorf("tenant: %w", err)
	}
	return c.indexed(ctx, storekey.TenantIndex(tenant))
}

// AllServiceRefs lists the services of every tenant from the index, sorted by tenant
// and id, with ServiceRefs' caveat.
func (c *Catalog) AllServiceRefs(ctx context.Context) ([]engine.ServiceRef, error) {
	return c.indexed(ctx, storekey.ServicesIndexPrefix)
}

func (c *Catalog) indexed(ctx context.Context, prefix string) ([]engine.ServiceRef, error) {
	if err := c.ensureIndex(ctx); err != nil {
		return nil, err
	}
	objs, err := c.st.List(ctx, prefix)
	if err != nil {
		return nil, fmt.Errorf("catalog: list services: %w", err)
	}
	refs := make([]engine.ServiceRef, 0, len(objs))
	for _, o := range objs {
		s, ok := storekey.ParseServiceEntry(o.Key)
		ref := engine.ServiceRef{Client: s.Tenant, Service: s.Service}
		if ok && ref.Validate() == nil {
			refs = append(refs, ref)
		}
	}
	return refs, nil
}

// ensureIndex rebuilds the index when it was never built or was removed.
func (c *Catalog) ensureIndex(ctx context.Context) error {
	_, err := c.st.Stat(ctx, storekey.ServicesIndexBuilt)
	if err == nil {
		c.indexSeen.Store(time.Now().UnixNano())
		return nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("catalog: service index: %w", err)
	}
	rep, err := c.RebuildIndex(ctx)
	if err != nil {
		return err
	}
	c.log.Info("catalog: service index built from the service folders",
		"added", rep.Added, "rewritten", rep.Rewritten, "removed", rep.Removed)
	return nil
}

// IndexRepair says what RebuildIndex changed.
type IndexRepair struct {
	// Added: services that had no entry. Rewritten: entries whose content was not an
	// entry of their service. Removed: entries of no service (older than a few
	// minutes) and keys under the index that are no entry at all.
	Added, Rewritten, Removed int
}

// RebuildIndex makes the service index match the service folders: one scan of
// clients/ finds every info.json; each service gets its entry, corrupt entries are
// rewritten and entries of services that no longer exist are removed. Then it marks
// the index built. Several processes may run it at once: every write is conditional,
// and a service created or deleted meanwhile keeps its entry or loses it as
// CreateService and DeleteService left it.
func (c *Catalog) RebuildIndex(ctx context.Context) (IndexRepair, error) {
	var rep IndexRepair
	objs, err := c.st.List(ctx, storekey.TenantsPrefix)
	if err != nil {
		return rep, fmt.Errorf("catalog: rebuild service index: %w", err)
	}
	services := map[engine.ServiceRef]bool{}
	for _, o := range objs {
		s, file, ok := storekey.ParseService(o.Key)
		ref := engine.ServiceRef{Client: s.Tenant, Service: s.Service}
		if ok && file == InfoFile && ref.Validate() == nil {
			services[ref] = true
		}
	}
	entries, err := c.st.List(ctx, storekey.ServicesIndexPrefix)
	if err != nil {
		return rep, fmt.Errorf("catalog: rebuild service index: %w", err)
	}
	indexed := map[engine.ServiceRef]bool{}
	for _, o := range entries {
		s, ok := storekey.ParseServiceEntry(o.Key)
		ref := engine.ServiceRef{Client: s.Tenant, Service: s.Service}
		switch {
		case !ok || ref.Validate() != nil:
			if err := c.st.Delete(ctx, o.Key); err != nil {
				return rep, fmt.Errorf("catalog: rebuild service index: %w", err)
			}
			rep.Removed++
		case services[ref]:
			indexed[ref] = true
			data, obj, err := c.st.Get(ctx, o.Key)
			if errors.Is(err, store.ErrNotFound) {
				indexed[ref] = false // removed meanwhile: added back below
				continue
			}
			if err != nil {
				return rep, fmt.Errorf("catalog: rebuild service index: %w", err)
			}
			if validEntry(ref, data) {
				continue
			}
			info, _ := c.readInfo(ctx, ref)
			_, err = c.st.Put(ctx, o.Key, newIndexEntry(ref, info), store.PutOptions{IfMatch: obj.ETag, ContentType: "application/json"})
			if err != nil && !errors.Is(err, store.ErrPreconditionFailed) {
				return rep, fmt.Errorf("catalog: rebuild service index: %w", err)
			}
			rep.Rewritten++
		case c.now().Sub(o.Modified) > indexGrace:
			// No info.json: a delete that stopped before removing the entry, or a
			// create that failed. Checked again, in case the service was created since
			// the scan.
			if _, err := c.st.Stat(ctx, storeKeys(ref).Info()); !errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err := c.st.Delete(ctx, o.Key); err != nil {
				return rep, fmt.Errorf("catalog: rebuild service index: %w", err)
			}
			rep.Removed++
		}
	}
	for ref := range services {
		if indexed[ref] {
			continue
		}
		info, _ := c.readInfo(ctx, ref) // an unreadable one is indexed too: listings report it
		if err := c.addToIndex(ctx, ref, info); err != nil {
			return rep, err
		}
		rep.Added++
	}
	built, _ := json.Marshal(map[string]any{"built": c.now().UTC()})
	if _, err := c.st.Put(ctx, storekey.ServicesIndexBuilt, built, store.PutOptions{ContentType: "application/json"}); err != nil {
		return rep, fmt.Errorf("catalog: rebuild service index: %w", err)
	}
	return rep, nil
}
