package catalog

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/spawnit/spawnit/catalog/catalogtest"
	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/pkg/storekey"
)

func seeded(t *testing.T) (*Catalog, *memStore) {
	t.Helper()
	st := newMemStore()
	c := New(st, nil)
	if err := c.Seed(context.Background()); err != nil {
		t.Fatal(err)
	}
	return c, st
}

func templateIDs(ts []*Template) []string {
	var ids []string
	for _, t := range ts {
		ids = append(ids, t.ID)
	}
	return ids
}

func problemIDs(ps []Problem) []string {
	var ids []string
	for _, p := range ps {
		ids = append(ids, p.Template)
	}
	return ids
}

func TestSeedWritesEveryBuiltinFile(t *testing.T) {
	_, st := seeded(t)
	n := 0
	err := fs.WalkDir(Builtin(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		want, _ := fs.ReadFile(Builtin(), p)
		got, ok := st.data(storekey.TemplatesPrefix + p)
		if !ok || got != string(want) {
			t.Errorf("%s not seeded as shipped", p)
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Each is seeded twice: in the template's folder, and as its published version
	// (with the version's manifest).
	ids := builtinIDs
	if all := st.keys(storekey.TemplatesPrefix); len(all) != 2*n+len(ids) {
		t.Fatalf("store has %d template objects, built-ins have %d files in %d templates", len(all), n, len(ids))
	}
	for _, id := range ids {
		tpl, err := ParseTemplate([]byte(mustBuiltin(t, id+"/template.json")))
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := st.data(storekey.TemplateVersionManifest(id, tpl.Version)); !ok {
			t.Errorf("%s %s not published", id, tpl.Version)
		}
	}
}

func TestSeedNeverOverwrites(t *testing.T) {
	c, st := seeded(t)
	ctx := context.Background()
	edited := string(catalogtest.WithVersion(t, []byte(mustData(t, st, "templates/postgres/template.json")), "9.9.9", ""))
	st.put("templates/postgres/template.json", edited)
	st.put("templates/postgres/modules/docker/main.tf", "# operator's own module\n")
	// A template whose template.json is gone but whose (edited) module remains: seeding
	// completes it without touching the module.
	st.Delete(ctx, "templates/redis/template.json")
	st.put("templates/redis/modules/docker/main.tf", "# edited\n")
	before := map[string]string{}
	for _, k := range st.keys(storekey.TemplatesPrefix) {
		o, _ := st.Stat(ctx, k)
		before[k] = o.ETag
	}

	var logs bytes.Buffer
	c = New(st, slog.New(slog.NewTextHandler(&logs, nil)))
	if err := c.Seed(ctx); err != nil {
		t.Fatal(err)
	}
	for k, etag := range before {
		if o, _ := st.Stat(ctx, k); o.ETag != etag {
			t.Errorf("%s was rewritten", k)
		}
	}
	if got := mustData(t, st, "templates/postgres/template.json"); got != edited {
		t.Error("the operator's template.json was overwritten")
	}
	if got := mustData(t, st, "templates/postgres/modules/docker/main.tf"); got != "# operator's own module\n" {
		t.Error("the operator's module was overwritten")
	}
	if got := mustData(t, st, "templates/redis/modules/docker/main.tf"); got != "# edited\n" {
		t.Error("an existing module file was overwritten while completing a template")
	}
	if _, ok := st.data("templates/redis/template.json"); !ok {
		t.Error("a missing template.json was not seeded")
	}
	if !strings.Contains(logs.String(), "stored_version=9.9.9") {
		t.Errorf("the version difference was not logged:\n%s", logs.String())
	}
}

func mustData(t *testing.T, st *memStore, key string) string {
	t.Helper()
	d, ok := st.data(key)
	if !ok {
		t.Fatalf("%s missing", key)
	}
	return d
}

func TestDisabledTemplateIsHiddenAndNotReseeded(t *testing.T) {
	st := newMemStore()
	st.put("templates/minecraft/"+DisabledMarker, "")
	c := New(st, nil)
	ctx := context.Background()
	if err := c.Seed(ctx); err != nil {
		t.Fatal(err)
	}
	if keys := st.keys("templates/minecraft/"); !reflect.DeepEqual(keys, []string{"templates/minecraft/disabled"}) {
		t.Fatalf("seeded a disabled template: %v", keys)
	}
	// Disabling a template that is already there hides it.
	st.put("templates/redis/"+DisabledMarker, "")
	list, err := c.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := templateIDs(list); !reflect.DeepEqual(got, []string{"gitea", "httpecho", "luanti", "mariadb", "nginx-static", "postgres"}) {
		t.Fatalf("List = %v", got)
	}
	if _, err := c.Get(ctx, "redis"); !errors.Is(err, ErrTemplateNotFound) || !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("Get(disabled) = %v", err)
	}
	if p := c.Problems(); len(p) != 0 {
		t.Fatalf("a disabled template is not a problem: %v", p)
	}
}

func TestListSkipsAndReportsMalformedTemplates(t *testing.T) {
	c, st := seeded(t)
	ctx := context.Background()
	module := "templates/httpecho/modules/docker/main.tf"
	st.put("templates/nginx-static/template.json", `{"id": "nginx-static", "name": `) // truncated
	st.put("templates/mismatch/template.json", strings.Replace(mustData(t, st, "templates/httpecho/template.json"), `"id": "httpecho"`, `"id": "other"`, 1))
	st.put("templates/mismatch/modules/docker/main.tf", mustData(t, st, module))
	st.put("templates/nomodule/template.json", strings.Replace(mustData(t, st, "templates/httpecho/template.json"), `"id": "httpecho"`, `"id": "nomodule"`, 1))
	st.put("templates/onlymodule/modules/docker/main.tf", mustData(t, st, module))
	st.put("templates/Bad_Name/template.json", "{}")
	st.put("templates/badprovider/template.json", strings.Replace(mustData(t, st, "templates/httpecho/template.json"), `"id": "httpecho"`, `"id": "badprovider"`, 1))
	st.put("templates/badprovider/modules/AWS/main.tf", "")
	st.put("templates/unknownfield/template.json", strings.Replace(mustData(t, st, "templates/redis/template.json"), `"id": "redis"`, `"id": "unknownfield", "colour": "red"`, 1))
	st.put("templates/unknownfield/modules/docker/main.tf", "")

	var logs bytes.Buffer
	c.log = slog.New(slog.NewTextHandler(&logs, nil))
	list, err := c.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// nginx-static's hand-written template.json is broken, but its published version
	// still works.
	if got := templateIDs(list); !reflect.DeepEqual(got, []string{"gitea", "httpecho", "luanti", "mariadb", "minecraft", "nginx-static", "postgres", "redis"}) {
		t.Fatalf("List = %v", got)
	}
	wantProblems := []string{"Bad_Name", "badprovider", "mismatch", "nginx-static", "nomodule", "onlymodule", "unknownfield"}
	if got := problemIDs(c.Problems()); !reflect.DeepEqual(got, wantProblems) {
		t.Fatalf("Problems = %v, want %v", got, wantProblems)
	}
	for _, p := range c.Problems() {
		if p.Error == "" || p.Key == "" {
			t.Errorf("problem without detail: %+v", p)
		}
	}
	if tpl, err := c.Get(ctx, "nginx-static"); err != nil || tpl.Version != shippedVersion(t, "nginx-static") {
		t.Fatalf("Get(malformed folder, published version) = %v %v, want the published version", tpl, err)
	}
	if _, err := c.Get(ctx, "unknownfield"); !errors.Is(err, ErrInvalidTemplate) {
		t.Fatalf("Get(malformed) = %v, want ErrInvalidTemplate", err)
	}
	warnings := strings.Count(logs.String(), "level=WARN")
	if warnings != len(wantProblems) {
		t.Fatalf("%d warnings logged, want one per problem:\n%s", warnings, logs.String())
	}
	// Listing again neither re-reads nor re-logs a template that did not change.
	reads := st.getCount("templates/nginx-static/template.json")
	if _, err := c.List(ctx); err != nil {
		t.Fatal(err)
	}
	if st.getCount("templates/nginx-static/template.json") != reads {
		t.Error("an unchanged malformed template was read again")
	}
	if n := strings.Count(logs.String(), "level=WARN"); n != warnings {
		t.Errorf("problems logged again (%d warnings)", n)
	}

	// Fixing or removing a template clears its problem.
	st.put("templates/nginx-static/template.json", mustBuiltin(t, "nginx-static/template.json"))
	for _, k := range st.keys("templates/mismatch/") {
		st.Delete(ctx, k)
	}
	list, err = c.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !contains(templateIDs(list), "nginx-static") {
		t.Fatalf("fixed template not listed: %v", templateIDs(list))
	}
	if got := problemIDs(c.Problems()); contains(got, "nginx-static") || contains(got, "mismatch") {
		t.Fatalf("stale problems: %v", got)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func mustBuiltin(t *testing.T, p string) string {
	t.Helper()
	b, err := fs.ReadFile(Builtin(), p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestChangedTemplateIsPickedUpByETag(t *testing.T) {
	c, st := seeded(t)
	ctx := context.Background()
	key := "templates/httpecho/template.json"
	tpl, err := c.Get(ctx, "httpecho")
	if err != nil {
		t.Fatal(err)
	}
	shipped, next := httpechoVersions(t)
	if tpl.Version != shipped || !reflect.DeepEqual(tpl.Targets, []string{"aws", "docker", "kubernetes"}) {
		t.Fatalf("got version %s providers %v", tpl.Version, tpl.Targets)
	}
	reads := st.getCount(key)
	for i := 0; i < 3; i++ {
		if _, err := c.Get(ctx, "httpecho"); err != nil {
			t.Fatal(err)
		}
		if _, err := c.List(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if st.getCount(key) != reads {
		t.Fatalf("template.json re-read %d times while unchanged", st.getCount(key)-reads)
	}

	st.put(key, string(catalogtest.WithVersion(t, []byte(mustData(t, st, key)), next, "")))
	st.put("templates/httpecho/modules/gcp/main.tf", "# later\n")
	tpl, err = c.Get(ctx, "httpecho")
	if err != nil {
		t.Fatal(err)
	}
	if tpl.Version != next || !reflect.DeepEqual(tpl.Targets, []string{"aws", "docker", "gcp", "kubernetes"}) {
		t.Fatalf("after the change: version %s providers %v", tpl.Version, tpl.Targets)
	}
	list, _ := c.List(ctx)
	for _, l := range list {
		if l.ID == "httpecho" && l.Version != next {
			t.Fatalf("List still has version %s", l.Version)
		}
	}
	if st.getCount(key) != reads+1 {
		t.Fatalf("template.json read %d times after one change, want 1", st.getCount(key)-reads)
	}

	// Rewriting identical bytes changes the ETag only: still one read, same content.
	st.put(key, mustData(t, st, key))
	if tpl, err = c.Get(ctx, "httpecho"); err != nil || tpl.Version != next {
		t.Fatalf("%v %v", tpl, err)
	}

	// The folder's template.json is gone; the published versions stay.
	st.Delete(ctx, key)
	if tpl, err := c.Get(ctx, "httpecho"); err != nil || tpl.Version != next {
		t.Fatalf("Get after deleting template.json = %v %v", tpl, err)
	}
	for _, k := range st.keys("templates/httpecho/") {
		st.Delete(ctx, k)
	}
	if _, err := c.Get(ctx, "httpecho"); !errors.Is(err, ErrTemplateNotFound) {
		t.Fatalf("Get after removing the template = %v", err)
	}
}

func TestGetReturnsACopy(t *testing.T) {
	c, _ := seeded(t)
	ctx := context.Background()
	a, err := c.Get(ctx, "postgres")
	if err != nil {
		t.Fatal(err)
	}
	a.Inputs[0].Default = "mutated"
	a.Targets[0] = "mutated"
	b, _ := c.Get(ctx, "postgres")
	if b.Inputs[0].Default == "mutated" || b.Targets[0] == "mutated" {
		t.Fatal("a caller's change leaked into the cache")
	}
}

func TestGetRejectsBadIDs(t *testing.T) {
	c, st := seeded(t)
	before := len(st.keys(""))
	for _, id := range hostileIDs {
		if _, err := c.Get(context.Background(), id); !errors.Is(err, engine.ErrInvalidInput) {
			t.Errorf("Get(%q) = %v, want ErrInvalidInput", id, err)
		}
		if _, err := c.ModuleFiles(context.Background(), id, "docker"); !errors.Is(err, engine.ErrInvalidInput) {
			t.Errorf("ModuleFiles(%q) = %v", id, err)
		}
		if _, err := c.ModuleFiles(context.Background(), "httpecho", id); !errors.Is(err, engine.ErrInvalidInput) {
			t.Errorf("ModuleFiles(provider %q) = %v", id, err)
		}
	}
	if len(st.keys("")) != before {
		t.Fatal("rejected calls wrote to the store")
	}
}

// hostileIDs must be refused at every entry point.
var hostileIDs = []string{
	"", "../x", "..", ".", "/etc", "a/b", "a\\b", "a\x00b", "-a", "A", "a b", "a.b",
	strings.Repeat("a", engine.MaxIDLen+1),
	"ｐostgres",       // full-width p
	"роstgres",       // Cyrillic r and o
	"postgres\u200b", // zero-width space
	"postgres\n",
}

func TestModuleFiles(t *testing.T) {
	c, st := seeded(t)
	ctx := context.Background()
	files, err := c.ModuleFiles(ctx, "httpecho", "docker")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for n := range files {
		names = append(names, n)
	}
	if len(names) != 5 || string(files["main.tf"]) != mustBuiltin(t, "httpecho/modules/docker/main.tf") {
		t.Fatalf("files = %v", names)
	}
	files["main.tf"] = []byte("changed by the caller")
	delete(files, "outputs.tf")

	key := "templates/httpecho/modules/docker/main.tf"
	reads := st.getCount(key)
	again, err := c.ModuleFiles(ctx, "httpecho", "docker")
	if err != nil {
		t.Fatal(err)
	}
	if st.getCount(key) != reads {
		t.Fatal("unchanged module re-read")
	}
	if string(again["main.tf"]) == "changed by the caller" || again["outputs.tf"] == nil {
		t.Fatal("a caller's change leaked into the cache")
	}

	st.put(key, "# v2\n")
	st.put("templates/httpecho/modules/docker/scripts/init.sh", "#!/bin/sh\n")
	st.Delete(ctx, "templates/httpecho/modules/docker/outputs.tf")
	again, err = c.ModuleFiles(ctx, "httpecho", "docker")
	if err != nil {
		t.Fatal(err)
	}
	if string(again["main.tf"]) != "# v2\n" || again["scripts/init.sh"] == nil || again["outputs.tf"] != nil {
		t.Fatalf("changes not picked up: main.tf=%q files=%d", again["main.tf"], len(again))
	}

	if _, err := c.ModuleFiles(ctx, "httpecho", "gcp"); !errors.Is(err, ErrModuleNotFound) || !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("missing provider: %v", err)
	}
}

func TestModuleFilesRejectsDangerousFiles(t *testing.T) {
	for _, name := range []string{"terraform.tfvars", "x.auto.tfvars", "sub/terraform.tfvars.json", "spawnit_backend.tf", "override.tf", "main_override.tf", ".terraform/x"} {
		t.Run(name, func(t *testing.T) {
			c, st := seeded(t)
			st.put("templates/redis/modules/docker/"+name, "x")
			_, err := c.ModuleFiles(context.Background(), "redis", "docker")
			if !errors.Is(err, ErrInvalidTemplate) {
				t.Fatalf("ModuleFiles with %s = %v, want ErrInvalidTemplate", name, err)
			}
		})
	}
}

func TestCatalogConcurrentUse(t *testing.T) {
	c, st := seeded(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for j := 0; j < 20; j++ {
				if i == 0 && j%5 == 0 {
					key := "templates/redis/template.json"
					st.put(key, mustData(t, st, key))
				}
				if _, err := c.List(ctx); err != nil {
					t.Error(err)
				}
				if _, err := c.ModuleFiles(ctx, "redis", "docker"); err != nil {
					t.Error(err)
				}
				if _, err := c.Get(ctx, builtinIDs[(i+j)%len(builtinIDs)]); err != nil {
					t.Error(err)
				}
			}
		}(i)
	}
	wg.Wait()
}
