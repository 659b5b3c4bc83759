package catalog

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/spawnit/spawnit"
	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/internal/strictjson"
)

// Limits on user inputs, enforced before anything is kept in memory beyond the raw body.
const (
	MaxInputBytes  = 256 << 10
	MaxInputFields = 128
	// maxSkipDepth bounds how far ParseInputs follows a nested value it already rejected.
	maxSkipDepth = strictjson.DefaultMaxDepth
)

// ParseInputs decodes a form's values: one JSON object of scalar values (string, number,
// boolean, null). Duplicate keys, nested objects or arrays, more than MaxInputFields
// keys, a non-object document and trailing data are rejected with a *ValidationError.
// Numbers come back as json.Number, so nothing is rounded before validation.
func ParseInputs(raw []byte) (map[string]any, error) {
	var form map[string]strictjson.Scalar
	lim := strictjson.Limits{MaxBytes: MaxInputBytes, MaxKeys: MaxInputFields, MaxDepth: maxSkipDepth}
	if err := strictjson.Decode(raw, &form, lim); err != nil {
		return nil, JSONValidationError(err)
	}
	out := make(map[string]any, len(form))
	for k, v := range form {
		out[k] = v
	}
	return out, nil
}

// Validate checks a user's inputs against the schema and returns the values to render:
// every schema field with a value (given, default or generated), normalized (strings,
// int64 for integer and port, json.Number for number, bool). Absent and null mean "not
// given". Every problem is reported at once in one *ValidationError (wrapping
// engine.ErrInvalidInput). Generated secrets are part of the result, so they are stored
// with the service and stay stable across later updates.
func (t *Template) Validate(inputs map[string]any) (map[string]any, error) {
	return t.validate(inputs, nil)
}

// ValidateUpdate validates a full replacement of a service's inputs. A sensitive field
// left absent, null, empty or equal to Masked keeps its current value: listings mask
// secrets, so a client editing a form cannot send them back, and an update must not
// silently replace a generated database password.
func (t *Template) ValidateUpdate(inputs, current map[string]any) (map[string]any, error) {
	if current == nil {
		current = map[string]any{}
	}
	return t.validate(inputs, current)
}

func (t *Template) validate(inputs, current map[string]any) (map[string]any, error) {
	var bad errs
	if len(inputs) > MaxInputFields {
		bad.add("", CodeLimit, "more than %d fields", MaxInputFields)
		return nil, bad.err()
	}
	extra := make([]string, 0)
	for k := range inputs {
		if _, ok := t.Field(k); !ok {
			extra = append(extra, k)
		}
	}
	slices.Sort(extra)
	for _, k := range extra {
		if strings.HasPrefix(strings.ToLower(k), ReservedPrefix) {
			bad.add(k, CodeReserved, "is reserved: values named %s* are set by the server", ReservedPrefix)
		} else {
			bad.add(k, CodeUnknown, "is not an input of template %s", t.ID)
		}
	}
	out := make(map[string]any, len(t.Inputs))
	for i := range t.Inputs {
		f := &t.Inputs[i]
		v := inputs[f.Name]
		if current != nil && f.IsSensitive() && (v == nil || v == "" || v == Masked) {
			if cur, ok := current[f.Name].(string); ok && cur != "" {
				out[f.Name] = cur
				continue
			}
		}
		empty := v == nil || (v == "" && (f.Type == TypeSecret || f.Type == TypePort || f.Required))
		if empty && current != nil && f.AllocatedPort() && current[f.Name] != nil {
			// A port SpawnIt chose stays the service's until the user names another.
			if nv, fe := f.normalize(current[f.Name]); fe == nil {
				out[f.Name] = nv
				continue
			}
		}
		switch {
		case empty && f.Type == TypeSecret && f.Generate != nil:
			out[f.Name] = generateSecret(f.SecretLength())
		case empty && f.Required:
			bad.add(f.Name, CodeRequired, "is required")
		case empty && f.def != nil:
			out[f.Name] = f.def
		case empty:
			// Optional without default: left out, so the module's own default applies,
			// or, for a port, the server allocates one (see Field.AllocatedPort).
		default:
			nv, fe := f.normalize(v)
			if fe != nil {
				bad = append(bad, *fe)
				continue
			}
			out[f.Name] = nv
		}
	}
	if err := bad.err(); err != nil {
		return nil, err
	}
	return out, nil
}

