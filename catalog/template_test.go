package catalog

import (
	"encoding/json"
	"errors"
	"io/fs"
	"path"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spawnit/spawnit/pkg/truncate"
)

var builtinIDs = []string{"gitea", "httpecho", "luanti", "mariadb", "minecraft", "nginx-static", "postgres", "redis"}

// loadBuiltin parses one built-in template.json.
func loadBuiltin(t *testing.T, id string) *Template {
	t.Helper()
	data, err := fs.ReadFile(Builtin(), path.Join(id, TemplateFile))
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := ParseTemplate(data)
	if err != nil {
		t.Fatalf("built-in %s: %v", id, err)
	}
	tpl.Targets = []string{"docker"}
	return tpl
}

// exported drops the parsed (unexported) state so templates compare by content.
func exported(t *Template) *Template {
	c := t.Clone()
	for i := range c.Inputs {
		c.Inputs[i].pattern, c.Inputs[i].def = nil, nil
	}
	c.Targets = nil
	return c
}

func TestBuiltinTemplatesParseAndRoundTrip(t *testing.T) {
	entries, err := fs.ReadDir(Builtin(), ".")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range entries {
		ids = append(ids, e.Name())
	}
	if !reflect.DeepEqual(ids, builtinIDs) {
		t.Fatalf("built-in templates = %v, want %v", ids, builtinIDs)
	}
	for _, id := range builtinIDs {
		t.Run(id, func(t *testing.T) {
			tpl := loadBuiltin(t, id)
			if tpl.ID != id {
				t.Fatalf("id %q stored under %q", tpl.ID, id)
			}
			data, err := json.Marshal(tpl)
			if err != nil {
				t.Fatal(err)
			}
			again, err := ParseTemplate(data)
			if err != nil {
				t.Fatalf("re-parse of marshalled template: %v\n%s", err, data)
			}
			if !reflect.DeepEqual(exported(tpl), exported(again)) {
				t.Fatalf("round trip changed the template:\n%+v\n%+v", exported(tpl), exported(again))
			}
			data2, _ := json.Marshal(again)
			if string(data) != string(data2) {
				t.Fatalf("marshal is not stable:\n%s\n%s", data, data2)
			}
			for _, f := range []string{"main.tf", "variables.tf", "outputs.tf", "versions.tf"} {
				if _, err := fs.Stat(Builtin(), path.Join(id, "modules", "docker", f)); err != nil {
					t.Errorf("modules/docker/%s: %v", f, err)
				}
			}
		})
	}
	if got := loadBuiltin(t, "httpecho").Category; got != "test" {
		t.Errorf("httpecho category = %q, want test", got)
	}
}

const validTemplateJSON = `{
  "id": "demo", "name": "Demo", "description": "d", "category": "test", "icon": "🧪", "version": "1.0.0",
  "inputs": [
    {"name": "port", "label": "Port", "type": "port", "default": 8080},
    {"name": "pw", "label": "Password", "type": "secret", "generate": {}}
  ]
}`

// withInputs returns a template document with the given inputs array.
func withInputs(inputs string) string {
	return `{"id":"demo","name":"Demo","description":"","category":"test","version":"1","inputs":` + inputs + `}`
}

// withReadiness returns a valid template document with the given readiness array.
func withReadiness(checks string) string {
	return strings.Replace(validTemplateJSON, `"version"`, `"readiness":`+checks+`,"version"`, 1)
}

