package catalog

import (
	"errors"
	"fmt"

	"github.com/spawnit/spawnit"
	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/internal/strictjson"
	"github.com/spawnit/spawnit/pkg/store"
	"github.com/spawnit/spawnit/pkg/truncate"
)

// Sentinel errors. They are, or wrap, errors of a kind of the kernel (spawnit.Kind), so
// the API maps them by their kind; errors.Is on engine.ErrNotFound,
// engine.ErrInvalidInput and store.ErrPreconditionFailed keeps working.
var (
	// ErrTemplateNotFound: no templates/<id>/template.json in the store.
	ErrTemplateNotFound = fmt.Errorf("template %w", engine.ErrNotFound)
	// ErrServiceNotFound: no clients/<tenant>/<service>/info.json in the store.
	ErrServiceNotFound = fmt.Errorf("service %w", engine.ErrNotFound)
	// ErrModuleNotFound: the template has no module for the requested target.
	ErrModuleNotFound = fmt.Errorf("module %w", engine.ErrNotFound)
	// ErrInvalidTemplate: a template in the store (or a built-in one) is malformed. It is
	// an operator's problem, not the user's, so it does not wrap ErrInvalidInput.
	ErrInvalidTemplate = errors.New("invalid template")
	// ErrConflict: a conditional write lost (If-Match with a stale ETag). It wraps
	// store.ErrPreconditionFailed.
	ErrConflict error = spawnit.WrapError(spawnit.KindConflict, "service configuration was changed by someone else",
		"the configuration was changed by someone else meanwhile: read it again", store.ErrPreconditionFailed)
)

// Field error codes: stable, machine-readable reasons (FieldError.Code) the UI can map
// to its own wording; Reason carries the English text.
const (
	CodeUnknown   = "unknown"   // key not in the template's schema
	CodeReserved  = "reserved"  // key reserved for values the server sets
	CodeDuplicate = "duplicate" // the same JSON key appears twice
	CodeRequired  = "required"  // missing (or empty) required value
	CodeType      = "type"      // wrong JSON type
	CodeRange     = "range"     // number outside min/max or port range
	CodeLength    = "length"    // string shorter than min or longer than max
	CodePattern   = "pattern"   // string does not match the field's pattern
	CodeEnum      = "enum"      // not one of the allowed values
	CodeInvalid   = "invalid"   // malformed: NUL byte, bad UTF-8, nested value, bad id
	CodeLimit     = "limit"     // document too large, too many fields, nested too deeply
	CodeTaken     = "taken"     // a port another service holds, or in use on the host
)

// FieldError is one bad field (the kernel's spawnit.FieldError). Field is the input
// name ("" for the document as a whole); in CreateService errors it is prefixed
// ("inputs.port", "labels.team") so it cannot be confused with the request's own fields
// (template, provider, name).
type FieldError = spawnit.FieldError

// ValidationError lists every bad field of one request at once, so a form can show all
// its problems in one round trip (the kernel's spawnit.ValidationError: its kind is
// validation_failed). It wraps engine.ErrInvalidInput.
type ValidationError = spawnit.ValidationError

// JSONValidationError reports what a strict decoding of a request document found
// (duplicate or unknown keys, wrong types, limits, malformed JSON) as a *ValidationError,
// one field error per problem. Other errors, and nil, are returned as they are.
func JSONValidationError(err error) error {
	var se *strictjson.Error
	if !errors.As(err, &se) {
		return err
	}
	ve := &ValidationError{}
	for _, p := range se.Problems {
		code := CodeInvalid
		switch p.Kind {
		case strictjson.Duplicate:
			code = CodeDuplicate
		case strictjson.Unknown:
			code = CodeUnknown
		case strictjson.Type:
			code = CodeType
		case strictjson.Limit:
			code = CodeLimit
		}
		ve.Fields = append(ve.Fields, FieldError{Field: p.Path, Code: code, Reason: p.Reason})
	}
	return ve
}

// errs accumulates field errors; err returns nil when there are none, so callers never
// return a typed nil inside an error interface.
type errs []FieldError

func (l *errs) add(field, code, format string, args ...any) {
	*l = append(*l, FieldError{Field: field, Code: code, Reason: fmt.Sprintf(format, args...)})
}

func (l errs) err() error {
	if len(l) == 0 {
		return nil
	}
	return &ValidationError{Fields: l}
}

// quoteField prints a field name as is when it is a plain identifier and quoted and
// shortened otherwise: keys come from users and may hold control characters or megabytes.
func quoteField(s string) string {
	plain := s != "" && len(s) <= 128
	for i := 0; plain && i < len(s); i++ {
		c := s[i]
		plain = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.'
	}
	if plain {
		return s
	}
	return fmt.Sprintf("%q", truncate.String(s, 64))
}