// normalize checks one non-nil value and returns its canonical form.
func (f *Field) normalize(v any) (any, *FieldError) {
	fail := func(code, format string, args ...any) (any, *FieldError) {
		return nil, &FieldError{Field: f.Name, Code: code, Reason: fmt.Sprintf(format, args...)}
	}
	switch f.Type {
	case TypeString, TypeSecret, TypeEnum:
		s, ok := v.(string)
		if !ok {
			return fail(CodeType, "must be a string")
		}
		if !utf8.ValidString(s) {
			return fail(CodeInvalid, "is not valid UTF-8")
		}
		if strings.IndexByte(s, 0) >= 0 {
			return fail(CodeInvalid, "contains a NUL character")
		}
		if len(s) > MaxStringBytes {
			return fail(CodeLength, "is longer than %d bytes", MaxStringBytes)
		}
		if f.Type == TypeEnum {
			if !slices.Contains(f.Enum, s) {
				return fail(CodeEnum, "must be one of: %s", strings.Join(f.Enum, ", "))
			}
			return s, nil
		}
		n := float64(utf8.RuneCountInString(s))
		if f.Min != nil && n < *f.Min {
			return fail(CodeLength, "must be at least %v characters", *f.Min)
		}
		if f.Max != nil && n > *f.Max {
			return fail(CodeLength, "must be at most %v characters", *f.Max)
		}
		if f.pattern != nil && !f.pattern.MatchString(s) {
			// Reasons never echo the value: it may be a secret, and it goes to logs.
			return fail(CodePattern, "does not match the required format %s", f.Pattern)
		}
		return s, nil
	case TypeBoolean:
		b, ok := v.(bool)
		if !ok {
			return fail(CodeType, "must be true or false")
		}
		if f.Required && !b {
			return fail(CodeRequired, "must be accepted (true)")
		}
		return b, nil
	case TypeInteger, TypePort:
		n, ok := toInt(v)
		if !ok {
			return fail(CodeType, "must be a whole number")
		}
		if f.Type == TypePort && (n < 1 || n > 65535) {
			return fail(CodeRange, "must be a port between 1 and 65535")
		}
		if f.Min != nil && float64(n) < *f.Min {
			return fail(CodeRange, "must be at least %v", *f.Min)
		}
		if f.Max != nil && float64(n) > *f.Max {
			return fail(CodeRange, "must be at most %v", *f.Max)
		}
		return n, nil
	case TypeNumber:
		num, x, ok := toNumber(v)
		if !ok {
			return fail(CodeType, "must be a finite number")
		}
		if f.Min != nil && x < *f.Min {
			return fail(CodeRange, "must be at least %v", *f.Min)
		}
		if f.Max != nil && x > *f.Max {
			return fail(CodeRange, "must be at most %v", *f.Max)
		}
		return num, nil
	}
	return fail(CodeType, "has unsupported type %q", f.Type)
}

// toInt accepts whole numbers in the forms JSON decoding and Go callers produce.
func toInt(v any) (int64, bool) {
	switch n := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
			return i, true
		}
		if _, f, ok := toNumber(n); ok {
			return floatToInt(f)
		}
	case float64:
		return floatToInt(n)
	case float32:
		return floatToInt(float64(n))
	case int:
		return int64(n), true
	case int8:
		return int64(n), true
	case int16:
		return int64(n), true
	case int32:
		return int64(n), true
	case int64:
		return n, true
	case uint:
		return uintToInt(uint64(n))
	case uint8:
		return int64(n), true
	case uint16:
		return int64(n), true
	case uint32:
		return int64(n), true
	case uint64:
		return uintToInt(n)
	}
	return 0, false
}

func uintToInt(u uint64) (int64, bool) {
	if u > math.MaxInt64 {
		return 0, false
	}
	return int64(u), true
}

// floatToInt accepts only values a float64 holds exactly (|f| <= 2^53), so "1e3" is
// 1000 but 1e300 is not silently turned into a rounded integer.
func floatToInt(f float64) (int64, bool) {
	if f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, false
	}
	return int64(f), true
}

