package catalog

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/pkg/redact"
)

// formTemplate has one field of every type and option.
const formTemplateJSON = `{
  "id": "form", "name": "Form", "description": "", "category": "test", "version": "1",
  "inputs": [
    {"name": "title", "label": "Title", "type": "string", "required": true, "pattern": "[a-z]+", "min": 2, "max": 10},
    {"name": "replicas", "label": "Replicas", "type": "integer", "min": 1, "max": 5, "default": 3},
    {"name": "ratio", "label": "Ratio", "type": "number", "min": 0, "max": 1, "default": 0.5},
    {"name": "enabled", "label": "Enabled", "type": "boolean", "default": false},
    {"name": "size", "label": "Size", "type": "enum", "enum": ["S", "M", "L"], "default": "M"},
    {"name": "port", "label": "Port", "type": "port", "default": 8080},
    {"name": "password", "label": "Password", "type": "secret", "min": 8, "max": 64, "generate": {"length": 20}},
    {"name": "api_key", "label": "API key", "type": "string", "sensitive": true},
    {"name": "accept", "label": "Accept", "type": "boolean", "required": true}
  ]
}`

func formTemplate(t testing.TB) *Template {
	t.Helper()
	tpl, err := ParseTemplate([]byte(formTemplateJSON))
	if err != nil {
		t.Fatal(err)
	}
	return tpl
}

// minimal is the smallest valid input for formTemplate.
func minimal() map[string]any { return map[string]any{"title": "ok", "accept": true} }

func with(kv ...any) map[string]any {
	m := minimal()
	for i := 0; i < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

func without(key string) map[string]any {
	m := minimal()
	delete(m, key)
	return m
}

func TestValidateRejects(t *testing.T) {
	tpl := formTemplate(t)
	tests := []struct {
		name        string
		in          map[string]any
		field, code string
	}{
		{"unknown key", with("colour", "red"), "colour", CodeUnknown},
		{"reserved client id", with("spawnit_client_id", "other-tenant"), "spawnit_client_id", CodeReserved},
		{"reserved service id", with("spawnit_service_id", "x"), "spawnit_service_id", CodeReserved},
		{"reserved service name", with("spawnit_service_name", "x"), "spawnit_service_name", CodeReserved},
		{"reserved prefix any case", with("SPAWNIT_CLIENT_ID", "x"), "SPAWNIT_CLIENT_ID", CodeReserved},
		{"reserved future name", with("spawnit_anything", "x"), "spawnit_anything", CodeReserved},
		{"missing required", without("title"), "title", CodeRequired},
		{"null required", with("title", nil), "title", CodeRequired},
		{"empty required", with("title", ""), "title", CodeRequired},
		{"string as number", with("title", json.Number("12")), "title", CodeType},
		{"string too short", with("title", "a"), "title", CodeLength},
		{"string too long", with("title", "abcdefghijk"), "title", CodeLength},
		{"pattern mismatch", with("title", "Abc"), "title", CodePattern},
		{"pattern is anchored", with("title", "abc\n"), "title", CodePattern},
		{"NUL in string", with("title", "ab\x00c"), "title", CodeInvalid},
		{"invalid UTF-8", with("title", "ab\xffc"), "title", CodeInvalid},
		{"huge string", with("api_key", strings.Repeat("k", MaxStringBytes+1)), "api_key", CodeLength},
		{"integer below min", with("replicas", json.Number("0")), "replicas", CodeRange},
		{"integer above max", with("replicas", 6), "replicas", CodeRange},
		{"integer fraction", with("replicas", json.Number("2.5")), "replicas", CodeType},
		{"integer as string", with("replicas", "3"), "replicas", CodeType},
		{"integer huge", with("replicas", json.Number("1e300")), "replicas", CodeType},
		{"integer overflow", with("replicas", json.Number("99999999999999999999")), "replicas", CodeType},
		{"number above max", with("ratio", json.Number("1.5")), "ratio", CodeRange},
		{"number as string", with("ratio", "0.5"), "ratio", CodeType},
		{"number not JSON", with("ratio", json.Number("NaN")), "ratio", CodeType},
		{"number hex", with("ratio", json.Number("0x1p-2")), "ratio", CodeType},
		{"number infinite", with("ratio", json.Number("1e400")), "ratio", CodeType},
		{"boolean as string", with("enabled", "true"), "enabled", CodeType},
		{"boolean as number", with("enabled", 1), "enabled", CodeType},
		{"enum not allowed", with("size", "XL"), "size", CodeEnum},
		{"enum wrong case", with("size", "m"), "size", CodeEnum},
		{"enum as number", with("size", 1), "size", CodeType},
		{"port zero", with("port", 0), "port", CodeRange},
		{"port negative", with("port", json.Number("-1")), "port", CodeRange},
		{"port too high", with("port", json.Number("65536")), "port", CodeRange},
		{"port fraction", with("port", 80.5), "port", CodeType},
		{"port as string", with("port", "80"), "port", CodeType},
		{"secret too short", with("password", "short"), "password", CodeLength},
		{"secret as number", with("password", 12345678), "password", CodeType},
		{"required boolean false", with("accept", false), "accept", CodeRequired},
		{"required boolean missing", without("accept"), "accept", CodeRequired},
		{"nested value", with("title", map[string]any{"a": "b"}), "title", CodeType},
		{"list value", with("replicas", []any{1}), "replicas", CodeType},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := tpl.Validate(tc.in)
			if err == nil {
				t.Fatalf("accepted: %v", out)
			}
			if !errors.Is(err, engine.ErrInvalidInput) {
				t.Fatalf("error does not wrap engine.ErrInvalidInput: %v", err)
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error is %T, want *ValidationError", err)
			}
			if len(ve.Fields) != 1 {
				t.Fatalf("want exactly one field error, got %+v", ve.Fields)
			}
			if got := ve.Fields[0]; got.Field != tc.field || got.Code != tc.code || got.Reason == "" {
				t.Fatalf("got %+v, want field %q code %q", got, tc.field, tc.code)
			}
		})
	}
}

