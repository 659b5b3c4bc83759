package api

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/spawnit/spawnit/catalog"
	"github.com/spawnit/spawnit/internal/strictjson"
	"github.com/spawnit/spawnit/pkg/apiv1"
	"github.com/spawnit/spawnit/pkg/platform"
)

// Limits on request bodies. The body limit bounds memory; the others bound the work
// spent on a hostile document that fits in it.
const (
	DefaultBodyLimit = 1 << 20
	maxJSONDepth     = 32
	maxObjectKeys    = 1000
)

// readBody returns the request body, or nil when there is none. A body must be
// declared application/json (415 otherwise) and fit in the limit (413).
func (s *Server) readBody(c echo.Context) ([]byte, error) {
	r := c.Request()
	if r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	if r.ContentLength > s.cfg.BodyLimit {
		return nil, newError(http.StatusRequestEntityTooLarge, apiv1.CodeTooLarge, "request body larger than %d bytes", s.cfg.BodyLimit)
	}
	ctOK := isJSON(r.Header.Get(echo.HeaderContentType))
	if r.ContentLength > 0 && !ctOK {
		return nil, errNotJSON
	}
	b, err := io.ReadAll(http.MaxBytesReader(c.Response(), r.Body, s.cfg.BodyLimit))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, newError(http.StatusRequestEntityTooLarge, apiv1.CodeTooLarge, "request body larger than %d bytes", s.cfg.BodyLimit)
	}
	if err != nil {
		return nil, newError(http.StatusBadRequest, apiv1.CodeBadRequest, "could not read the request body")
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, nil // an empty chunked body is no body
	}
	if !ctOK {
		return nil, errNotJSON
	}
	return b, nil
}

// requiredJSON reads the request's JSON document into dst (decodeJSON's rules): a
// missing or empty body is a 400.
func (s *Server) requiredJSON(c echo.Context, dst any) error {
	raw, err := s.readBody(c)
	if err != nil {
		return err
	}
	if raw == nil {
		return newError(http.StatusBadRequest, apiv1.CodeBadRequest, "a JSON body is required")
	}
	return decodeJSON(raw, dst)
}

// optionalJSON reads the request's JSON document, when there is one, into dst
// (decodeJSON's rules); without one dst is left as it is.
func (s *Server) optionalJSON(c echo.Context, dst any) error {
	raw, err := s.readBody(c)
	if err != nil || raw == nil {
		return err
	}
	return decodeJSON(raw, dst)
}

var errNotJSON = newError(http.StatusUnsupportedMediaType, apiv1.CodeUnsupportedMedia, "request body must be application/json")

func isJSON(contentType string) bool {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "application/json" {
		return false
	}
	cs, ok := params["charset"]
	return !ok || strings.EqualFold(cs, "utf-8")
}

// decodeJSON decodes a request document into dst, a pointer to a struct. Beyond
// encoding/json it rejects what would be silently accepted: duplicate keys at any
// depth (the last would win), keys dst does not declare, nesting deeper than
// maxJSONDepth, trailing data. Every problem is a field-level validation error.
func decodeJSON(raw []byte, dst any) error {
	err := strictjson.Decode(raw, dst, strictjson.Limits{MaxDepth: maxJSONDepth, MaxKeys: maxObjectKeys})
	return catalog.JSONValidationError(err)
}

func fieldError(field, code, reason string) error {
	return &catalog.ValidationError{Fields: []catalog.FieldError{{Field: field, Code: code, Reason: reason}}}
}

// serviceIfMatch is the request's If-Match: "" when absent, else the one ETag of the
// service it names ("*" and lists are refused).
func serviceIfMatch(c echo.Context) (string, error) {
	ifMatch := strings.TrimSpace(c.Request().Header.Get(HeaderIfMatch))
	if ifMatch == "*" || strings.Contains(ifMatch, ",") {
		return "", newError(http.StatusBadRequest, apiv1.CodeBadRequest, "If-Match must be the one ETag of the service")
	}
	return ifMatch, nil
}

// parseBool reads an optional boolean query parameter.
func parseBool(c echo.Context, name string) (bool, error) {
	v := c.QueryParam(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, newError(http.StatusBadRequest, apiv1.CodeBadRequest, "query parameter %s must be true or false", name)
	}
	return b, nil
}

// pageParams reads ?limit= and ?cursor= of a listing: a limit outside
// 1..platform.MaxPageLimit is a field error (the platform judges the cursor).
func pageParams(c echo.Context) (platform.Page, error) {
	pg := platform.Page{Cursor: c.QueryParam("cursor")}
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > platform.MaxPageLimit {
			return platform.Page{}, &catalog.ValidationError{Fields: []catalog.FieldError{{Field: "limit", Code: catalog.CodeRange,
				Reason: fmt.Sprintf("must be a number from 1 to %d", platform.MaxPageLimit)}}}
		}
		pg.Limit = n
	}
	return pg, nil
}
