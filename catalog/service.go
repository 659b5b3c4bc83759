package catalog

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/spawnit/spawnit"
	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/internal/strictjson"
	"github.com/spawnit/spawnit/pkg/store"
	"github.com/spawnit/spawnit/pkg/storekey"
)

// Per-service objects under clients/<tenant>/<service>/.
const (
	InfoFile = storekey.InfoFile
	// DefaultTarget is used when a request names none.
	DefaultTarget = "docker"
	// MaxLabels bounds a service's labels.
	MaxLabels = 32
	// maxInfoBytes bounds info.json; it holds metadata only.
	maxInfoBytes = 64 << 10
	// idAttempts bounds retries after an id collision (40 random bits: a second
	// collision in a row means something other than chance).
	idAttempts = 8
)

// CreateRequest is what a user asks for. Inputs are the form's values (see ParseInputs
// to decode them from JSON safely).
type CreateRequest struct {
	Template string `json:"template"`
	// Provider is the target to deploy to (DefaultTarget when empty); the name is the
	// API's and the stored record's.
	Provider string            `json:"provider,omitempty"`
	Name     string            `json:"name,omitempty"` // the template's name when empty
	Labels   map[string]string `json:"labels,omitempty"`
	Expires  *time.Time        `json:"expires,omitempty"`
	// AutoRemediate lets SpawnIt re-apply the service on its own when a check finds it
	// drifted or missing.
	AutoRemediate bool           `json:"auto_remediate,omitempty"`
	Inputs        map[string]any `json:"inputs"`
	// Settle, when set, completes and claims the validated values once the service's
	// id is known and before its configuration is stored (see SettleFunc).
	Settle SettleFunc `json:"-"`
}

// SettleFunc completes a service's validated values before they are stored: the server
// allocates the ports left empty (Field.AllocatedPort) and claims every port, so that
// no two services hold one. It may set values of the template's fields; an input it
// refuses (a port another service holds) is a *ValidationError naming the bare field.
// undo gives back what it claimed, for a create or update that fails afterwards; it is
// never nil when err is nil.
type SettleFunc func(ctx context.Context, ref engine.ServiceRef, target string, tpl *Template, values map[string]any) (undo func(), err error)

// Info is clients/<tenant>/<service>/info.json: what the service is. The catalog
// writes it once, at creation; other packages may add their own fields (intent, last
// operation) and must keep the ones they do not know when they rewrite it.
type Info struct {
	// Client is the tenant and Provider (below) the target; the JSON names stay for
	// existing stores.
	Client   string `json:"client"`
	Service  string `json:"service"`
	Template string `json:"template"`
	// TemplateVersion is the published version of the template the service runs: set
	// at creation, changed only by an upgrade (or downgrade) that succeeded. This is
	// where a service's version is kept (see VersionPinned).
	TemplateVersion string            `json:"template_version"`
	Provider        string            `json:"provider"`
	Name            string            `json:"name"`
	Created         time.Time         `json:"created"`
	Labels          map[string]string `json:"labels,omitempty"`
	Expires         *time.Time        `json:"expires,omitempty"`
	// AutoRemediate: SpawnIt re-applies the service when a check finds it drifted or
	// missing (see CreateRequest).
	AutoRemediate bool `json:"auto_remediate,omitempty"`
	// Sensitive names the inputs that were sensitive at creation, so they stay masked
	// even if the template later disappears or changes.
	Sensitive []string `json:"sensitive,omitempty"`
	// VersionPinned: TemplateVersion names a published version, whose module the
	// service runs. Services created before versions existed are pinned when first
	// read, to the version their template's folder held then (the module they ran).
	VersionPinned bool `json:"version_pinned,omitempty"`
	// Stopped is when a user stopped the service's containers (Docker target): it is
	// stopped on purpose, not drifted, until started again or re-applied. Kept here so
	// that every replica sees it.
	Stopped *time.Time `json:"stopped,omitempty"`
}

// Service is one service's stored configuration.
type Service struct {
	Info
	// Values are the inputs as stored in terraform.tfvars.json (server values removed),
	// secrets in clear. Excluded from JSON on purpose: listings use MaskedValues.
	Values map[string]any `json:"-"`
	// Sensitive lists the inputs to mask: those recorded at creation plus the current
	// template's.
	Sensitive []string `json:"-"`
	// ETag of terraform.tfvars.json; UpdateInputs takes it as If-Match.
	ETag    string    `json:"etag"`
	Updated time.Time `json:"updated"`
}

