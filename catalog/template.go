package catalog

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/spawnit/spawnit"
	"github.com/spawnit/spawnit/internal/strictjson"
	"github.com/spawnit/spawnit/pkg/truncate"
)

// FieldType is the kind of value an input takes. Each maps to one OpenTofu variable type
// (VariableType), which every module of the template declares.
type FieldType string

const (
	TypeString  FieldType = "string"
	TypeNumber  FieldType = "number"
	TypeInteger FieldType = "integer"
	TypeBoolean FieldType = "boolean"
	TypeEnum    FieldType = "enum"   // one of Field.Enum
	TypePort    FieldType = "port"   // integer 1-65535
	TypeSecret  FieldType = "secret" // string, always sensitive, may be generated
)

// VariableType is the OpenTofu type of the module variable that receives the field.
func (t FieldType) VariableType() string {
	switch t {
	case TypeNumber, TypeInteger, TypePort:
		return "number"
	case TypeBoolean:
		return "bool"
	default:
		return "string"
	}
}

// Limits on templates. They keep a broken or hostile template.json from costing the
// server more than a few hundred kilobytes.
const (
	MaxTemplateBytes  = 256 << 10
	MaxTemplateFields = 64
	MaxEnumValues     = 100
	MaxIconBytes      = 16 << 10
	// MaxStringBytes bounds every string input, even one whose field sets no max.
	MaxStringBytes = 64 << 10
	// MaxReleaseNotes bounds a version's release notes, in characters.
	MaxReleaseNotes = 4000
	// DefaultSecretLength is the length of a generated secret when Generate.Length is 0.
	DefaultSecretLength = 24
)

// ReservedPrefix starts every variable name the server sets itself; no template field
// and no user input may use it.
const ReservedPrefix = "spawnit_"

// The variables SpawnIt sets in every module, after the user's values, from ServerValues.
const (
	VarTenantID    = "spawnit_client_id" // the tenant; its name stays for existing modules
	VarServiceID   = "spawnit_service_id"
	VarServiceName = "spawnit_service_name"
)

// ReservedVariables lists the server-set variables every module declares.
var ReservedVariables = []string{VarTenantID, VarServiceID, VarServiceName}

// Generate asks the server to create a random value for a secret left empty.
type Generate struct {
	// Length in characters (letters and digits); 0 means DefaultSecretLength.
	Length int `json:"length,omitempty"`
}

// Field is one input of a template's form and the module variable of the same name.
type Field struct {
	// Name is the OpenTofu variable name (letters, digits, '_' and '-', not starting
	// with a digit or '-', not spawnit_*).
	Name  string    `json:"name"`
	Label string    `json:"label"`
	Help  string    `json:"help,omitempty"`
	Type  FieldType `json:"type"`
	// Required: the user must give a value. A required boolean must be true (like an
	// HTML checkbox marked required: a licence to accept). Required fields have no default.
	Required bool `json:"required,omitempty"`
	// Default applies when the user gives no value (absent or null).
	Default any `json:"default,omitempty"`
	// Pattern is a Go regexp the whole value must match (string and secret).
	Pattern string `json:"pattern,omitempty"`
	// Min and Max bound numbers, and the length in characters of strings and secrets.
	Min *float64 `json:"min,omitempty"`
	Max *float64 `json:"max,omitempty"`
	// Enum lists the allowed values of an enum field.
	Enum []string `json:"enum,omitempty"`
	// Sensitive masks the value in listings and logs; secrets always are.
	Sensitive bool `json:"sensitive,omitempty"`
	// Generate (secrets only) creates a random value when the user leaves it empty.
	Generate *Generate `json:"generate,omitempty"`

	pattern *regexp.Regexp
	def     any // Default after normalization
}

// AllocatedPort reports whether the server chooses the field's value when the user
// leaves it empty: a port that is neither required nor given a default. Validate leaves
// such a field out of its result; the server then allocates a free port of the target
// (CreateRequest.Settle). An update that leaves it empty keeps the current port.
func (f *Field) AllocatedPort() bool { return f.Type == TypePort && !f.Required && f.def == nil }

// IsSensitive reports whether values of the field must be masked.
func (f *Field) IsSensitive() bool { return f.Sensitive || f.Type == TypeSecret }

// SecretLength is the length of a generated value.
func (f *Field) SecretLength() int {
	if f.Generate == nil || f.Generate.Length == 0 {
		return DefaultSecretLength
	}
	return f.Generate.Length
}

