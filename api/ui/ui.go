// Package ui serves SpawnIt's browser UI: the single-page app built by Vite from web/
// into dist/ (`cd api/ui/web && npm ci && npm run build`, or `go -C tools tool task ui`) and
// embedded into the binary.
//
// Handler answers GET and HEAD only. A path naming a built file gets that file with its
// content type; Vite's content-hashed files under /assets/ are cached for a year, every
// other file (index.html first of all) is revalidated on each use. Any other path that
// looks like a page of the app (no file extension, not under /assets/, /api/ or /auth/)
// gets index.html, so the app's own URLs survive a reload; everything else is 404.
// Directories are never listed and paths with ".." segments are refused.
//
// Before the first build dist/ holds only a placeholder: Built reports false and
// Handler answers every page with a short note saying how to build the UI.
package ui

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"
)

//go:embed all:dist
var distFS embed.FS

//go:embed fallback.html
var fallbackPage []byte

// ContentSecurityPolicy is sent with every page: the app loads only its own scripts and
// styles, talks only to its own origin, and shows images only from itself or data:
// URIs (catalog icons).
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

const (
	cacheImmutable  = "public, max-age=31536000, immutable"
	cacheRevalidate = "no-cache"
)

type file struct {
	data        []byte
	contentType string
	etag        string
}

type site struct {
	files map[string]*file // by slash path without leading slash: "index.html", "assets/x.js"
	dirs  map[string]bool  // directories of the build ("assets"): never listed, never pages
	built bool
}

var (
	loadOnce sync.Once
	loaded   *site
)

func load() *site {
	loadOnce.Do(func() {
		sub, err := fs.Sub(distFS, "dist")
		if err != nil {
			panic("ui: embedded dist: " + err.Error()) // cannot happen: the embed pattern names it
		}
		loaded = newSite(sub)
	})
	return loaded
}

// newSite reads every regular file of fsys into memory (a built UI is about 100 KB).
func newSite(fsys fs.FS) *site {
	s := &site{files: map[string]*file{}, dirs: map[string]bool{}}
	_ = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			if p != "." {
				s.dirs[p] = true
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		if strings.HasPrefix(path.Base(p), ".") {
			return nil // .keep and other dot files are not part of the site
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil
		}
		sum := sha256.Sum256(data)
		s.files[p] = &file{data: data, contentType: contentType(p), etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
		return nil
	})
	_, s.built = s.files["index.html"]
	return s
}

var extraTypes = map[string]string{
	".js":          "text/javascript; charset=utf-8",
	".mjs":         "text/javascript; charset=utf-8",
	".css":         "text/css; charset=utf-8",
	".html":        "text/html; charset=utf-8",
	".svg":         "image/svg+xml",
	".json":        "application/json",
	".map":         "application/json",
	".webmanifest": "application/manifest+json",
	".txt":         "text/plain; charset=utf-8",
	".woff2":       "font/woff2",
	".woff":        "font/woff",
	".png":         "image/png",
	".ico":         "image/x-icon",
	".wasm":        "application/wasm",
}

// contentType does not depend on the machine's mime.types: the same binary serves the
// same types everywhere.
func contentType(name string) string {
	ext := strings.ToLower(path.Ext(name))
	if t, ok := extraTypes[ext]; ok {
		return t
	}
	if t := mime.TypeByExtension(ext); t != "" {
		return t
	}
	return "application/octet-stream"
}

// Built reports whether the embedded dist/ holds a built UI (an index.html), rather
// than only the placeholder committed for builds without Node.
func Built() bool { return load().built }

// Handler serves the embedded UI. Mount it for every path the API router does not own;
// it answers /api/... and /auth/... with 404 itself, should they ever reach it.
func Handler() http.Handler { return load() }

func (s *site) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := r.URL.Path
	if !validPath(p) {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	if isReserved(p) {
		http.NotFound(w, r)
		return
	}
	name := strings.TrimPrefix(p, "/")
	if f, ok := s.files[name]; ok && name != "index.html" {
		cache := cacheRevalidate
		if strings.HasPrefix(name, "assets/") {
			cache = cacheImmutable
		}
		s.serve(w, r, name, f, cache)
		return
	}
	// No such file. A directory of the build, anything under assets/ or a name with an
	// extension is a missing file, not a page: answering it with HTML would hide the
	// error. Other paths ("/services/", "/catalog/httpecho") are the app's pages.
	dir := strings.TrimSuffix(name, "/")
	missingFile := s.dirs[dir] || dir == "assets" || strings.HasPrefix(name, "assets/") ||
		(path.Ext(dir) != "" && name != "index.html")
	if missingFile {
		http.NotFound(w, r)
		return
	}
	if !s.built {
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-store")
		setSecurityHeaders(h)
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			_, _ = w.Write(fallbackPage)
		}
		return
	}
	s.serve(w, r, "index.html", s.files["index.html"], cacheRevalidate)
}

func (s *site) serve(w http.ResponseWriter, r *http.Request, name string, f *file, cache string) {
	h := w.Header()
	h.Set("Content-Type", f.contentType)
	h.Set("Cache-Control", cache)
	h.Set("ETag", f.etag)
	setSecurityHeaders(h)
	// ServeContent answers If-None-Match with 304, HEAD without a body, and Range.
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(f.data))
}

func setSecurityHeaders(h http.Header) {
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
}

// validPath refuses what no page or file of the app can be: a relative path, "." or
// ".." segments, backslashes, NUL and other control characters, empty segments.
func validPath(p string) bool {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") {
		return false
	}
	for _, c := range p {
		if c < 0x20 || c == 0x7f || c == '\\' {
			return false
		}
	}
	for _, seg := range strings.Split(p[1:], "/") {
		if seg == "." || seg == ".." {
			return false
		}
	}
	return !strings.Contains(p, "//")
}

// isReserved: the API's and the sign-in's paths are never the app's pages.
func isReserved(p string) bool {
	for _, prefix := range []string{"/api", "/auth"} {
		if p == prefix || strings.HasPrefix(p, prefix+"/") {
			return true
		}
	}
	return false
}
