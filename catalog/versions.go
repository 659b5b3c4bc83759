package catalog

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spawnit/spawnit"
	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/internal/strictjson"
	"github.com/spawnit/spawnit/pkg/store"
	"github.com/spawnit/spawnit/pkg/storekey"
)

// TemplateFiles is a template's content as its author writes it: "template.json" and
// one "modules/<target>/<path>" per module file. It is what Publish takes and what a
// published version holds.
type TemplateFiles map[string][]byte

// Version is one published version of a template.
type Version struct {
	Template     string    `json:"template"`
	Version      string    `json:"version"`
	ReleaseNotes string    `json:"release_notes,omitempty"`
	Published    time.Time `json:"published"`
	// By is who published it: a user, "builtin" (the catalog's seeding) or "store"
	// (files an operator put in the template's folder by hand).
	By string `json:"by,omitempty"`
	// Digest is the SHA-256 of the version's content (see manifest).
	Digest string `json:"digest"`
	// Retired: not offered to new services nor as an upgrade; services pinned to it
	// keep running it.
	Retired bool `json:"retired,omitempty"`
}

// Publishers the catalog names itself.
const (
	PublishedByBuiltin = "builtin"
	PublishedByStore   = "store"
)

// manifest is a version's version.json. It is written first, create-only: the first
// publisher of a version claims it for one content (Digest), and the files follow. A
// version is usable once every file it lists is in the store with its SHA-256.
type manifest struct {
	Template  string            `json:"template"`
	Version   string            `json:"version"`
	Digest    string            `json:"digest"`
	Files     map[string]string `json:"files"` // path in the version's folder -> SHA-256 (hex)
	Published time.Time         `json:"published"`
	By        string            `json:"by,omitempty"`
}

// Errors of versions.
var (
	// ErrVersionConflict: a version is already published with other content. Versions
	// never change: publish the new content under a new version.
	ErrVersionConflict error = spawnit.NewError(spawnit.KindConflict, "template version already published with other content", "")
	// ErrVersionNotFound: no usable published version of that name.
	ErrVersionNotFound = fmt.Errorf("template version %w", engine.ErrNotFound)
)

// maxManifestBytes bounds version.json (it lists at most a few hundred files).
const maxManifestBytes = 256 << 10

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// digestOf is the SHA-256 of "<sha256>  <path>\n" lines sorted by path: one content,
// one digest, whatever the order files were written in.
func digestOf(files map[string]string) string {
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	var b strings.Builder
	for _, p := range paths {
		b.WriteString(files[p] + "  " + p + "\n")
	}
	return sha256Hex([]byte(b.String()))
}

// CheckTemplateFiles checks a template's content as Publish does and returns its
// template (Targets set). Every problem is listed at once, as a *ValidationError whose
// fields are file paths ("template.json", "modules/docker/x.tfvars").
func CheckTemplateFiles(files TemplateFiles) (*Template, error) {
	var bad errs
	var tpl *Template
	if data, ok := files[TemplateFile]; !ok {
		bad.add(TemplateFile, CodeRequired, "missing")
	} else if t, err := ParseTemplate(data); err != nil {
		bad.add(TemplateFile, CodeInvalid, "%s", strings.TrimPrefix(err.Error(), ErrInvalidTemplate.Error()+": "))
	} else {
		tpl = t
	}
	count, size := map[string]int{}, map[string]int{}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, p := range paths {
		if p == TemplateFile {
			continue
		}
		rest, ok := strings.CutPrefix(p, modulesDir+"/")
		target, rel, ok2 := strings.Cut(rest, "/")
		if !ok || !ok2 || rel == "" {
			bad.add(p, CodeInvalid, "not part of a template: only %s and %s/<target>/<file>", TemplateFile, modulesDir)
			continue
		}
		if err := spawnit.ValidateID(target); err != nil {
			bad.add(p, CodeInvalid, "module folder %q is not a valid target name", target)
			continue
		}
		if err := checkModulePath(rel); err != nil {
			bad.add(p, CodeInvalid, "%v", err)
			continue
		}
		if err := (engine.Files{rel: nil}).Validate(); err != nil {
			bad.add(p, CodeInvalid, "%v", err)
			continue
		}
		if len(files[p]) > MaxModuleFileBytes {
			bad.add(p, CodeLimit, "larger than %d bytes", MaxModuleFileBytes)
		}
		count[target]++
		size[target] += len(files[p])
	}
	targets := make([]string, 0, len(count))
	for target := range count {
		targets = append(targets, target)
		if count[target] > MaxModuleFiles {
			bad.add(modulesDir+"/"+target, CodeLimit, "more than %d files", MaxModuleFiles)
		}
		if size[target] > MaxModuleBytes {
			bad.add(modulesDir+"/"+target, CodeLimit, "larger than %d bytes", MaxModuleBytes)
		}
	}
	if len(targets) == 0 {
		bad.add(modulesDir, CodeRequired, "no module: put one under %s/<target>/", modulesDir)
	}
	if err := bad.err(); err != nil {
		return nil, err
	}
	slices.Sort(targets)
	tpl.Targets = targets
	return tpl, nil
}