func TestValidateListsEveryBadFieldAtOnce(t *testing.T) {
	tpl := formTemplate(t)
	_, err := tpl.Validate(map[string]any{
		"zzz":               1,
		"spawnit_client_id": "x",
		"replicas":          json.Number("9"),
		"size":              "XL",
		"port":              json.Number("70000"),
		"accept":            false,
	})
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v", err)
	}
	got := map[string]string{}
	for _, f := range ve.Fields {
		got[f.Field] = f.Code
	}
	want := map[string]string{
		"zzz": CodeUnknown, "spawnit_client_id": CodeReserved, "title": CodeRequired,
		"replicas": CodeRange, "size": CodeEnum, "port": CodeRange, "accept": CodeRequired,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("fields = %v, want %v", got, want)
	}
	msg := err.Error()
	for f := range want {
		if !strings.Contains(msg, f) {
			t.Errorf("message %q does not name %s", msg, f)
		}
	}
	if fe, ok := ve.Field("port"); !ok || !strings.Contains(fe.Reason, "65535") {
		t.Errorf("port reason = %q", fe.Reason)
	}
}

func TestValidationErrorNeverEchoesValues(t *testing.T) {
	tpl := formTemplate(t)
	secret := "s3cr3t-value-that-must-not-leak"
	_, err := tpl.Validate(with("password", secret[:5], "api_key", 42, "title", secret))
	if err == nil {
		t.Fatal("accepted")
	}
	if strings.Contains(err.Error(), "s3cr3t") {
		t.Fatalf("error echoes a value: %v", err)
	}
}