// Ref returns the service's engine reference.
func (s *Service) Ref() engine.ServiceRef {
	return engine.ServiceRef{Client: s.Client, Service: s.Service}
}

// MaskedValues returns the values with every sensitive one replaced by Masked.
func (s *Service) MaskedValues() map[string]any { return MaskValues(s.Values, s.Sensitive) }

// storeKeys is the service's folder in the store (package storekey owns the layout).
func storeKeys(ref engine.ServiceRef) storekey.Service {
	return storekey.For(ref.Tenant(), ref.Service)
}

// newServiceID returns "svc-" and 8 lowercase base32 characters (40 random bits): short
// enough for container names, and valid for spawnit.ValidateID.
func newServiceID() string {
	var b [5]byte
	_, _ = rand.Read(b[:])
	return "svc-" + strings.ToLower(base32.StdEncoding.EncodeToString(b[:]))
}

var labelKeyRe = regexp.MustCompile(`^[a-z0-9]([a-z0-9._-]{0,62})$`)

func checkLabels(labels map[string]string, bad *errs) {
	if len(labels) > MaxLabels {
		bad.add("labels", CodeLimit, "more than %d labels", MaxLabels)
		return
	}
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !labelKeyRe.MatchString(k) || strings.HasPrefix(k, "spawnit") {
			bad.add("labels."+k, CodeInvalid, "label names are 1-63 of a-z, 0-9, '.', '_', '-' and do not start with spawnit")
			continue
		}
		if err := checkText(labels[k], 256, false); err != nil {
			bad.add("labels."+k, CodeInvalid, "label value: %v", err)
		}
	}
}

// CreateService validates the request, renders the service's tfvars and stores its
// configuration under a new server-generated id. Request problems come back together
// in one *ValidationError whose fields are "template", "provider", "name",
// "labels.<key>" and "inputs.<field>".
func (c *Catalog) CreateService(ctx context.Context, tenant string, req CreateRequest) (*Service, error) {
	if err := spawnit.ValidateID(tenant); err != nil {
		return nil, fmt.Errorf("tenant: %w", err)
	}
	var bad errs
	if req.Provider == "" {
		req.Provider = DefaultTarget
	}
	if err := spawnit.ValidateID(req.Provider); err != nil {
		bad.add("provider", CodeInvalid, "%v", err)
	}
	var tpl *Template
	if err := spawnit.ValidateID(req.Template); err != nil {
		bad.add("template", CodeInvalid, "%v", err)
	} else {
		t, err := c.Get(ctx, req.Template)
		switch {
		case errors.Is(err, ErrTemplateNotFound):
			bad.add("template", CodeUnknown, "no template %q in the catalog", req.Template)
		case err != nil:
			return nil, err
		default:
			tpl = t
		}
	}
	if tpl != nil && !bad.hasField("provider") && !tpl.HasTarget(req.Provider) {
		bad.add("provider", CodeEnum, "template %s can be deployed to: %s", tpl.ID, strings.Join(tpl.Targets, ", "))
	}
	if req.Name == "" && tpl != nil {
		req.Name = tpl.Name
	}
	if err := ValidateServiceName(req.Name); err != nil && req.Name != "" {
		bad.add("name", CodeInvalid, "must be one line of at most %d characters", MaxServiceNameLen)
	}
	checkLabels(req.Labels, &bad)
	if req.Expires != nil && !req.Expires.After(c.now()) {
		bad.add("expires", CodeRange, "must be in the future")
	}
	var values map[string]any
	if tpl != nil {
		v, err := tpl.Validate(req.Inputs)
		var ve *ValidationError
		switch {
		case errors.As(err, &ve):
			for _, f := range ve.Fields {
				f.Field = "inputs." + f.Field
				bad = append(bad, f)
			}
		case err != nil:
			return nil, err
		}
		values = v
	}
	if err := bad.err(); err != nil {
		return nil, err
	}

	info := Info{
		Client:          tenant,
		Template:        tpl.ID,
		TemplateVersion: tpl.Version,
		Provider:        req.Provider,
		Name:            req.Name,
		Created:         c.now().UTC().Truncate(time.Second),
		Labels:          req.Labels,
		Expires:         req.Expires,
		AutoRemediate:   req.AutoRemediate,
		Sensitive:       tpl.SensitiveNames(),
		VersionPinned:   true,
	}
	for attempt := 0; attempt < idAttempts; attempt++ {
		info.Service = c.newID()
		ref := engine.ServiceRef{Client: tenant, Service: info.Service}
		if err := ref.Validate(); err != nil {
			return nil, fmt.Errorf("catalog: generated %w", err)
		}
		svc, err := c.createAt(ctx, ref, tpl, info, values, req.Settle)
		if errors.Is(err, errIDTaken) {
			continue
		}
		return svc, err
	}
	return nil, fmt.Errorf("catalog: no free service id after %d attempts", idAttempts)
}

