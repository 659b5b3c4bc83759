package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/spawnit/spawnit/api/authn"
	"github.com/spawnit/spawnit/catalog"
	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/pkg/apiv1"
	"github.com/spawnit/spawnit/pkg/platform"
	"github.com/spawnit/spawnit/pkg/store"
)

// Error is an error the API answers with as it is: a status, a stable code and a
// message safe to show. Handlers return it for problems they find themselves (a bad
// header, a body too large); domain errors are mapped by httpError.
type Error struct {
	Status  int
	Code    string
	Message string
	Fields  []apiv1.FieldError
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

func newError(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// httpError is the one place where errors become HTTP statuses. internal reports an
// error the client cannot fix, which the caller logs (and only those).
func httpError(err error) (e *Error, internal bool) {
	var own *Error
	var ve *catalog.ValidationError
	var he *echo.HTTPError
	switch {
	case errors.As(err, &own):
		return own, false
	case errors.As(err, &ve):
		fields := make([]apiv1.FieldError, 0, len(ve.Fields))
		for _, f := range ve.Fields {
			fields = append(fields, apiv1.FieldError{Field: f.Field, Code: f.Code, Reason: f.Reason})
		}
		msg := "1 field is invalid"
		if len(fields) != 1 {
			msg = fmt.Sprintf("%d fields are invalid", len(fields))
		}
		return &Error{Status: http.StatusBadRequest, Code: apiv1.CodeValidation, Message: msg, Fields: fields}, false
	case errors.As(err, &he):
		return echoError(he), false
	case errors.Is(err, authn.ErrCSRF):
		return newError(http.StatusForbidden, apiv1.CodeCSRF, "missing or invalid X-CSRF-Token"), false
	case errors.Is(err, authn.ErrUnauthenticated):
		return newError(http.StatusUnauthorized, apiv1.CodeUnauthenticated, "authentication required"), false
	case errors.Is(err, engine.ErrNotFound):
		return newError(http.StatusNotFound, apiv1.CodeNotFound, "not found"), false
	case errors.Is(err, platform.ErrBusy):
		return newError(http.StatusConflict, apiv1.CodeBusy, "the service has a job running or queued"), false
	case errors.Is(err, platform.ErrResourcesExist):
		return newError(http.StatusConflict, apiv1.CodeResourcesExist, "the service is deployed: destroy it first, or delete it with ?destroy=true"), false
	case errors.Is(err, platform.ErrIdempotencyMismatch):
		return newError(http.StatusConflict, apiv1.CodeConflict, "this Idempotency-Key was already used for another operation"), false
	case errors.Is(err, platform.ErrAcceptDisabled):
		return newError(http.StatusConflict, apiv1.CodeAcceptDisabled, "the service's template does not allow accepting drift: remediate it instead"), false
	case errors.Is(err, platform.ErrNotDeployed):
		return newError(http.StatusConflict, apiv1.CodeNotDeployed, "the service is not deployed"), false
	case errors.Is(err, engine.ErrLocked):
		return newError(http.StatusConflict, apiv1.CodeLocked, "the service is locked by another job"), false
	case errors.Is(err, engine.ErrNeedsRecovery):
		return newError(http.StatusConflict, apiv1.CodeNeedsRecovery, "the service needs recovery: tofu could not save its state"), false
	case errors.Is(err, engine.ErrCoolOff):
		return newError(http.StatusConflict, apiv1.CodeCoolOff, "a forced cancel is allowed only after the cool-off following the first cancel"), false
	case errors.Is(err, engine.ErrJobFinished):
		return newError(http.StatusConflict, apiv1.CodeJobFinished, "the job has already finished"), false
	case errors.Is(err, engine.ErrClosed):
		return newError(http.StatusServiceUnavailable, apiv1.CodeShuttingDown, "the server is shutting down"), false
	case errors.Is(err, catalog.ErrConflict):
		return newError(http.StatusConflict, apiv1.CodeConflict, "the configuration was changed by someone else meanwhile: read it again"), false
	case errors.Is(err, platform.ErrStale):
		return newError(http.StatusPreconditionFailed, apiv1.CodePreconditionFailed, "If-Match is not the current ETag: read the service again"), false
	case errors.Is(err, store.ErrPreconditionFailed):
		return newError(http.StatusConflict, apiv1.CodeConflict, "the object was changed by someone else meanwhile: retry"), false
	case errors.Is(err, store.ErrUnavailable):
		return newError(http.StatusServiceUnavailable, apiv1.CodeUnavailable, "storage is unavailable; retry later"), true
	case errors.Is(err, engine.ErrInvalidInput):
		// Engine and catalog input errors name what is wrong and never carry values
		// (ids are quoted only once they passed or failed the allow-list, truncated).
		return newError(http.StatusBadRequest, apiv1.CodeBadRequest, "%s", err.Error()), false
	case errors.Is(err, context.Canceled):
		// The client went away; nobody reads the answer.
		return newError(499, apiv1.CodeBadRequest, "request cancelled"), false
	}
	return newError(http.StatusInternalServerError, apiv1.CodeInternal, "internal error"), true
}

func echoError(he *echo.HTTPError) *Error {
	msg := http.StatusText(he.Code)
	switch he.Code {
	case http.StatusNotFound:
		return newError(he.Code, apiv1.CodeNotFound, "not found")
	case http.StatusRequestEntityTooLarge:
		return newError(he.Code, apiv1.CodeTooLarge, "request body too large")
	case http.StatusUnsupportedMediaType:
		return newError(he.Code, apiv1.CodeUnsupportedMedia, "request body must be application/json")
	case http.StatusUnauthorized:
		return newError(he.Code, apiv1.CodeUnauthenticated, "authentication required")
	case http.StatusServiceUnavailable:
		return newError(he.Code, apiv1.CodeUnavailable, "unavailable")
	}
	if he.Code >= 500 {
		return newError(he.Code, apiv1.CodeInternal, "%s", msg)
	}
	return newError(he.Code, apiv1.CodeBadRequest, "%s", msg)
}

// handleError is Echo's error handler: it writes every error in one shape and logs the
// internal ones, with the request id but never the request's headers or body.
func (s *Server) handleError(err error, c echo.Context) {
	e, internal := httpError(err)
	if internal {
		s.log.LogAttrs(c.Request().Context(), slog.LevelError, "request failed",
			slog.String("request_id", requestID(c)),
			slog.String("route", c.Path()),
			slog.String("method", c.Request().Method),
			slog.String("err", err.Error()))
	}
	if c.Response().Committed {
		return // a stream already started; the client sees it end
	}
	if e.Status == http.StatusUnauthorized {
		c.Response().Header().Set("WWW-Authenticate", `Bearer realm="spawnit"`)
	}
	body := apiv1.Error{Error: apiv1.ErrorBody{Code: e.Code, Message: e.Message, Fields: e.Fields}}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(e.Status)
		return
	}
	_ = c.JSON(e.Status, body)
}