// Publish stores files as a new version of their template (template.json names both),
// by who. A version never changes: publishing a version again with the same content
// changes nothing (created is false, and a publish interrupted half-way is completed),
// with other content it fails with ErrVersionConflict. Several replicas may publish at
// once: the manifest is a create-only write, so one content wins and the others are
// refused or find it identical. Content problems come back as one *ValidationError
// (see CheckTemplateFiles).
//
// Publishing adds a version; the catalog offers the highest version that is not
// retired to new services and as an upgrade to existing ones, which stay pinned to
// theirs until upgraded.
func (c *Catalog) Publish(ctx context.Context, files TemplateFiles, by string) (v Version, created bool, err error) {
	tpl, err := CheckTemplateFiles(files)
	if err != nil {
		return Version{}, false, err
	}
	m := manifest{Template: tpl.ID, Version: tpl.Version, Files: map[string]string{}, Published: c.now().UTC().Truncate(time.Second), By: by}
	for p, data := range files {
		m.Files[p] = sha256Hex(data)
	}
	m.Digest = digestOf(m.Files)
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return Version{}, false, fmt.Errorf("catalog: encode manifest: %w", err)
	}
	key := storekey.TemplateVersionManifest(tpl.ID, tpl.Version)
	created, err = c.create(ctx, key, data)
	if err != nil {
		return Version{}, false, fmt.Errorf("catalog: publish %s %s: %w", tpl.ID, tpl.Version, err)
	}
	if !created {
		cur, _, err := c.readManifest(ctx, tpl.ID, tpl.Version)
		if err != nil {
			return Version{}, false, err
		}
		if cur.Digest != m.Digest {
			return Version{}, false, fmt.Errorf("%w: %s %s was published on %s; publish the new content under a new version",
				ErrVersionConflict, tpl.ID, tpl.Version, cur.Published.Format(time.RFC3339))
		}
		m = *cur
	}
	// template.json last: files are independent, but a reader that lists the folder
	// half-written sees an incomplete version either way, and skips it.
	paths := make([]string, 0, len(files))
	for p := range files {
		if p != TemplateFile {
			paths = append(paths, p)
		}
	}
	slices.Sort(paths)
	paths = append(paths, TemplateFile)
	present := map[string]bool{}
	if !created {
		// Published before (or being published by another replica): write only what is
		// missing; what is there is checked against the manifest when it is read.
		objs, err := c.st.List(ctx, storekey.TemplateVersion(tpl.ID, tpl.Version))
		if err != nil {
			return Version{}, false, fmt.Errorf("catalog: publish %s %s: %w", tpl.ID, tpl.Version, err)
		}
		for _, o := range objs {
			present[strings.TrimPrefix(o.Key, storekey.TemplateVersion(tpl.ID, tpl.Version))] = true
		}
	}
	for _, p := range paths {
		if present[p] {
			continue
		}
		fkey := storekey.TemplateVersion(tpl.ID, tpl.Version) + p
		wrote, err := c.create(ctx, fkey, files[p])
		if err != nil {
			return Version{}, false, fmt.Errorf("catalog: publish %s %s: %w", tpl.ID, tpl.Version, err)
		}
		if !wrote {
			got, _, err := c.st.Get(ctx, fkey)
			if err != nil {
				return Version{}, false, fmt.Errorf("catalog: publish %s %s: %w", tpl.ID, tpl.Version, err)
			}
			if sha256Hex(got) != m.Files[p] {
				return Version{}, false, fmt.Errorf("%w: %s differs from the version's manifest (changed by hand?)", ErrVersionConflict, fkey)
			}
		}
	}
	if created {
		c.log.Info("catalog: template version published", "template", tpl.ID, "version", tpl.Version, "by", by)
	}
	return Version{Template: tpl.ID, Version: tpl.Version, ReleaseNotes: tpl.ReleaseNotes, Published: m.Published, By: m.By, Digest: m.Digest}, created, nil
}

