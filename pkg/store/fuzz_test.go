package store

import (
	"path"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzValidateKey: every accepted key is a clean relative path that stays under any
// root, on the filesystem and in a bucket.
func FuzzValidateKey(f *testing.F) {
	for _, k := range []string{"clients/c1/s1/terraform.tfvars.json", "../x", "/etc/passwd", "a//b", "a/./b", "a\\b", "a\x00b", "clients/c１", "a/", "a b"} {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if ValidateKey(key) != nil {
			return
		}
		if path.Clean(key) != key || strings.HasPrefix(key, "/") || strings.Contains(key, "..") && containsDotDotSegment(key) {
			t.Fatalf("key %q accepted but not clean", key)
		}
		root := "/var/lib/spawnit/store"
		if p := filepath.Join(root, key); !strings.HasPrefix(p, root+"/") {
			t.Fatalf("key %q escapes the root: %s", key, p)
		}
		for _, r := range key {
			if r > 127 || r < 32 || r == '\\' || r == ' ' {
				t.Fatalf("key %q accepted with %q", key, r)
			}
		}
	})
}

func containsDotDotSegment(k string) bool {
	for _, s := range strings.Split(k, "/") {
		if s == ".." || s == "." {
			return true
		}
	}
	return false
}