func TestValidateAppliesDefaultsAndGeneratesSecrets(t *testing.T) {
	tpl := formTemplate(t)
	out, err := tpl.Validate(minimal())
	if err != nil {
		t.Fatal(err)
	}
	pw, _ := out["password"].(string)
	delete(out, "password")
	want := map[string]any{
		"title": "ok", "replicas": int64(3), "ratio": json.Number("0.5"), "enabled": false,
		"size": "M", "port": int64(8080), "accept": true,
	}
	if !reflect.DeepEqual(out, want) {
		t.Fatalf("values = %#v\nwant %#v", out, want)
	}
	if len(pw) != 20 || strings.Trim(pw, secretAlphabet) != "" {
		t.Fatalf("generated password %q: want 20 letters and digits", pw)
	}
	again, err := tpl.Validate(with("password", ""))
	if err != nil {
		t.Fatal(err)
	}
	if again["password"] == pw || len(again["password"].(string)) != 20 {
		t.Fatalf("an empty secret must be generated afresh: %q then %q", pw, again["password"])
	}
	given, err := tpl.Validate(with("password", "my own password"))
	if err != nil || given["password"] != "my own password" {
		t.Fatalf("given secret: %v %v", given["password"], err)
	}
}

func TestValidateOptionalValues(t *testing.T) {
	tpl, err := ParseTemplate([]byte(withInputs(`[
		{"name":"note","label":"Note","type":"string","min":3},
		{"name":"key","label":"Key","type":"secret","min":8},
		{"name":"level","label":"Level","type":"integer"}
	]`)))
	if err != nil {
		t.Fatal(err)
	}
	// Absent, null and (for secrets) empty mean "not given": the module's default applies.
	for _, in := range []map[string]any{{}, {"note": nil, "key": nil, "level": nil}, {"key": ""}} {
		out, err := tpl.Validate(in)
		if err != nil || len(out) != 0 {
			t.Errorf("Validate(%v) = %v, %v; want nothing to render", in, out, err)
		}
	}
	// An empty string for a plain string field is a value like any other.
	if _, err := tpl.Validate(map[string]any{"note": ""}); err == nil {
		t.Error(`"" accepted for a string of at least 3 characters`)
	}
}

func TestValidateNormalizesNumbers(t *testing.T) {
	tpl := formTemplate(t)
	cases := []struct {
		field string
		in    any
		want  any
	}{
		{"replicas", 2, int64(2)},
		{"replicas", float64(2), int64(2)},
		{"replicas", json.Number("2"), int64(2)},
		{"replicas", json.Number("2.0"), int64(2)},
		{"replicas", uint8(4), int64(4)},
		{"port", uint16(443), int64(443)},
		{"port", json.Number("1e3"), int64(1000)},
		{"ratio", 0.25, json.Number("0.25")},
		{"ratio", json.Number("0.1"), json.Number("0.1")},
		{"ratio", 1, json.Number("1")},
	}
	for _, c := range cases {
		out, err := tpl.Validate(with(c.field, c.in))
		if err != nil {
			t.Errorf("%s=%#v: %v", c.field, c.in, err)
			continue
		}
		if !reflect.DeepEqual(out[c.field], c.want) {
			t.Errorf("%s=%#v: got %#v, want %#v", c.field, c.in, out[c.field], c.want)
		}
	}
}

func TestValidateUpdateKeepsSecrets(t *testing.T) {
	tpl := formTemplate(t)
	current := map[string]any{"title": "old", "password": "current-password", "api_key": "current-key", "replicas": json.Number("4")}
	for _, kept := range []any{nil, "", Masked} {
		in := minimal()
		if kept != nil {
			in["password"], in["api_key"] = kept, kept
		}
		out, err := tpl.ValidateUpdate(in, current)
		if err != nil {
			t.Fatal(err)
		}
		if out["password"] != "current-password" || out["api_key"] != "current-key" {
			t.Errorf("with %#v: secrets = %v / %v, want the current ones", kept, out["password"], out["api_key"])
		}
		// An update is a full replacement for everything else: replicas falls back to its default.
		if out["replicas"] != int64(3) || out["title"] != "ok" {
			t.Errorf("with %#v: replicas %v title %v", kept, out["replicas"], out["title"])
		}
	}
	out, err := tpl.ValidateUpdate(with("password", "a new password"), current)
	if err != nil || out["password"] != "a new password" {
		t.Fatalf("new secret: %v %v", out["password"], err)
	}
	// Nothing current: the secret is generated as on create.
	out, err = tpl.ValidateUpdate(minimal(), nil)
	if err != nil || len(out["password"].(string)) != 20 {
		t.Fatalf("no current value: %v %v", out["password"], err)
	}
}

