package ui

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"testing/fstest"
)

const testIndex = `<!doctype html><html><head><script type="module" src="/assets/index-abc123.js"></script></head><body><div id="app"></div></body></html>`

func builtSite() *site {
	return newSite(fstest.MapFS{
		".keep":                    {Data: nil},
		"index.html":               {Data: []byte(testIndex)},
		"favicon.svg":              {Data: []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`)},
		"assets/index-abc123.js":   {Data: []byte(`console.log("app")`)},
		"assets/index-def456.css":  {Data: []byte(`body{color:#000}`)},
		"assets/logo-0a1b2c.woff2": {Data: []byte{0, 1, 2}},
	})
}

func do(t *testing.T, h http.Handler, method, path string, header ...string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, "http://spawnit.test/", nil)
	// Set the decoded path directly, as a server would after parsing any request line,
	// so that paths httptest.NewRequest would refuse or clean can be tested too.
	req.URL.Path = path
	req.URL.RawPath = ""
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, r *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestServesFilesWithTypesAndCaching(t *testing.T) {
	h := builtSite()
	cases := []struct {
		path, ctype, cache, body string
	}{
		{"/", "text/html; charset=utf-8", "no-cache", testIndex},
		{"/index.html", "text/html; charset=utf-8", "no-cache", testIndex},
		{"/assets/index-abc123.js", "text/javascript; charset=utf-8", "public, max-age=31536000, immutable", `console.log("app")`},
		{"/assets/index-def456.css", "text/css; charset=utf-8", "public, max-age=31536000, immutable", `body{color:#000}`},
		{"/assets/logo-0a1b2c.woff2", "font/woff2", "public, max-age=31536000, immutable", "\x00\x01\x02"},
		{"/favicon.svg", "image/svg+xml", "no-cache", `<svg xmlns="http://www.w3.org/2000/svg"/>`},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			r := do(t, h, http.MethodGet, c.path)
			if r.StatusCode != http.StatusOK {
				t.Fatalf("status %d", r.StatusCode)
			}
			if got := r.Header.Get("Content-Type"); got != c.ctype {
				t.Errorf("Content-Type %q, want %q", got, c.ctype)
			}
			if got := r.Header.Get("Cache-Control"); got != c.cache {
				t.Errorf("Cache-Control %q, want %q", got, c.cache)
			}
			if got := r.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options %q", got)
			}
			if got := body(t, r); got != c.body {
				t.Errorf("body %q, want %q", got, c.body)
			}
		})
	}
}

func TestIndexHasSecurityHeaders(t *testing.T) {
	r := do(t, builtSite(), http.MethodGet, "/")
	if got := r.Header.Get("Content-Security-Policy"); got != ContentSecurityPolicy {
		t.Errorf("CSP %q", got)
	}
	if !strings.Contains(ContentSecurityPolicy, "script-src 'self'") || strings.Contains(ContentSecurityPolicy, "unsafe-inline") {
		t.Errorf("CSP must allow only the app's own scripts: %q", ContentSecurityPolicy)
	}
	if got := r.Header.Get("X-Frame-Options"); got != "DENY" {
		t.Errorf("X-Frame-Options %q", got)
	}
}

func TestSPAFallback(t *testing.T) {
	h := builtSite()
	for _, p := range []string{"/catalog", "/catalog/", "/catalog/httpecho", "/services", "/services/", "/services/abc",
		"/services/abc/jobs/j-1", "/some/unknown/page"} {
		r := do(t, h, http.MethodGet, p)
		if r.StatusCode != http.StatusOK {
			t.Errorf("%s: status %d, want 200", p, r.StatusCode)
			continue
		}
		if ct := r.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("%s: Content-Type %q", p, ct)
		}
		if cc := r.Header.Get("Cache-Control"); cc != "no-cache" {
			t.Errorf("%s: Cache-Control %q", p, cc)
		}
		if b := body(t, r); b != testIndex {
			t.Errorf("%s: body is not index.html: %q", p, b)
		}
	}
}

func TestNotFound(t *testing.T) {
	h := builtSite()
	for _, p := range []string{
		"/assets/missing-123.js", // a missing asset must not be answered with HTML
		"/missing.png",
		"/robots.txt",
		"/.keep", // the placeholder is not part of the site
		"/api", "/api/v1/nope", "/api/v1/services",
		"/auth", "/auth/unknown",
	} {
		r := do(t, h, http.MethodGet, p)
		if r.StatusCode != http.StatusNotFound {
			t.Errorf("%s: status %d, want 404", p, r.StatusCode)
		}
		if strings.Contains(body(t, r), "<div id=\"app\">") {
			t.Errorf("%s: answered with the app", p)
		}
	}
}

