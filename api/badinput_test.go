package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/spawnit/spawnit/pkg/apiv1"
)

// TestHostileIDs: ids that could escape a path, hide a NUL or look like another id are
// rejected (400) by the allow-list before anything uses them, on every route that takes
// one, even those that would otherwise have matched another route.
func TestHostileIDs(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	const job = "0b6c1d1e-0000-4000-8000-000000000001"
	ids := map[string]string{
		"dot-dot-slash":      "..%2Fx",
		"dot-dot-slash-deep": "..%2F..%2F..%2Fetc%2Fpasswd",
		"dot-dot":            "..",
		"encoded-dots":       "%2e%2e",
		"slash":              "a%2Fb",
		"absolute":           "%2Fetc",
		"nul":                "%00",
		"nul-suffix":         "svc%00x",
		"backslash":          "a%5Cb",
		"space":              "a%20b",
		"upper-case":         "SVC-1",
		"leading-dash":       "-svc",
		"too-long":           strings.Repeat("a", 64),
		"very-long":          strings.Repeat("a", 5000),
		"cyrillic-a":         "%D0%B0pp",  // "аpp" with a Cyrillic а
		"fullwidth":          "%EF%BD%81", // fullwidth a
		"dotless-i":          "%C4%B1d",
		"zero-width":         "svc%E2%80%8B",
		"newline":            "svc%0Ax",
	}
	routes := []struct{ method, path string }{
		{"GET", "/api/v1/services/{id}"},
		{"PUT", "/api/v1/services/{id}/inputs"},
		{"DELETE", "/api/v1/services/{id}"},
		{"POST", "/api/v1/services/{id}/plan"},
		{"POST", "/api/v1/services/{id}/apply"},
		{"POST", "/api/v1/services/{id}/destroy"},
		{"GET", "/api/v1/services/{id}/jobs"},
		{"GET", "/api/v1/services/{id}/jobs/" + job},
		{"GET", "/api/v1/services/{id}/jobs/" + job + "/events"},
		{"POST", "/api/v1/services/{id}/jobs/" + job + "/cancel"},
		{"GET", "/api/v1/services/{id}/drift"},
		{"POST", "/api/v1/services/{id}/drift"},
		{"GET", "/api/v1/catalog/{id}"},
		{"GET", "/api/v1/services/svc-ok/jobs/{id}"},
		{"GET", "/api/v1/services/svc-ok/jobs/{id}/events"},
		{"POST", "/api/v1/services/svc-ok/jobs/{id}/cancel"},
	}
	for name, id := range ids {
		for _, r := range routes {
			t.Run(name+" "+r.method+" "+r.path, func(t *testing.T) {
				path := strings.ReplaceAll(r.path, "{id}", id)
				var body any
				hdr := map[string]string{"If-Match": `"x"`}
				if r.method == "PUT" {
					body = map[string]any{"inputs": map[string]any{}}
				}
				res := h.do(req{method: r.method, path: path, body: body, headers: hdr})
				if res.status != 400 {
					t.Fatalf("status %d: %s", res.status, res.body)
				}
				if e := res.apiError(t); e.Error.Code != apiv1.CodeBadRequest {
					t.Fatalf("error %+v", e)
				}
				if strings.Contains(string(res.body), "passwd") && !strings.Contains(string(res.body), `\"`) {
					t.Fatalf("answer echoes the hostile id unquoted: %s", res.body)
				}
			})
		}
	}
	// A valid id that names nothing is a plain 404.
	if e := h.must(404, req{method: "GET", path: "/api/v1/services/svc-nothing"}).apiError(t); e.Error.Code != apiv1.CodeNotFound {
		t.Fatalf("%+v", e)
	}
}

