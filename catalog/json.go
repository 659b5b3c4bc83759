package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spawnit/spawnit/pkg/truncate"
)

// decodeStrict decodes exactly one JSON document into v. Unknown fields, duplicate
// keys (at any depth), nesting beyond maxDepth and trailing data are errors: encoding/json
// alone silently keeps the last of two duplicate keys, which lets two readers of one
// document disagree about its content.
func decodeStrict(raw []byte, v any, maxDepth int) error {
	if err := checkStructure(raw, maxDepth); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	return nil
}

// checkStructure walks raw token by token, never building the value, so a hostile
// document costs memory proportional to its size and at most maxDepth open containers.
func checkStructure(raw []byte, maxDepth int) error {
	type frame struct {
		object  bool
		wantKey bool
		keys    map[string]struct{}
		key     string
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var stack []*frame
	path := func(last string) string {
		parts := make([]string, 0, len(stack)+1)
		for _, f := range stack {
			if f.object && f.key != "" {
				parts = append(parts, f.key)
			}
		}
		if last != "" {
			parts = append(parts, last)
		}
		return strings.Join(parts, ".")
	}
	afterValue := func() {
		if n := len(stack); n > 0 && stack[n-1].object {
			stack[n-1].wantKey = true
		}
	}
	done := false
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			if !done {
				return errors.New("empty JSON document")
			}
			return nil
		}
		if err != nil {
			return err
		}
		if done {
			return errors.New("unexpected data after the JSON document")
		}
		if n := len(stack); n > 0 && stack[n-1].object && stack[n-1].wantKey {
			top := stack[n-1]
			if key, ok := tok.(string); ok {
				if _, dup := top.keys[key]; dup {
					return fmt.Errorf("duplicate key %q", truncate.String(path(key), 128))
				}
				top.keys[key] = struct{}{}
				top.key = key
				top.wantKey = false
				continue
			}
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			if len(stack) >= maxDepth {
				return fmt.Errorf("JSON nested deeper than %d levels", maxDepth)
			}
			f := &frame{object: tok == json.Delim('{')}
			if f.object {
				f.wantKey = true
				f.keys = map[string]struct{}{}
			}
			stack = append(stack, f)
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		afterValue()
		if len(stack) == 0 {
			done = true
		}
	}
}
