package engine

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/spawnit/spawnit"
	"github.com/spawnit/spawnit/pkg/storekey"
	"github.com/spawnit/spawnit/pkg/truncate"
)

// ServiceRef names one deployed service: a tenant (the field Client) and a service id.
// Both must pass ValidateID before they reach a path, a store key or a command. It is
// the kernel's spawnit.ServiceRef.
type ServiceRef = spawnit.ServiceRef

// MaxIDLen bounds tenant and service ids.
const MaxIDLen = spawnit.MaxIDLen

// ValidateID is the one allow-list for tenant and service ids (spawnit.ValidateID): 1
// to 63 characters of lowercase ASCII letters, digits and '-', starting with a letter
// or digit. It rejects path separators, dots, NUL, upper case and every non-ASCII
// look-alike, so an id is safe as a path segment, a store key segment, a Docker name
// part and a label value.
func ValidateID(id string) error { return spawnit.ValidateID(id) }

// Files is a service's working set: slash-separated relative paths (module files and
// terraform.tfvars.json) to their content.
type Files map[string][]byte

// TfvarsFile is the name of the variables file every service has.
const TfvarsFile = storekey.TfvarsFile

// Validate rejects paths that could escape a workdir or collide with the engine's own
// files (the backend override, the .terraform folder, plan files).
func (f Files) Validate() error {
	for p := range f {
		if p == "" || strings.HasPrefix(p, "/") || strings.Contains(p, "\\") || strings.ContainsRune(p, 0) || path.Clean(p) != p || p == ".." || strings.HasPrefix(p, "../") {
			return fmt.Errorf("%w: file path %q", ErrInvalidInput, truncate.String(p, 80))
		}
		first := strings.SplitN(p, "/", 2)[0]
		if strings.HasPrefix(first, ".") || strings.HasPrefix(first, "spawnit_") || strings.HasSuffix(p, "_override.tf") || strings.HasSuffix(p, "_override.tf.json") || first == "override.tf" || first == "override.tf.json" {
			return fmt.Errorf("%w: file path %q is reserved for the engine", ErrInvalidInput, truncate.String(p, 80))
		}
	}
	return nil
}

// Source provides a service's files. The engine calls it before every operation ("sync
// before run"), so a workdir holds nothing that cannot be rebuilt. The catalog package
// provides one backed by the store; DirSource serves plain directories.
type Source interface {
	Files(ctx context.Context, ref ServiceRef) (Files, error)
}

// DirSource reads <root>/<tenant>/<service>/ recursively: the simplest Source, for
// library users who keep modules on disk.
type DirSource string

// Files implements Source.
func (d DirSource) Files(ctx context.Context, ref ServiceRef) (Files, error) {
	if err := ref.Validate(); err != nil {
		return nil, err
	}
	root := filepath.Join(string(d), ref.Client, ref.Service)
	files := Files{}
	err := filepath.WalkDir(root, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if de.IsDir() || !de.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files[filepath.ToSlash(rel)] = b
		return nil
	})
	if err != nil {
		if errorsIsNotExist(err) {
			return nil, fmt.Errorf("%w: service %s has no files under %s", ErrNotFound, ref, root)
		}
		return nil, err
	}
	return files, nil
}
