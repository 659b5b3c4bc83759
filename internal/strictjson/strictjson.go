// Package strictjson decodes JSON that comes from outside (request bodies, template
// files, form values) more strictly than encoding/json, which keeps the last of two
// duplicate keys (so two readers of one document can disagree about its content),
// ignores keys it does not know, matches names case-insensitively, and reports only the
// first problem.
//
// Decode walks the document token by token before decoding it, with the destination's
// Go type beside it, and reports every problem it finds at once, each with the path of
// the value concerned ("labels.a", "inputs[].name"):
//
//   - a document that is malformed, empty, or followed by more data;
//   - a key that appears twice in one object, at any depth;
//   - a key that the destination struct does not declare (spelled exactly as its json
//     tag or field name), at any depth;
//   - a value of the wrong JSON type, and an object or array where a Scalar is due;
//   - a document larger than Limits.MaxBytes, nested deeper than Limits.MaxDepth, or
//     with more than Limits.MaxKeys keys in one object.
//
// The walk never builds the value and keeps only the stack of open containers, so a
// hostile document costs at most its size and MaxDepth frames.
package strictjson

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/spawnit/spawnit/pkg/truncate"
)

// Defaults of Limits.
const (
	DefaultMaxDepth = 32
	DefaultMaxKeys  = 1000
)

// maxProblems bounds what one document can make Decode report.
const maxProblems = 50

// maxKeyRunes bounds a key quoted in a path: keys come from users and may be huge.
const maxKeyRunes = 128

// Limits bound the work a document may cost.
type Limits struct {
	MaxBytes int // size of the document; 0 means no limit
	MaxDepth int // objects and arrays open at once; 0 means DefaultMaxDepth
	MaxKeys  int // keys in one object; 0 means DefaultMaxKeys
}

// Scalar is a destination for one value that must not be an object or an array: a
// string, a json.Number, a bool or nil. A form's values decode into map[string]Scalar.
type Scalar any

// Kind classifies a Problem. The names are those of the API's field error codes, which
// catalog.JSONValidationError maps them to.
type Kind string

const (
	Invalid   Kind = "invalid"   // not one JSON document, or an object or array where a Scalar is due
	Duplicate Kind = "duplicate" // a key appears twice in one object
	Unknown   Kind = "unknown"   // a key the destination does not declare
	Type      Kind = "type"      // a value of the wrong JSON type
	Limit     Kind = "limit"     // too large, nested too deeply, too many keys
)

// Problem is one reason a document was refused.
type Problem struct {
	Kind Kind
	// Path names the value: keys joined by ".", "[]" for an array's elements, "" for
	// the document itself.
	Path   string
	Reason string
}

func (p Problem) String() string {
	if p.Path == "" {
		return p.Reason
	}
	return quotePath(p.Path) + ": " + p.Reason
}

// Error is what Decode returns for a document it refuses: every problem found, at most
// 50. A problem that stops the walk (malformed, a limit) is reported alone.
type Error struct {
	Problems []Problem
	cause    error // encoding/json's own error, for a malformed document
}

func (e *Error) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.String()
	}
	s := strings.Join(parts, "; ")
	if e.cause != nil {
		s += ": " + e.cause.Error()
	}
	return s
}

// Unwrap returns encoding/json's error behind a malformed document, if any.
func (e *Error) Unwrap() error { return e.cause }

func fail(kind Kind, path, reason string) *Error {
	return &Error{Problems: []Problem{{Kind: kind, Path: path, Reason: reason}}}
}

// Decode decodes exactly one JSON document from raw into dst, a non-nil pointer, with
// numbers as json.Number. A document with any problem listed in the package doc is
// refused with an *Error; dst is then not to be used.
func Decode(raw []byte, dst any, lim Limits) error {
	t := reflect.TypeOf(dst)
	if t == nil || t.Kind() != reflect.Pointer {
		return fmt.Errorf("strictjson: Decode needs a pointer, not %T", dst)
	}
	if err := check(raw, t.Elem(), lim); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	dec.DisallowUnknownFields() // the walk found them all; this is a second line
	if err := dec.Decode(dst); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			if name := kindName(te.Type); name != "" {
				return fail(Type, te.Field, "must be a JSON "+name)
			}
			return fail(Type, te.Field, "has the wrong JSON type")
		}
		var pe *time.ParseError
		if errors.As(err, &pe) {
			return fail(Invalid, "", "times must be RFC 3339")
		}
		return &Error{Problems: []Problem{{Kind: Invalid, Reason: "malformed JSON document"}}, cause: err}
	}
	return nil
}

