package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/spawnit/spawnit/pkg/apiv1"
)

// APIError is an answer outside 2xx. Code is one of the apiv1.Code* constants when the
// server sent an API error body, and empty when something else answered (a proxy's
// 502 page, say).
type APIError struct {
	Status  int
	Code    string
	Message string
	Fields  []apiv1.FieldError
}

// Error is a sentence for a person: the invalid field and why when there is one
// ("inputs.port: must be between 1024 and 65535"), otherwise the server's message.
func (e *APIError) Error() string {
	if len(e.Fields) == 1 {
		return fieldSentence(e.Fields[0])
	}
	msg := e.Message
	if msg == "" {
		msg = fmt.Sprintf("the server answered %d %s", e.Status, http.StatusText(e.Status))
	}
	if len(e.Fields) == 0 {
		return msg
	}
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = fieldSentence(f)
	}
	return msg + ": " + strings.Join(parts, "; ")
}

func fieldSentence(f apiv1.FieldError) string {
	if f.Field == "" {
		return f.Reason
	}
	return f.Field + ": " + f.Reason
}

// decodeError reads an error answer. A body that is not the API's error shape still
// gives an *APIError with the status, so callers test one type.
func decodeError(resp *http.Response) error {
	e := &APIError{Status: resp.StatusCode}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var wire apiv1.Error
	if json.Unmarshal(body, &wire) == nil {
		e.Code, e.Message, e.Fields = wire.Error.Code, wire.Error.Message, wire.Error.Fields
	}
	return e
}

// AsAPIError returns the *APIError in err's chain, if any.
func AsAPIError(err error) (*APIError, bool) {
	var e *APIError
	ok := errors.As(err, &e)
	return e, ok
}

// HasCode reports whether err is an API error with the given code (apiv1.Code*).
func HasCode(err error, code string) bool {
	e, ok := AsAPIError(err)
	return ok && e.Code == code
}

func hasStatus(err error, status int) bool {
	e, ok := AsAPIError(err)
	return ok && e.Status == status
}

// IsNotFound reports a 404: the object does not exist or belongs to another tenant.
func IsNotFound(err error) bool { return hasStatus(err, http.StatusNotFound) }

// IsConflict reports a 409, whatever its code: locked, conflict, busy,
// resources_exist, needs_recovery, cool_off.
func IsConflict(err error) bool { return hasStatus(err, http.StatusConflict) }

// IsPreconditionFailed reports a 412: the If-Match ETag is stale; read the service
// again and reapply the change.
func IsPreconditionFailed(err error) bool { return hasStatus(err, http.StatusPreconditionFailed) }

// IsValidation reports a 400 validation_failed; the *APIError's Fields say which.
func IsValidation(err error) bool { return HasCode(err, apiv1.CodeValidation) }

// IsUnauthenticated reports a 401: no token, or one the server does not accept.
func IsUnauthenticated(err error) bool { return hasStatus(err, http.StatusUnauthorized) }

// IsUnavailable reports a 503: the server's store is down or it is shutting down.
func IsUnavailable(err error) bool { return hasStatus(err, http.StatusServiceUnavailable) }
