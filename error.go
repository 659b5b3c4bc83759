package spawnit

import (
	"fmt"
	"net/http"
	"strings"
)

// Kind is the class of an error. Its value is the error's stable API code (the "code"
// of an error response, docs/api.md); Status gives its HTTP status. Every package
// declares its sentinels as errors of a kind (NewError), so the API maps any error by
// finding its kind (errors.As to KindError) instead of testing sentinels one by one.
type Kind string

// Error kinds.
const (
	KindInternal             Kind = "internal"               // a fault the caller cannot fix
	KindBadRequest           Kind = "bad_request"            // invalid input (ErrInvalidInput)
	KindValidation           Kind = "validation_failed"      // invalid fields (ValidationError)
	KindUnauthenticated      Kind = "unauthenticated"        // no valid credentials
	KindCSRF                 Kind = "csrf_failed"            // a cookie session without its CSRF token
	KindNotFound             Kind = "not_found"              // no such object (or another tenant's)
	KindConflict             Kind = "conflict"               // a concurrent change won
	KindLocked               Kind = "locked"                 // another job holds the service
	KindBusy                 Kind = "busy"                   // a job runs or is queued on the service
	KindResourcesExist       Kind = "resources_exist"        // the service is deployed
	KindNeedsRecovery        Kind = "needs_recovery"         // its state needs an operator
	KindCoolOff              Kind = "cool_off"               // a forced cancel came too early
	KindJobFinished          Kind = "job_finished"           // the job already ended
	KindAcceptDisabled       Kind = "accept_disabled"        // the template forbids accepting drift
	KindNotDeployed          Kind = "not_deployed"           // the service is not deployed
	KindPreconditionFailed   Kind = "precondition_failed"    // If-Match is not the current ETag
	KindTooLarge             Kind = "too_large"              // a request body too large
	KindUnsupportedMedia     Kind = "unsupported_media_type" // a body that is not JSON
	KindPreconditionRequired Kind = "precondition_required"  // If-Match is missing
	KindUnavailable          Kind = "unavailable"            // storage (or a dependency) is down
	KindShuttingDown         Kind = "shutting_down"          // the server stops accepting work
	KindForbidden            Kind = "forbidden"              // the caller's role does not allow it
	KindQuotaExceeded        Kind = "quota_exceeded"         // the tenant is at a quota (services)
	KindTooManyJobs          Kind = "too_many_jobs"          // the tenant runs its maximum of jobs
)

// statuses maps each kind to its HTTP status: the one table of it.
var statuses = map[Kind]int{
	KindInternal:             http.StatusInternalServerError,
	KindBadRequest:           http.StatusBadRequest,
	KindValidation:           http.StatusBadRequest,
	KindUnauthenticated:      http.StatusUnauthorized,
	KindCSRF:                 http.StatusForbidden,
	KindNotFound:             http.StatusNotFound,
	KindConflict:             http.StatusConflict,
	KindLocked:               http.StatusConflict,
	KindBusy:                 http.StatusConflict,
	KindResourcesExist:       http.StatusConflict,
	KindNeedsRecovery:        http.StatusConflict,
	KindCoolOff:              http.StatusConflict,
	KindJobFinished:          http.StatusConflict,
	KindAcceptDisabled:       http.StatusConflict,
	KindNotDeployed:          http.StatusConflict,
	KindPreconditionFailed:   http.StatusPreconditionFailed,
	KindTooLarge:             http.StatusRequestEntityTooLarge,
	KindUnsupportedMedia:     http.StatusUnsupportedMediaType,
	KindPreconditionRequired: http.StatusPreconditionRequired,
	KindUnavailable:          http.StatusServiceUnavailable,
	KindShuttingDown:         http.StatusServiceUnavailable,
	KindForbidden:            http.StatusForbidden,
	KindQuotaExceeded:        http.StatusConflict,
	KindTooManyJobs:          http.StatusTooManyRequests,
}

// Kinds lists every kind (for tests and documentation, such as checking that an API
// description names every code).
func Kinds() []Kind {
	return []Kind{KindInternal, KindBadRequest, KindValidation, KindUnauthenticated, KindCSRF,
		KindNotFound, KindConflict, KindLocked, KindBusy, KindResourcesExist, KindNeedsRecovery,
		KindCoolOff, KindJobFinished, KindAcceptDisabled, KindNotDeployed, KindPreconditionFailed,
		KindTooLarge, KindUnsupportedMedia, KindPreconditionRequired, KindUnavailable, KindShuttingDown,
		KindForbidden, KindQuotaExceeded, KindTooManyJobs}
}