// Template is a catalog entry: what the user sees (metadata and a typed form) and which
// modules can deploy it. All modules of one template declare the same variables (one per
// field plus ReservedVariables) and the same outputs.
type Template struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	Category    string `json:"category"`
	Icon        string `json:"icon,omitempty"`
	Version     string `json:"version"`
	// ReleaseNotes say what changed in this version, for users offered an upgrade.
	ReleaseNotes string  `json:"release_notes,omitempty"`
	Inputs       []Field `json:"inputs"`
	// Readiness lists what an apply waits for before it succeeds (see ReadinessCheck).
	// SpawnIt runs them for the Docker target only, for now.
	Readiness []ReadinessCheck `json:"readiness,omitempty"`
	// AcceptDrift says whether users may accept drift (record reality as the new state)
	// instead of remediating it; nil means true.
	AcceptDrift *bool `json:"accept_drift,omitempty"`

	// Targets lists the targets with a module under templates/<id>/modules/, sorted.
	// It comes from the store, not from template.json.
	Targets []string `json:"-"`
}

// Field returns the input named name.
func (t *Template) Field(name string) (*Field, bool) {
	for i := range t.Inputs {
		if t.Inputs[i].Name == name {
			return &t.Inputs[i], true
		}
	}
	return nil, false
}

// AcceptsDrift reports whether drift may be accepted (AcceptDrift, default true).
func (t *Template) AcceptsDrift() bool { return t.AcceptDrift == nil || *t.AcceptDrift }

// HasTarget reports whether the template has a module for target.
func (t *Template) HasTarget(target string) bool { return slices.Contains(t.Targets, target) }

// Clone returns a deep copy, so a cached template is never changed through a caller's
// pointer.
func (t *Template) Clone() *Template {
	c := *t
	c.Inputs = make([]Field, len(t.Inputs))
	for i, f := range t.Inputs {
		f.Enum = slices.Clone(f.Enum)
		if f.Min != nil {
			v := *f.Min
			f.Min = &v
		}
		if f.Max != nil {
			v := *f.Max
			f.Max = &v
		}
		if f.Generate != nil {
			g := *f.Generate
			f.Generate = &g
		}
		c.Inputs[i] = f
	}
	c.Readiness = slices.Clone(t.Readiness)
	if t.AcceptDrift != nil {
		v := *t.AcceptDrift
		c.AcceptDrift = &v
	}
	c.Targets = slices.Clone(t.Targets)
	return &c
}

// ParseTemplate parses and checks a template.json. Unknown fields, duplicate keys and
// any inconsistency (a default out of range, a pattern that does not compile, a reserved
// name) are errors wrapping ErrInvalidTemplate; malformed input never panics.
func ParseTemplate(data []byte) (*Template, error) {
	var t Template
	if err := strictjson.Decode(data, &t, strictjson.Limits{MaxBytes: MaxTemplateBytes, MaxDepth: 8}); err != nil {
		return nil, fmt.Errorf("%w: template.json: %v", ErrInvalidTemplate, err)
	}
	if err := t.check(); err != nil {
		return nil, err
	}
	return &t, nil
}

var (
	versionRe = regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z.+-]{0,31}$`)
	// OpenTofu identifiers, restricted to ASCII so a name never has a look-alike.
	variableNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]{0,63}$`)
)

// tofuReservedNames cannot be variable names (OpenTofu reserves them for module blocks).
var tofuReservedNames = []string{"source", "version", "providers", "count", "for_each", "lifecycle", "depends_on", "locals"}

// ValidVariableName reports whether name can be a template field: a valid OpenTofu
// variable name, not reserved by OpenTofu nor by SpawnIt.
func ValidVariableName(name string) error {
	switch {
	case !variableNameRe.MatchString(name):
		return fmt.Errorf("%q is not a valid variable name (letters, digits, '_' and '-', not starting with a digit or '-', at most 64)", truncate.String(name, 64))
	case slices.Contains(tofuReservedNames, name):
		return fmt.Errorf("%q is reserved by OpenTofu", name)
	case strings.HasPrefix(strings.ToLower(name), ReservedPrefix):
		return fmt.Errorf("%q is reserved: names starting with %q are set by the server", name, ReservedPrefix)
	}
	return nil
}

