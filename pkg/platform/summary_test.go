package platform

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/spawnit/spawnit/catalog"
	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/internal/testservers"
	"github.com/spawnit/spawnit/pkg/apiv1"
	"github.com/spawnit/spawnit/pkg/store"
	"github.com/spawnit/spawnit/pkg/storekey"
)

// summaryReplicas returns n platforms sharing one file store, as replicas share a
// bucket (each with its own catalog, engine and summary cache).
func summaryReplicas(t *testing.T, n int) (store.Store, []*Platform) {
	t.Helper()
	dir := t.TempDir()
	st, err := store.NewFS(filepath.Join(dir, "store"))
	if err != nil {
		t.Fatal(err)
	}
	var ps []*Platform
	for i := range n {
		cat := catalog.New(st, nil)
		if err := cat.Seed(context.Background()); err != nil {
			t.Fatal(err)
		}
		eng, err := engine.New(engine.Config{DataDir: filepath.Join(dir, fmt.Sprint(i)), Store: st, TofuPath: testservers.Tofu(t),
			ProviderMirror: testservers.ProviderMirror(t), Source: catalog.NewServiceSource(cat)})
		if err != nil {
			t.Fatal(err)
		}
		p, err := New(Config{Store: st, Catalog: cat, Engine: eng})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
		ps = append(ps, p)
	}
	return st, ps
}

// allPages follows the cursors of ServicesPage.
func allPages(t *testing.T, p *Platform, a Actor, pg Page) []apiv1.Service {
	t.Helper()
	var out []apiv1.Service
	for range 100 {
		page, err := p.ServicesPage(context.Background(), a, pg)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Services) > max(pg.Limit, 1) {
			t.Fatalf("page of %d services, limit %d", len(page.Services), pg.Limit)
		}
		out = append(out, page.Services...)
		if page.NextCursor == "" {
			return out
		}
		pg.Cursor = page.NextCursor
	}
	t.Fatal("pages never ended")
	return nil
}

func ids(svcs []apiv1.Service) []string {
	out := make([]string, len(svcs))
	for i, s := range svcs {
		out[i] = s.ID
	}
	return out
}

// sameAsView: the list shows each service exactly as GET /api/v1/services/{s} does.
func sameAsView(t *testing.T, p *Platform, a Actor, listed []apiv1.Service) {
	t.Helper()
	for _, l := range listed {
		v, err := p.GetService(context.Background(), a, l.ID)
		if err != nil {
			t.Fatal(err)
		}
		lb, _ := json.Marshal(l)
		vb, _ := json.Marshal(v)
		if string(lb) != string(vb) {
			t.Fatalf("listed %s\n  as %s\nview %s", l.ID, lb, vb)
		}
	}
}

func TestServicesPages(t *testing.T) {
	_, ps := summaryReplicas(t, 1)
	p, ctx, a := ps[0], context.Background(), Actor{Tenant: "t1", Subject: "u"}
	var want []string
	for i := range 7 {
		name := fmt.Sprintf("cache %d", i)
		if i == 4 {
			name = "Needle in the list"
		}
		svc, err := p.CreateService(ctx, a, apiv1.CreateService{Template: "redis", Name: name})
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, svc.ID)
	}
	slices.Sort(want)
	if _, err := p.CreateService(ctx, Actor{Tenant: "t2"}, apiv1.CreateService{Template: "redis"}); err != nil {
		t.Fatal(err)
	}
	for _, limit := range []int{1, 3, 7, 100} {
		got := allPages(t, p, a, Page{Limit: limit})
		if !slices.Equal(ids(got), want) {
			t.Fatalf("limit %d: %v, want %v", limit, ids(got), want)
		}
		sameAsView(t, p, a, got)
	}
	first, err := p.ServicesPage(ctx, a, Page{Limit: 7})
	if err != nil || first.NextCursor != "" {
		t.Fatalf("a page holding the last service has a cursor: %q, %v", first.NextCursor, err)
	}
	found := allPages(t, p, a, Page{Limit: 1, Query: "NEEDLE"})
	if len(found) != 1 || found[0].Name != "Needle in the list" {
		t.Fatalf("search by name: %v", ids(found))
	}
	if got := allPages(t, p, a, Page{Limit: 2, Query: "REDIS"}); !slices.Equal(ids(got), want) {
		t.Fatalf("search by template: %v", ids(got))
	}
	if got := allPages(t, p, a, Page{Query: want[3][2:9]}); len(got) != 1 || got[0].ID != want[3] {
		t.Fatalf("search by id: %v", ids(got))
	}
	for _, pg := range []Page{{Cursor: "nonsense"}, {Cursor: encodeCursor("../x")}, {Limit: -1}, {Limit: MaxPageLimit + 1}} {
		var ve *catalog.ValidationError
		if _, err := p.ServicesPage(ctx, a, pg); !errors.As(err, &ve) {
			t.Fatalf("%+v: %v, want a field error", pg, err)
		}
	}
}