var errIDTaken = errors.New("service id taken")

// createAt claims ref with a create-only info.json, then writes the tfvars. Any object
// already under the folder (state or jobs left by a deleted service) counts as taken,
// so a new service never inherits another's state. The service's index entry is
// written first, so the index never misses a service that exists.
func (c *Catalog) createAt(ctx context.Context, ref engine.ServiceRef, tpl *Template, info Info, values map[string]any, settle SettleFunc) (*Service, error) {
	existing, err := c.st.List(ctx, storeKeys(ref).Prefix())
	if err != nil {
		return nil, fmt.Errorf("catalog: create service: %w", err)
	}
	if len(existing) > 0 {
		return nil, errIDTaken
	}
	values = maps.Clone(values)
	undo := func() {}
	if settle != nil {
		// Before info.json: nothing is stored yet if a port is refused. A claim made
		// for an id that turns out taken is given back below.
		u, err := settle(ctx, ref, info.Provider, tpl, values)
		if err != nil {
			return nil, renameInputs(err)
		}
		undo = u
	}
	created := false
	defer func() {
		if !created {
			undo()
		}
	}()
	tfvars, err := tpl.Render(values, ServerValues{TenantID: ref.Tenant(), ServiceID: ref.Service, ServiceName: info.Name})
	if err != nil {
		return nil, err
	}
	if tfvars, err = c.sealTfvars(ref, tfvars, info.Sensitive); err != nil {
		return nil, err
	}
	infoJSON, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("catalog: encode info.json: %w", err)
	}
	// An entry left by a create that fails from here on is harmless (listings read
	// info.json) and never removed here: it may be a concurrent create's, of the same id.
	if err := c.addToIndex(ctx, ref, &info); err != nil {
		return nil, err
	}
	if _, err := c.st.Put(ctx, storeKeys(ref).Info(), infoJSON, store.PutOptions{IfNoneMatch: true, ContentType: "application/json"}); err != nil {
		if errors.Is(err, store.ErrPreconditionFailed) {
			return nil, errIDTaken
		}
		return nil, fmt.Errorf("catalog: create service: %w", err)
	}
	obj, err := c.st.Put(ctx, storeKeys(ref).Tfvars(), tfvars, store.PutOptions{IfNoneMatch: true, ContentType: "application/json"})
	if err != nil {
		// Release the id; the half-created service must not linger.
		if derr := c.st.Delete(ctx, storeKeys(ref).Info()); derr != nil {
			c.log.Error("catalog: could not remove info.json of a failed create", "service", ref.String(), "error", derr)
		}
		if errors.Is(err, store.ErrPreconditionFailed) {
			return nil, errIDTaken
		}
		return nil, fmt.Errorf("catalog: create service: %w", err)
	}
	created = true
	c.log.Info("catalog: service created", "service", ref.String(), "template", info.Template, "target", info.Provider)
	return &Service{
		Info:      info,
		Values:    values,
		Sensitive: tpl.SensitiveNames(),
		ETag:      obj.ETag,
		Updated:   obj.Modified,
	}, nil
}

// renameInputs prefixes the fields of a validation error with "inputs.", as a create
// names them.
func renameInputs(err error) error {
	var ve *ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	out := &ValidationError{Fields: make([]FieldError, 0, len(ve.Fields))}
	for _, f := range ve.Fields {
		f.Field = "inputs." + f.Field
		out.Fields = append(out.Fields, f)
	}
	return out
}

