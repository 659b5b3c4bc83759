package catalog

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spawnit/spawnit"
	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/pkg/keyring"
	"github.com/spawnit/spawnit/pkg/store"
	"github.com/spawnit/spawnit/pkg/storekey"
)

// Names in a template's folder (package storekey owns the store's layout).
const (
	// TemplateFile is the metadata and schema of a template.
	TemplateFile = storekey.TemplateFile
	// DisabledMarker: an object templates/<id>/disabled hides the template and stops
	// Seed from ever recreating it, so an operator can retire a built-in template.
	DisabledMarker = storekey.DisabledFile
	modulesDir     = storekey.ModulesDir
)

// Limits on module folders.
const (
	MaxModuleFiles     = 200
	MaxModuleFileBytes = 1 << 20
	MaxModuleBytes     = 8 << 20
)

// Problem reports a template in the store that cannot be used. Problems are logged once
// per version of the template and kept until the template is fixed or removed.
type Problem struct {
	Template string `json:"template"`
	Key      string `json:"key"`
	ETag     string `json:"etag,omitempty"`
	Error    string `json:"error"`
}

// Catalog reads templates and services from the store. It caches parsed templates and
// module files by ETag: every call checks the store's listing (cheap) and re-reads only
// what changed, so an operator's edit is picked up without a restart. Safe for
// concurrent use.
type Catalog struct {
	st  store.Store
	log *slog.Logger

	mu       sync.Mutex
	modules  map[string]*moduleEntry
	versions map[string]*versionEntry // by "<template>@<version>"
	heads    map[string]*headEntry    // hand-published files, by template
	// problems are keyed by template id (its folder's files) or "<id>@<version>".
	problems map[string]Problem

	// ring seals sensitive inputs at rest (UseKeyring); nil keeps them in clear.
	ring *keyring.Keyring

	// indexSeen is when the service index's built mark was last seen (ensureIndex).
	indexSeen atomic.Int64

	// newID and now are replaced by tests (forced id collisions, fixed clocks).
	newID func() string
	now   func() time.Time
}

type moduleEntry struct {
	sig   string
	files engine.Files
}

// New returns a Catalog over st. A nil logger discards logs.
func New(st store.Store, logger *slog.Logger) *Catalog {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Catalog{
		st:       st,
		log:      logger,
		modules:  map[string]*moduleEntry{},
		versions: map[string]*versionEntry{},
		heads:    map[string]*headEntry{},
		problems: map[string]Problem{},
		newID:    newServiceID,
		now:      time.Now,
	}
}

// Seed writes each built-in template into the store when it is absent. Every write is a
// create (IfNoneMatch), so an operator's edited or retired template (DisabledMarker) is
// never overwritten, and replicas seeding one store at once write each file once.
// Module files go first and template.json last: template.json is what makes a
// template visible, so a seed interrupted half-way is completed by the next one.
//
// It logs what this process did: the templates whose template.json its own write
// created, and those it found already there (seeded before, or by another replica a
// moment ago), so that of several replicas starting at once exactly one says it seeded
// each template.
func (c *Catalog) Seed(ctx context.Context) error {
	r, err := c.seed(ctx)
	attrs := []any{"seeded", r.seeded, "already_present", r.present}
	if len(r.disabled) > 0 {
		attrs = append(attrs, "disabled", r.disabled)
	}
	switch {
	case len(r.seeded) > 0:
		c.log.Info(fmt.Sprintf("catalog: seeded %d built-in templates", len(r.seeded)), attrs...)
	case err == nil:
		c.log.Info("catalog: built-in templates already in the store; nothing seeded", attrs...)
	}
	return err
}

// seeding is what one Seed did, template by template (ids in built-in order).
type seeding struct {
	seeded   []string // created by this call
	present  []string // found there (this call wrote nothing that makes them visible)
	disabled []string // retired by the operator: left alone
}