// TestSummariesKeptCurrent: a change on one replica shows on another's list at once,
// and concurrent writers on both leave the summary of the last change.
func TestSummariesKeptCurrent(t *testing.T) {
	_, ps := summaryReplicas(t, 2)
	ctx, a := context.Background(), Actor{Tenant: "t1", Subject: "u"}
	svc, err := ps[0].CreateService(ctx, a, apiv1.CreateService{Template: "redis", Name: "one"})
	if err != nil {
		t.Fatal(err)
	}
	if got := allPages(t, ps[1], a, Page{}); len(got) != 1 || got[0].AutoRemediate {
		t.Fatalf("other replica lists %+v", got)
	}
	on := true
	if _, err := ps[0].UpdateSettings(ctx, a, svc.ID, Settings{AutoRemediate: &on}); err != nil {
		t.Fatal(err)
	}
	if got := allPages(t, ps[1], a, Page{}); len(got) != 1 || !got[0].AutoRemediate {
		t.Fatalf("other replica still lists %+v", got)
	}
	// Writers on both replicas at once: each sets another expiry (few enough that
	// UpdateInfo's retries absorb their conflicts).
	var wg sync.WaitGroup
	base := time.Now().Add(time.Hour).Truncate(time.Second)
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			at := base.Add(time.Duration(i) * time.Minute)
			if _, err := ps[i%2].UpdateSettings(ctx, a, svc.ID, Settings{Expires: &at}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	for _, p := range ps {
		got := allPages(t, p, a, Page{})
		sameAsView(t, p, a, got)
	}
	if _, err := ps[1].DeleteService(ctx, a, svc.ID, false); err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if got := allPages(t, p, a, Page{}); len(got) != 0 {
			t.Fatalf("a deleted service is listed: %v", ids(got))
		}
	}
}

// TestSummaryRefreshRace: refreshes racing a change never leave the summary older than
// the change.
func TestSummaryRefreshRace(t *testing.T) {
	_, ps := summaryReplicas(t, 2)
	ctx, a := context.Background(), Actor{Tenant: "t1", Subject: "u"}
	svc, err := ps[0].CreateService(ctx, a, apiv1.CreateService{Template: "redis"})
	if err != nil {
		t.Fatal(err)
	}
	ref := engine.ServiceRef{Client: a.Tenant, Service: svc.ID}
	for round := range 5 {
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, _, err := ps[i%2].refreshSummary(ctx, ref); err != nil {
					t.Error(err)
				}
			}()
		}
		// The change, written behind the platform's back, then refreshed once, as
		// every change is.
		flip := round%2 == 0
		if _, err := ps[0].cat.UpdateInfo(ctx, ref, func(i *catalog.Info) error { i.AutoRemediate = flip; return nil }); err != nil {
			t.Fatal(err)
		}
		ps[1].touch(ctx, ref)
		wg.Wait()
		for _, p := range ps {
			got := allPages(t, p, a, Page{})
			if len(got) != 1 || got[0].AutoRemediate != flip {
				t.Fatalf("round %d: listed %+v, want auto_remediate %v", round, got, flip)
			}
		}
	}
}

