package catalog

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/pkg/store"
	"github.com/spawnit/spawnit/pkg/storekey"
)

// httpechoFiles is the built-in httpecho as TemplateFiles, its version changed to
// version and its module's main.tf given extra.
func httpechoFiles(t *testing.T, version, extra string) TemplateFiles {
	t.Helper()
	files, err := builtinFiles(Builtin(), "httpecho")
	if err != nil {
		t.Fatal(err)
	}
	files[TemplateFile] = []byte(strings.Replace(string(files[TemplateFile]), `"version": "1.2.0"`, `"version": "`+version+`"`, 1))
	files["modules/docker/main.tf"] = append(files["modules/docker/main.tf"], extra...)
	return files
}

func versionNames(vs []Version) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.Version)
	}
	return out
}

func TestPublishIsImmutable(t *testing.T) {
	c, st := seeded(t)
	ctx := context.Background()
	v, created, err := c.Publish(ctx, httpechoFiles(t, "1.3.0", "# 1.3.0\n"), "alice")
	if err != nil || !created || v.Version != "1.3.0" || v.By != "alice" || v.Digest == "" {
		t.Fatalf("Publish = %+v %v %v", v, created, err)
	}
	// The same content again changes nothing; other content under the version is refused.
	if again, created, err := c.Publish(ctx, httpechoFiles(t, "1.3.0", "# 1.3.0\n"), "bob"); err != nil || created || again.By != "alice" {
		t.Fatalf("republish of identical content = %+v %v %v", again, created, err)
	}
	if _, _, err := c.Publish(ctx, httpechoFiles(t, "1.3.0", "# other\n"), "bob"); !errors.Is(err, ErrVersionConflict) {
		t.Fatalf("republish of other content = %v, want ErrVersionConflict", err)
	}
	if got, _ := st.data(storekey.TemplateVersion("httpecho", "1.3.0") + "modules/docker/main.tf"); !strings.HasSuffix(got, "# 1.3.0\n") {
		t.Fatal("the published version was changed")
	}
	vs, err := c.Versions(ctx, "httpecho")
	if err != nil || !slices.Equal(versionNames(vs), []string{"1.2.0", "1.3.0"}) {
		t.Fatalf("Versions = %v %v", versionNames(vs), err)
	}
	if tpl, err := c.Get(ctx, "httpecho"); err != nil || tpl.Version != "1.3.0" {
		t.Fatalf("latest = %v %v", tpl, err)
	}
	// Retiring the latest offers the one before; the retired one still runs.
	st.put(storekey.TemplateVersionRetired("httpecho", "1.3.0"), "")
	if tpl, err := c.Get(ctx, "httpecho"); err != nil || tpl.Version != "1.2.0" {
		t.Fatalf("latest after retiring 1.3.0 = %v %v", tpl, err)
	}
	if files, err := c.VersionModuleFiles(ctx, "httpecho", "1.3.0", "docker"); err != nil || !strings.HasSuffix(string(files["main.tf"]), "# 1.3.0\n") {
		t.Fatalf("retired version's module = %v", err)
	}

	// Content problems are listed at once.
	bad := httpechoFiles(t, "1.4.0", "")
	bad["modules/docker/terraform.tfvars"] = []byte("x = 1")
	bad["README.md"] = []byte("hi")
	var ve *ValidationError
	if _, _, err := c.Publish(ctx, bad, "alice"); !errors.As(err, &ve) || len(ve.Fields) != 2 {
		t.Fatalf("Publish(bad) = %v", err)
	}
}

func TestPublishRace(t *testing.T) {
	c, _ := seeded(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	results := make([]error, 8)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, results[i] = New(c.st, nil).Publish(ctx, httpechoFiles(t, "2.0.0", strings.Repeat("#\n", i%2)), "r")
		}()
	}
	wg.Wait()
	var ok, conflict int
	for _, err := range results {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, ErrVersionConflict):
			conflict++
		default:
			t.Fatal(err)
		}
	}
	if ok != 4 || conflict != 4 {
		t.Fatalf("%d published, %d refused; want one content to win for every publisher of it", ok, conflict)
	}
	if _, err := c.VersionModuleFiles(ctx, "httpecho", "2.0.0", "docker"); err != nil {
		t.Fatalf("the winner's version is not usable: %v", err)
	}
}