func (l errs) hasField(name string) bool {
	for _, f := range l {
		if f.Field == name {
			return true
		}
	}
	return false
}

// GetService reads a service's configuration. A service whose tfvars are missing (a
// create or delete interrupted half-way) is returned with no values and no ETag, so it
// can still be seen and deleted.
func (c *Catalog) GetService(ctx context.Context, ref engine.ServiceRef) (*Service, error) {
	if err := ref.Validate(); err != nil {
		return nil, err
	}
	return c.getService(ctx, ref, map[string][]string{})
}

// getService reads one service; sensitive caches each template's sensitive names so a
// listing loads every template once, not once per service.
func (c *Catalog) getService(ctx context.Context, ref engine.ServiceRef, sensitive map[string][]string) (*Service, error) {
	info, err := c.readInfo(ctx, ref)
	if err != nil {
		return nil, err
	}
	svc := &Service{Info: *info, Values: map[string]any{}}
	data, obj, err := c.st.Get(ctx, storeKeys(ref).Tfvars())
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return nil, fmt.Errorf("catalog: read service %s: %w", ref, err)
	default:
		plain, _, err := c.openTfvars(ref, data, nil)
		if err != nil {
			return nil, err
		}
		vals, err := decodeTfvars(plain)
		if err != nil {
			return nil, fmt.Errorf("catalog: service %s: %w", ref, err)
		}
		svc.Values, svc.ETag, svc.Updated = vals, obj.ETag, obj.Modified
	}
	names, ok := sensitive[info.Template+"@"+info.TemplateVersion]
	if !ok {
		// A template that is gone or broken still leaves the names recorded at creation.
		if tpl, err := c.ServiceTemplate(ctx, info); err == nil {
			names = tpl.SensitiveNames()
		}
		sensitive[info.Template+"@"+info.TemplateVersion] = names
	}
	svc.Sensitive = slices.Clone(info.Sensitive)
	for _, n := range names {
		if !slices.Contains(svc.Sensitive, n) {
			svc.Sensitive = append(svc.Sensitive, n)
		}
	}
	return svc, nil
}

func (c *Catalog) readInfo(ctx context.Context, ref engine.ServiceRef) (*Info, error) {
	for attempt := 0; ; attempt++ {
		data, obj, err := c.st.Get(ctx, storeKeys(ref).Info())
		if errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("%w: %s", ErrServiceNotFound, ref)
		}
		if err != nil {
			return nil, fmt.Errorf("catalog: read service %s: %w", ref, err)
		}
		info, err := parseInfo(ref, data)
		if err != nil || info.VersionPinned || attempt == infoUpdateAttempts {
			return info, err
		}
		pinned, err := c.pin(ctx, ref, info, data, obj.ETag)
		if errors.Is(err, store.ErrPreconditionFailed) {
			continue // written meanwhile (pinned by another reader?): read it again
		}
		return pinned, err
	}
}

// pin records the version of a service created before versions existed: the version
// its template's folder holds (the module it ran until now), published first if need
// be. A service whose template is gone or broken stays unpinned and runs the folder's
// module as before.
func (c *Catalog) pin(ctx context.Context, ref engine.ServiceRef, info *Info, raw []byte, etag string) (*Info, error) {
	version := info.TemplateVersion
	if data, _, err := c.st.Get(ctx, storekey.Template(info.Template)); err == nil {
		if tpl, err := ParseTemplate(data); err == nil {
			version = tpl.Version
		}
	}
	if _, err := c.Get(ctx, info.Template); err != nil && !errors.Is(err, ErrTemplateNotFound) && !errors.Is(err, ErrInvalidTemplate) {
		return nil, err // Get publishes the folder's files when their version is new
	}
	if _, err := c.GetVersion(ctx, info.Template, version); err != nil {
		if errors.Is(err, engine.ErrNotFound) || errors.Is(err, ErrInvalidTemplate) || errors.Is(err, engine.ErrInvalidInput) {
			return info, nil
		}
		return nil, err
	}
	next := *info
	next.TemplateVersion, next.VersionPinned = version, true
	if err := c.writeInfo(ctx, ref, raw, etag, next); err != nil {
		return nil, err
	}
	c.log.Info("catalog: service pinned to its template's version", "service", ref.String(), "template", info.Template, "version", version)
	return &next, nil
}