// TestSummaryRepair: the index corrupted, removed, out of date or naming a service
// that is gone: the list is still right.
func TestSummaryRepair(t *testing.T) {
	st, ps := summaryReplicas(t, 1)
	p, ctx, a := ps[0], context.Background(), Actor{Tenant: "t1", Subject: "u"}
	var want []string
	for i := range 4 {
		svc, err := p.CreateService(ctx, a, apiv1.CreateService{Template: "redis", Name: fmt.Sprint("s", i)})
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, svc.ID)
	}
	slices.Sort(want)
	check := func(what string) {
		t.Helper()
		for _, p := range []*Platform{p, freshReplica(t, st)} { // with and without a warm cache
			got := allPages(t, p, a, Page{Limit: 3})
			if !slices.Equal(ids(got), want) {
				t.Fatalf("%s: listed %v, want %v", what, ids(got), want)
			}
			sameAsView(t, p, a, got)
		}
	}
	check("intact")

	entry := func(id string) string { return storekey.For(a.Tenant, id).ServiceEntry() }
	if _, err := st.Put(ctx, entry(want[0]), []byte("{not json"), store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Put(ctx, entry(want[1]), []byte(`{"tenant":"t1","service":"`+want[1]+`","summary":{"service":{"id":"other"}}}`), store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	check("corrupt entries")

	objs, err := st.List(ctx, storekey.IndexPrefix)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if err := st.Delete(ctx, o.Key); err != nil {
			t.Fatal(err)
		}
	}
	check("index removed")

	// A summary left behind (a replica stopped between a change and its refresh):
	// shown, then repaired in the background once old.
	if _, err := p.cat.UpdateInfo(ctx, engine.ServiceRef{Client: a.Tenant, Service: want[2]},
		func(i *catalog.Info) error { i.AutoRemediate = true; return nil }); err != nil {
		t.Fatal(err)
	}
	// A service deleted behind the index's back (its entry stays, with a summary).
	gone := want[3]
	for _, k := range []string{storekey.For(a.Tenant, gone).Info(), storekey.For(a.Tenant, gone).Tfvars()} {
		if err := st.Delete(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	want = want[:3]
	p.now = func() time.Time { return time.Now().UTC().Add(summaryMaxAge + time.Minute) }
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := allPages(t, p, a, Page{Limit: 3})
		if slices.Equal(ids(got), want) && got[2].AutoRemediate {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("out-of-date summaries never repaired: %+v", got)
		}
		time.Sleep(20 * time.Millisecond) // polling the condition
	}
	check("repaired")
}

func freshReplica(t *testing.T, st store.Store) *Platform {
	t.Helper()
	cat := catalog.New(st, nil)
	eng, err := engine.New(engine.Config{DataDir: t.TempDir(), Store: st, TofuPath: testservers.Tofu(t),
		ProviderMirror: testservers.ProviderMirror(t), Source: catalog.NewServiceSource(cat)})
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(Config{Store: st, Catalog: cat, Engine: eng})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	return p
}

func TestCursor(t *testing.T) {
	for _, key := range []string{"abc", "s-1", "1733000000000000000|0b0e5e0c-7c3f-4d8e-9f5b-0a1b2c3d4e5f"} {
		got, err := decodeCursor(encodeCursor(key))
		if err != nil || got != key {
			t.Fatalf("%q: %q, %v", key, got, err)
		}
	}
	for _, c := range []string{"x", "djE6", encodeCursor("a/b"), "v1:abc"} {
		if _, err := decodeCursor(c); err == nil {
			t.Fatalf("%q accepted", c)
		}
	}
}
