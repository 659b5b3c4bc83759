package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func deepArray(n int) string {
	s := "1"
	for range n {
		s = "[" + s + "]"
	}
	return s
}

// TestStructure: one document, duplicates at any depth, nesting within the limit.
func TestStructure(t *testing.T) {
	for doc, ok := range map[string]bool{
		`{}`:                             true,
		`{"a":[1,{"b":2}],"c":{"d":[]}}`: true,
		`{"a":1,"a":2}`:                  false,
		`{"a":{"b":1,"b":1}}`:            false,
		`{"a":[{"b":1},{"b":1}]}`:        true, // equal keys in two objects are not duplicates
		`{"a":1}{}`:                      false,
		`{"a":1`:                         false,
		`[]`:                             false,
		`"x"`:                            false,
		`null`:                           false,
		``:                               false,
		` `:                              false,
		`{"a":` + deepArray(31) + `}`:    true,
		`{"a":` + deepArray(32) + `}`:    false,
	} {
		var v map[string]any
		if err := Decode([]byte(doc), &v, Limits{}); (err == nil) != ok {
			t.Errorf("%.60s: %v", doc, err)
		}
	}
}

type inner struct {
	Name  string   `json:"name"`
	Count int      `json:"count,omitempty"`
	Tags  []string `json:"tags"`
}

type Embedded struct {
	Shared string `json:"shared"`
}

type doc struct {
	Embedded
	ID      string            `json:"id"`
	Items   []inner           `json:"items"`
	One     *inner            `json:"one"`
	Labels  map[string]string `json:"labels"`
	Raw     json.RawMessage   `json:"raw"`
	Any     any               `json:"any"`
	When    *time.Time        `json:"when"`
	Port    int               `json:"port,string"`
	Ignored string            `json:"-"`
	NoTag   bool
	hidden  int
}

func problems(err error) []string {
	var e *Error
	if !errors.As(err, &e) {
		return nil
	}
	var out []string
	for _, p := range e.Problems {
		out = append(out, p.Path+":"+string(p.Kind))
	}
	return out
}

func TestDecodeReportsEveryProblem(t *testing.T) {
	in := `{"id":1,"ID":"x","items":[{"name":"a","colour":"red","tags":"t"},{"name":2}],` +
		`"one":{"name":"b","name":"c"},"labels":{"a":{}},"Ignored":"x","hidden":1,"when":5,"extra":true}`
	var d doc
	err := Decode([]byte(in), &d, Limits{})
	want := []string{
		"id:type", "ID:unknown", "items[].colour:unknown", "items[].tags:type", "items[].name:type",
		"one.name:duplicate", "labels.a:type", "Ignored:unknown", "hidden:unknown", "when:type", "extra:unknown",
	}
	if got := problems(err); !reflect.DeepEqual(got, want) {
		t.Fatalf("problems\n got %v\nwant %v\n(%v)", got, want, err)
	}
	if d.ID != "" {
		t.Fatal("a refused document was decoded")
	}
}

func TestDecodeAccepts(t *testing.T) {
	in := `{"shared":"s","id":"x","items":[{"name":"a","count":2,"tags":["t"]}],"one":null,` +
		`"labels":{"a":"1"},"raw":{"k":[1,{"k":2}]},"any":{"x":[1.50]},"when":"2026-01-02T03:04:05Z","port":"8080","NoTag":true}`
	var d doc
	if err := Decode([]byte(in), &d, Limits{}); err != nil {
		t.Fatal(err)
	}
	if d.Shared != "s" || d.Items[0].Count != 2 || d.Port != 8080 || !d.NoTag || d.When.Year() != 2026 || string(d.Raw) != `{"k":[1,{"k":2}]}` {
		t.Fatalf("decoded %+v", d)
	}
	if n := d.Any.(map[string]any)["x"].([]any)[0]; n != json.Number("1.50") {
		t.Fatalf("numbers must stay json.Number: %#v", n)
	}
}

func TestDecodeChecksInsideOpaqueValues(t *testing.T) {
	var d doc
	if got := problems(Decode([]byte(`{"raw":{"k":1,"k":2}}`), &d, Limits{})); !reflect.DeepEqual(got, []string{"raw.k:duplicate"}) {
		t.Fatalf("got %v", got)
	}
}

func TestScalar(t *testing.T) {
	var form map[string]Scalar
	err := Decode([]byte(`{"a":1,"a":2,"b":{"c":[1,2]},"d":true,"d":false,"e":null,"f":"x"}`), &form, Limits{})
	if got := problems(err); !reflect.DeepEqual(got, []string{"a:duplicate", "b:invalid", "d:duplicate"}) {
		t.Fatalf("got %v", got)
	}
	if err := Decode([]byte(`{"n":0.10,"s":"x","b":true,"z":null}`), &form, Limits{}); err != nil {
		t.Fatal(err)
	}
	if form["n"] != json.Number("0.10") || form["s"] != "x" || form["b"] != true || form["z"] != nil {
		t.Fatalf("form = %#v", form)
	}
}

