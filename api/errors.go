package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/spawnit/spawnit"
	"github.com/spawnit/spawnit/pkg/apiv1"
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
// error the client cannot fix, which the caller logs (and only those). Every package's
// sentinels are errors of a kind of the kernel, which carries the code and the status,
// so a domain error is mapped by looking its kind up: the outermost one in the chain
// answers (a sentinel wrapping another, such as platform.ErrStale wrapping the store's
// precondition failure, answers as itself).
func httpError(err error) (e *Error, internal bool) {
	var own *Error
	var he *echo.HTTPError
	var ke spawnit.KindError
	switch {
	case errors.As(err, &own):
		return own, false
	case errors.As(err, &he):
		return echoError(he), false
	case errors.As(err, &ke):
		return kindError(ke, err), ke.Kind().Internal()
	case errors.Is(err, context.Canceled):
		// The client went away; nobody reads the answer.
		return newError(499, apiv1.CodeBadRequest, "request cancelled"), false
	}
	return newError(http.StatusInternalServerError, apiv1.CodeInternal, "internal error"), true
}

// kindError is the answer to an error of a kind: its code and status, its public
// message (or, for input errors written to be shown, the whole error's text, which
// names what is wrong and never carries values: ids are quoted only once they passed or
// failed the allow-list, truncated), and the fields of a validation error.
func kindError(ke spawnit.KindError, err error) *Error {
	k := ke.Kind()
	if k.Status() == http.StatusInternalServerError {
		// An internal fault, or a kind this server does not know: its text stays in the log.
		return newError(http.StatusInternalServerError, apiv1.CodeInternal, "internal error")
	}
	e := &Error{Status: k.Status(), Code: k.Code(), Message: ke.PublicMessage()}
	if e.Message == "" {
		e.Message = err.Error()
	}
	if ve, ok := ke.(*spawnit.ValidationError); ok {
		e.Fields = make([]apiv1.FieldError, 0, len(ve.Fields))
		for _, f := range ve.Fields {
			e.Fields = append(e.Fields, apiv1.FieldError{Field: f.Field, Code: f.Code, Reason: f.Reason})
		}
	}
	return e
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