func (c *Catalog) readManifest(ctx context.Context, id, version string) (*manifest, store.Object, error) {
	key := storekey.TemplateVersionManifest(id, version)
	data, obj, err := c.st.Get(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, store.Object{}, fmt.Errorf("%w: %s %s", ErrVersionNotFound, id, version)
	}
	if err != nil {
		return nil, store.Object{}, fmt.Errorf("catalog: read %s: %w", key, err)
	}
	m, err := parseManifest(id, version, data)
	return m, obj, err
}

func parseManifest(id, version string, data []byte) (*manifest, error) {
	var m manifest
	if err := strictjson.Decode(data, &m, strictjson.Limits{MaxBytes: maxManifestBytes, MaxDepth: 4}); err != nil {
		return nil, fmt.Errorf("%w %s %s: %s: %v", ErrInvalidTemplate, id, version, storekey.VersionManifestFile, err)
	}
	switch {
	case m.Template != id || m.Version != version:
		return nil, fmt.Errorf("%w %s %s: %s names %s %s", ErrInvalidTemplate, id, version, storekey.VersionManifestFile, m.Template, m.Version)
	case m.Digest != digestOf(m.Files):
		return nil, fmt.Errorf("%w %s %s: %s: the digest does not match its files", ErrInvalidTemplate, id, version, storekey.VersionManifestFile)
	}
	return &m, nil
}

// versionObjects is what one listing says about templates/<id>/versions/<version>/.
type versionObjects struct {
	manifest *store.Object
	retired  bool
	files    map[string]store.Object // path in the version's folder -> object
}

// versionEntry is a version as read and checked, cached by its signature (the keys
// and ETags of its manifest and template.json).
type versionEntry struct {
	sig string
	m   *manifest
	tpl *Template // nil when err is set
	err error
}

// loadVersion reads and checks one version from its listing: its manifest, and its
// template.json against the manifest. Every file the manifest lists must be there, and
// nothing else; module files are checked against their SHA-256 when read
// (VersionModuleFiles). A version whose files changed is reported and not used.
func (c *Catalog) loadVersion(ctx context.Context, id, version string, g *versionObjects) (*versionEntry, error) {
	key := storekey.TemplateVersion(id, version)
	if g.manifest == nil {
		return &versionEntry{err: fmt.Errorf("%w %s %s: no %s (files put there by hand? publish them instead)", ErrInvalidTemplate, id, version, storekey.VersionManifestFile)}, nil
	}
	meta, hasMeta := g.files[TemplateFile]
	sig := g.manifest.ETag + "\x00" + meta.ETag
	cacheKey := id + "@" + version
	c.mu.Lock()
	e := c.versions[cacheKey]
	c.mu.Unlock()
	if e == nil || e.sig != sig {
		e = &versionEntry{sig: sig}
		e.m, _, e.err = c.readManifest(ctx, id, version)
		if e.err == nil && hasMeta {
			data, _, err := c.st.Get(ctx, key+TemplateFile)
			switch {
			case errors.Is(err, store.ErrNotFound):
				hasMeta = false
			case err != nil:
				return nil, fmt.Errorf("catalog: read %s: %w", key+TemplateFile, err)
			case sha256Hex(data) != e.m.Files[TemplateFile]:
				e.err = fmt.Errorf("%w %s %s: %s was changed after it was published; it is not used", ErrInvalidTemplate, id, version, TemplateFile)
			default:
				e.tpl, e.err = ParseTemplate(data)
			}
		}
		if errors.Is(e.err, ErrVersionNotFound) {
			return nil, e.err // removed since the listing
		}
		c.mu.Lock()
		c.versions[cacheKey] = e
		c.mu.Unlock()
	}
	if e.err != nil {
		return e, nil
	}
	out := &versionEntry{sig: e.sig, m: e.m, tpl: e.tpl}
	var missing, extra []string
	for p := range e.m.Files {
		if _, ok := g.files[p]; !ok {
			missing = append(missing, p)
		}
	}
	for p := range g.files {
		if _, ok := e.m.Files[p]; !ok {
			extra = append(extra, p)
		}
	}
	slices.Sort(missing)
	slices.Sort(extra)
	switch {
	case len(missing) > 0:
		out.err = fmt.Errorf("%w %s %s: incomplete (missing %s): publish it again to complete it", ErrInvalidTemplate, id, version, strings.Join(missing, ", "))
	case len(extra) > 0:
		out.err = fmt.Errorf("%w %s %s: %s added after it was published; the version is not used until they are removed", ErrInvalidTemplate, id, version, strings.Join(extra, ", "))
	case !hasMeta:
		out.err = fmt.Errorf("%w %s %s: missing %s", ErrInvalidTemplate, id, version, TemplateFile)
	}
	if out.err == nil {
		tpl := out.tpl.Clone()
		tpl.Targets = manifestTargets(e.m)
		out.tpl = tpl
	}
	return out, nil
}