func (c *Catalog) seed(ctx context.Context) (seeding, error) {
	var r seeding
	builtin := Builtin()
	ids, err := fs.ReadDir(builtin, ".")
	if err != nil {
		return r, fmt.Errorf("catalog: read built-in templates: %w", err)
	}
	var failures []error
	for _, d := range ids {
		if !d.IsDir() {
			continue
		}
		id := d.Name()
		outcome, err := c.seedOne(ctx, builtin, id)
		switch {
		case err != nil:
			failures = append(failures, err)
		case outcome == seededNow:
			r.seeded = append(r.seeded, id)
		case outcome == seededBefore:
			r.present = append(r.present, id)
		case outcome == seedDisabled:
			r.disabled = append(r.disabled, id)
		}
	}
	return r, errors.Join(failures...)
}

type seedOutcome int

const (
	seededNow    seedOutcome = iota // this call created template.json
	seededBefore                    // template.json was there, or another writer created it first
	seedDisabled                    // the operator retired the template
)

func (c *Catalog) seedOne(ctx context.Context, builtin fs.FS, id string) (seedOutcome, error) {
	data, err := fs.ReadFile(builtin, path.Join(id, TemplateFile))
	if err != nil {
		return 0, fmt.Errorf("catalog: built-in template %s: %w", id, err)
	}
	tpl, err := ParseTemplate(data)
	if err != nil {
		return 0, fmt.Errorf("catalog: built-in template %s: %w", id, err)
	}
	if _, err := c.st.Stat(ctx, storekey.TemplateDisabled(id)); err == nil {
		return seedDisabled, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return 0, fmt.Errorf("catalog: seed %s: %w", id, err)
	}
	// The built-in version is published like any other (services stay pinned to
	// theirs), before the folder's files, which would otherwise be published as the
	// store's.
	files, err := builtinFiles(builtin, id)
	if err != nil {
		return 0, fmt.Errorf("catalog: built-in template %s: %w", id, err)
	}
	if _, _, err := c.Publish(ctx, files, PublishedByBuiltin); errors.Is(err, ErrVersionConflict) {
		c.log.Warn("catalog: a different built-in template of the same version is already published; keeping the published one",
			"template", id, "version", tpl.Version)
	} else if err != nil {
		return 0, fmt.Errorf("catalog: seed %s: %w", id, err)
	}
	stored, _, err := c.st.Get(ctx, storekey.Template(id))
	switch {
	case err == nil:
		if cur, perr := ParseTemplate(stored); perr == nil && cur.Version != tpl.Version {
			c.log.Info("catalog: built-in template differs from the stored one; keeping the stored one",
				"template", id, "stored_version", cur.Version, "builtin_version", tpl.Version)
		}
		return seededBefore, nil
	case !errors.Is(err, store.ErrNotFound):
		return 0, fmt.Errorf("catalog: seed %s: %w", id, err)
	}
	err = fs.WalkDir(builtin, path.Join(id, modulesDir), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(builtin, p)
		if err != nil {
			return err
		}
		// The built-in tree is laid out as the store's templates/ folder.
		_, err = c.create(ctx, storekey.TemplatesPrefix+p, b)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("catalog: seed %s: %w", id, err)
	}
	created, err := c.create(ctx, storekey.Template(id), data)
	if err != nil {
		return 0, fmt.Errorf("catalog: seed %s: %w", id, err)
	}
	if !created {
		// Another replica seeding at the same moment made it visible first.
		return seededBefore, nil
	}
	c.log.Debug("catalog: seeded built-in template", "template", id, "version", tpl.Version)
	return seededNow, nil
}

// builtinFiles reads a built-in template as TemplateFiles.
func builtinFiles(builtin fs.FS, id string) (TemplateFiles, error) {
	files := TemplateFiles{}
	err := fs.WalkDir(builtin, id, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(builtin, p)
		if err != nil {
			return err
		}
		files[strings.TrimPrefix(p, id+"/")] = b
		return nil
	})
	return files, err
}

