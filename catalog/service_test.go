package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/pkg/store"
	"github.com/spawnit/spawnit/pkg/storekey"
)

var serviceIDRe = regexp.MustCompile(`^svc-[a-z2-7]{8}$`)

func echoRequest(greeting string) CreateRequest {
	return CreateRequest{Template: "httpecho", Name: "echo", Inputs: map[string]any{"greeting": greeting, "port": json.Number("18081")}}
}

func TestCreateService(t *testing.T) {
	c, st := seeded(t)
	ctx := context.Background()
	created := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	c.now = func() time.Time { return created }
	svc, err := c.CreateService(ctx, "acme", CreateRequest{
		Template: "httpecho",
		Name:     "My echo",
		Labels:   map[string]string{"team": "blue"},
		Inputs:   map[string]any{"greeting": "hi ${x}", "port": json.Number("18081")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !serviceIDRe.MatchString(svc.Service) || engine.ValidateID(svc.Service) != nil {
		t.Fatalf("service id %q", svc.Service)
	}
	token, _ := svc.Values["token"].(string)
	if len(token) != 24 {
		t.Fatalf("token not generated: %q", token)
	}
	wantInfo := Info{
		Client: "acme", Service: svc.Service, Template: "httpecho", TemplateVersion: shippedVersion(t, "httpecho"),
		Provider: "docker", Name: "My echo", Created: created, Labels: map[string]string{"team": "blue"},
		Sensitive: []string{"token"}, VersionPinned: true,
	}
	if !reflect.DeepEqual(svc.Info, wantInfo) {
		t.Fatalf("info = %+v\nwant %+v", svc.Info, wantInfo)
	}

	base := "clients/acme/" + svc.Service + "/"
	if got := st.keys(base); !reflect.DeepEqual(got, []string{base + "info.json", base + "terraform.tfvars.json"}) {
		t.Fatalf("stored objects = %v", got)
	}
	var tfvars map[string]any
	if err := json.Unmarshal([]byte(mustData(t, st, base+"terraform.tfvars.json")), &tfvars); err != nil {
		t.Fatal(err)
	}
	wantVars := map[string]any{
		"greeting": "hi ${x}", "port": 18081.0, "token": token,
		VarTenantID: "acme", VarServiceID: svc.Service, VarServiceName: "My echo",
	}
	if !reflect.DeepEqual(tfvars, wantVars) {
		t.Fatalf("tfvars = %v\nwant %v", tfvars, wantVars)
	}

	got, err := c.GetService(ctx, svc.Ref())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Info, wantInfo) || got.ETag != svc.ETag || got.ETag == "" {
		t.Fatalf("GetService = %+v", got)
	}
	if got.Values["token"] != token || got.Values["greeting"] != "hi ${x}" || got.Values[VarTenantID] != nil {
		t.Fatalf("values = %v", got.Values)
	}
	if m := got.MaskedValues(); m["token"] != Masked || m["greeting"] != "hi ${x}" {
		t.Fatalf("masked = %v", m)
	}
	listing, _ := json.Marshal(got)
	if strings.Contains(string(listing), token) {
		t.Fatalf("a Service marshals its secret: %s", listing)
	}
}

func TestCreateServiceDefaults(t *testing.T) {
	c, _ := seeded(t)
	// The port has no default: the server chooses it (Settle), once the id is known.
	settle := func(_ context.Context, ref engine.ServiceRef, target string, tpl *Template, values map[string]any) (func(), error) {
		if _, ok := values["port"]; ok || target != "docker" || tpl.ID != "postgres" || ref.Tenant() != "acme" || ref.Service == "" {
			t.Errorf("settle(%v, %s, %s, %v)", ref, target, tpl.ID, values)
		}
		values["port"] = int64(20001)
		return func() {}, nil
	}
	svc, err := c.CreateService(context.Background(), "acme", CreateRequest{Template: "postgres", Settle: settle})
	if err != nil {
		t.Fatal(err)
	}
	if svc.Provider != "docker" || svc.Name != "PostgreSQL" || svc.Values["port"] != int64(20001) || svc.Values["database"] != "app" {
		t.Fatalf("defaults not applied: %+v %v", svc.Info, svc.Values)
	}
	stored, err := c.GetService(context.Background(), svc.Ref())
	if err != nil || fmt.Sprint(stored.Values["port"]) != "20001" {
		t.Fatalf("stored port = %v (%v)", stored.Values["port"], err)
	}
	// A refused port is a field error of the create, and nothing is stored.
	refuse := func(context.Context, engine.ServiceRef, string, *Template, map[string]any) (func(), error) {
		return nil, &ValidationError{Fields: []FieldError{{Field: "port", Code: CodeTaken, Reason: "taken"}}}
	}
	_, err = c.CreateService(context.Background(), "other", CreateRequest{Template: "postgres", Inputs: map[string]any{"port": 5432}, Settle: refuse})
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Fields) != 1 || ve.Fields[0].Field != "inputs.port" || ve.Fields[0].Code != CodeTaken {
		t.Fatalf("refused port: %v", err)
	}
	if list, _ := c.ListServices(context.Background(), "other"); len(list) != 0 {
		t.Fatalf("a refused create left %v", list)
	}
}

func TestCreateServiceRejects(t *testing.T) {
	past := time.Now().Add(-time.Hour)
	tests := []struct {
		name   string
		req    CreateRequest
		fields []string
	}{
		{"unknown template", CreateRequest{Template: "nope"}, []string{"template"}},
		{"bad template id", CreateRequest{Template: "../templates/x"}, []string{"template"}},
		{"provider without module", CreateRequest{Template: "httpecho", Provider: "gcp"}, []string{"provider"}},
		{"bad provider id", CreateRequest{Template: "httpecho", Provider: "Docker"}, []string{"provider"}},
		{"name too long", CreateRequest{Template: "httpecho", Name: strings.Repeat("n", 65)}, []string{"name"}},
		{"name with newline", CreateRequest{Template: "httpecho", Name: "a\nb"}, []string{"name"}},
		{"blank name", CreateRequest{Template: "httpecho", Name: "   "}, []string{"name"}},
		{"bad label", CreateRequest{Template: "httpecho", Labels: map[string]string{"Team X": "a"}}, []string{"labels.Team X"}},
		{"reserved label", CreateRequest{Template: "httpecho", Labels: map[string]string{"spawnit.client": "b"}}, []string{"labels.spawnit.client"}},
		{"expired", CreateRequest{Template: "httpecho", Expires: &past}, []string{"expires"}},
		{"inputs and request together", CreateRequest{
			Template: "httpecho", Name: "a\x00b",
			Inputs: map[string]any{"port": 80, "spawnit_client_id": "other", "extra": 1},
		}, []string{"name", "inputs.extra", "inputs.spawnit_client_id", "inputs.port"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, st := seeded(t)
			_, err := c.CreateService(context.Background(), "acme", tc.req)
			var ve *ValidationError
			if !errors.As(err, &ve) || !errors.Is(err, engine.ErrInvalidInput) {
				t.Fatalf("err = %v, want a ValidationError", err)
			}
			var got []string
			for _, f := range ve.Fields {
				got = append(got, f.Field)
			}
			if !reflect.DeepEqual(got, tc.fields) {
				t.Fatalf("fields = %v, want %v", got, tc.fields)
			}
			if keys := st.keys(storekey.TenantsPrefix); len(keys) != 0 {
				t.Fatalf("a rejected request wrote %v", keys)
			}
		})
	}
}

func TestEveryEntryPointRejectsBadIDs(t *testing.T) {
	c, st := seeded(t)
	ctx := context.Background()
	svc, err := c.CreateService(ctx, "acme", echoRequest("x"))
	if err != nil {
		t.Fatal(err)
	}
	src := NewServiceSource(c)
	before := st.keys("")
	for _, id := range hostileIDs {
		bad := map[string]error{}
		_, bad["CreateService"] = c.CreateService(ctx, id, echoRequest("x"))
		_, bad["ListServices"] = c.ListServices(ctx, id)
		for _, ref := range []engine.ServiceRef{{Client: id, Service: svc.Service}, {Client: "acme", Service: id}} {
			_, bad["GetService"] = c.GetService(ctx, ref)
			_, bad["UpdateInputs"] = c.UpdateInputs(ctx, ref, map[string]any{}, svc.ETag)
			bad["DeleteService"] = c.DeleteService(ctx, ref)
			_, bad["Files"] = src.Files(ctx, ref)
			for name, err := range bad {
				if !errors.Is(err, engine.ErrInvalidInput) {
					t.Errorf("%s with id %q: %v, want ErrInvalidInput", name, id, err)
				}
			}
		}
	}
	if after := st.keys(""); !reflect.DeepEqual(before, after) {
		t.Fatal("rejected calls changed the store")
	}
}

func TestServiceIDsAreUnique(t *testing.T) {
	c, _ := seeded(t)
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		svc, err := c.CreateService(context.Background(), "acme", echoRequest("x"))
		if err != nil {
			t.Fatal(err)
		}
		if seen[svc.Service] || !serviceIDRe.MatchString(svc.Service) {
			t.Fatalf("id %q repeated or malformed", svc.Service)
		}
		seen[svc.Service] = true
	}
	list, err := c.ListServices(context.Background(), "acme")
	if err != nil || len(list) != 100 {
		t.Fatalf("ListServices: %d services, %v", len(list), err)
	}
}