func TestLimits(t *testing.T) {
	var many strings.Builder
	many.WriteString("{")
	for i := range 4 {
		if i > 0 {
			many.WriteString(",")
		}
		many.WriteString(`"k` + strings.Repeat("x", i) + `":1`)
	}
	many.WriteString("}")
	deepInputs := `{"inputs":{"note":` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + `}}`
	deepLabels := `{"labels":` + strings.Repeat(`{"a":`, 40) + `1` + strings.Repeat("}", 40) + `}`
	for _, tc := range []struct {
		name, doc string
		lim       Limits
		want      string
	}{
		{"size", `{"a":"xxxxxxxx"}`, Limits{MaxBytes: 10}, ":limit"},
		{"keys", many.String(), Limits{MaxKeys: 3}, ":limit"},
		{"keys nested", `{"o":` + many.String() + `}`, Limits{MaxKeys: 3}, "o:limit"},
		{"depth names the field", deepInputs, Limits{}, "inputs.note:limit"},
		{"depth names the key", deepLabels, Limits{}, "labels.a:limit"},
		{"depth of an array", `{"a":` + deepArray(40) + `}`, Limits{}, "a:limit"},
		{"depth limit", `{"a":{"b":{}}}`, Limits{MaxDepth: 2}, "a.b:limit"},
	} {
		var v map[string]any
		err := Decode([]byte(tc.doc), &v, tc.lim)
		if got := problems(err); len(got) != 1 || got[0] != tc.want {
			t.Errorf("%s: got %v, want [%s] (%v)", tc.name, got, tc.want, err)
		}
	}
}

func TestMessages(t *testing.T) {
	var d doc
	for doc, want := range map[string]string{
		`{"id":"a"} {}`:               "trailing data after the JSON document",
		``:                            "empty JSON document",
		`{"id":`:                      "malformed JSON document",
		`{"id":"a","id":"b"}`:         "id: duplicate key",
		`{"x\n":1}`:                   `"x\n": unknown field`,
		`{"items":[{"c":1}]}`:         "items[].c: unknown field",
		`{"id":true}`:                 "id: must be a JSON string",
		`{"when":"yesterday"}`:        "times must be RFC 3339",
		`[1]`:                         "must be a JSON object",
		`{"a":` + deepArray(40) + `}`: "nested deeper than 32 levels",
	} {
		err := Decode([]byte(doc), &d, Limits{})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%.40q: error %v, want %q", doc, err, want)
		}
	}
	long := strings.Repeat("é", 300)
	err := Decode([]byte(`{"`+long+`":1}`), &d, Limits{})
	if got := problems(err); len(got) != 1 || got[0] != strings.Repeat("é", maxKeyRunes-1)+"…:unknown" {
		t.Fatalf("a long key must be cut short: %v", got)
	}
}

func TestProblemsAreBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("{")
	for i := range 200 {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"a":1`)
	}
	b.WriteString("}")
	var v map[string]any
	if got := problems(Decode([]byte(b.String()), &v, Limits{})); len(got) != maxProblems {
		t.Fatalf("%d problems", len(got))
	}
}

func TestDecodeNeedsAPointer(t *testing.T) {
	if err := Decode([]byte(`{}`), map[string]any{}, Limits{}); err == nil {
		t.Fatal("accepted a map")
	}
}

// FuzzDecode: never panics, and what it accepts encoding/json accepts the same way.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{}`, `{"id":"x","items":[{"name":"a"}]}`, `{"a":1,"a":2}`, `[1,[2]]`, `{"raw":{"k":[1]}}`, `"x"`, `{"when":"2026-01-02T03:04:05Z"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var d doc
		if err := Decode(raw, &d, Limits{MaxDepth: 8}); err != nil {
			var e *Error
			if !errors.As(err, &e) || len(e.Problems) == 0 {
				t.Fatalf("error %T %v: want *Error with problems", err, err)
			}
			return
		}
		var plain doc
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&plain); err != nil {
			t.Fatalf("accepted what encoding/json refuses: %v", err)
		}
		var m map[string]any
		if Decode(raw, &m, Limits{MaxDepth: 8}) != nil {
			t.Fatal("a struct document is not a valid map document")
		}
	})
}

// BenchmarkDecode: a service creation body, strictly and with encoding/json alone.
func BenchmarkDecode(b *testing.B) {
	type create struct {
		Template      string            `json:"template"`
		Provider      string            `json:"provider"`
		Name          string            `json:"name"`
		Inputs        json.RawMessage   `json:"inputs"`
		Labels        map[string]string `json:"labels"`
		ExpiresAt     *time.Time        `json:"expires_at"`
		AutoRemediate bool              `json:"auto_remediate"`
	}
	raw := []byte(`{"template":"postgres","provider":"docker","name":"db","inputs":{"version":"16","password":"hunter2hunter2","port":5432,"storage_gb":10},"labels":{"team":"data","env":"dev"},"expires_at":"2026-12-31T00:00:00Z","auto_remediate":true}`)
	b.Run("strict", func(b *testing.B) {
		for b.Loop() {
			var v create
			if err := Decode(raw, &v, Limits{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			var v create
			if err := json.Unmarshal(raw, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestCheck(t *testing.T) {
	for doc, want := range map[string]string{
		`{"a":1,"A":[2]}`:     "",
		`{"a":{"b":1,"b":2}}`: "a.b:duplicate",
		`"x"`:                 "",
		`{"a":1} 2`:           ":invalid",
		`{"a":"` + strings.Repeat("x", 20) + `"}`: ":limit",
	} {
		got := strings.Join(problems(Check([]byte(doc), Limits{MaxBytes: 20})), ",")
		if got != want {
			t.Errorf("Check(%.30s) = %q, want %q", doc, got, want)
		}
	}
}