// toNumber returns the value as a JSON number literal (kept verbatim when it came as
// one, so 0.1 stays 0.1) and as a float64 for range checks.
func toNumber(v any) (json.Number, float64, bool) {
	var num json.Number
	switch n := v.(type) {
	case json.Number:
		s := string(n)
		// ParseFloat also takes "Inf", "0x1p3" and "1_0"; JSON's grammar does not.
		if s == "" || !(s[0] == '-' || s[0] >= '0' && s[0] <= '9') || !json.Valid([]byte(s)) {
			return "", 0, false
		}
		num = n
	case float64:
		num = json.Number(strconv.FormatFloat(n, 'g', -1, 64))
	case float32:
		num = json.Number(strconv.FormatFloat(float64(n), 'g', -1, 32))
	default:
		i, ok := toInt(v)
		if !ok {
			return "", 0, false
		}
		num = json.Number(strconv.FormatInt(i, 10))
	}
	f, err := strconv.ParseFloat(string(num), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return "", 0, false
	}
	return num, f, true
}

const secretAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// generateSecret draws n characters uniformly from secretAlphabet with crypto/rand.
// Letters and digits only, so a generated password is safe in URLs, config files and
// shell-free env vars without escaping.
func generateSecret(n int) string {
	// 248 is the largest multiple of 62 below 256: rejecting bytes >= 248 removes bias.
	const limit = 256 - 256%len(secretAlphabet)
	out := make([]byte, 0, n)
	buf := make([]byte, n+n/2)
	for len(out) < n {
		_, _ = rand.Read(buf) // never fails since Go 1.24 (it crashes the program instead)
		for _, b := range buf {
			if int(b) < limit && len(out) < n {
				out = append(out, secretAlphabet[int(b)%len(secretAlphabet)])
			}
		}
	}
	return string(out)
}

// ServerValues are the variables SpawnIt itself sets in every module. Users can never
// set them: inputs named spawnit_* are rejected, and Render writes these last.
type ServerValues struct {
	TenantID    string
	ServiceID   string
	ServiceName string
}

// MaxServiceNameLen bounds a service's display name.
const MaxServiceNameLen = 64

// ValidateServiceName accepts one line of 1 to MaxServiceNameLen characters.
func ValidateServiceName(name string) error {
	if strings.TrimSpace(name) == "" {
		return fmt.Errorf("%w: name is empty", engine.ErrInvalidInput)
	}
	if err := checkText(name, MaxServiceNameLen, false); err != nil {
		return fmt.Errorf("%w: name: %v", engine.ErrInvalidInput, err)
	}
	return nil
}

// Render writes terraform.tfvars.json for values returned by Validate, plus the
// server's values. It uses encoding/json only: OpenTofu reads a .tfvars.json value as a
// literal string, so "${...}", "%{...}", quotes, newlines and a leading "-" arrive in
// the module exactly as typed, never evaluated and never on a command line.
func (t *Template) Render(values map[string]any, server ServerValues) ([]byte, error) {
	var bad errs
	if err := spawnit.ValidateID(server.TenantID); err != nil {
		bad.add(VarTenantID, CodeInvalid, "%v", err)
	}
	if err := spawnit.ValidateID(server.ServiceID); err != nil {
		bad.add(VarServiceID, CodeInvalid, "%v", err)
	}
	if err := ValidateServiceName(server.ServiceName); err != nil {
		bad.add(VarServiceName, CodeInvalid, "%v", err)
	}
	vars := make(map[string]any, len(values)+len(ReservedVariables))
	for k, v := range values {
		f, ok := t.Field(k)
		switch {
		case strings.HasPrefix(strings.ToLower(k), ReservedPrefix):
			bad.add(k, CodeReserved, "is reserved for the server")
			continue
		case !ok:
			bad.add(k, CodeUnknown, "is not an input of template %s", t.ID)
			continue
		}
		switch v.(type) {
		case string, bool, int64, json.Number:
		default:
			// Render takes Validate's output; anything else has skipped validation.
			nv, fe := f.normalize(v)
			if fe != nil {
				bad = append(bad, *fe)
				continue
			}
			v = nv
		}
		vars[k] = v
	}
	if err := bad.err(); err != nil {
		return nil, err
	}
	vars[VarTenantID] = server.TenantID
	vars[VarServiceID] = server.ServiceID
	vars[VarServiceName] = server.ServiceName
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(vars); err != nil {
		return nil, fmt.Errorf("render tfvars: %w", err)
	}
	return buf.Bytes(), nil
}