// sequence returns the given ids in order, then repeats the last one.
func sequence(ids ...string) func() string {
	var mu sync.Mutex
	return func() string {
		mu.Lock()
		defer mu.Unlock()
		id := ids[0]
		if len(ids) > 1 {
			ids = ids[1:]
		}
		return id
	}
}

func TestServiceIDCollisionRetries(t *testing.T) {
	c, st := seeded(t)
	ctx := context.Background()
	c.newID = sequence("svc-aaaaaaaa", "svc-aaaaaaaa", "svc-bbbbbbbb", "svc-cccccccc")
	first, err := c.CreateService(ctx, "acme", echoRequest("first"))
	if err != nil || first.Service != "svc-aaaaaaaa" {
		t.Fatalf("first: %v %v", first, err)
	}
	// A deleted service's leftovers (state, jobs) also make its id unavailable.
	st.put("clients/acme/svc-cccccccc/terraform.tfstate", "{}")
	c.newID = sequence("svc-aaaaaaaa", "svc-cccccccc", "svc-dddddddd")
	second, err := c.CreateService(ctx, "acme", echoRequest("second"))
	if err != nil || second.Service != "svc-dddddddd" {
		t.Fatalf("second: %v %v", second, err)
	}
	got, _ := c.GetService(ctx, first.Ref())
	if got.Values["greeting"] != "first" {
		t.Fatal("a collision overwrote the first service")
	}
	// The same id in another tenant is no collision.
	c.newID = sequence("svc-aaaaaaaa")
	if other, err := c.CreateService(ctx, "other", echoRequest("x")); err != nil || other.Service != "svc-aaaaaaaa" {
		t.Fatalf("other tenant: %v %v", other, err)
	}
	c.newID = sequence("svc-aaaaaaaa")
	if _, err := c.CreateService(ctx, "acme", echoRequest("x")); err == nil || !strings.Contains(err.Error(), "no free service id") {
		t.Fatalf("endless collisions: %v", err)
	}
}