func TestParseInputs(t *testing.T) {
	in, err := ParseInputs([]byte(`{"title":"ok","replicas":3,"ratio":0.10,"accept":true,"api_key":null}`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"title": "ok", "replicas": json.Number("3"), "ratio": json.Number("0.10"), "accept": true, "api_key": nil}
	if !reflect.DeepEqual(in, want) {
		t.Fatalf("got %#v", in)
	}
	out, err := formTemplate(t).Validate(in)
	if err != nil {
		t.Fatal(err)
	}
	if out["ratio"] != json.Number("0.10") {
		t.Fatalf("number was not kept verbatim: %#v", out["ratio"])
	}
	if _, err := ParseInputs([]byte(` { } `)); err != nil {
		t.Fatalf("empty object: %v", err)
	}
}

func TestParseInputsRejects(t *testing.T) {
	deep := `{"a":` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + `}`
	var many strings.Builder
	many.WriteString("{")
	for i := 0; i <= MaxInputFields; i++ {
		if i > 0 {
			many.WriteString(",")
		}
		many.WriteString(`"f` + strings.Repeat("x", i) + `":1`)
	}
	many.WriteString("}")
	tests := []struct {
		name, doc   string
		field, code string
	}{
		{"duplicate key", `{"title":"a","title":"b"}`, "title", CodeDuplicate},
		{"duplicate key escaped", `{"title":"a","\u0074itle":"b"}`, "title", CodeDuplicate},
		{"duplicate reserved key", `{"spawnit_client_id":"a","spawnit_client_id":"b"}`, "spawnit_client_id", CodeDuplicate},
		{"nested object", `{"title":{"x":1}}`, "title", CodeInvalid},
		{"nested array", `{"title":["x"]}`, "title", CodeInvalid},
		{"deeply nested", deep, "a", CodeLimit},
		{"too many fields", many.String(), "", CodeLimit},
		{"array top level", `[]`, "", CodeType},
		{"string top level", `"x"`, "", CodeType},
		{"number top level", `1`, "", CodeType},
		{"null top level", `null`, "", CodeType},
		{"trailing data", `{} {}`, "", CodeInvalid},
		{"trailing garbage", `{}x`, "", CodeInvalid},
		{"malformed", `{"a":}`, "", CodeInvalid},
		{"unterminated", `{"a":1`, "", CodeInvalid},
		{"empty", ``, "", CodeInvalid},
		{"too large", `{"a":"` + strings.Repeat("x", MaxInputBytes) + `"}`, "", CodeLimit},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := ParseInputs([]byte(tc.doc))
			if err == nil {
				t.Fatalf("accepted: %v", out)
			}
			var ve *ValidationError
			if !errors.As(err, &ve) || !errors.Is(err, engine.ErrInvalidInput) {
				t.Fatalf("error %T %v: want *ValidationError wrapping ErrInvalidInput", err, err)
			}
			if ve.Fields[0].Field != tc.field || ve.Fields[0].Code != tc.code {
				t.Fatalf("got %+v, want field %q code %q", ve.Fields, tc.field, tc.code)
			}
		})
	}
}