// create writes key only if it does not exist; an existing object is left as it is.
// created says whether this call's write made the object.
func (c *Catalog) create(ctx context.Context, key string, data []byte) (created bool, err error) {
	_, err = c.st.Put(ctx, key, data, store.PutOptions{IfNoneMatch: true, ContentType: contentType(key)})
	if errors.Is(err, store.ErrPreconditionFailed) {
		return false, nil
	}
	return err == nil, err
}

func contentType(key string) string {
	if strings.HasSuffix(key, ".json") {
		return "application/json"
	}
	return "text/plain; charset=utf-8"
}

// templateObjects is what one listing says about templates/<id>/.
type templateObjects struct {
	meta     *store.Object // template.json
	disabled bool
	targets  map[string]bool
	head     []store.Object // module files of the folder (hand-published)
	versions map[string]*versionObjects
}

func groupTemplates(objs []store.Object) map[string]*templateObjects {
	groups := map[string]*templateObjects{}
	for i := range objs {
		k, ok := storekey.ParseTemplate(objs[i].Key)
		if !ok {
			continue
		}
		g := groups[k.ID]
		if g == nil {
			g = &templateObjects{targets: map[string]bool{}, versions: map[string]*versionObjects{}}
			groups[k.ID] = g
		}
		switch k.Kind {
		case storekey.TemplateMeta:
			g.meta = &objs[i]
		case storekey.TemplateMarkDisabled:
			g.disabled = true
		case storekey.TemplateModuleFile:
			g.targets[k.Target] = true
			g.head = append(g.head, objs[i])
		case storekey.TemplateVersionFile:
			vg := g.versions[k.Version]
			if vg == nil {
				vg = &versionObjects{files: map[string]store.Object{}}
				g.versions[k.Version] = vg
			}
			switch k.Path {
			case storekey.VersionManifestFile:
				vg.manifest = &objs[i]
			case storekey.RetiredFile:
				vg.retired = true
			default:
				vg.files[k.Path] = objs[i]
			}
		}
	}
	return groups
}

// List returns every usable template, sorted by id. Malformed templates are skipped and
// reported by Problems; only a store failure is an error.
func (c *Catalog) List(ctx context.Context) ([]*Template, error) {
	objs, err := c.st.List(ctx, storekey.TemplatesPrefix)
	if err != nil {
		return nil, fmt.Errorf("catalog: list templates: %w", err)
	}
	groups := groupTemplates(objs)
	ids := make([]string, 0, len(groups))
	for id := range groups {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var out []*Template
	for _, id := range ids {
		tpl, err := c.resolve(ctx, id, groups[id])
		switch {
		case err == nil:
			out = append(out, tpl)
		case errors.Is(err, ErrInvalidTemplate), errors.Is(err, ErrTemplateNotFound):
			// Reported by resolve; one bad template must not hide the others.
		default:
			return nil, err
		}
	}
	c.mu.Lock()
	for key := range c.problems {
		if id, _, _ := strings.Cut(key, "@"); groups[id] == nil {
			delete(c.problems, key)
		}
	}
	for key := range c.versions {
		if id, _, _ := strings.Cut(key, "@"); groups[id] == nil {
			delete(c.versions, key)
		}
	}
	for id := range c.heads {
		if groups[id] == nil {
			delete(c.heads, id)
		}
	}
	for key := range c.modules {
		if id, _, _ := strings.Cut(strings.Split(key, "/")[0], "@"); groups[id] == nil {
			delete(c.modules, key)
		}
	}
	c.mu.Unlock()
	return out, nil
}

// Get returns the template as of its latest version: the highest published version
// that is not retired (hand-published files of a new version are published first).
// The store is re-read only where the listing shows a change.
func (c *Catalog) Get(ctx context.Context, id string) (*Template, error) {
	if err := spawnit.ValidateID(id); err != nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	objs, err := c.st.List(ctx, storekey.TemplatePrefix(id))
	if err != nil {
		return nil, fmt.Errorf("catalog: template %s: %w", id, err)
	}
	g := groupTemplates(objs)[id]
	if g == nil {
		c.clearProblem(id)
		return nil, fmt.Errorf("%w: %s", ErrTemplateNotFound, id)
	}
	return c.resolve(ctx, id, g)
}

// Problems lists the templates List or Get had to skip, sorted by template id.
func (c *Catalog) Problems() []Problem {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Problem, 0, len(c.problems))
	for _, p := range c.problems {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Template < out[j].Template })
	return out
}

