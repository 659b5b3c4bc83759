package api

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/spawnit/spawnit/pkg/platform"
)

// TestOpenAPIMatchesRoutes walks Echo's routes and the document's paths: every route is
// documented with its method, and the document names no route that does not exist.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	s := &Server{cfg: Config{Platform: &platform.Platform{}, Auth: NewSingleUser(),
		AuthHandlers: &AuthHandlers{Login: http.NotFoundHandler(), Callback: http.NotFoundHandler(), Logout: http.NotFoundHandler()},
		UI:           http.NotFoundHandler()}}
	s.metrics = NewMetrics()
	e := s.routes()

	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPIDocument, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi version %q", doc.OpenAPI)
	}
	param := regexp.MustCompile(`:([a-z]+)`)
	routes := map[string]bool{}
	for _, r := range e.Routes() {
		if r.Method == echo.RouteNotFound || r.Path == "/*" || r.Path == "/api/*" { // catch-alls: the UI, unknown API paths
			continue // Echo's catch-all of a group (404), and the browser app's pages
		}
		key := strings.ToLower(r.Method) + " " + param.ReplaceAllString(r.Path, "{$1}")
		routes[key] = true
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			if method == "parameters" {
				continue
			}
			documented[method+" "+path] = true
		}
	}
	for r := range routes {
		if !documented[r] {
			t.Errorf("route %s is not in openapi.json", r)
		}
	}
	for d := range documented {
		if !routes[d] {
			t.Errorf("openapi.json documents %s, which is not a route", d)
		}
	}
	if len(routes) < 20 {
		t.Fatalf("only %d routes found: %v", len(routes), slices.Sorted(func(yield func(string) bool) {
			for r := range routes {
				if !yield(r) {
					return
				}
			}
		}))
	}
}

// TestOpenAPIReferences checks that every $ref in the document resolves.
func TestOpenAPIReferences(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(openAPIDocument, &doc); err != nil {
		t.Fatal(err)
	}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if s, ok := x.(string); ok && k == "$ref" {
					var cur any = doc
					for _, part := range strings.Split(strings.TrimPrefix(s, "#/"), "/") {
						m, _ := cur.(map[string]any)
						cur = m[part]
					}
					if cur == nil {
						t.Errorf("unresolved $ref %s", s)
					}
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)
}