// writeInfo writes info over raw (the info.json read with etag), keeping the fields
// other packages added; a concurrent write fails it with store.ErrPreconditionFailed.
func (c *Catalog) writeInfo(ctx context.Context, ref engine.ServiceRef, data []byte, etag string, info Info) error {
	var raw map[string]json.RawMessage
	if json.Unmarshal(data, &raw) != nil {
		return fmt.Errorf("catalog: %s: info.json is not a JSON object", ref)
	}
	out, err := mergeInfo(raw, info)
	if err != nil {
		return err
	}
	_, err = c.st.Put(ctx, storeKeys(ref).Info(), out, store.PutOptions{IfMatch: etag, ContentType: "application/json"})
	if err != nil && !errors.Is(err, store.ErrPreconditionFailed) {
		return fmt.Errorf("catalog: update service %s: %w", ref, err)
	}
	return err
}

// ServiceTemplate returns the template a service runs: its pinned version (retired,
// or of a disabled template, included), or for a service that could not be pinned the
// template's latest version.
func (c *Catalog) ServiceTemplate(ctx context.Context, info *Info) (*Template, error) {
	if info.VersionPinned {
		return c.GetVersion(ctx, info.Template, info.TemplateVersion)
	}
	return c.Get(ctx, info.Template)
}

func parseInfo(ref engine.ServiceRef, data []byte) (*Info, error) {
	if err := strictjson.Check(data, strictjson.Limits{MaxBytes: maxInfoBytes, MaxDepth: 8}); err != nil {
		return nil, fmt.Errorf("catalog: %s: info.json: %w", ref, err)
	}
	var info Info
	// Lenient on unknown fields: other packages add theirs to info.json.
	if err := json.Unmarshal(data, &info); err != nil {
		return nil, fmt.Errorf("catalog: %s: info.json: %w", ref, err)
	}
	// The key, not the file's content, says whose service this is.
	info.Client, info.Service = ref.Tenant(), ref.Service
	if err := spawnit.ValidateID(info.Template); err != nil {
		return nil, fmt.Errorf("catalog: %s: info.json template: %w", ref, err)
	}
	if err := spawnit.ValidateID(info.Provider); err != nil {
		return nil, fmt.Errorf("catalog: %s: info.json target (provider): %w", ref, err)
	}
	return &info, nil
}

// decodeTfvars reads a stored terraform.tfvars.json back into input values (server
// values removed). Its errors give only a byte offset: JSON syntax errors quote the
// offending character, and the file holds secrets.
func decodeTfvars(data []byte) (map[string]any, error) {
	malformed := func(err error) error {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return fmt.Errorf("terraform.tfvars.json is malformed at byte %d", se.Offset)
		}
		return errors.New("terraform.tfvars.json is not a JSON object of unique keys")
	}
	var vals map[string]any
	if err := strictjson.Decode(data, &vals, strictjson.Limits{MaxDepth: 8}); err != nil {
		return nil, malformed(err)
	}
	for k := range vals {
		if strings.HasPrefix(k, ReservedPrefix) {
			delete(vals, k)
		}
	}
	return vals, nil
}

// ListServices returns a tenant's services sorted by id, found through the service
// index (see ServiceRefs). A service whose info.json cannot be read is logged and left
// out rather than failing the whole listing.
func (c *Catalog) ListServices(ctx context.Context, tenant string) ([]*Service, error) {
	refs, err := c.ServiceRefs(ctx, tenant)
	if err != nil {
		if errors.Is(err, engine.ErrInvalidInput) {
			return nil, err
		}
		return nil, fmt.Errorf("catalog: list services of %s: %w", tenant, err)
	}
	var out []*Service
	sensitive := map[string][]string{}
	for _, ref := range refs {
		svc, err := c.getService(ctx, ref, sensitive)
		if errors.Is(err, ErrServiceNotFound) {
			continue // deleted since the listing
		}
		if err != nil {
			if errors.Is(err, store.ErrUnavailable) {
				return nil, err
			}
			c.log.Warn("catalog: skipping unreadable service", "service", ref.String(), "error", err)
			continue
		}
		out = append(out, svc)
	}
	return out, nil
}