func TestParseInputsReportsEveryBadKey(t *testing.T) {
	_, err := ParseInputs([]byte(`{"a":1,"a":2,"b":{"c":[1,2]},"d":true,"d":false}`))
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v", err)
	}
	var got []string
	for _, f := range ve.Fields {
		got = append(got, f.Field+":"+f.Code)
	}
	sort.Strings(got)
	want := []string{"a:duplicate", "b:invalid", "d:duplicate"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

// hostileValues are stored and passed on literally (see TestRenderedValuesReachTofuLiterally
// for the same values through a real tofu).
var hostileValues = map[string]string{
	"v_interp":    "${path.module}",
	"v_func":      `${file("/etc/passwd")}`,
	"v_directive": "%{ if true }yes%{ endif }",
	"v_escaped":   "$${not} %%{ this }",
	"v_quotes":    `say "hi" and 'bye'`,
	"v_newlines":  "line1\nline2\r\nline3\ttab",
	"v_dash":      "-var=evil=1",
	"v_dashdash":  "--help",
	"v_backslash": `back\slash \n not a newline \"`,
	"v_html":      "<script>&amp;</script>",
	"v_unicode":   "é 漢字 🙂 \u202e rtl \u2028 sep",
	"v_spaces":    "  leading and trailing  ",
	"v_empty":     "",
	"v_json":      `{"spawnit_client_id": "other"}`,
}

func hostileTemplate(t testing.TB) *Template {
	t.Helper()
	names := make([]string, 0, len(hostileValues))
	for k := range hostileValues {
		names = append(names, k)
	}
	slices.Sort(names)
	var fields []string
	for _, n := range names {
		fields = append(fields, `{"name":"`+n+`","label":"L","type":"string"}`)
	}
	fields = append(fields, `{"name":"s_secret","label":"S","type":"secret"}`)
	tpl, err := ParseTemplate([]byte(withInputs("[" + strings.Join(fields, ",") + "]")))
	if err != nil {
		t.Fatal(err)
	}
	return tpl
}

const hostileSecret = "p@ss${x}\"'\n-%{y}"

func hostileInputs() map[string]any {
	in := map[string]any{"s_secret": hostileSecret}
	for k, v := range hostileValues {
		in[k] = v
	}
	return in
}

func TestRenderKeepsValuesLiteral(t *testing.T) {
	tpl := hostileTemplate(t)
	values, err := tpl.Validate(hostileInputs())
	if err != nil {
		t.Fatal(err)
	}
	server := ServerValues{TenantID: "acme", ServiceID: "svc-abcdefgh", ServiceName: `My "db" ${x}`}
	data, err := tpl.Render(values, server)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"s_secret": hostileSecret, VarTenantID: "acme", VarServiceID: "svc-abcdefgh", VarServiceName: `My "db" ${x}`}
	for k, v := range hostileValues {
		want[k] = v
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("rendered:\n%s", data)
	}
	if !strings.Contains(string(data), "<script>") {
		t.Errorf("HTML was escaped; the file is for tofu, not a browser:\n%s", data)
	}
}

func TestRenderTypesAndServerValues(t *testing.T) {
	tpl := formTemplate(t)
	values, err := tpl.Validate(with("password", "password1", "ratio", json.Number("0.125")))
	if err != nil {
		t.Fatal(err)
	}
	data, err := tpl.Render(values, ServerValues{TenantID: "c1", ServiceID: "s1", ServiceName: "n"})
	if err != nil {
		t.Fatal(err)
	}
	want := `{
  "accept": true,
  "enabled": false,
  "password": "password1",
  "port": 8080,
  "ratio": 0.125,
  "replicas": 3,
  "size": "M",
  "spawnit_client_id": "c1",
  "spawnit_service_id": "s1",
  "spawnit_service_name": "n",
  "title": "ok"
}
`
	if string(data) != want {
		t.Fatalf("got\n%s\nwant\n%s", data, want)
	}
}