func TestCreateServiceRaceForOneID(t *testing.T) {
	// Two creates that draw the same id at the same moment: the create-only info.json
	// lets exactly one have it; the other moves on to a new id.
	c, _ := seeded(t)
	c.newID = sequence("svc-aaaaaaaa", "svc-aaaaaaaa", "svc-bbbbbbbb")
	var wg sync.WaitGroup
	ids := make([]string, 2)
	for i := range ids {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			svc, err := c.CreateService(context.Background(), "acme", echoRequest("x"))
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = svc.Service
		}(i)
	}
	wg.Wait()
	sort.Strings(ids)
	if !reflect.DeepEqual(ids, []string{"svc-aaaaaaaa", "svc-bbbbbbbb"}) {
		t.Fatalf("ids = %v", ids)
	}
}

func TestCreateServiceReleasesIDWhenTfvarsFail(t *testing.T) {
	c, st := seeded(t)
	st.failPut = func(key string) error {
		if strings.HasSuffix(key, engine.TfvarsFile) {
			return store.ErrUnavailable
		}
		return nil
	}
	if _, err := c.CreateService(context.Background(), "acme", echoRequest("x")); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("err = %v", err)
	}
	if keys := st.keys(storekey.TenantsPrefix); len(keys) != 0 {
		t.Fatalf("half-created service left behind: %v", keys)
	}
}