func TestParseTemplateReadiness(t *testing.T) {
	tpl, err := ParseTemplate([]byte(withReadiness(`[
		{"type":"http","output":"endpoint","path":"/health?full=1","status":204,"timeout":"90s"},
		{"type":"tcp","output":"endpoint"},
		{"type":"docker_health","timeout":"2m"}]`)))
	if err != nil {
		t.Fatal(err)
	}
	if len(tpl.Readiness) != 3 || !tpl.AcceptsDrift() {
		t.Fatalf("readiness %+v, accepts drift %v", tpl.Readiness, tpl.AcceptsDrift())
	}
	h, tcp, dh := tpl.Readiness[0], tpl.Readiness[1], tpl.Readiness[2]
	if h.TimeoutDuration() != 90*time.Second || h.WantStatus() != 204 || h.Path != "/health?full=1" {
		t.Errorf("http check %+v timeout %s", h, h.TimeoutDuration())
	}
	if tcp.TimeoutDuration() != DefaultReadinessTimeout || tcp.WantStatus() != 200 {
		t.Errorf("tcp check defaults: timeout %s", tcp.TimeoutDuration())
	}
	if dh.TimeoutDuration() != 2*time.Minute {
		t.Errorf("docker_health timeout %s", dh.TimeoutDuration())
	}
	// A clone is deep: changing it leaves the original alone.
	c := tpl.Clone()
	c.Readiness[0].Path = "/changed"
	if tpl.Readiness[0].Path != "/health?full=1" {
		t.Error("Clone shares the readiness checks")
	}

	no, err := ParseTemplate([]byte(strings.Replace(validTemplateJSON, `"version"`, `"accept_drift":false,"version"`, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if no.AcceptsDrift() || no.Clone().AcceptsDrift() {
		t.Error("accept_drift false is not kept")
	}
}

func TestParseTemplateAcceptsValid(t *testing.T) {
	tpl, err := ParseTemplate([]byte(validTemplateJSON))
	if err != nil {
		t.Fatal(err)
	}
	if f, _ := tpl.Field("pw"); f.SecretLength() != DefaultSecretLength || !f.IsSensitive() {
		t.Fatalf("secret field: length %d sensitive %v", f.SecretLength(), f.IsSensitive())
	}
}

func TestParseTemplateRejects(t *testing.T) {
	deep := strings.Repeat(`{"a":`, 50) + "1" + strings.Repeat("}", 50)
	many := make([]string, MaxTemplateFields+1)
	for i := range many {
		many[i] = `{"name":"f` + strings.Repeat("x", i%5) + string(rune('a'+i%26)) + string(rune('a'+i/26)) + `","label":"F","type":"string"}`
	}
	tests := []struct {
		name, doc, want string
	}{
		{"not json", `{`, "template.json"},
		{"empty", ``, "template.json"},
		{"array", `[]`, "template.json"},
		{"trailing data", validTemplateJSON + `{}`, "after the JSON document"},
		{"unknown top-level field", strings.Replace(validTemplateJSON, `"version"`, `"providers":["docker"],"version"`, 1), "unknown field"},
		{"unknown field in input", withInputs(`[{"name":"a","label":"A","type":"string","colour":"red"}]`), "unknown field"},
		{"duplicate key", `{"id":"demo","id":"other","name":"Demo","category":"test","version":"1","inputs":[]}`, "duplicate key"},
		{"duplicate key in input", withInputs(`[{"name":"a","name":"b","label":"A","type":"string"}]`), "duplicate key"},
		{"nested too deep", withInputs(`[{"name":"a","label":"A","type":"string","default":` + deep + `}]`), "nested deeper"},
		{"too large", `{"id":"` + strings.Repeat("a", MaxTemplateBytes) + `"}`, "larger than"},
		{"bad id", strings.Replace(validTemplateJSON, `"demo"`, `"../x"`, 1), "id:"},
		{"upper-case id", strings.Replace(validTemplateJSON, `"demo"`, `"Demo"`, 1), "id:"},
		{"missing name", strings.Replace(validTemplateJSON, `"name": "Demo",`, ``, 1), "name: required"},
		{"multi-line name", strings.Replace(validTemplateJSON, `"Demo"`, `"De\nmo"`, 1), "name: required"},
		{"bad version", strings.Replace(validTemplateJSON, `"1.0.0"`, `"1.0 beta"`, 1), "version"},
		{"bad category", strings.Replace(validTemplateJSON, `"category": "test"`, `"category": "Game Servers"`, 1), "category"},
		{"too many fields", withInputs("[" + strings.Join(many, ",") + "]"), "more than"},
		{"field name starts with digit", withInputs(`[{"name":"1a","label":"A","type":"string"}]`), "not a valid variable name"},
		{"field name with dot", withInputs(`[{"name":"a.b","label":"A","type":"string"}]`), "not a valid variable name"},
		{"field name non-ascii", withInputs(`[{"name":"pаssword","label":"A","type":"string"}]`), "not a valid variable name"},
		{"reserved by spawnit", withInputs(`[{"name":"spawnit_client_id","label":"A","type":"string"}]`), "reserved"},
		{"reserved by spawnit any case", withInputs(`[{"name":"SpawnIt_x","label":"A","type":"string"}]`), "reserved"},
		{"reserved by tofu", withInputs(`[{"name":"count","label":"A","type":"string"}]`), "reserved by OpenTofu"},
		{"duplicate field", withInputs(`[{"name":"a","label":"A","type":"string"},{"name":"a","label":"A","type":"string"}]`), "duplicate name"},
		{"missing label", withInputs(`[{"name":"a","type":"string"}]`), "label"},
		{"unknown type", withInputs(`[{"name":"a","label":"A","type":"float"}]`), "type"},
		{"pattern on integer", withInputs(`[{"name":"a","label":"A","type":"integer","pattern":"[0-9]+"}]`), "pattern"},
		{"bad pattern", withInputs(`[{"name":"a","label":"A","type":"string","pattern":"(["}]`), "pattern"},
		{"min greater than max", withInputs(`[{"name":"a","label":"A","type":"integer","min":5,"max":1}]`), "min is greater than max"},
		{"fractional length", withInputs(`[{"name":"a","label":"A","type":"string","min":1.5}]`), "whole number"},
		{"negative length", withInputs(`[{"name":"a","label":"A","type":"string","min":-1}]`), "negative"},
		{"port bound out of range", withInputs(`[{"name":"a","label":"A","type":"port","max":70000}]`), "1-65535"},
		{"min on boolean", withInputs(`[{"name":"a","label":"A","type":"boolean","min":0}]`), "not allowed"},
		{"enum without values", withInputs(`[{"name":"a","label":"A","type":"enum"}]`), "needs 1 to"},
		{"enum duplicate value", withInputs(`[{"name":"a","label":"A","type":"enum","enum":["x","x"]}]`), "duplicate value"},
		{"enum values on string", withInputs(`[{"name":"a","label":"A","type":"string","enum":["x"]}]`), "only enum fields"},
		{"default not in enum", withInputs(`[{"name":"a","label":"A","type":"enum","enum":["x"],"default":"y"}]`), "default: must be one of"},
		{"default out of range", withInputs(`[{"name":"a","label":"A","type":"integer","max":3,"default":4}]`), "default: must be at most"},
		{"default wrong type", withInputs(`[{"name":"a","label":"A","type":"boolean","default":"yes"}]`), "default: must be true or false"},
		{"default port out of range", withInputs(`[{"name":"a","label":"A","type":"port","default":0}]`), "default: must be a port"},
		{"default not matching pattern", withInputs(`[{"name":"a","label":"A","type":"string","pattern":"[a-z]+","default":"A1"}]`), "default: does not match"},
		{"secret default", withInputs(`[{"name":"a","label":"A","type":"secret","default":"hunter2"}]`), "use generate"},
		{"required with default", withInputs(`[{"name":"a","label":"A","type":"string","required":true,"default":"x"}]`), "required field has no default"},
		{"generate on string", withInputs(`[{"name":"a","label":"A","type":"string","generate":{}}]`), "only secret fields"},
		{"generate too short", withInputs(`[{"name":"a","label":"A","type":"secret","generate":{"length":5}}]`), "length must be"},
		{"required generated secret", withInputs(`[{"name":"a","label":"A","type":"secret","required":true,"generate":{}}]`), "cannot be required"},
		{"readiness unknown type", withReadiness(`[{"type":"ping"}]`), "readiness[0]: type"},
		{"readiness http without output", withReadiness(`[{"type":"http"}]`), "output: required"},
		{"readiness bad output name", withReadiness(`[{"type":"tcp","output":"a b"}]`), "not an output name"},
		{"readiness docker_health with output", withReadiness(`[{"type":"docker_health","output":"endpoint"}]`), "takes none"},
		{"readiness tcp with status", withReadiness(`[{"type":"tcp","output":"endpoint","status":200}]`), "only http checks"},
		{"readiness bad status", withReadiness(`[{"type":"http","output":"endpoint","status":42}]`), "not an HTTP status"},
		{"readiness relative path", withReadiness(`[{"type":"http","output":"endpoint","path":"health"}]`), "path: must start"},
		{"readiness absolute url path", withReadiness(`[{"type":"http","output":"endpoint","path":"//evil.test/x"}]`), "path: must start"},
		{"readiness path with space", withReadiness(`[{"type":"http","output":"endpoint","path":"/a b"}]`), "path: must not contain"},
		{"readiness bad timeout", withReadiness(`[{"type":"tcp","output":"endpoint","timeout":"soon"}]`), "timeout"},
		{"readiness timeout too long", withReadiness(`[{"type":"tcp","output":"endpoint","timeout":"2h"}]`), "between 1s"},
		{"readiness unknown key", withReadiness(`[{"type":"tcp","output":"endpoint","retries":3}]`), "unknown field"},
		{"readiness too many", withReadiness("[" + strings.Repeat(`{"type":"docker_health"},`, MaxReadinessChecks) + `{"type":"docker_health"}]`), "more than"},
		{"accept_drift not a bool", strings.Replace(validTemplateJSON, `"version"`, `"accept_drift":"no","version"`, 1), "template.json"},
		{"icon with url", strings.Replace(validTemplateJSON, `"🧪"`, `"https://example.com/i.png"`, 1), "icon"},
		{"icon svg external image", strings.Replace(validTemplateJSON, `"🧪"`, `"<svg xmlns=\"http://www.w3.org/2000/svg\"><image href=\"https://x.test/a.png\"/></svg>"`, 1), "icon"},
		{"icon svg script", strings.Replace(validTemplateJSON, `"🧪"`, `"<svg><script>alert(1)</script></svg>"`, 1), "icon"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tpl, err := ParseTemplate([]byte(tc.doc))
			if err == nil {
				t.Fatalf("accepted: %+v", tpl)
			}
			if !errors.Is(err, ErrInvalidTemplate) {
				t.Fatalf("error does not wrap ErrInvalidTemplate: %v", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

func TestParseTemplateReportsEveryProblem(t *testing.T) {
	_, err := ParseTemplate([]byte(withInputs(`[{"name":"1a","label":"A","type":"string"},{"name":"b","label":"B","type":"port","default":70000}]`)))
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"inputs[0]", "not a valid variable name", "inputs[1] (b)", "must be a port"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestCheckIcon(t *testing.T) {
	good := []string{
		"",
		"🐘",
		"⛏️",
		`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"><rect width="1" height="1" fill="url(#g)"/></svg>`,
		`<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"><use xlink:href="#a"/></svg>`,
		"data:image/png;base64,iVBORw0KGgo=",
		"data:image/svg+xml,%3Csvg%20xmlns%3D%22http%3A%2F%2Fwww.w3.org%2F2000%2Fsvg%22%3E%3C%2Fsvg%3E",
	}
	for _, icon := range good {
		if err := checkIcon(icon); err != nil {
			t.Errorf("checkIcon(%q) = %v, want ok", icon, err)
		}
	}
	bad := []string{
		"http://example.com/x.png",
		"//example.com/x.png",
		"a long text that is not an icon",
		"<b>x</b>",
		`<svg><image href="//evil.test/x.png"/></svg>`,
		`<svg><image href = 'x.png'/></svg>`,
		`<svg><rect style="fill:url(https://evil.test/x)"/></svg>`,
		`<svg><a href="javascript:alert(1)">x</a></svg>`,
		`<svg onload="x"><foreignObject></foreignObject></svg>`,
		// base64 of <svg><image href="https://e.test/a.png"/></svg>
		"data:image/svg+xml;base64,PHN2Zz48aW1hZ2UgaHJlZj0iaHR0cHM6Ly9lLnRlc3QvYS5wbmciLz48L3N2Zz4=",
		"data:image/svg+xml,%3Csvg%3E%3Cimage%20href%3D%22https%3A%2F%2Fe.test%2Fa.png%22%2F%3E%3C%2Fsvg%3E",
		"data:image/png;base64,iVBOR w0KGgo=",
		strings.Repeat("x", MaxIconBytes+1),
	}
	for _, icon := range bad {
		if err := checkIcon(icon); err == nil {
			t.Errorf("checkIcon(%q) accepted", truncate.String(icon, 80))
		}
	}
}

func TestValidVariableName(t *testing.T) {
	for _, ok := range []string{"a", "_a", "db_name", "max-players", "A1"} {
		if err := ValidVariableName(ok); err != nil {
			t.Errorf("%q rejected: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "1a", "-a", "a b", "a.b", "a/b", "é", "source", "version", "for_each", "spawnit_service_id", strings.Repeat("a", 65)} {
		if ValidVariableName(bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestCloneIsDeep(t *testing.T) {
	tpl := loadBuiltin(t, "minecraft")
	c := tpl.Clone()
	c.Inputs[0].Label = "changed"
	c.Inputs[2].Enum[0] = "changed"
	c.Targets[0] = "changed"
	f, _ := tpl.Field("server_type")
	if tpl.Inputs[0].Label == "changed" || f.Enum[0] == "changed" || tpl.Targets[0] == "changed" {
		t.Fatal("Clone shares memory with the original")
	}
}

func FuzzParseTemplate(f *testing.F) {
	f.Add([]byte(validTemplateJSON))
	f.Add([]byte(withInputs(`[{"name":"a","label":"A","type":"enum","enum":["x"],"default":"x"}]`)))
	f.Add([]byte(`{"id":"x","inputs":[{"min":1e400}]}`))
	f.Add([]byte(`[[[[[[[[[[[[`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tpl, err := ParseTemplate(data)
		if err != nil {
			if !errors.Is(err, ErrInvalidTemplate) {
				t.Fatalf("error does not wrap ErrInvalidTemplate: %v", err)
			}
			return
		}
		if _, err := tpl.Validate(map[string]any{}); err != nil && !errors.As(err, new(*ValidationError)) {
			t.Fatalf("Validate on a parsed template: %v", err)
		}
	})
}