// TestBadBodies: malformed, hostile or oversized request documents get a precise 4xx
// with field-level errors, and never reach the catalog.
func TestBadBodies(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	deep := `{"template":"bulk","inputs":{"note":` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + `}}`
	deepLabels := `{"template":"bulk","labels":` + strings.Repeat(`{"a":`, 40) + `1` + strings.Repeat("}", 40) + `}`
	manyInputs := func() string {
		var b strings.Builder
		b.WriteString(`{"template":"bulk","inputs":{`)
		for i := 0; i < 200; i++ {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(`"k` + strings.Repeat("x", i) + `":1`)
		}
		b.WriteString("}}")
		return b.String()
	}()
	cases := []struct {
		name        string
		body        string
		contentType string
		status      int
		code        string
		field       string // a field error expected (with fieldCode)
		fieldCode   string
	}{
		{"unknown input", `{"template":"bulk","inputs":{"nope":1}}`, "", 400, apiv1.CodeValidation, "inputs.nope", "unknown"},
		{"reserved input", `{"template":"bulk","inputs":{"spawnit_client_id":"other-tenant"}}`, "", 400, apiv1.CodeValidation, "inputs.spawnit_client_id", "reserved"},
		{"duplicate input", `{"template":"bulk","inputs":{"note":"a","note":"b"}}`, "", 400, apiv1.CodeValidation, "inputs.note", "duplicate"},
		{"duplicate top-level key", `{"template":"bulk","template":"httpecho","inputs":{}}`, "", 400, apiv1.CodeValidation, "template", "duplicate"},
		{"duplicate label", `{"template":"bulk","labels":{"a":"1","a":"2"}}`, "", 400, apiv1.CodeValidation, "labels.a", "duplicate"},
		{"unknown field", `{"template":"bulk","module_source":"git::https://evil"}`, "", 400, apiv1.CodeValidation, "module_source", "unknown"},
		{"nested input", `{"template":"bulk","inputs":{"note":{"a":1}}}`, "", 400, apiv1.CodeValidation, "inputs.note", "invalid"},
		{"wrong type", `{"template":5}`, "", 400, apiv1.CodeValidation, "template", "type"},
		{"bad input type", `{"template":"bulk","inputs":{"items":"many"}}`, "", 400, apiv1.CodeValidation, "inputs.items", "type"},
		{"out of range", `{"template":"bulk","inputs":{"items":-1}}`, "", 400, apiv1.CodeValidation, "inputs.items", "range"},
		{"unknown template", `{"template":"nope"}`, "", 400, apiv1.CodeValidation, "template", "unknown"},
		{"target and provider differ", `{"template":"bulk","target":"docker","provider":"aws"}`, "", 400, apiv1.CodeValidation, "target", "invalid"},
		{"target not enabled", `{"template":"bulk","target":"nowhere"}`, "", 400, apiv1.CodeValidation, "target", "enum"},
		{"provider not enabled", `{"template":"bulk","provider":"nowhere"}`, "", 400, apiv1.CodeValidation, "provider", "enum"},
		{"bad target id", `{"template":"bulk","target":"Bad Name"}`, "", 400, apiv1.CodeValidation, "target", "invalid"},
		{"bad provider id", `{"template":"bulk","provider":"Bad Name"}`, "", 400, apiv1.CodeValidation, "provider", "invalid"},
		{"too many inputs", manyInputs, "", 400, apiv1.CodeValidation, "inputs", "limit"},
		{"deeply nested input", deep, "", 400, apiv1.CodeValidation, "inputs.note", "limit"},
		{"deeply nested labels", deepLabels, "", 400, apiv1.CodeValidation, "labels.a", "limit"},
		{"malformed", `{"template":`, "", 400, apiv1.CodeValidation, "", "invalid"},
		{"not an object", `["bulk"]`, "", 400, apiv1.CodeValidation, "", "type"},
		{"trailing data", `{"template":"bulk"} {"template":"bulk"}`, "", 400, apiv1.CodeValidation, "", "invalid"},
		{"empty body", ``, "", 400, apiv1.CodeBadRequest, "", ""},
		{"oversized", `{"template":"bulk","name":"` + strings.Repeat("x", 2<<20) + `"}`, "", 413, apiv1.CodeTooLarge, "", ""},
		{"text/plain", `{"template":"bulk"}`, "text/plain", 415, apiv1.CodeUnsupportedMedia, "", ""},
		{"form", `template=bulk`, "application/x-www-form-urlencoded", 415, apiv1.CodeUnsupportedMedia, "", ""},
		{"json in another charset", `{"template":"bulk"}`, "application/json; charset=latin1", 415, apiv1.CodeUnsupportedMedia, "", ""},
		{"no content type", `{"template":"bulk"}`, "-", 415, apiv1.CodeUnsupportedMedia, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			hdr := map[string]string{}
			switch c.contentType {
			case "":
			case "-":
				hdr["Content-Type"] = ""
			default:
				hdr["Content-Type"] = c.contentType
			}
			var body any
			if c.body != "" {
				body = c.body
			}
			res := h.do(req{method: "POST", path: "/api/v1/services", body: body, headers: hdr})
			if res.status != c.status {
				t.Fatalf("status %d, want %d: %.300s", res.status, c.status, res.body)
			}
			e := res.apiError(t)
			if e.Error.Code != c.code {
				t.Fatalf("code %q, want %q: %+v", e.Error.Code, c.code, e)
			}
			if c.fieldCode == "" {
				return
			}
			for _, f := range e.Error.Fields {
				if f.Field == c.field && f.Code == c.fieldCode {
					return
				}
			}
			t.Fatalf("no field error %s/%s in %+v", c.field, c.fieldCode, e.Error.Fields)
		})
	}
	// Nothing was created by any of them.
	var list apiv1.ServiceList
	h.must(200, req{method: "GET", path: "/api/v1/services"}).decode(t, &list)
	if len(list.Services) != 0 {
		t.Fatalf("bad requests created services: %+v", list.Services)
	}
}

// TestChunkedOversizedBody: a body without Content-Length is cut at the limit too.
func TestChunkedOversizedBody(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	pr := strings.NewReader(`{"template":"bulk","name":"` + strings.Repeat("x", 3<<20) + `"}`)
	r, _ := http.NewRequest("POST", h.url+"/api/v1/services", struct{ *strings.Reader }{pr}) // hides the length
	r.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if r.ContentLength != 0 || res.StatusCode != 413 {
		t.Fatalf("content length %d, status %d", r.ContentLength, res.StatusCode)
	}
}