func TestHandPublishedFiles(t *testing.T) {
	c, st := seeded(t)
	ctx := context.Background()
	main := "templates/httpecho/modules/docker/main.tf"
	// Changed files under the published version: a problem, and not used.
	st.put(main, mustData(t, st, main)+"# edited by hand\n")
	tpl, err := c.Get(ctx, "httpecho")
	if err != nil || tpl.Version != "1.2.0" {
		t.Fatalf("Get = %v %v", tpl, err)
	}
	if p := c.Problems(); len(p) != 1 || p[0].Template != "httpecho" || !strings.Contains(p[0].Error, "differ from the published version 1.2.0") {
		t.Fatalf("Problems = %+v", p)
	}
	files, err := c.VersionModuleFiles(ctx, "httpecho", "1.2.0", "docker")
	if err != nil || strings.Contains(string(files["main.tf"]), "edited by hand") {
		t.Fatalf("the published 1.2.0 changed: %v", err)
	}
	// A new version in template.json publishes them.
	key := "templates/httpecho/template.json"
	st.put(key, strings.Replace(mustData(t, st, key), `"version": "1.2.0"`, `"version": "1.2.1"`, 1))
	if tpl, err := c.Get(ctx, "httpecho"); err != nil || tpl.Version != "1.2.1" {
		t.Fatalf("Get after a new version = %v %v", tpl, err)
	}
	if p := c.Problems(); len(p) != 0 {
		t.Fatalf("Problems = %+v", p)
	}
	vs, _ := c.Versions(ctx, "httpecho")
	if vs[len(vs)-1].By != PublishedByStore {
		t.Fatalf("versions %+v", vs)
	}
	// A file of a published version changed in the store: reported, not used.
	pub := storekey.TemplateVersion("httpecho", "1.2.1") + "modules/docker/main.tf"
	st.put(pub, "# tampered\n")
	if _, err := c.VersionModuleFiles(ctx, "httpecho", "1.2.1", "docker"); !errors.Is(err, ErrInvalidTemplate) {
		t.Fatalf("tampered version = %v", err)
	}
	if p := c.Problems(); len(p) != 1 || p[0].Key != pub {
		t.Fatalf("Problems = %+v", p)
	}
}

func TestServicePinnedToItsVersion(t *testing.T) {
	c, st := seeded(t)
	ctx := context.Background()
	svc, err := c.CreateService(ctx, "acme", CreateRequest{Template: "httpecho", Inputs: map[string]any{"port": 18080}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Publish(ctx, httpechoFiles(t, "1.3.0", "# 1.3.0\n"), "alice"); err != nil {
		t.Fatal(err)
	}
	files, err := NewServiceSource(c).Files(ctx, svc.Ref())
	if err != nil || strings.Contains(string(files["main.tf"]), "# 1.3.0") {
		t.Fatalf("service runs another version: %v", err)
	}

	// A service written before versions existed is pinned when first read, to the
	// version of its template's folder.
	ref := engine.ServiceRef{Client: "acme", Service: "old"}
	st.put(storekey.For("acme", "old").Info(), `{"client":"acme","service":"old","template":"httpecho","template_version":"1.1.0","provider":"docker","name":"x","created":"2026-01-01T00:00:00Z","other":1}`)
	st.put(storekey.For("acme", "old").Tfvars(), `{"port": 18081}`)
	got, err := c.GetService(ctx, ref)
	if err != nil || !got.VersionPinned || got.TemplateVersion != "1.2.0" {
		t.Fatalf("old service = %+v %v", got, err)
	}
	if raw, _ := st.data(storekey.For("acme", "old").Info()); !strings.Contains(raw, `"other": 1`) || !strings.Contains(raw, `"version_pinned": true`) {
		t.Fatalf("info.json after pinning: %s", raw)
	}
	_ = store.ErrNotFound
}

func TestCompareVersions(t *testing.T) {
	ordered := []string{"0.9", "1.0.0-alpha", "1.0.0-alpha.2", "1.0.0-beta", "1.0.0", "1.0.0+b1", "1.3.0", "1.10.0", "2", "2.0.1"}
	shuffled := slices.Clone(ordered)
	slices.Reverse(shuffled)
	slices.SortFunc(shuffled, CompareVersions)
	if !slices.Equal(shuffled, ordered) {
		t.Fatalf("sorted %v, want %v", shuffled, ordered)
	}
}