// Check reports what Decode would about a document's syntax, duplicate keys and limits,
// for a document read without a fixed shape (other writers may add fields to it).
func Check(raw []byte, lim Limits) error {
	return check(raw, nil, lim)
}

// frame is an open object or array.
type frame struct {
	object    bool
	path      string
	dest      reflect.Type // what the container decodes into; nil: anything
	keys      map[string]bool
	key       string // the key whose value comes next
	expectKey bool
}

// check walks raw beside dest, the type it decodes into (nil: anything).
func check(raw []byte, dest reflect.Type, lim Limits) error {
	if lim.MaxBytes > 0 && len(raw) > lim.MaxBytes {
		return fail(Limit, "", fmt.Sprintf("larger than %d bytes", lim.MaxBytes))
	}
	if lim.MaxDepth <= 0 {
		lim.MaxDepth = DefaultMaxDepth
	}
	if lim.MaxKeys <= 0 {
		lim.MaxKeys = DefaultMaxKeys
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var (
		stack   []*frame
		bad     []Problem
		started bool
		done    bool
	)
	add := func(kind Kind, path, reason string) {
		if len(bad) < maxProblems {
			bad = append(bad, Problem{Kind: kind, Path: path, Reason: reason})
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
		if err == io.EOF && !started {
			return fail(Invalid, "", "empty JSON document")
		}
		if err != nil {
			return &Error{Problems: []Problem{{Kind: Invalid, Reason: "malformed JSON document"}}, cause: err}
		}
		if done {
			return fail(Invalid, "", "trailing data after the JSON document")
		}
		started = true
		var f *frame
		if len(stack) > 0 {
			f = stack[len(stack)-1]
		}
		var (
			path string
			want reflect.Type // what this value decodes into
		)
		switch {
		case f == nil:
			want = dest
		case f.object && f.expectKey:
			if tok == json.Delim('}') {
				pop()
				continue
			}
			key, _ := tok.(string)
			field := joinPath(f.path, key)
			switch {
			case f.keys[key]:
				add(Duplicate, field, "duplicate key")
			case len(f.keys) >= lim.MaxKeys:
				return fail(Limit, f.path, fmt.Sprintf("more than %d keys in one object", lim.MaxKeys))
			case !declares(f.dest, key):
				add(Unknown, field, "unknown field")
			}
			f.keys[key] = true
			f.key, f.expectKey = key, false
			continue
		case f.object:
			path, want = joinPath(f.path, f.key), member(f.dest, f.key)
			f.expectKey = true
		default:
			if tok == json.Delim(']') {
				pop()
				continue
			}
			path, want = f.path+"[]", member(f.dest, "")
		}
		if kind, reason := mismatch(want, tok, f == nil); reason != "" {
			add(kind, path, reason)
			want = nil // nothing below it is checked against the destination
		}
		if tok != json.Delim('{') && tok != json.Delim('[') {
			done = len(stack) == 0
			continue
		}
		if len(stack) >= lim.MaxDepth {
			// Named after the value two levels down (a request's field and the key
			// under it), not after the whole tower of brackets.
			if len(stack) > 2 {
				path = stack[2].path
			}
			for strings.HasSuffix(path, "[]") {
				path = strings.TrimSuffix(path, "[]")
			}
			return fail(Limit, path, fmt.Sprintf("nested deeper than %d levels", lim.MaxDepth))
		}
		stack = append(stack, &frame{object: tok == json.Delim('{'), path: path, dest: container(want), keys: map[string]bool{}, expectKey: true})
	}
	if len(bad) > 0 {
		return &Error{Problems: bad}
	}
	return nil
}

// joinPath names a member of the value at prefix; keys are cut short.
func joinPath(prefix, key string) string {
	key = truncate.String(key, maxKeyRunes)
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

// quotePath prints a path as is when it reads plainly and quoted otherwise: keys come
// from users and may hold control characters.
func quotePath(p string) string {
	if strings.ContainsFunc(p, func(r rune) bool { return !unicode.IsPrint(r) || r == ' ' || r == '"' }) {
		return strconv.Quote(p)
	}
	return p
}

var (
	scalarType  = reflect.TypeFor[Scalar]()
	timeType    = reflect.TypeFor[time.Time]()
	numberType  = reflect.TypeFor[json.Number]()
	unmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarsh = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// opaque reports whether values of t decode themselves: the walk checks their syntax,
// duplicates and limits but not their shape.
func opaque(t reflect.Type) bool {
	p := reflect.PointerTo(t)
	return t != timeType && (p.Implements(unmarshaler) || p.Implements(textUnmarsh)) || t == numberType
}

// container returns the type whose members an object or array decoding into t has, or
// nil when anything goes.
func container(t reflect.Type) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || opaque(t) {
		return nil
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map, reflect.Slice, reflect.Array:
		return t
	}
	return nil
}

// member returns what the member key of an object (or an element of an array, key "")
// decoding into t decodes into; nil when anything goes.
func member(t reflect.Type, key string) reflect.Type {
	if t == nil {
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		return fieldsOf(t)[key].typ
	case reflect.Map, reflect.Slice, reflect.Array:
		return t.Elem()
	}
	return nil
}

// declares reports whether an object decoding into t may have key.
func declares(t reflect.Type, key string) bool {
	if t == nil || t.Kind() != reflect.Struct {
		return true
	}
	_, ok := fieldsOf(t)[key]
	return ok
}

// mismatch says why a value starting with tok cannot decode into t, or "".
func mismatch(t reflect.Type, tok json.Token, top bool) (Kind, string) {
	if t == scalarType {
		if tok == json.Delim('{') || tok == json.Delim('[') {
			return Invalid, "must be a single value, not an object or array"
		}
		return "", ""
	}
	want := jsonType(t)
	var ok bool
	switch tok.(type) {
	case nil:
		// null decodes into anything as "no value", but a document is an object.
		ok = !top || want != "object"
	case json.Delim:
		ok = tok == json.Delim('{') && want == "object" || tok == json.Delim('[') && want == "array"
	case string:
		ok = strings.HasPrefix(want, "string")
	case bool:
		ok = want == "boolean"
	case json.Number:
		ok = want == "number"
	}
	if ok || want == "" {
		return "", ""
	}
	return Type, "must be a JSON " + want
}

// jsonType names the JSON type that decodes into t, or "" when several do.
func jsonType(t reflect.Type) string {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || opaque(t) {
		return ""
	}
	return kindName(t)
}

// kindName names the JSON type of a Go type, as a reason says it.
func kindName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == timeType {
		return "string (RFC 3339 time)"
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Struct, reflect.Map:
		return "object"
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return "" // []byte: a base64 string or an array of numbers
		}
		return "array"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64:
		return "number"
	}
	return ""
}

type field struct {
	typ reflect.Type // nil: decoded by a ",string" option, anything goes
}

var fieldCache sync.Map // reflect.Type → map[string]field

// fieldsOf lists the JSON names a struct decodes, as encoding/json finds them: exported
// fields by tag or name, fields of embedded structs promoted, the shallowest name wins
// and a tie is broken by a tag or else drops the name.
func fieldsOf(t reflect.Type) map[string]field {
	if f, ok := fieldCache.Load(t); ok {
		return f.(map[string]field)
	}
	type candidate struct {
		field
		depth  int
		tagged bool
	}
	byName := map[string][]candidate{}
	visited := map[reflect.Type]bool{}
	var walk func(t reflect.Type, depth int)
	walk = func(t reflect.Type, depth int) {
		if visited[t] {
			return
		}
		visited[t] = true
		for i := range t.NumField() {
			sf := t.Field(i)
			tag := sf.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			ft := sf.Type
			if sf.Anonymous {
				et := ft
				if et.Kind() == reflect.Pointer {
					et = et.Elem()
				}
				if !sf.IsExported() && et.Kind() != reflect.Struct {
					continue
				}
				if name == "" && et.Kind() == reflect.Struct {
					walk(et, depth+1)
					continue
				}
			} else if !sf.IsExported() {
				continue
			}
			tagged := name != ""
			if !tagged {
				name = sf.Name
			}
			c := candidate{field: field{typ: ft}, depth: depth, tagged: tagged}
			if strings.Contains(","+opts+",", ",string,") {
				c.typ = nil
			}
			byName[name] = append(byName[name], c)
		}
	}
	walk(t, 0)
	fields := map[string]field{}
	for name, cs := range byName {
		top := cs[0].depth
		for _, c := range cs {
			top = min(top, c.depth)
		}
		var at, tagged []candidate
		for _, c := range cs {
			if c.depth == top {
				at = append(at, c)
				if c.tagged {
					tagged = append(tagged, c)
				}
			}
		}
		switch {
		case len(at) == 1:
			fields[name] = at[0].field
		case len(tagged) == 1:
			fields[name] = tagged[0].field
		}
	}
	fieldCache.Store(t, fields)
	return fields
}