// TestLiteralValues: template syntax, quotes, newlines and leading dashes are kept as
// typed (the lifecycle test shows OpenTofu receives them so).
func TestLiteralValues(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	for _, v := range []string{"${file(\"/etc/passwd\")}", "%{ for x in y }${x}%{ endfor }", "line1\nline2\r\n", `"quoted" 'single'`, "-var=x=1", "--help", "$${x}"} {
		svc := h.createService("", "bulk", map[string]any{"note": v})
		var got apiv1.Service
		h.must(200, req{method: "GET", path: "/api/v1/services/" + svc.ID}).decode(t, &got)
		if got.Inputs["note"] != v {
			t.Errorf("stored %q as %q", v, got.Inputs["note"])
		}
	}
}

// TestBadHeadersAndQueries: the other inputs of a request are checked as strictly.
func TestBadHeadersAndQueries(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	svc := h.createService("", "bulk", nil)
	p := "/api/v1/services/" + svc.ID
	job := "0b6c1d1e-0000-4000-8000-000000000001"
	cases := []struct {
		name   string
		r      req
		status int
		code   string
	}{
		{"wait not a bool", req{method: "POST", path: p + "/plan?wait=maybe"}, 400, apiv1.CodeBadRequest},
		{"destroy not a bool", req{method: "DELETE", path: p + "?destroy=yes-please"}, 400, apiv1.CodeBadRequest},
		{"reveal not a bool", req{method: "GET", path: p + "/jobs/" + job + "?reveal=2"}, 400, apiv1.CodeBadRequest},
		{"idempotency key too long", req{method: "POST", path: p + "/plan", headers: map[string]string{"Idempotency-Key": strings.Repeat("k", 300)}}, 400, apiv1.CodeBadRequest},
		{"idempotency key not ASCII", req{method: "POST", path: p + "/plan", headers: map[string]string{"Idempotency-Key": "clé"}}, 400, apiv1.CodeBadRequest},
		{"last event id not a number", req{method: "GET", path: p + "/jobs/" + job + "/events", headers: map[string]string{"Last-Event-ID": "abc"}}, 400, apiv1.CodeBadRequest},
		{"after negative", req{method: "GET", path: p + "/jobs/" + job + "/events?after=-1"}, 400, apiv1.CodeBadRequest},
		{"job body with fields", req{method: "POST", path: p + "/plan", body: map[string]any{"var_file": "/etc/passwd"}}, 400, apiv1.CodeValidation},
		{"cancel body unknown field", req{method: "POST", path: p + "/jobs/" + job + "/cancel", body: map[string]any{"force": true, "signal": 9}}, 400, apiv1.CodeValidation},
		{"update without If-Match", req{method: "PUT", path: p + "/inputs", body: map[string]any{"inputs": map[string]any{}}}, 428, apiv1.CodePreconditionNeeded},
		{"update with If-Match *", req{method: "PUT", path: p + "/inputs", body: map[string]any{"inputs": map[string]any{}}, headers: map[string]string{"If-Match": "*"}}, 400, apiv1.CodeBadRequest},
		{"update with stale If-Match", req{method: "PUT", path: p + "/inputs", body: map[string]any{"inputs": map[string]any{}}, headers: map[string]string{"If-Match": `"stale"`}}, 412, apiv1.CodePreconditionFailed},
		{"update with unknown input", req{method: "PUT", path: p + "/inputs", body: map[string]any{"inputs": map[string]any{"nope": 1}}, headers: map[string]string{"If-Match": `"` + svc.ETag + `"`}}, 400, apiv1.CodeValidation},
		{"unknown route", req{method: "GET", path: "/api/v1/nothing"}, 404, apiv1.CodeNotFound},
		{"unauthenticated", req{method: "GET", path: "/api/v1/services", headers: map[string]string{"X-Test-Unauthenticated": "1"}}, 401, apiv1.CodeUnauthenticated},
		{"csrf", req{method: "POST", path: p + "/plan", headers: map[string]string{"X-Test-Bad-CSRF": "1"}}, 403, apiv1.CodeCSRF},
		// A session store that does not answer is not a signed-out browser.
		{"session store down", req{method: "GET", path: "/api/v1/me", headers: map[string]string{"X-Test-Sessions-Down": "1"}}, 503, apiv1.CodeUnavailable},
		{"session store down at the CSRF check", req{method: "POST", path: p + "/plan", headers: map[string]string{"X-Test-Sessions-Down-CSRF": "1"}}, 503, apiv1.CodeUnavailable},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := h.do(c.r)
			if res.status != c.status {
				t.Fatalf("status %d, want %d: %s", res.status, c.status, res.body)
			}
			if e := res.apiError(t); e.Error.Code != c.code {
				t.Fatalf("code %q, want %q", e.Error.Code, c.code)
			}
		})
	}
}