// UpdateInputs replaces a service's inputs (a full form, validated like a create; see
// ValidateUpdate for secrets) if its tfvars still have ETag ifMatch. Concurrent edits
// cannot overwrite each other: the loser gets an error wrapping ErrConflict and
// store.ErrPreconditionFailed. Input errors name the bare field ("port").
func (c *Catalog) UpdateInputs(ctx context.Context, ref engine.ServiceRef, inputs map[string]any, ifMatch string) (*Service, error) {
	return c.UpdateInputsSettled(ctx, ref, inputs, ifMatch, nil)
}

// UpdateInputsSettled is UpdateInputs with settle run on the validated values before
// they are written (see SettleFunc); what it claimed is given back when the write fails.
func (c *Catalog) UpdateInputsSettled(ctx context.Context, ref engine.ServiceRef, inputs map[string]any, ifMatch string, settle SettleFunc) (_ *Service, err error) {
	if err := ref.Validate(); err != nil {
		return nil, err
	}
	// ETags copied from an HTTP If-Match header arrive quoted, perhaps marked weak.
	ifMatch = strings.Trim(strings.TrimPrefix(ifMatch, "W/"), `"`)
	if ifMatch == "" {
		return nil, fmt.Errorf("%w: an ETag (If-Match) is required to update a service", engine.ErrInvalidInput)
	}
	cur, err := c.GetService(ctx, ref)
	if err != nil {
		return nil, err
	}
	if cur.ETag != ifMatch {
		return nil, fmt.Errorf("%w (service %s)", ErrConflict, ref)
	}
	tpl, err := c.ServiceTemplate(ctx, &cur.Info)
	if err != nil {
		return nil, fmt.Errorf("catalog: service %s: %w", ref, err)
	}
	values, err := tpl.ValidateUpdate(inputs, cur.Values)
	if err != nil {
		return nil, err
	}
	if settle != nil {
		var undo func()
		if undo, err = settle(ctx, ref, cur.Provider, tpl, values); err != nil {
			return nil, err
		}
		defer func() { // err is the result: the write below failed

			if err != nil {
				undo()
			}
		}()
	}
	tfvars, err := tpl.Render(values, ServerValues{TenantID: ref.Tenant(), ServiceID: ref.Service, ServiceName: cur.Name})
	if err != nil {
		return nil, err
	}
	if tfvars, err = c.sealTfvars(ref, tfvars, cur.Sensitive); err != nil {
		return nil, err
	}
	obj, err := c.st.Put(ctx, storeKeys(ref).Tfvars(), tfvars, store.PutOptions{IfMatch: ifMatch, ContentType: "application/json"})
	if errors.Is(err, store.ErrPreconditionFailed) {
		return nil, fmt.Errorf("%w (service %s)", ErrConflict, ref)
	}
	if err != nil {
		return nil, fmt.Errorf("catalog: update service %s: %w", ref, err)
	}
	c.log.Info("catalog: service inputs updated", "service", ref.String())
	cur.Values, cur.ETag, cur.Updated = values, obj.ETag, obj.Modified
	return cur, nil
}

// DeleteService removes the service's configuration (tfvars, then info.json, which is
// what makes the service exist), then its index entry. It does not touch
// infrastructure, state or job records: the caller destroys the service and refuses
// while jobs run, before this.
func (c *Catalog) DeleteService(ctx context.Context, ref engine.ServiceRef) error {
	if err := ref.Validate(); err != nil {
		return err
	}
	if _, err := c.st.Stat(ctx, storeKeys(ref).Info()); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("%w: %s", ErrServiceNotFound, ref)
		}
		return fmt.Errorf("catalog: delete service %s: %w", ref, err)
	}
	for _, key := range []string{storeKeys(ref).Tfvars(), storeKeys(ref).Info()} {
		if err := c.st.Delete(ctx, key); err != nil {
			return fmt.Errorf("catalog: delete service %s: %w", ref, err)
		}
	}
	// The service is gone; an entry left behind is skipped by listings and removed by
	// the next RebuildIndex.
	if err := c.st.Delete(ctx, storeKeys(ref).ServiceEntry()); err != nil {
		c.log.Warn("catalog: could not remove a deleted service's index entry", "service", ref.String(), "error", err)
	}
	if err := c.deleteRevisions(ctx, ref); err != nil {
		c.log.Warn("catalog: could not remove a deleted service's revisions", "service", ref.String(), "error", err)
	}
	c.log.Info("catalog: service deleted", "service", ref.String())
	return nil
}

