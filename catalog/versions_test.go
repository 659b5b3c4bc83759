package catalog

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/spawnit/spawnit/catalog/catalogtest"
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
	files[TemplateFile] = catalogtest.WithVersion(t, files[TemplateFile], version, "")
	files["modules/docker/main.tf"] = append(files["modules/docker/main.tf"], extra...)
	return files
}

// shippedVersion is the version the built-in template id ships with.
func shippedVersion(t *testing.T, id string) string {
	t.Helper()
	files, err := builtinFiles(Builtin(), id)
	if err != nil {
		t.Fatal(err)
	}
	return catalogtest.Version(t, files[TemplateFile])
}

// httpechoVersions are the version the built-in httpecho ships with and the next one
// up, which the tests publish: derived, so that bumping the template breaks no test.
func httpechoVersions(t *testing.T) (shipped, next string) {
	t.Helper()
	shipped = shippedVersion(t, "httpecho")
	return shipped, catalogtest.NextMinor(t, shipped)
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
	shipped, next := httpechoVersions(t)
	v, created, err := c.Publish(ctx, httpechoFiles(t, next, "# "+next+"\n"), "alice")
	if err != nil || !created || v.Version != next || v.By != "alice" || v.Digest == "" {
		t.Fatalf("Publish = %+v %v %v", v, created, err)
	}
	// The same content again changes nothing; other content under the version is refused.
	if again, created, err := c.Publish(ctx, httpechoFiles(t, next, "# "+next+"\n"), "bob"); err != nil || created || again.By != "alice" {
		t.Fatalf("republish of identical content = %+v %v %v", again, created, err)
	}
	if _, _, err := c.Publish(ctx, httpechoFiles(t, next, "# other\n"), "bob"); !errors.Is(err, ErrVersionConflict) {
		t.Fatalf("republish of other content = %v, want ErrVersionConflict", err)
	}
	if got, _ := st.data(storekey.TemplateVersion("httpecho", next) + "modules/docker/main.tf"); !strings.HasSuffix(got, "# "+next+"\n") {
		t.Fatal("the published version was changed")
	}
	vs, err := c.Versions(ctx, "httpecho")
	if err != nil || !slices.Equal(versionNames(vs), []string{shipped, next}) {
		t.Fatalf("Versions = %v %v", versionNames(vs), err)
	}
	if tpl, err := c.Get(ctx, "httpecho"); err != nil || tpl.Version != next {
		t.Fatalf("latest = %v %v", tpl, err)
	}
	// Retiring the latest offers the one before; the retired one still runs.
	st.put(storekey.TemplateVersionRetired("httpecho", next), "")
	if tpl, err := c.Get(ctx, "httpecho"); err != nil || tpl.Version != shipped {
		t.Fatalf("latest after retiring %s = %v %v", next, tpl, err)
	}
	if files, err := c.VersionModuleFiles(ctx, "httpecho", next, "docker"); err != nil || !strings.HasSuffix(string(files["main.tf"]), "# "+next+"\n") {
		t.Fatalf("retired version's module = %v", err)
	}

	// Content problems are listed at once.
	bad := httpechoFiles(t, catalogtest.NextMinor(t, next), "")
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
	_, next := httpechoVersions(t)
	var wg sync.WaitGroup
	results := make([]error, 8)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, results[i] = New(c.st, nil).Publish(ctx, httpechoFiles(t, next, strings.Repeat("#\n", i%2)), "r")
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
	if _, err := c.VersionModuleFiles(ctx, "httpecho", next, "docker"); err != nil {
		t.Fatalf("the winner's version is not usable: %v", err)
	}
}

func TestHandPublishedFiles(t *testing.T) {
	c, st := seeded(t)
	ctx := context.Background()
	shipped, next := httpechoVersions(t)
	main := "templates/httpecho/modules/docker/main.tf"
	// Changed files under the published version: a problem, and not used.
	st.put(main, mustData(t, st, main)+"# edited by hand\n")
	tpl, err := c.Get(ctx, "httpecho")
	if err != nil || tpl.Version != shipped {
		t.Fatalf("Get = %v %v", tpl, err)
	}
	if p := c.Problems(); len(p) != 1 || p[0].Template != "httpecho" || !strings.Contains(p[0].Error, "differ from the published version "+shipped) {
		t.Fatalf("Problems = %+v", p)
	}
	files, err := c.VersionModuleFiles(ctx, "httpecho", shipped, "docker")
	if err != nil || strings.Contains(string(files["main.tf"]), "edited by hand") {
		t.Fatalf("the published %s changed: %v", shipped, err)
	}
	// A new version in template.json publishes them.
	key := "templates/httpecho/template.json"
	st.put(key, string(catalogtest.WithVersion(t, []byte(mustData(t, st, key)), next, "")))
	if tpl, err := c.Get(ctx, "httpecho"); err != nil || tpl.Version != next {
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
	pub := storekey.TemplateVersion("httpecho", next) + "modules/docker/main.tf"
	st.put(pub, "# tampered\n")
	if _, err := c.VersionModuleFiles(ctx, "httpecho", next, "docker"); !errors.Is(err, ErrInvalidTemplate) {
		t.Fatalf("tampered version = %v", err)
	}
	if p := c.Problems(); len(p) != 1 || p[0].Key != pub {
		t.Fatalf("Problems = %+v", p)
	}
}

func TestServicePinnedToItsVersion(t *testing.T) {
	c, st := seeded(t)
	ctx := context.Background()
	shipped, next := httpechoVersions(t)
	svc, err := c.CreateService(ctx, "acme", CreateRequest{Template: "httpecho", Inputs: map[string]any{"port": 18080}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Publish(ctx, httpechoFiles(t, next, "# "+next+"\n"), "alice"); err != nil {
		t.Fatal(err)
	}
	files, err := NewServiceSource(c).Files(ctx, svc.Ref())
	if err != nil || strings.Contains(string(files["main.tf"]), "# "+next) {
		t.Fatalf("service runs another version: %v", err)
	}

	// A service written before versions existed is pinned when first read, to the
	// version of its template's folder.
	ref := engine.ServiceRef{Client: "acme", Service: "old"}
	st.put(storekey.For("acme", "old").Info(), `{"client":"acme","service":"old","template":"httpecho","template_version":"1.1.0","provider":"docker","name":"x","created":"2026-01-01T00:00:00Z","other":1}`)
	st.put(storekey.For("acme", "old").Tfvars(), `{"port": 18081}`)
	got, err := c.GetService(ctx, ref)
	if err != nil || !got.VersionPinned || got.TemplateVersion != shipped {
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