// check validates the whole template and prepares the fields (compiled patterns,
// normalized defaults). It reports every problem at once so an operator fixes a
// template in one pass.
func (t *Template) check() error {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	if err := spawnit.ValidateID(t.ID); err != nil {
		bad("id: %v", err)
	}
	if err := checkText(t.Name, 64, false); err != nil || t.Name == "" {
		bad("name: required, one line of at most 64 characters")
	}
	if err := checkText(t.Description, 2000, true); err != nil {
		bad("description: %v", err)
	}
	if err := spawnit.ValidateID(t.Category); err != nil {
		bad("category: %v", err)
	}
	if err := checkIcon(t.Icon); err != nil {
		bad("icon: %v", err)
	}
	if !versionRe.MatchString(t.Version) {
		bad("version: required, 1 to 32 of [0-9A-Za-z.+-]")
	}
	if err := checkText(t.ReleaseNotes, MaxReleaseNotes, true); err != nil {
		bad("release_notes: %v", err)
	}
	if len(t.Inputs) > MaxTemplateFields {
		bad("inputs: more than %d fields", MaxTemplateFields)
	}
	seen := map[string]bool{}
	for i := range t.Inputs {
		f := &t.Inputs[i]
		where := fmt.Sprintf("inputs[%d]", i)
		if f.Name != "" {
			where = fmt.Sprintf("inputs[%d] (%s)", i, quoteField(f.Name))
		}
		if seen[f.Name] {
			bad("%s: duplicate name", where)
		}
		seen[f.Name] = true
		for _, p := range f.check() {
			bad("%s: %s", where, p)
		}
	}
	if len(t.Readiness) > MaxReadinessChecks {
		bad("readiness: more than %d checks", MaxReadinessChecks)
	}
	for i := range t.Readiness {
		for _, p := range t.Readiness[i].check() {
			bad("readiness[%d]: %s", i, p)
		}
	}
	if len(problems) > 0 {
		id := t.ID
		if spawnit.ValidateID(id) != nil {
			id = "?"
		}
		return fmt.Errorf("%w %s: %s", ErrInvalidTemplate, id, strings.Join(problems, "; "))
	}
	return nil
}

func (f *Field) check() []string {
	var p []string
	bad := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }
	if err := ValidVariableName(f.Name); err != nil {
		bad("name: %v", err)
	}
	if err := checkText(f.Label, 64, false); err != nil || f.Label == "" {
		bad("label: required, one line of at most 64 characters")
	}
	if err := checkText(f.Help, 1000, true); err != nil {
		bad("help: %v", err)
	}
	stringLike := f.Type == TypeString || f.Type == TypeSecret
	switch f.Type {
	case TypeString, TypeNumber, TypeInteger, TypeBoolean, TypeEnum, TypePort, TypeSecret:
	default:
		bad("type: %q is not one of string, number, integer, boolean, enum, port, secret", truncate.String(string(f.Type), 32))
		return p
	}
	if f.Pattern != "" {
		if !stringLike {
			bad("pattern: only string and secret fields take a pattern")
		} else if len(f.Pattern) > 1000 {
			bad("pattern: longer than 1000 bytes")
		} else if re, err := regexp.Compile(`^(?:` + f.Pattern + `)$`); err != nil {
			bad("pattern: %v", err)
		} else {
			f.pattern = re
		}
	}
	if f.Min != nil || f.Max != nil {
		switch {
		case f.Type == TypeBoolean || f.Type == TypeEnum:
			bad("min/max: not allowed on a %s field", f.Type)
		case f.Min != nil && f.Max != nil && *f.Min > *f.Max:
			bad("min/max: min is greater than max")
		}
		for _, b := range []*float64{f.Min, f.Max} {
			if b == nil {
				continue
			}
			if (stringLike || f.Type == TypeInteger || f.Type == TypePort) && *b != float64(int64(*b)) {
				bad("min/max: %v is not a whole number", *b)
			}
			if stringLike && *b < 0 {
				bad("min/max: a length cannot be negative")
			}
			if f.Type == TypePort && (*b < 1 || *b > 65535) {
				bad("min/max: a port bound must be within 1-65535")
			}
		}
	}
	if f.Type == TypeEnum {
		if len(f.Enum) == 0 || len(f.Enum) > MaxEnumValues {
			bad("enum: an enum field needs 1 to %d values", MaxEnumValues)
		}
		seen := map[string]bool{}
		for _, v := range f.Enum {
			if v == "" || len(v) > 256 || checkText(v, 256, false) != nil {
				bad("enum: value %q must be one line of 1 to 256 characters", truncate.String(v, 32))
			}
			if seen[v] {
				bad("enum: duplicate value %q", truncate.String(v, 32))
			}
			seen[v] = true
		}
	} else if f.Enum != nil {
		bad("enum: only enum fields take a list of values")
	}
	if f.Generate != nil {
		if f.Type != TypeSecret {
			bad("generate: only secret fields can be generated")
		}
		if f.Generate.Length != 0 && (f.Generate.Length < 12 || f.Generate.Length > 128) {
			bad("generate: length must be 0 (default %d) or 12 to 128", DefaultSecretLength)
		}
		if f.Required {
			bad("generate: a generated secret cannot be required")
		}
	}
	if f.Default != nil {
		switch {
		case f.Required:
			bad("default: a required field has no default")
		case f.Type == TypeSecret:
			// A default secret would be the same for every service: use generate.
			bad("default: a secret cannot have a default (use generate)")
		default:
			v, fe := f.normalize(f.Default)
			if fe != nil {
				bad("default: %s", fe.Reason)
			} else {
				f.def = v
			}
		}
	}
	return p
}