func TestRenderRejects(t *testing.T) {
	tpl := formTemplate(t)
	good := ServerValues{TenantID: "c1", ServiceID: "s1", ServiceName: "n"}
	tests := []struct {
		name   string
		values map[string]any
		server ServerValues
		field  string
	}{
		{"user value for a server variable", map[string]any{VarTenantID: "other"}, good, VarTenantID},
		{"user value for a server variable, other case", map[string]any{"Spawnit_Service_ID": "x"}, good, "Spawnit_Service_ID"},
		{"unknown key", map[string]any{"nope": "x"}, good, "nope"},
		{"unvalidated bad value", map[string]any{"port": 70000}, good, "port"},
		{"unvalidated nested value", map[string]any{"title": map[string]any{}}, good, "title"},
		{"bad client id", nil, ServerValues{TenantID: "../x", ServiceID: "s1", ServiceName: "n"}, VarTenantID},
		{"bad service id", nil, ServerValues{TenantID: "c1", ServiceID: "a/b", ServiceName: "n"}, VarServiceID},
		{"empty service name", nil, ServerValues{TenantID: "c1", ServiceID: "s1"}, VarServiceName},
		{"multi-line service name", nil, ServerValues{TenantID: "c1", ServiceID: "s1", ServiceName: "a\nb"}, VarServiceName},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data, err := tpl.Render(tc.values, tc.server)
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Render = %s, %v; want a ValidationError", data, err)
			}
			if _, ok := ve.Field(tc.field); !ok {
				t.Fatalf("errors %+v do not name %s", ve.Fields, tc.field)
			}
		})
	}
}

func TestMaskAndRedact(t *testing.T) {
	tpl := formTemplate(t)
	if got := tpl.SensitiveNames(); !reflect.DeepEqual(got, []string{"password", "api_key"}) {
		t.Fatalf("SensitiveNames = %v", got)
	}
	values := map[string]any{"title": "ok", "password": "hunter2hunter2", "api_key": "", "replicas": int64(3)}
	masked := tpl.MaskValues(values)
	want := map[string]any{"title": "ok", "password": Masked, "api_key": "", "replicas": int64(3)}
	if !reflect.DeepEqual(masked, want) {
		t.Fatalf("masked = %v", masked)
	}
	if values["password"] != "hunter2hunter2" {
		t.Fatal("MaskValues changed its input")
	}
	secrets := SecretValues(map[string]any{"password": "hunter2hunter2", "api_key": "hunter2", "title": "public"}, tpl.SensitiveNames())
	r := redact.New(append(secrets, "abc")...)
	got := r.String("login with hunter2hunter2 or hunter2, abc stays, public stays")
	if got != "login with ******** or ********, abc stays, public stays" {
		t.Fatalf("Redact = %q", got)
	}
	if (&redact.Redactor{}).String("x") != "x" || (*redact.Redactor)(nil).String("x") != "x" {
		t.Fatal("a zero Redactor must not change text")
	}
}

func TestGenerateSecretIsUniform(t *testing.T) {
	const perChar = 2000
	counts := map[rune]int{}
	s := generateSecret(len(secretAlphabet) * perChar)
	for _, r := range s {
		counts[r]++
	}
	if len(counts) != len(secretAlphabet) {
		t.Fatalf("%d distinct characters, want %d", len(counts), len(secretAlphabet))
	}
	// A modulo bias would give the first 8 characters about 2500 draws each.
	for r, n := range counts {
		if n < perChar*9/10 || n > perChar*11/10 {
			t.Errorf("character %q drawn %d times, want about %d", r, n, perChar)
		}
	}
}

func FuzzParseInputs(f *testing.F) {
	f.Add([]byte(`{"title":"ok","replicas":3}`))
	f.Add([]byte(`{"a":1,"a":2}`))
	f.Add([]byte(`{"a":[[[{}]]]}`))
	f.Add([]byte(`[`))
	tpl := formTemplate(f)
	f.Fuzz(func(t *testing.T, raw []byte) {
		in, err := ParseInputs(raw)
		if err != nil {
			if !errors.As(err, new(*ValidationError)) {
				t.Fatalf("error %T: %v", err, err)
			}
			return
		}
		for k, v := range in {
			switch v.(type) {
			case nil, string, bool, json.Number:
			default:
				t.Fatalf("%q has non-scalar %T", k, v)
			}
		}
		values, err := tpl.Validate(in)
		if err != nil {
			return
		}
		if _, err := tpl.Render(values, ServerValues{TenantID: "c", ServiceID: "s", ServiceName: "n"}); err != nil {
			t.Fatalf("Render of validated values: %v", err)
		}
	})
}
