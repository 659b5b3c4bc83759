package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spawnit/spawnit/api/auth"
	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/internal/testservers"
	"github.com/spawnit/spawnit/pkg/apiv1"
	"github.com/spawnit/spawnit/pkg/platform"
	"github.com/spawnit/spawnit/pkg/store"
	"github.com/spawnit/spawnit/pkg/storekey"
)

// Roles and quotas against the real OpenID Provider: users of each role sign in (code
// flow; their opaque access tokens are introspected), the role comes from a claim
// (family_name, mapped by value) and the tenant from another (given_name), as an
// operator would configure --oidc-role-claim, --oidc-role-map and --oidc-tenant-claim.
func TestRolesAndQuotasAgainstRealOP(t *testing.T) {
	const redirect = "http://127.0.0.1:1/auth/callback" // never called: the test redeems the codes
	users := []testservers.OPAccount{
		{ID: "vera", Username: "vera", Password: "pw-vera", FirstName: "team-a", LastName: "spawnit-viewers"},
		{ID: "dana", Username: "dana", Password: "pw-dana", FirstName: "team-a", LastName: "spawnit-deployers"},
		{ID: "olga", Username: "olga", Password: "pw-olga", FirstName: "ops", LastName: "spawnit-operators"},
		{ID: "nobody", Username: "nobody", Password: "pw-nobody", FirstName: "team-a", LastName: "contractors"},
	}
	op := testservers.OIDCProviderWithUsers(t, users, redirect)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	oidc, err := auth.New(ctx, auth.Config{
		Issuer: op.Issuer, ClientID: testservers.OPWebClient, ClientSecret: testservers.OPClientSecret,
		TenantClaim: "given_name",
		Roles: auth.RoleMapping{Claim: "family_name", Values: map[string]auth.Role{
			"spawnit-viewers": auth.RoleViewer, "spawnit-deployers": auth.RoleDeployer, "spawnit-operators": auth.RoleOperator}},
	})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, harnessOptions{auth: oidc, quotas: platform.Quota{Services: 2, Deployed: 1, RunningJobs: 1}})
	bearer := map[string]map[string]string{}
	for _, u := range users {
		tok := op.CodeFlowTokens(t, testservers.OPWebClient, testservers.OPClientSecret, redirect, u.Username, u.Password)
		bearer[u.ID] = map[string]string{"Authorization": "Bearer " + tok.AccessToken}
	}
	as := func(user, method, path string, body any) resp {
		return h.do(req{method: method, path: path, headers: bearer[user], body: body})
	}
	forbidden := func(user, method, path string, body any) {
		t.Helper()
		r := as(user, method, path, body)
		if r.status != http.StatusForbidden || r.apiError(t).Error.Code != apiv1.CodeForbidden {
			t.Errorf("%s %s %s: %d %s, want 403 forbidden", user, method, path, r.status, r.body)
		}
	}
	newService := map[string]any{"template": "bulk", "name": "s"}

	t.Run("each user has the role its claim maps to", func(t *testing.T) {
		for user, want := range map[string]string{"vera": "viewer", "dana": "deployer", "olga": "operator", "nobody": "viewer"} {
			var me apiv1.Me
			r := as(user, "GET", "/api/v1/me", nil)
			r.decode(t, &me)
			if r.status != 200 || me.Role != want {
				t.Errorf("%s: %d role %q, want %q", user, r.status, me.Role, want)
			}
		}
	})

	var first apiv1.Service
	if r := as("dana", "POST", "/api/v1/services", newService); r.status != 201 {
		t.Fatalf("deployer create: %d %s", r.status, r.body)
	} else {
		r.decode(t, &first)
	}

	t.Run("viewers read and are refused the rest, each refusal audited", func(t *testing.T) {
		before := countAudit(t, h.st, platform.ActionAccessDenied)
		if r := as("vera", "GET", "/api/v1/services/"+first.ID, nil); r.status != 200 {
			t.Fatalf("viewer read: %d %s", r.status, r.body)
		}
		forbidden("vera", "POST", "/api/v1/services", newService)
		forbidden("vera", "POST", "/api/v1/services/"+first.ID+"/plan", nil)
		forbidden("vera", "DELETE", "/api/v1/services/"+first.ID, nil)
		forbidden("nobody", "POST", "/api/v1/services/"+first.ID+"/apply", nil)
		forbidden("vera", "GET", "/api/v1/services?tenant=ops", nil)
		forbidden("dana", "PUT", "/api/v1/quota", map[string]any{"services": 10})
		if got := countAudit(t, h.st, platform.ActionAccessDenied) - before; got != 6 {
			t.Errorf("%d access.denied entries, want 6", got)
		}
		e := lastAudit(t, h.st, platform.ActionAccessDenied)
		if e.Tenant != "team-a" || e.Subject != "dana" || e.Role != "deployer" || e.RequiredRole != "operator" || e.Route != "PUT /api/v1/quota" {
			t.Errorf("last denial audited as %+v", e)
		}
	})

	t.Run("quotas refuse before anything is created, counted in the store", func(t *testing.T) {
		if r := as("dana", "POST", "/api/v1/services", newService); r.status != 201 {
			t.Fatalf("second service: %d %s", r.status, r.body)
		}
		r := as("dana", "POST", "/api/v1/services", newService)
		if r.status != http.StatusConflict || r.apiError(t).Error.Code != apiv1.CodeQuotaExceeded {
			t.Fatalf("third service: %d %s, want 409 quota_exceeded", r.status, r.body)
		}
		if e := lastAudit(t, h.st, platform.ActionServiceCreate); e.Result != platform.ResultFailed || e.Error != "quota_exceeded" || e.Service != "" {
			t.Errorf("refused create audited as %+v", e)
		}
		var list apiv1.ServiceList
		as("vera", "GET", "/api/v1/services", nil).decode(t, &list)
		if len(list.Services) != 2 {
			t.Errorf("%d services after the refusal, want 2", len(list.Services))
		}

		// A job queued on another replica is in the store's index of unfinished jobs:
		// it counts, and the plan is refused before a job exists.
		entry := storekey.For("team-a", first.ID).RunningJob("00000000-0000-4000-8000-000000000001")
		if _, err := h.st.Put(context.Background(), entry, []byte(`{}`), store.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		r = as("dana", "POST", "/api/v1/services/"+first.ID+"/plan", nil)
		if r.status != http.StatusTooManyRequests || r.apiError(t).Error.Code != apiv1.CodeTooManyJobs {
			t.Errorf("plan over the job quota: %d %s, want 429 too_many_jobs", r.status, r.body)
		}
		if e := lastAudit(t, h.st, platform.ActionJobSubmit); e.Result != platform.ResultFailed || e.Error != "too_many_jobs" || e.Job != "" {
			t.Errorf("refused job audited as %+v", e)
		}
		var jobs apiv1.JobList
		as("dana", "GET", "/api/v1/services/"+first.ID+"/jobs", nil).decode(t, &jobs)
		if len(jobs.Jobs) != 0 {
			t.Errorf("%d jobs after the refusal, want none", len(jobs.Jobs))
		}
		if err := h.st.Delete(context.Background(), entry); err != nil {
			t.Fatal(err)
		}

		// One service deployed (its intent, as any replica records it) of one allowed:
		// an apply of another is refused.
		in, _ := json.Marshal(engine.Intent{Kind: engine.IntentApplied, At: time.Now().UTC()})
		if _, err := h.st.Put(context.Background(), storekey.For("team-a", first.ID).Intent(), in, store.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		var svcs apiv1.ServiceList
		as("dana", "GET", "/api/v1/services", nil).decode(t, &svcs)
		other := svcs.Services[0].ID
		if other == first.ID {
			other = svcs.Services[1].ID
		}
		r = as("dana", "POST", "/api/v1/services/"+other+"/apply", nil)
		if r.status != http.StatusConflict || r.apiError(t).Error.Code != apiv1.CodeQuotaExceeded {
			t.Errorf("apply over the deployed quota: %d %s, want 409 quota_exceeded", r.status, r.body)
		}

		var u apiv1.QuotaUsage
		as("vera", "GET", "/api/v1/quota", nil).decode(t, &u)
		want := apiv1.QuotaUsage{Tenant: "team-a", Limits: apiv1.Quota{Services: 2, Deployed: 1, RunningJobs: 1},
			Usage: apiv1.Quota{Services: 2, Deployed: 1}, Defaults: apiv1.Quota{Services: 2, Deployed: 1, RunningJobs: 1}}
		if !quotaEqual(u, want) {
			t.Errorf("quota %+v, want %+v", u, want)
		}
	})

	t.Run("operators address another tenant, audited there, and set its quota", func(t *testing.T) {
		var list apiv1.ServiceList
		r := as("olga", "GET", "/api/v1/services?tenant=team-a", nil)
		r.decode(t, &list)
		if r.status != 200 || len(list.Services) != 2 {
			t.Fatalf("operator's list of team-a: %d %s", r.status, r.body)
		}
		e := lastAudit(t, h.st, platform.ActionTenantAccess)
		if e.Tenant != "team-a" || e.ActorTenant != "ops" || e.Subject != "olga" {
			t.Errorf("support access audited as %+v", e)
		}
		var own apiv1.ServiceList
		as("olga", "GET", "/api/v1/services", nil).decode(t, &own)
		if len(own.Services) != 0 {
			t.Errorf("without ?tenant= the operator sees %d services of its own tenant, want 0", len(own.Services))
		}
		three := 3
		var u apiv1.QuotaUsage
		r = as("olga", "PUT", "/api/v1/quota?tenant=team-a", apiv1.QuotaOverride{Services: &three})
		r.decode(t, &u)
		if r.status != 200 || u.Limits.Services != 3 || u.Tenant != "team-a" {
			t.Fatalf("set quota: %d %s", r.status, r.body)
		}
		if r := as("dana", "POST", "/api/v1/services", newService); r.status != 201 {
			t.Errorf("create under the raised quota: %d %s", r.status, r.body)
		}
		if e := lastAudit(t, h.st, platform.ActionQuotaSet); e.Tenant != "team-a" || e.ActorTenant != "ops" || !slices.Equal(e.Settings, []string{"services"}) {
			t.Errorf("quota change audited as %+v", e)
		}
		// An empty override goes back to the defaults.
		var back apiv1.QuotaUsage
		as("olga", "PUT", "/api/v1/quota?tenant=team-a", map[string]any{}).decode(t, &back)
		if back.Limits.Services != 2 || back.Override.Services != nil {
			t.Errorf("after removing the override: %+v", back)
		}
	})
}

func quotaEqual(a, b apiv1.QuotaUsage) bool {
	return a.Tenant == b.Tenant && a.Limits == b.Limits && a.Usage == b.Usage && a.Defaults == b.Defaults &&
		a.Override.Services == nil && a.Override.Deployed == nil && a.Override.RunningJobs == nil
}

// audits returns the audit entries of an action, oldest first.
func audits(t *testing.T, st store.Store, action string) []platform.AuditEntry {
	t.Helper()
	objs, err := st.List(context.Background(), platform.AuditPrefix)
	if err != nil {
		t.Fatal(err)
	}
	var out []platform.AuditEntry
	for _, o := range objs {
		b, _, err := st.Get(context.Background(), o.Key)
		if err != nil {
			t.Fatal(err)
		}
		var e platform.AuditEntry
		if err := json.Unmarshal(b, &e); err != nil {
			t.Fatal(err)
		}
		if e.Action == action {
			out = append(out, e)
		}
	}
	slices.SortStableFunc(out, func(a, b platform.AuditEntry) int { return a.Time.Compare(b.Time) })
	return out
}

func countAudit(t *testing.T, st store.Store, action string) int { return len(audits(t, st, action)) }

func lastAudit(t *testing.T, st store.Store, action string) platform.AuditEntry {
	t.Helper()
	es := audits(t, st, action)
	if len(es) == 0 {
		t.Fatalf("no %s audit entry", action)
	}
	return es[len(es)-1]
}

// /metrics is never open to whoever reaches the API's listener: behind the operator's
// token, or only on a listener of its own.
func TestMetricsNotOpen(t *testing.T) {
	t.Run("bearer token", func(t *testing.T) {
		h := newHarness(t, harnessOptions{metricsToken: "scrape-me-0123456789"})
		for name, headers := range map[string]map[string]string{
			"no token":     nil,
			"wrong token":  {"Authorization": "Bearer scrape-me-0123456788"},
			"other scheme": {"Authorization": "Basic scrape-me-0123456789"},
			"a user's":     {"X-Test-Tenant": "tenant-a", "X-Test-Role": "operator"},
		} {
			r := h.do(req{method: "GET", path: "/metrics", headers: headers})
			if r.status != http.StatusUnauthorized || strings.Contains(string(r.body), "spawnit_") {
				t.Errorf("%s: %d, want 401 and no metrics", name, r.status)
			}
		}
		r := h.must(200, req{method: "GET", path: "/metrics", headers: map[string]string{"Authorization": "Bearer scrape-me-0123456789"}})
		if !strings.Contains(string(r.body), "spawnit_http_requests_total") {
			t.Error("the right token did not get the metrics")
		}
	})
	t.Run("listener of its own", func(t *testing.T) {
		h := newHarness(t, harnessOptions{metricsClosed: true})
		h.must(404, req{method: "GET", path: "/metrics"})
		own := httptest.NewServer(h.api.MetricsHandler())
		defer own.Close()
		res, err := http.Get(own.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Errorf("metrics listener: %s", res.Status)
		}
	})
}

// TestTenantsForOperators: operators list the tenants that have services (to address
// one with ?tenant=); anyone else is refused with 403.
func TestTenantsForOperators(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.createService("tenant-b", "httpecho", map[string]any{"port": 18093})
	h.createService("tenant-c", "httpecho", map[string]any{"port": 18094})
	h.createService("tenant-c", "httpecho", map[string]any{"port": 18095})
	var list apiv1.TenantList
	h.must(200, req{method: "GET", path: "/api/v1/tenants", headers: map[string]string{"X-Test-Role": "operator"}}).decode(t, &list)
	want := []apiv1.TenantSummary{{Tenant: "tenant-b", Services: 1}, {Tenant: "tenant-c", Services: 2}}
	if !slices.Equal(list.Tenants, want) {
		t.Fatalf("tenants = %+v, want %+v", list.Tenants, want)
	}
	for _, role := range []string{"viewer", "deployer"} {
		if e := h.must(403, req{method: "GET", path: "/api/v1/tenants", headers: map[string]string{"X-Test-Role": role}}).apiError(t); e.Error.Code != apiv1.CodeForbidden {
			t.Errorf("%s: %+v", role, e)
		}
	}
}