func manifestTargets(m *manifest) []string {
	var targets []string
	for p := range m.Files {
		if rest, ok := strings.CutPrefix(p, modulesDir+"/"); ok {
			if t, _, ok := strings.Cut(rest, "/"); ok && !slices.Contains(targets, t) {
				targets = append(targets, t)
			}
		}
	}
	slices.Sort(targets)
	return targets
}

func (e *versionEntry) version(retired bool) Version {
	return Version{Template: e.m.Template, Version: e.m.Version, ReleaseNotes: e.tpl.ReleaseNotes,
		Published: e.m.Published, By: e.m.By, Digest: e.m.Digest, Retired: retired}
}

// groupVersions sorts the keys under templates/<id>/versions/ by version.
func groupVersions(objs []store.Object) map[string]*versionObjects {
	out := map[string]*versionObjects{}
	for _, o := range objs {
		k, ok := storekey.ParseTemplate(o.Key)
		if !ok || k.Kind != storekey.TemplateVersionFile {
			continue
		}
		g := out[k.Version]
		if g == nil {
			g = &versionObjects{files: map[string]store.Object{}}
			out[k.Version] = g
		}
		switch k.Path {
		case storekey.VersionManifestFile:
			g.manifest = &o
		case storekey.RetiredFile:
			g.retired = true
		default:
			g.files[k.Path] = o
		}
	}
	return out
}