// checkText accepts valid UTF-8 of at most maxRunes characters without control
// characters (newlines and tabs allowed when multiline).
func checkText(s string, maxRunes int, multiline bool) error {
	if !utf8.ValidString(s) {
		return errors.New("not valid UTF-8")
	}
	if utf8.RuneCountInString(s) > maxRunes {
		return fmt.Errorf("longer than %d characters", maxRunes)
	}
	for _, r := range s {
		if multiline && (r == '\n' || r == '\t' || r == '\r') {
			continue
		}
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return fmt.Errorf("contains control character %U", r)
		}
	}
	return nil
}

// The only URLs an inline SVG legitimately contains are XML namespace names, which
// browsers never fetch.
var svgNamespaces = strings.NewReplacer("http://www.w3.org/2000/svg", "", "http://www.w3.org/1999/xlink", "")

// checkIcon accepts an emoji (or a few characters), an inline <svg>, or a data:image/
// URI. Icons are shown to every user, so an icon must not make the browser fetch
// anything (tracking, mixed content) nor run script.
func checkIcon(icon string) error {
	if icon == "" {
		return nil
	}
	if len(icon) > MaxIconBytes {
		return fmt.Errorf("larger than %d bytes", MaxIconBytes)
	}
	if !utf8.ValidString(icon) {
		return errors.New("not valid UTF-8")
	}
	lower := strings.ToLower(strings.TrimSpace(icon))
	switch {
	case strings.HasPrefix(lower, "data:image/"):
		comma := strings.IndexByte(icon, ',')
		if comma < 0 || strings.ContainsAny(icon, " \t\r\n\"'<>") {
			return errors.New("malformed data: URI")
		}
		meta, payload := lower[:comma], icon[comma+1:]
		if !strings.HasPrefix(meta, "data:image/svg+xml") {
			return nil // raster images cannot reference anything
		}
		var svg []byte
		var err error
		if strings.HasSuffix(meta, ";base64") {
			svg, err = base64.StdEncoding.DecodeString(payload)
		} else {
			var s string
			s, err = url.PathUnescape(payload)
			svg = []byte(s)
		}
		if err != nil {
			return fmt.Errorf("data: URI payload: %v", err)
		}
		return checkInlineSVG(string(svg))
	case strings.HasPrefix(lower, "<svg"):
		return checkInlineSVG(icon)
	default:
		if utf8.RuneCountInString(icon) > 8 || strings.ContainsAny(icon, "<>:/\\") || checkText(icon, 8, false) != nil {
			return errors.New("must be an emoji (at most 8 characters), an inline <svg> or a data:image/ URI")
		}
		return nil
	}
}

func checkInlineSVG(svg string) error {
	lower := strings.ToLower(svg)
	if !strings.HasPrefix(strings.TrimSpace(lower), "<svg") || !strings.HasSuffix(strings.TrimSpace(lower), "</svg>") {
		return errors.New("inline SVG must start with <svg and end with </svg>")
	}
	for _, banned := range []string{"<script", "javascript:", "<foreignobject", "@import", "<!entity", "<!doctype"} {
		if strings.Contains(lower, banned) {
			return fmt.Errorf("SVG must not contain %q", banned)
		}
	}
	if strings.Contains(svgNamespaces.Replace(lower), "//") {
		return errors.New("SVG must not reference external URLs")
	}
	// Attributes and CSS that load resources may only point inside the document.
	for _, attr := range []string{"href", "src", "url("} {
		for rest := lower; ; {
			i := strings.Index(rest, attr)
			if i < 0 {
				break
			}
			rest = rest[i+len(attr):]
			v := strings.TrimLeft(rest, " \t\r\n")
			if attr != "url(" {
				if !strings.HasPrefix(v, "=") {
					continue // a word such as "hrefs" in text, not an attribute
				}
				v = strings.TrimLeft(v[1:], " \t\r\n")
			}
			v = strings.TrimLeft(v, "\"'")
			if !strings.HasPrefix(v, "#") {
				return fmt.Errorf("SVG %s may only reference fragments (#id)", strings.TrimSuffix(attr, "("))
			}
		}
	}
	return nil
}