func TestNoDirectoryListing(t *testing.T) {
	h := newSite(fstest.MapFS{
		"index.html":          {Data: []byte(testIndex)},
		"assets/app-1.js":     {Data: []byte("x")},
		"images/logo.svg":     {Data: []byte("<svg/>")},
		"images/big/logo.png": {Data: []byte("png")},
	})
	for _, p := range []string{"/assets", "/assets/", "/images", "/images/", "/images/big/"} {
		r := do(t, h, http.MethodGet, p)
		if r.StatusCode != http.StatusNotFound {
			t.Errorf("%s: status %d, want 404", p, r.StatusCode)
		}
		if b := body(t, r); strings.Contains(b, "app-1.js") || strings.Contains(b, "logo") || strings.Contains(b, `id="app"`) {
			t.Errorf("%s lists the directory or answers with the app: %q", p, b)
		}
	}
}

func TestPathTraversalRefused(t *testing.T) {
	h := builtSite()
	for _, p := range []string{
		"/../ui.go",
		"/assets/../../ui.go",
		"/assets/../index.html",
		"/./index.html",
		"/assets/..",
		"/..",
		`/assets\..\..\ui.go`,
		"/assets/%2e%2e/ui.go", // only if a router left it encoded: still no file named so
		"//etc/passwd",
		"/assets//index-abc123.js",
		"/a\x00b",
		"relative",
	} {
		r := do(t, h, http.MethodGet, p)
		if r.StatusCode != http.StatusBadRequest && r.StatusCode != http.StatusNotFound {
			t.Errorf("%q: status %d, want 400 or 404", p, r.StatusCode)
		}
		b := body(t, r)
		if strings.Contains(b, "package ui") || strings.Contains(b, "root:") || strings.Contains(b, "console.log") {
			t.Errorf("%q leaked a file: %q", p, b)
		}
	}
}

func TestMethodsAndConditionalRequests(t *testing.T) {
	h := builtSite()
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
		r := do(t, h, m, "/")
		if r.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("%s: status %d, want 405", m, r.StatusCode)
		}
		if r.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("%s: Allow %q", m, r.Header.Get("Allow"))
		}
	}
	r := do(t, h, http.MethodHead, "/assets/index-abc123.js")
	if r.StatusCode != http.StatusOK || body(t, r) != "" {
		t.Errorf("HEAD: status %d", r.StatusCode)
	}
	etag := do(t, h, http.MethodGet, "/assets/index-abc123.js").Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	if r := do(t, h, http.MethodGet, "/assets/index-abc123.js", "If-None-Match", etag); r.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: status %d, want 304", r.StatusCode)
	}
	// index.html is revalidated by ETag too, and the fallback shares it.
	etag = do(t, h, http.MethodGet, "/").Header.Get("ETag")
	if r := do(t, h, http.MethodGet, "/services", "If-None-Match", etag); r.StatusCode != http.StatusNotModified {
		t.Errorf("fallback If-None-Match: status %d, want 304", r.StatusCode)
	}
}

func TestUnbuiltServesFallbackPage(t *testing.T) {
	s := newSite(fstest.MapFS{".keep": {Data: nil}})
	if s.built {
		t.Fatal("a dist with only .keep counts as built")
	}
	for _, p := range []string{"/", "/catalog", "/services/x"} {
		r := do(t, s, http.MethodGet, p)
		if r.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d", p, r.StatusCode)
		}
		if ct := r.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("%s: Content-Type %q", p, ct)
		}
		if b := body(t, r); !strings.Contains(b, "go -C tools tool task ui") {
			t.Errorf("%s: the fallback page does not say how to build: %q", p, b)
		}
	}
	for _, p := range []string{"/assets/index-abc123.js", "/.keep", "/api/v1/me"} {
		if r := do(t, s, http.MethodGet, p); r.StatusCode != http.StatusNotFound {
			t.Errorf("%s: status %d, want 404", p, r.StatusCode)
		}
	}
}

// The embedded dist/ is whatever was there at build time: built or only the placeholder.
func TestEmbeddedMatchesDisk(t *testing.T) {
	_, err := os.Stat("dist/index.html")
	onDisk := err == nil
	if Built() != onDisk {
		t.Fatalf("Built() = %v, dist/index.html on disk: %v", Built(), onDisk)
	}
	r := do(t, Handler(), http.MethodGet, "/")
	if r.StatusCode != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /: status %d, Content-Type %q", r.StatusCode, r.Header.Get("Content-Type"))
	}
	b := body(t, r)
	if Built() {
		if !strings.Contains(b, `<div id="app">`) {
			t.Errorf("the built index.html has no app root: %q", b)
		}
	} else if !strings.Contains(b, "go -C tools tool task ui") {
		t.Errorf("unbuilt: %q", b)
	}
}