// infoUpdateAttempts bounds the retries of UpdateInfo after concurrent writes.
const infoUpdateAttempts = 5

// UpdateInfo changes the settings recorded in a service's info.json: mutate receives
// the current Info and may change Expires, AutoRemediate, Labels and Stopped (anything else is
// an error: the rest describes what the service is). Writes are conditional on
// info.json's ETag and retried when another writer went first, so concurrent updates
// of different settings never lose each other; fields other packages added to
// info.json are kept. mutate may run more than once. It returns the updated service.
func (c *Catalog) UpdateInfo(ctx context.Context, ref engine.ServiceRef, mutate func(*Info) error) (*Service, error) {
	if err := ref.Validate(); err != nil {
		return nil, err
	}
	for attempt := 0; attempt < infoUpdateAttempts; attempt++ {
		data, obj, err := c.st.Get(ctx, storeKeys(ref).Info())
		if errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("%w: %s", ErrServiceNotFound, ref)
		}
		if err != nil {
			return nil, fmt.Errorf("catalog: read service %s: %w", ref, err)
		}
		cur, err := parseInfo(ref, data)
		if err != nil {
			return nil, err
		}
		var raw map[string]json.RawMessage
		if json.Unmarshal(data, &raw) != nil {
			return nil, fmt.Errorf("catalog: %s: info.json is not a JSON object", ref)
		}
		next := *cur
		next.Labels = maps.Clone(cur.Labels)
		next.Sensitive = slices.Clone(cur.Sensitive)
		if err := mutate(&next); err != nil {
			return nil, err
		}
		if !sameIdentity(*cur, next) {
			return nil, fmt.Errorf("%w: only the expiry, auto-remediation and labels of a service can change", engine.ErrInvalidInput)
		}
		var bad errs
		checkLabels(next.Labels, &bad)
		if err := bad.err(); err != nil {
			return nil, err
		}
		out, err := mergeInfo(raw, next)
		if err != nil {
			return nil, err
		}
		_, err = c.st.Put(ctx, storeKeys(ref).Info(), out, store.PutOptions{IfMatch: obj.ETag, ContentType: "application/json"})
		if errors.Is(err, store.ErrPreconditionFailed) {
			continue // another writer went first: apply the change to its version
		}
		if err != nil {
			return nil, fmt.Errorf("catalog: update service %s: %w", ref, err)
		}
		c.log.Info("catalog: service settings updated", "service", ref.String())
		return c.GetService(ctx, ref)
	}
	return nil, fmt.Errorf("%w (service %s: info.json kept changing)", ErrConflict, ref)
}

// sameIdentity reports whether two Infos differ at most in the settings UpdateInfo may
// change.
func sameIdentity(a, b Info) bool {
	a.Expires, a.AutoRemediate, a.Labels, a.Stopped = nil, false, nil, nil
	b.Expires, b.AutoRemediate, b.Labels, b.Stopped = nil, false, nil, nil
	return a.Client == b.Client && a.Service == b.Service && a.Template == b.Template &&
		a.TemplateVersion == b.TemplateVersion && a.Provider == b.Provider && a.Name == b.Name &&
		a.Created.Equal(b.Created) && slices.Equal(a.Sensitive, b.Sensitive) && a.VersionPinned == b.VersionPinned
}

// mergeInfo writes info over the raw info.json: the keys Info declares are replaced (or
// removed, when now empty), every other key is kept as it was.
func mergeInfo(raw map[string]json.RawMessage, info Info) ([]byte, error) {
	t := reflect.TypeOf(info)
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			delete(raw, name)
		}
	}
	b, err := json.Marshal(info)
	if err != nil {
		return nil, err
	}
	var known map[string]json.RawMessage
	if err := json.Unmarshal(b, &known); err != nil {
		return nil, err
	}
	maps.Copy(raw, known)
	return json.MarshalIndent(raw, "", "  ")
}
