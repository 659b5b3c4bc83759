// Package catalogtest helps tests that publish new versions of a built-in template:
// its files as Publish takes them, and its version changed to one derived from the
// version it ships with, so that bumping the template breaks no test. It does not
// import catalog, so that catalog's own tests use it too: files are a
// catalog.TemplateFiles's map (path to content), the built-in templates catalog.Builtin().
package catalogtest

import (
	"io/fs"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// Files returns the files of the template in folder id of builtin (catalog.Builtin()),
// by path inside its folder.
func Files(t testing.TB, builtin fs.FS, id string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := fs.WalkDir(builtin, id, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(builtin, p)
		files[strings.TrimPrefix(p, id+"/")] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// versionField is the template's own "version" member (the first: inputs have none).
var versionField = regexp.MustCompile(`"version":\s*"([^"]*)"`)

// Version is the version a template.json names.
func Version(t testing.TB, templateJSON []byte) string {
	t.Helper()
	m := versionField.FindSubmatch(templateJSON)
	if m == nil {
		t.Fatal("template.json names no version")
	}
	return string(m[1])
}

// WithVersion is templateJSON naming version instead, with releaseNotes when not
// empty; the rest of the document as it was.
func WithVersion(t testing.TB, templateJSON []byte, version, releaseNotes string) []byte {
	t.Helper()
	loc := versionField.FindIndex(templateJSON)
	if loc == nil {
		t.Fatal("template.json names no version")
	}
	field := `"version": ` + strconv.Quote(version)
	if releaseNotes != "" {
		field += `, "release_notes": ` + strconv.Quote(releaseNotes)
	}
	return []byte(string(templateJSON[:loc[0]]) + field + string(templateJSON[loc[1]:]))
}

// NextMinor is the version one minor step above v: 1.2.0 -> 1.3.0, 2 -> 2.1.
func NextMinor(t testing.TB, v string) string {
	t.Helper()
	parts := strings.Split(strings.SplitN(v, "-", 2)[0], ".")
	if len(parts) < 2 {
		parts = append(parts, "0")
	}
	n, err := strconv.Atoi(parts[1])
	if err != nil {
		t.Fatalf("version %q: its minor part is not a number", v)
	}
	parts[1] = strconv.Itoa(n + 1)
	for i := 2; i < len(parts); i++ {
		parts[i] = "0"
	}
	return strings.Join(parts, ".")
}
