package api_test

import (
	"net/url"
	"slices"
	"strconv"
	"testing"

	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/pkg/apiv1"
)

// TestServicePages: GET /api/v1/services a page at a time: limits, cursors, search,
// and the field errors of a bad limit or cursor.
func TestServicePages(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	const tenant = "pages"
	var want []string
	for range 5 {
		want = append(want, h.createService(tenant, "bulk", map[string]any{"items": 1}).ID)
	}
	slices.Sort(want)
	h.createService("other-tenant", "bulk", nil)

	list := func(q url.Values) apiv1.ServiceList {
		t.Helper()
		var l apiv1.ServiceList
		h.must(200, req{method: "GET", path: "/api/v1/services?" + q.Encode(), tenant: tenant}).decode(t, &l)
		return l
	}
	var got []string
	q := url.Values{"limit": {"2"}}
	for range 10 {
		page := list(q)
		if len(page.Services) > 2 {
			t.Fatalf("page of %d services with limit 2", len(page.Services))
		}
		for _, s := range page.Services {
			got = append(got, s.ID)
		}
		if page.NextCursor == "" {
			break
		}
		q.Set("cursor", page.NextCursor)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("pages: %v, want %v", got, want)
	}
	if all := list(url.Values{}); len(all.Services) != 5 || all.NextCursor != "" {
		t.Fatalf("default page: %d services, cursor %q", len(all.Services), all.NextCursor)
	}
	if found := list(url.Values{"q": {want[2][len(want[2])-6:]}}); len(found.Services) != 1 || found.Services[0].ID != want[2] {
		t.Fatalf("search by id: %+v", found)
	}
	if found := list(url.Values{"q": {"TEST BULK"}, "limit": {"4"}}); len(found.Services) != 4 || found.NextCursor == "" {
		t.Fatalf("search by name: %d services, cursor %q", len(found.Services), found.NextCursor)
	}
	if found := list(url.Values{"q": {"no such thing"}}); len(found.Services) != 0 {
		t.Fatalf("search for nothing: %+v", found)
	}
	for _, bad := range []struct{ query, field string }{
		{"limit=0", "limit"}, {"limit=501", "limit"}, {"limit=ten", "limit"}, {"cursor=garbage", "cursor"},
		{"cursor=" + url.QueryEscape("djE6Li4vZXRj"), "cursor"},
	} {
		res := h.do(req{method: "GET", path: "/api/v1/services?" + bad.query, tenant: tenant})
		e := res.apiError(t)
		if res.status != 400 || len(e.Error.Fields) != 1 || e.Error.Fields[0].Field != bad.field {
			t.Errorf("%s: %d %s", bad.query, res.status, res.body)
		}
	}
}

// TestJobPages: a service's job history a page at a time, newest first.
func TestJobPages(t *testing.T) {
	h := newHarness(t, harnessOptions{realTofu: true})
	const tenant = "pages"
	svc := h.createService(tenant, "bulk", map[string]any{"items": 1})
	var want []string
	for range 3 {
		j := h.run(tenant, svc.ID, "plan", nil)
		h.wait(tenant, svc.ID, j.ID, engine.StateSucceeded)
		want = append([]string{j.ID}, want...)
	}
	path := "/api/v1/services/" + svc.ID + "/jobs?limit="
	var got []string
	cursor := ""
	for range 5 {
		var l apiv1.JobList
		h.must(200, req{method: "GET", path: path + strconv.Itoa(2) + "&cursor=" + url.QueryEscape(cursor), tenant: tenant}).decode(t, &l)
		for _, j := range l.Jobs {
			got = append(got, j.ID)
		}
		if cursor = l.NextCursor; cursor == "" {
			break
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("job pages: %v, want %v (newest first)", got, want)
	}
	for _, bad := range []string{"limit=0", "limit=1000", "cursor=x"} {
		if res := h.do(req{method: "GET", path: "/api/v1/services/" + svc.ID + "/jobs?" + bad, tenant: tenant}); res.status != 400 {
			t.Errorf("%s: %d %s", bad, res.status, res.body)
		}
	}
}
