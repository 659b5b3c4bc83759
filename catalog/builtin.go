package catalog

import (
	"embed"
	"io/fs"
)

//go:embed all:builtin
var builtinFS embed.FS

// Builtin returns the built-in templates as a file system laid out like the store's
// templates/ folder: <id>/template.json and <id>/modules/<target>/*.
func Builtin() fs.FS {
	sub, err := fs.Sub(builtinFS, "builtin")
	if err != nil {
		panic(err) // the directory is embedded at build time; this cannot happen
	}
	return sub
}