// usableVersions checks every version in groups, reporting the broken ones, and
// returns the usable ones from the lowest version to the highest.
func (c *Catalog) usableVersions(ctx context.Context, id string, groups map[string]*versionObjects) ([]*versionEntry, []bool, error) {
	names := make([]string, 0, len(groups))
	for v := range groups {
		names = append(names, v)
	}
	slices.SortFunc(names, CompareVersions)
	var out []*versionEntry
	var retired []bool
	for _, v := range names {
		e, err := c.loadVersion(ctx, id, v, groups[v])
		if errors.Is(err, ErrVersionNotFound) {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		problemKey := id + "@" + v
		if e.err != nil {
			c.reportAt(problemKey, id, storekey.TemplateVersion(id, v), "", e.err)
			continue
		}
		c.clearProblem(problemKey)
		out = append(out, e)
		retired = append(retired, groups[v].retired)
	}
	return out, retired, nil
}

// Versions lists a template's usable published versions, from the lowest to the
// highest (CompareVersions), retired ones included. A disabled template's versions are
// listed too: its services keep running them.
func (c *Catalog) Versions(ctx context.Context, id string) ([]Version, error) {
	if err := spawnit.ValidateID(id); err != nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	if _, err := c.Get(ctx, id); err != nil && !errors.Is(err, ErrTemplateNotFound) && !errors.Is(err, ErrInvalidTemplate) {
		return nil, err // Get publishes hand-written files first
	}
	objs, err := c.st.List(ctx, storekey.TemplateVersions(id))
	if err != nil {
		return nil, fmt.Errorf("catalog: template %s: %w", id, err)
	}
	entries, retired, err := c.usableVersions(ctx, id, groupVersions(objs))
	if err != nil {
		return nil, err
	}
	if len(entries) == 0 {
		return nil, fmt.Errorf("%w: %s", ErrTemplateNotFound, id)
	}
	out := make([]Version, len(entries))
	for i, e := range entries {
		out[i] = e.version(retired[i])
	}
	return out, nil
}

// GetVersion returns one published version of a template, retired or not, even when
// the template is disabled: what a service pinned to it runs.
func (c *Catalog) GetVersion(ctx context.Context, id, version string) (*Template, error) {
	e, _, err := c.version(ctx, id, version)
	if err != nil {
		return nil, err
	}
	return e.tpl.Clone(), nil
}

func (c *Catalog) version(ctx context.Context, id, version string) (*versionEntry, *versionObjects, error) {
	if err := spawnit.ValidateID(id); err != nil {
		return nil, nil, fmt.Errorf("template: %w", err)
	}
	if !versionRe.MatchString(version) {
		return nil, nil, fmt.Errorf("%w: version %q", engine.ErrInvalidInput, version)
	}
	objs, err := c.st.List(ctx, storekey.TemplateVersion(id, version))
	if err != nil {
		return nil, nil, fmt.Errorf("catalog: template %s %s: %w", id, version, err)
	}
	g := groupVersions(objs)[version]
	if g == nil {
		return nil, nil, fmt.Errorf("%w: %s %s", ErrVersionNotFound, id, version)
	}
	e, err := c.loadVersion(ctx, id, version, g)
	if err != nil {
		return nil, nil, err
	}
	if e.err != nil {
		return nil, nil, c.reportAt(id+"@"+version, id, storekey.TemplateVersion(id, version), "", e.err)
	}
	return e, g, nil
}

// VersionModuleFiles returns a published version's module for one target, each file
// checked against the SHA-256 its manifest records: a file changed after publishing
// fails the call (and is reported) rather than running something nobody published.
func (c *Catalog) VersionModuleFiles(ctx context.Context, id, version, target string) (engine.Files, error) {
	if err := spawnit.ValidateID(target); err != nil {
		return nil, fmt.Errorf("target: %w", err)
	}
	e, g, err := c.version(ctx, id, version)
	if err != nil {
		return nil, err
	}
	prefix := modulesDir + "/" + target + "/"
	var objs []store.Object
	for p, o := range g.files {
		if strings.HasPrefix(p, prefix) {
			objs = append(objs, o)
		}
	}
	if len(objs) == 0 {
		return nil, fmt.Errorf("%w: template %s %s has no module for target %s", ErrModuleNotFound, id, version, target)
	}
	cacheKey := id + "@" + version + "/" + target
	if files := c.cachedModule(cacheKey, moduleSignature(objs)); files != nil {
		return files, nil
	}
	base := storekey.TemplateVersion(id, version)
	files := engine.Files{}
	for _, o := range objs {
		data, _, err := c.st.Get(ctx, o.Key)
		if err != nil {
			return nil, fmt.Errorf("catalog: read %s: %w", o.Key, err)
		}
		p := strings.TrimPrefix(o.Key, base)
		if sha256Hex(data) != e.m.Files[p] {
			return nil, c.reportAt(id+"@"+version, id, o.Key, o.ETag,
				fmt.Errorf("%w %s %s: %s was changed after it was published; it is not used", ErrInvalidTemplate, id, version, p))
		}
		files[strings.TrimPrefix(p, prefix)] = data
	}
	c.mu.Lock()
	c.modules[cacheKey] = &moduleEntry{sig: moduleSignature(objs), files: files}
	c.mu.Unlock()
	return copyFiles(files), nil
}

// latest is the highest usable version that is not retired.
func latest(entries []*versionEntry, retired []bool) *versionEntry {
	for i := len(entries) - 1; i >= 0; i-- {
		if !retired[i] {
			return entries[i]
		}
	}
	return nil
}

// headSignature identifies the hand-published files of a template folder (its
// template.json and modules/) by their keys and ETags.
func headSignature(g *templateObjects) string {
	objs := slices.Clone(g.head)
	if g.meta != nil {
		objs = append(objs, *g.meta)
	}
	return moduleSignature(objs)
}

type headEntry struct {
	sig string
	err error // the head's problem, nil when it is published
}

// syncHead publishes the files an operator put in the template's folder by hand
// (template.json and modules/) when their version is new. Files that differ from the
// published version of the same name are a problem (reported, not used): a version
// never changes. Results are cached by the files' ETags, so a listing re-reads nothing
// that did not change.
// published says whether this call published a version.
func (c *Catalog) syncHead(ctx context.Context, id string, g *templateObjects) (published bool, err error) {
	sig := headSignature(g)
	c.mu.Lock()
	h := c.heads[id]
	c.mu.Unlock()
	if h != nil && h.sig == sig {
		return false, h.err
	}
	files, err := c.readHead(ctx, id, g)
	if err != nil {
		return false, err
	}
	published, herr := c.publishHead(ctx, id, files, g)
	if herr != nil && !errors.Is(herr, ErrInvalidTemplate) && !errors.Is(herr, ErrVersionConflict) {
		var ve *ValidationError
		if !errors.As(herr, &ve) {
			return false, herr // the store failed: try again next time
		}
	}
	c.mu.Lock()
	c.heads[id] = &headEntry{sig: sig, err: herr}
	c.mu.Unlock()
	return published, herr
}

func (c *Catalog) readHead(ctx context.Context, id string, g *templateObjects) (TemplateFiles, error) {
	files := TemplateFiles{}
	objs := slices.Clone(g.head)
	objs = append(objs, *g.meta)
	if len(objs) > MaxModuleFiles*4 {
		return nil, fmt.Errorf("%w %s: more than %d files", ErrInvalidTemplate, id, MaxModuleFiles*4)
	}
	for _, o := range objs {
		if o.Size > MaxModuleFileBytes && o.Key != storekey.Template(id) {
			files[strings.TrimPrefix(o.Key, storekey.TemplatePrefix(id))] = make([]byte, MaxModuleFileBytes+1)
			continue // CheckTemplateFiles reports it
		}
		data, _, err := c.st.Get(ctx, o.Key)
		if errors.Is(err, store.ErrNotFound) {
			continue // removed since the listing; the next listing sees it
		}
		if err != nil {
			return nil, fmt.Errorf("catalog: read %s: %w", o.Key, err)
		}
		files[strings.TrimPrefix(o.Key, storekey.TemplatePrefix(id))] = data
	}
	return files, nil
}

func (c *Catalog) publishHead(ctx context.Context, id string, files TemplateFiles, g *templateObjects) (bool, error) {
	tpl, err := CheckTemplateFiles(files)
	if err != nil {
		return false, fmt.Errorf("%w %s: %v", ErrInvalidTemplate, id, err)
	}
	if tpl.ID != id {
		return false, fmt.Errorf("%w %s: template.json says id %q, but it is stored under templates/%s/", ErrInvalidTemplate, id, tpl.ID, id)
	}
	if vg := g.versions[tpl.Version]; vg != nil && vg.manifest != nil {
		m, _, err := c.readManifest(ctx, id, tpl.Version)
		if err != nil && !errors.Is(err, ErrInvalidTemplate) {
			return false, err
		}
		sums := map[string]string{}
		for p, data := range files {
			sums[p] = sha256Hex(data)
		}
		if m != nil && m.Digest == digestOf(sums) {
			return false, nil
		}
		return false, fmt.Errorf("%w: %s: the files in templates/%s/ differ from the published version %s, so they are not used: give template.json a new version to publish them",
			ErrVersionConflict, id, id, tpl.Version)
	}
	_, created, err := c.Publish(ctx, files, PublishedByStore)
	return created || err == nil, err
}

// CompareVersions orders template versions: dot-separated parts compared as numbers
// when both are numbers ("1.10" after "1.9"), as text otherwise; a pre-release
// ("1.2.0-rc.1") comes before its release; build metadata ("+b") only breaks ties.
func CompareVersions(a, b string) int {
	ab, abuild, _ := strings.Cut(a, "+")
	bb, bbuild, _ := strings.Cut(b, "+")
	amain, apre, ahas := strings.Cut(ab, "-")
	bmain, bpre, bhas := strings.Cut(bb, "-")
	if c := comparePartList(amain, bmain); c != 0 {
		return c
	}
	switch {
	case ahas && !bhas:
		return -1
	case !ahas && bhas:
		return 1
	}
	if c := comparePartList(apre, bpre); c != 0 {
		return c
	}
	return strings.Compare(abuild, bbuild)
}

func comparePartList(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) || i < len(bs); i++ {
		if i >= len(as) {
			return -1
		}
		if i >= len(bs) {
			return 1
		}
		if c := comparePart(as[i], bs[i]); c != 0 {
			return c
		}
	}
	return 0
}

func comparePart(a, b string) int {
	an, aerr := strconv.ParseUint(a, 10, 64)
	bn, berr := strconv.ParseUint(b, 10, 64)
	switch {
	case aerr == nil && berr == nil:
		switch {
		case an < bn:
			return -1
		case an > bn:
			return 1
		}
		return strings.Compare(a, b) // "01" and "1"
	case aerr == nil:
		return -1
	case berr == nil:
		return 1
	}
	return strings.Compare(a, b)
}