// resolve turns one template folder into the Template of its latest version (a copy
// the caller may change), recording or clearing its problems. Files an operator put in
// the folder by hand are published first when their version is new; when they cannot
// be used (malformed, or changed under a published version) they are a problem, and
// the published versions keep working.
func (c *Catalog) resolve(ctx context.Context, id string, g *templateObjects) (*Template, error) {
	key := storekey.Template(id)
	if g.disabled {
		c.clearProblem(id)
		return nil, fmt.Errorf("%w: %s (disabled)", ErrTemplateNotFound, id)
	}
	if err := spawnit.ValidateID(id); err != nil {
		return nil, c.report(id, storekey.TemplatePrefix(id), "", fmt.Errorf("%w: folder name: %v", ErrInvalidTemplate, err))
	}
	var headErr error
	switch {
	case g.meta != nil:
		var published bool
		published, headErr = c.syncHead(ctx, id, g)
		if headErr != nil && !errors.Is(headErr, ErrInvalidTemplate) && !errors.Is(headErr, ErrVersionConflict) {
			var ve *ValidationError
			if !errors.As(headErr, &ve) {
				return nil, headErr
			}
		}
		if published {
			// Published now: list the versions again.
			objs, err := c.st.List(ctx, storekey.TemplateVersions(id))
			if err != nil {
				return nil, fmt.Errorf("catalog: template %s: %w", id, err)
			}
			g.versions = groupVersions(objs)
		}
	case len(g.head) > 0 && len(g.versions) == 0:
		headErr = fmt.Errorf("%w %s: missing %s", ErrInvalidTemplate, id, TemplateFile)
	}
	entries, retired, err := c.usableVersions(ctx, id, g.versions)
	if err != nil {
		return nil, err
	}
	if headErr != nil {
		etag := ""
		if g.meta != nil {
			etag = g.meta.ETag
		}
		c.report(id, key, etag, headErr)
	} else {
		c.clearProblem(id)
	}
	best := latest(entries, retired)
	if best == nil {
		if headErr != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalidTemplate, headErr)
		}
		if len(g.versions) > 0 && len(entries) > 0 {
			return nil, fmt.Errorf("%w: %s (every version is retired)", ErrTemplateNotFound, id)
		}
		return nil, fmt.Errorf("%w %s: no usable version", ErrInvalidTemplate, id)
	}
	return best.tpl.Clone(), nil
}

// report records a problem of a template's folder and logs it once per (template,
// version, error).
func (c *Catalog) report(id, key, etag string, err error) error {
	return c.reportAt(id, id, key, etag, err)
}

// reportAt records a problem under problemKey (a template id, or "<id>@<version>").
func (c *Catalog) reportAt(problemKey, id, key, etag string, err error) error {
	p := Problem{Template: id, Key: key, ETag: etag, Error: err.Error()}
	c.mu.Lock()
	old, seen := c.problems[problemKey]
	c.problems[problemKey] = p
	c.mu.Unlock()
	if !seen || old != p {
		c.log.Warn("catalog: skipping unusable template", "template", id, "key", key, "etag", etag, "error", err)
	}
	return err
}

func (c *Catalog) clearProblem(problemKey string) {
	c.mu.Lock()
	delete(c.problems, problemKey)
	c.mu.Unlock()
}