func TestUpdateInputs(t *testing.T) {
	c, st := seeded(t)
	ctx := context.Background()
	svc, err := c.CreateService(ctx, "acme", echoRequest("one"))
	if err != nil {
		t.Fatal(err)
	}
	token := svc.Values["token"]
	upd, err := c.UpdateInputs(ctx, svc.Ref(), map[string]any{"greeting": "two", "token": Masked}, svc.ETag)
	if err != nil {
		t.Fatal(err)
	}
	if upd.ETag == svc.ETag || upd.Values["greeting"] != "two" || upd.Values["token"] != token {
		t.Fatalf("update: %+v %v", upd, upd.Values)
	}
	// Full replacement, but a port left empty that has no default keeps the service's.
	if upd.Values["port"] != int64(18081) {
		t.Fatalf("port = %v", upd.Values["port"])
	}
	stored, _ := c.GetService(ctx, svc.Ref())
	if stored.Values["greeting"] != "two" || stored.Values["token"] != token || stored.ETag != upd.ETag {
		t.Fatalf("stored: %v", stored.Values)
	}

	// An ETag as an HTTP header carries it works too.
	upd, err = c.UpdateInputs(ctx, svc.Ref(), map[string]any{"greeting": "two", "token": Masked}, `"`+upd.ETag+`"`)
	if err != nil {
		t.Fatalf("quoted ETag: %v", err)
	}

	// The old ETag lost: the error says so, and nothing changes.
	_, err = c.UpdateInputs(ctx, svc.Ref(), map[string]any{"greeting": "three"}, svc.ETag)
	if !errors.Is(err, ErrConflict) || !errors.Is(err, store.ErrPreconditionFailed) {
		t.Fatalf("stale ETag: %v", err)
	}
	if _, err := c.UpdateInputs(ctx, svc.Ref(), map[string]any{"greeting": "three"}, ""); !errors.Is(err, engine.ErrInvalidInput) {
		t.Fatalf("missing ETag: %v", err)
	}
	_, err = c.UpdateInputs(ctx, svc.Ref(), map[string]any{"greeting": "", "spawnit_service_id": "x", "port": 1}, upd.ETag)
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Fields) != 3 {
		t.Fatalf("invalid update: %v", err)
	}
	if _, err := c.UpdateInputs(ctx, engine.ServiceRef{Client: "acme", Service: "svc-missing1"}, nil, upd.ETag); !errors.Is(err, ErrServiceNotFound) {
		t.Fatalf("missing service: %v", err)
	}
	if got := mustData(t, st, "clients/acme/"+svc.Service+"/terraform.tfvars.json"); !strings.Contains(got, `"two"`) {
		t.Fatalf("a failed update changed the tfvars:\n%s", got)
	}
}

