package catalog

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/pkg/store"
	"github.com/spawnit/spawnit/pkg/storekey"
)

// listingStore notes the prefixes listed.
type listingStore struct {
	*memStore
	mu    sync.Mutex
	lists []string
}

func (l *listingStore) List(ctx context.Context, prefix string) ([]store.Object, error) {
	l.mu.Lock()
	l.lists = append(l.lists, prefix)
	l.mu.Unlock()
	return l.memStore.List(ctx, prefix)
}

func (l *listingStore) listed() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.lists
	l.lists = nil
	return out
}

func serviceIDs(t *testing.T, c *Catalog, tenant string) []string {
	t.Helper()
	list, err := c.ListServices(context.Background(), tenant)
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{}
	for _, s := range list {
		ids = append(ids, s.Service)
	}
	return ids
}

// TestServiceIndex: listings read the index (never clients/); create and delete keep
// it current; a store without the index, or whose index was removed, gets it rebuilt
// from the service folders on the next listing.
func TestServiceIndex(t *testing.T) {
	mem := newMemStore()
	st := &listingStore{memStore: mem}
	c := New(st, nil)
	if err := c.Seed(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var acme []string
	for i := 0; i < 3; i++ {
		svc, err := c.CreateService(ctx, "acme", echoRequest("x"))
		if err != nil {
			t.Fatal(err)
		}
		acme = append(acme, svc.Service)
		if !exists(mem, storekey.For("acme", svc.Service).ServiceEntry()) {
			t.Fatal("a created service has no index entry")
		}
	}
	slices.Sort(acme)
	other, err := c.CreateService(ctx, "other", echoRequest("x"))
	if err != nil {
		t.Fatal(err)
	}
	st.listed() // creates list the new service's folder, which must be empty
	if got := serviceIDs(t, c, "acme"); !reflect.DeepEqual(got, acme) {
		t.Fatalf("acme lists %v, want %v", got, acme)
	}
	for _, p := range st.listed() {
		if strings.HasPrefix(p, storekey.TenantsPrefix) && p != storekey.TenantsPrefix {
			t.Fatalf("the listing read %s: it must use the index", p)
		}
	}
	refs, err := c.AllServiceRefs(ctx)
	if err != nil || len(refs) != 4 {
		t.Fatalf("every tenant's services: %v %v", refs, err)
	}
	st.listed()

	// Deleting a service removes its entry.
	if err := c.DeleteService(ctx, engine.ServiceRef{Client: "acme", Service: acme[0]}); err != nil {
		t.Fatal(err)
	}
	if exists(mem, storekey.For("acme", acme[0]).ServiceEntry()) {
		t.Fatal("a deleted service's entry is left")
	}
	acme = acme[1:]

	// The index removed as a whole: the next listing rebuilds it from the folders.
	for _, k := range mem.keys(storekey.IndexPrefix) {
		_ = mem.Delete(ctx, k)
	}
	if got := serviceIDs(t, c, "acme"); !reflect.DeepEqual(got, acme) {
		t.Fatalf("after the index was removed, acme lists %v, want %v", got, acme)
	}
	if !exists(mem, storekey.ServicesIndexBuilt) || !exists(mem, storekey.For("other", other.Service).ServiceEntry()) {
		t.Fatal("the index was not rebuilt")
	}
	if !slices.Contains(st.listed(), storekey.TenantsPrefix) {
		t.Fatal("the rebuild must scan the service folders")
	}
	if got := serviceIDs(t, c, "acme"); !reflect.DeepEqual(got, acme) || slices.Contains(st.listed(), storekey.TenantsPrefix) {
		t.Fatalf("a built index must be used as it is: %v", got)
	}
}

// TestRebuildIndexRepairs: an entry missing, an entry whose content is garbage, an
// entry of no service and a key under the index that is no entry are all repaired by
// RebuildIndex; an entry without a service is harmless to listings meanwhile, and a
// young one (a create in progress) is left alone.
func TestRebuildIndexRepairs(t *testing.T) {
	c, st := seeded(t)
	ctx := context.Background()
	var ids []string
	for i := 0; i < 3; i++ {
		svc, err := c.CreateService(ctx, "acme", echoRequest("x"))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, svc.Service)
	}
	slices.Sort(ids)
	if _, err := c.ListServices(ctx, "acme"); err != nil { // builds the index
		t.Fatal(err)
	}
	missing := storekey.For("acme", ids[0]).ServiceEntry()
	corrupt := storekey.For("acme", ids[1]).ServiceEntry()
	stray := storekey.For("acme", "svc-gone0000").ServiceEntry()
	_ = st.Delete(ctx, missing)
	st.put(corrupt, "{not json")
	st.put(stray, `{"tenant":"acme","service":"svc-gone0000"}`)
	st.put(storekey.ServicesIndexPrefix+"acme/Not.An.Entry", "x")
	if got := serviceIDs(t, c, "acme"); !reflect.DeepEqual(got, ids[1:]) {
		t.Fatalf("with one entry missing and one stray, acme lists %v", got)
	}

	// A young stray entry may be a create in progress: kept.
	rep, err := c.RebuildIndex(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep != (IndexRepair{Added: 1, Rewritten: 1, Removed: 1}) || !exists(st, stray) {
		t.Fatalf("repair %+v (stray kept: %v)", rep, exists(st, stray))
	}
	if !exists(st, missing) || !validEntry(engine.ServiceRef{Client: "acme", Service: ids[1]}, []byte(mustData(t, st, corrupt))) {
		t.Fatal("the missing entry was not added back, or the corrupt one not rewritten")
	}
	if got := serviceIDs(t, c, "acme"); !reflect.DeepEqual(got, ids) {
		t.Fatalf("after the repair acme lists %v, want %v", got, ids)
	}

	// Old enough, it goes.
	c.now = func() time.Time { return time.Now().Add(2 * indexGrace) }
	if rep, err := c.RebuildIndex(ctx); err != nil || rep != (IndexRepair{Removed: 1}) || exists(st, stray) {
		t.Fatalf("repair %+v %v (stray kept: %v)", rep, err, exists(st, stray))
	}
}

func exists(st *memStore, key string) bool {
	_, _, err := st.Get(context.Background(), key)
	return err == nil
}
