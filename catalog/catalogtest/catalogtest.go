// Package catalogtest helps tests that publish new versions of a built-in template:
// its files as Publish takes them, and its version changed to one derived from the
// version it ships with, so that bumping the template breaks no test.
package catalogtest

import (
	"io/fs"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/spawnit/spawnit/catalog"
)

// Builtin returns the files of the built-in template id, by path inside its folder.
func Builtin(t testing.TB, id string) catalog.TemplateFiles {
	t.Helper()
	files := catalog.TemplateFiles{}
	err := fs.WalkDir(catalog.Builtin(), id, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(catalog.Builtin(), p)
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

// Version is the version files' template.json names.
func Version(t testing.TB, files catalog.TemplateFiles) string {
	t.Helper()
	m := versionField.FindSubmatch(files[catalog.TemplateFile])
	if m == nil {
		t.Fatal("template.json names no version")
	}
	return string(m[1])
}

// SetVersion names version in files' template.json, with releaseNotes when not
// empty, and returns the version it named before.
func SetVersion(t testing.TB, files catalog.TemplateFiles, version, releaseNotes string) (was string) {
	t.Helper()
	was = Version(t, files)
	field := `"version": ` + strconv.Quote(version)
	if releaseNotes != "" {
		field += `, "release_notes": ` + strconv.Quote(releaseNotes)
	}
	loc := versionField.FindIndex(files[catalog.TemplateFile])
	tpl := files[catalog.TemplateFile]
	files[catalog.TemplateFile] = []byte(string(tpl[:loc[0]]) + field + string(tpl[loc[1]:]))
	return was
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