func TestConcurrentUpdatesExactlyOneWins(t *testing.T) {
	c, _ := seeded(t)
	ctx := context.Background()
	svc, err := c.CreateService(ctx, "acme", echoRequest("start"))
	if err != nil {
		t.Fatal(err)
	}
	const n = 8
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		winners []string
		start   = make(chan struct{})
	)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			greeting := "writer " + string(rune('a'+i))
			_, err := c.UpdateInputs(ctx, svc.Ref(), map[string]any{"greeting": greeting}, svc.ETag)
			switch {
			case err == nil:
				mu.Lock()
				winners = append(winners, greeting)
				mu.Unlock()
			case !errors.Is(err, store.ErrPreconditionFailed):
				t.Errorf("loser got %v, want ErrPreconditionFailed", err)
			}
		}(i)
	}
	close(start)
	wg.Wait()
	if len(winners) != 1 {
		t.Fatalf("%d updates won: %v", len(winners), winners)
	}
	got, _ := c.GetService(ctx, svc.Ref())
	if got.Values["greeting"] != winners[0] {
		t.Fatalf("stored %v, winner %s", got.Values["greeting"], winners[0])
	}
}

func TestListServicesPerTenant(t *testing.T) {
	c, st := seeded(t)
	ctx := context.Background()
	var acme []string
	for i := 0; i < 3; i++ {
		svc, err := c.CreateService(ctx, "acme", echoRequest("x"))
		if err != nil {
			t.Fatal(err)
		}
		acme = append(acme, svc.Service)
	}
	if _, err := c.CreateService(ctx, "acme-2", echoRequest("x")); err != nil {
		t.Fatal(err)
	}
	st.put("clients/acme/svc-broken01/info.json", "{not json")
	st.put("clients/acme/svc-nofile01/terraform.tfstate", "{}")
	list, err := c.ListServices(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range list {
		got = append(got, s.Service)
		if s.Client != "acme" {
			t.Errorf("service of %s listed for acme", s.Client)
		}
	}
	sort.Strings(acme)
	if !reflect.DeepEqual(got, acme) {
		t.Fatalf("ListServices = %v, want %v", got, acme)
	}
	if none, err := c.ListServices(ctx, "nobody"); err != nil || len(none) != 0 {
		t.Fatalf("empty tenant: %v %v", none, err)
	}
}

func TestDeleteService(t *testing.T) {
	c, st := seeded(t)
	ctx := context.Background()
	svc, err := c.CreateService(ctx, "acme", echoRequest("x"))
	if err != nil {
		t.Fatal(err)
	}
	state := "clients/acme/" + svc.Service + "/terraform.tfstate"
	st.put(state, "{}")
	if err := c.DeleteService(ctx, svc.Ref()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetService(ctx, svc.Ref()); !errors.Is(err, ErrServiceNotFound) || !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("GetService after delete: %v", err)
	}
	if err := c.DeleteService(ctx, svc.Ref()); !errors.Is(err, ErrServiceNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if keys := st.keys("clients/acme/" + svc.Service + "/"); !reflect.DeepEqual(keys, []string{state}) {
		t.Fatalf("left %v; want only the engine's state", keys)
	}
}

func TestGetServiceWithoutTfvars(t *testing.T) {
	c, st := seeded(t)
	ctx := context.Background()
	svc, err := c.CreateService(ctx, "acme", echoRequest("x"))
	if err != nil {
		t.Fatal(err)
	}
	st.Delete(ctx, "clients/acme/"+svc.Service+"/terraform.tfvars.json")
	got, err := c.GetService(ctx, svc.Ref())
	if err != nil || got.ETag != "" || len(got.Values) != 0 {
		t.Fatalf("half-deleted service: %+v %v", got, err)
	}
	if _, err := c.UpdateInputs(ctx, svc.Ref(), nil, svc.ETag); !errors.Is(err, ErrConflict) {
		t.Fatalf("update of a half-deleted service: %v", err)
	}
	if err := c.DeleteService(ctx, svc.Ref()); err != nil {
		t.Fatal(err)
	}
}

func TestServiceStaysMaskedWhenTemplateChanges(t *testing.T) {
	c, st := seeded(t)
	ctx := context.Background()
	svc, err := c.CreateService(ctx, "acme", echoRequest("x"))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range st.keys("templates/httpecho/") {
		st.Delete(ctx, k)
	}
	got, err := c.GetService(ctx, svc.Ref())
	if err != nil {
		t.Fatal(err)
	}
	if got.MaskedValues()["token"] != Masked {
		t.Fatal("secret unmasked once its template disappeared")
	}
}

func TestCorruptTfvarsErrorDoesNotQuoteContent(t *testing.T) {
	c, st := seeded(t)
	ctx := context.Background()
	svc, err := c.CreateService(ctx, "acme", echoRequest("x"))
	if err != nil {
		t.Fatal(err)
	}
	st.put("clients/acme/"+svc.Service+"/terraform.tfvars.json", `{"token": "Zsecret`)
	_, err = c.GetService(ctx, svc.Ref())
	if err == nil || strings.Contains(err.Error(), "Zsecret") || strings.Contains(err.Error(), "'Z'") {
		t.Fatalf("err = %v", err)
	}
	st.put("clients/acme/"+svc.Service+"/terraform.tfvars.json", `{"token": Xsecret}`)
	if _, err = c.GetService(ctx, svc.Ref()); err == nil || strings.Contains(err.Error(), "X") {
		t.Fatalf("err = %v", err)
	}
}

// TestUpdateInfo: settings change, identity does not, other packages' fields survive,
// and concurrent updates of different settings both land.
func TestUpdateInfo(t *testing.T) {
	c, st := seeded(t)
	ctx := context.Background()
	req := echoRequest("hi")
	req.AutoRemediate = true
	svc, err := c.CreateService(ctx, "acme", req)
	if err != nil {
		t.Fatal(err)
	}
	if !svc.AutoRemediate {
		t.Fatal("auto_remediate not recorded at creation")
	}
	ref := svc.Ref()
	key := storeKeys(ref).Info()
	// Another package's field in info.json.
	raw, _ := st.data(key)
	st.put(key, strings.Replace(raw, `"client"`, `"intent_note": {"kept": true},`+"\n"+`  "client"`, 1))

	exp := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	got, err := c.UpdateInfo(ctx, ref, func(i *Info) error {
		i.Expires, i.AutoRemediate = &exp, false
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.Expires == nil || !got.Expires.Equal(exp) || got.AutoRemediate || got.ETag != svc.ETag {
		t.Fatalf("after update: expires %v auto %v etag %q (was %q)", got.Expires, got.AutoRemediate, got.ETag, svc.ETag)
	}
	after, _ := st.data(key)
	if !strings.Contains(after, `"intent_note"`) || strings.Contains(after, `"auto_remediate"`) {
		t.Fatalf("info.json after update:\n%s", after)
	}
	// Clearing the expiry removes the key.
	if _, err := c.UpdateInfo(ctx, ref, func(i *Info) error { i.Expires = nil; return nil }); err != nil {
		t.Fatal(err)
	}
	if after, _ := st.data(key); strings.Contains(after, `"expires"`) {
		t.Fatalf("expiry still in info.json:\n%s", after)
	}
	// Identity is not a setting.
	if _, err := c.UpdateInfo(ctx, ref, func(i *Info) error { i.Template = "postgres"; return nil }); !errors.Is(err, engine.ErrInvalidInput) {
		t.Fatalf("template change: %v", err)
	}
	if _, err := c.UpdateInfo(ctx, engine.ServiceRef{Client: "acme", Service: "nope"}, func(*Info) error { return nil }); !errors.Is(err, ErrServiceNotFound) {
		t.Fatalf("missing service: %v", err)
	}

	var wg sync.WaitGroup
	for _, f := range []func(*Info){
		func(i *Info) { i.AutoRemediate = true },
		func(i *Info) { i.Labels = map[string]string{"team": "red"} },
	} {
		wg.Go(func() {
			if _, err := c.UpdateInfo(ctx, ref, func(i *Info) error { f(i); return nil }); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	final, err := c.GetService(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if !final.AutoRemediate || final.Labels["team"] != "red" {
		t.Fatalf("a concurrent update was lost: %+v", final.Info)
	}
}