// Code is the kind's stable API code.
func (k Kind) Code() string { return string(k) }

// Status is the kind's HTTP status; 500 for a kind it does not know.
func (k Kind) Status() int {
	if s, ok := statuses[k]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// Internal reports whether errors of the kind are the server's problem, worth logging:
// internal faults and an unavailable dependency.
func (k Kind) Internal() bool {
	return k == KindUnavailable || k.Status() == http.StatusInternalServerError
}

// KindError is an error of a kind: *Error and *ValidationError implement it. The API
// finds it with errors.As (the outermost one in the chain, so a sentinel wrapping
// another, such as a conflict wrapping the store's precondition failure, answers as
// itself).
type KindError interface {
	error
	Kind() Kind
	// PublicMessage is what the API answers with: safe to show, never a secret. It is
	// empty for errors whose whole text is written to be shown (input errors name what
	// is wrong, never a value), and then the API shows the complete error's text.
	PublicMessage() string
}

// Error is a sentinel error of a Kind. Packages declare theirs with NewError or
// WrapError and return them wrapped with %w; errors.Is keeps working on the sentinel.
type Error struct {
	kind   Kind
	text   string
	public string
	cause  error
}

var (
	_ KindError = (*Error)(nil)
	_ KindError = (*ValidationError)(nil)
)

// NewError returns a sentinel of kind. text is its Error(); public the message the API
// answers with ("" to show the whole wrapped error's text; see KindError).
func NewError(kind Kind, text, public string) *Error {
	return &Error{kind: kind, text: text, public: public}
}

// WrapError is NewError for a sentinel that is also a case of cause:
// errors.Is(e, cause) holds and its text is text + ": " + cause's.
func WrapError(kind Kind, text, public string, cause error) *Error {
	return &Error{kind: kind, text: text, public: public, cause: cause}
}

func (e *Error) Error() string {
	if e.cause != nil {
		return e.text + ": " + e.cause.Error()
	}
	return e.text
}

// Kind returns the error's kind.
func (e *Error) Kind() Kind { return e.kind }

// PublicMessage returns the message the API shows ("" for the error's full text).
func (e *Error) PublicMessage() string { return e.public }

// Unwrap returns the error this sentinel is a case of, if any.
func (e *Error) Unwrap() error { return e.cause }

// Sentinels shared by every layer.
var (
	// ErrInvalidInput: an id, a path or a value the caller sent is not acceptable. Its
	// wrappers' text names what is wrong (never a secret value) and is shown as it is.
	ErrInvalidInput = NewError(KindBadRequest, "invalid input", "")
	// ErrNotFound: no such object, or one of another tenant.
	ErrNotFound = NewError(KindNotFound, "not found", "not found")
)

// FieldError is one bad field of a request. Field is the input name ("" for the
// document as a whole); Code is a stable, machine-readable reason; Reason the English.
type FieldError struct {
	Field  string `json:"field"`
	Code   string `json:"code"`
	Reason string `json:"reason"`
}

// ValidationError lists every bad field of one request at once, so a form can show all
// its problems in one round trip. Its kind is KindValidation; it wraps ErrInvalidInput.
type ValidationError struct {
	Fields []FieldError `json:"fields"`
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString("invalid input: ")
	for i, f := range e.Fields {
		if i > 0 {
			b.WriteString("; ")
		}
		if f.Field != "" {
			fmt.Fprintf(&b, "%s: ", quoteField(f.Field))
		}
		b.WriteString(f.Reason)
	}
	return b.String()
}

// Unwrap makes errors.Is(err, ErrInvalidInput) true.
func (e *ValidationError) Unwrap() error { return ErrInvalidInput }

// Kind returns KindValidation.
func (e *ValidationError) Kind() Kind { return KindValidation }

// PublicMessage counts the invalid fields (the fields themselves travel apart).
func (e *ValidationError) PublicMessage() string {
	if len(e.Fields) == 1 {
		return "1 field is invalid"
	}
	return fmt.Sprintf("%d fields are invalid", len(e.Fields))
}

// Field returns the first error for name, if any.
func (e *ValidationError) Field(name string) (FieldError, bool) {
	for _, f := range e.Fields {
		if f.Field == name {
			return f, true
		}
	}
	return FieldError{}, false
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
	return fmt.Sprintf("%.64q", s) // fmt cuts by runes, never inside one
}