// ModuleFiles returns the module of a template for one target: every object under
// templates/<id>/modules/<target>/, keyed by its path relative to that folder. Files
// are re-read only when the listing's keys or ETags change. The map is a copy.
func (c *Catalog) ModuleFiles(ctx context.Context, templateID, target string) (engine.Files, error) {
	if err := spawnit.ValidateID(templateID); err != nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	if err := spawnit.ValidateID(target); err != nil {
		return nil, fmt.Errorf("target: %w", err)
	}
	prefix := storekey.TemplateModule(templateID, target)
	objs, err := c.st.List(ctx, prefix)
	if err != nil {
		return nil, fmt.Errorf("catalog: list %s: %w", prefix, err)
	}
	if len(objs) == 0 {
		return nil, fmt.Errorf("%w: template %s has no module for target %s", ErrModuleNotFound, templateID, target)
	}
	if len(objs) > MaxModuleFiles {
		return nil, fmt.Errorf("%w %s: module %s has more than %d files", ErrInvalidTemplate, templateID, target, MaxModuleFiles)
	}
	cacheKey := templateID + "/" + target
	if files := c.cachedModule(cacheKey, moduleSignature(objs)); files != nil {
		return files, nil
	}
	files := engine.Files{}
	read := make([]store.Object, 0, len(objs))
	total := 0
	for _, o := range objs {
		if o.Size > MaxModuleFileBytes {
			return nil, fmt.Errorf("%w %s: %s is larger than %d bytes", ErrInvalidTemplate, templateID, o.Key, MaxModuleFileBytes)
		}
		data, got, err := c.st.Get(ctx, o.Key)
		if errors.Is(err, store.ErrNotFound) {
			continue // deleted since the listing; the next call sees the new listing
		}
		if err != nil {
			return nil, fmt.Errorf("catalog: read %s: %w", o.Key, err)
		}
		if total += len(data); len(data) > MaxModuleFileBytes || total > MaxModuleBytes {
			return nil, fmt.Errorf("%w %s: module %s is larger than %d bytes", ErrInvalidTemplate, templateID, target, MaxModuleBytes)
		}
		rel := strings.TrimPrefix(o.Key, prefix)
		if err := checkModulePath(rel); err != nil {
			return nil, fmt.Errorf("%w %s: module %s: %v", ErrInvalidTemplate, templateID, target, err)
		}
		files[rel] = data
		read = append(read, got)
	}
	if err := files.Validate(); err != nil {
		return nil, fmt.Errorf("%w %s: module %s: %v", ErrInvalidTemplate, templateID, target, err)
	}
	c.mu.Lock()
	c.modules[cacheKey] = &moduleEntry{sig: moduleSignature(read), files: files}
	c.mu.Unlock()
	return copyFiles(files), nil
}

// checkModulePath refuses variable files in a module: OpenTofu loads *.auto.tfvars and
// terraform.tfvars on its own, and they would override the user's and the server's
// values (spawnit_client_id, the tenant id, included).
func checkModulePath(rel string) error {
	base := path.Base(rel)
	if strings.HasSuffix(base, ".tfvars") || strings.HasSuffix(base, ".tfvars.json") {
		return fmt.Errorf("variable file %q is not allowed in a module", rel)
	}
	return nil
}

func (c *Catalog) cachedModule(key, sig string) engine.Files {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.modules[key]; e != nil && e.sig == sig {
		return copyFiles(e.files)
	}
	return nil
}

func moduleSignature(objs []store.Object) string {
	parts := make([]string, 0, len(objs))
	for _, o := range objs {
		parts = append(parts, o.Key+"\x00"+o.ETag)
	}
	sort.Strings(parts)
	return strings.Join(parts, "\x01")
}

func copyFiles(f engine.Files) engine.Files {
	out := make(engine.Files, len(f))
	for k, v := range f {
		out[k] = slices.Clone(v)
	}
	return out
}
