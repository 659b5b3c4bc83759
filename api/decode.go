package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/spawnit/spawnit/catalog"
	"github.com/spawnit/spawnit/pkg/apiv1"
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
	if err := checkJSON(raw, allowedKeys(dst)); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(dst); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return fieldError(te.Field, catalog.CodeType, fmt.Sprintf("must be a JSON %s", jsonKind(te.Type)))
		}
		var pe *time.ParseError
		if errors.As(err, &pe) {
			return fieldError("", catalog.CodeInvalid, "times must be RFC 3339")
		}
		return fieldError("", catalog.CodeInvalid, "malformed JSON document")
	}
	return nil
}

func fieldError(field, code, reason string) error {
	return &catalog.ValidationError{Fields: []catalog.FieldError{{Field: field, Code: code, Reason: reason}}}
}

// allowedKeys lists the JSON names of a struct's fields.
func allowedKeys(dst any) map[string]bool {
	t := reflect.TypeOf(dst)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	keys := map[string]bool{}
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			keys[name] = true
		}
	}
	return keys
}

// checkJSON walks the document token by token: no recursion, so a deeply nested
// document costs only the stack of open containers, which maxJSONDepth bounds.
// topKeys, when not nil, lists the keys the top-level object may have.
func checkJSON(raw []byte, topKeys map[string]bool) error {
	type frame struct {
		object    bool
		path      string
		keys      map[string]bool
		key       string // the key whose value comes next
		expectKey bool
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var (
		stack []*frame
		bad   []catalog.FieldError
		done  bool
	)
	add := func(field, code, reason string) {
		if len(bad) < 50 {
			bad = append(bad, catalog.FieldError{Field: field, Code: code, Reason: reason})
		}
	}
	pop := func() {
		stack = stack[:len(stack)-1]
		done = len(stack) == 0
	}
	for {
		tok, err := dec.Token()
		if err == io.EOF && done {
			break
		}
		if err != nil {
			return fieldError("", catalog.CodeInvalid, "malformed JSON document")
		}
		if done {
			return fieldError("", catalog.CodeInvalid, "trailing data after the JSON document")
		}
		var f *frame
		if len(stack) > 0 {
			f = stack[len(stack)-1]
		}
		path := ""
		switch {
		case f == nil:
			if tok != json.Delim('{') {
				return fieldError("", catalog.CodeType, "the request body must be a JSON object")
			}
		case f.object && f.expectKey:
			if tok == json.Delim('}') {
				pop()
				continue
			}
			key, _ := tok.(string)
			field := joinPath(f.path, key)
			switch {
			case f.keys[key]:
				add(field, catalog.CodeDuplicate, "the key appears more than once")
			case len(f.keys) >= maxObjectKeys:
				return fieldError(f.path, catalog.CodeLimit, fmt.Sprintf("more than %d keys in one object", maxObjectKeys))
			case len(stack) == 1 && topKeys != nil && !topKeys[key]:
				add(field, catalog.CodeUnknown, "not a field of this request")
			}
			f.keys[key] = true
			f.key, f.expectKey = key, false
			continue
		case f.object:
			path = joinPath(f.path, f.key)
			f.expectKey = true
		default:
			if tok == json.Delim(']') {
				pop()
				continue
			}
			path = f.path + "[]"
		}
		if tok == json.Delim('{') || tok == json.Delim('[') {
			if len(stack) >= maxJSONDepth {
				// Named after the request's own field, not the whole tower of brackets.
				if len(stack) > 2 {
					path = stack[2].path
				}
				return fieldError(path, catalog.CodeLimit, fmt.Sprintf("nested deeper than %d levels", maxJSONDepth))
			}
			stack = append(stack, &frame{object: tok == json.Delim('{'), path: path, keys: map[string]bool{}, expectKey: true})
		}
	}
	if len(bad) > 0 {
		return &catalog.ValidationError{Fields: bad}
	}
	return nil
}

// joinPath names a field for error messages; user-supplied keys are cut short.
func joinPath(prefix, key string) string {
	if len(key) > 128 {
		key = strings.ToValidUTF8(key[:128], "") + "…"
	}
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Map, reflect.Struct:
		if t == reflect.TypeOf(time.Time{}) {
			return "string (RFC 3339 time)"
		}
		return "object"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	}
	return "number"
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
