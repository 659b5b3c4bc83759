package store_test

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/spawnit/spawnit/pkg/store"
	"github.com/spawnit/spawnit/pkg/store/storetest"
)

func newFS(t *testing.T, root string) *store.FS {
	t.Helper()
	s, err := store.NewFS(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestFSConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return newFS(t, t.TempDir()) })
}

func TestFSETagIsContentMD5(t *testing.T) {
	s := newFS(t, t.TempDir())
	for _, data := range [][]byte{nil, []byte("hello"), bytes.Repeat([]byte{0, 0xff}, 5000)} {
		sum := md5.Sum(data)
		want := hex.EncodeToString(sum[:])
		a, err := s.Put(t.Context(), "etag/a", data, store.PutOptions{})
		if err != nil {
			t.Fatal(err)
		}
		b, err := s.Put(t.Context(), "etag/b", data, store.PutOptions{})
		if err != nil {
			t.Fatal(err)
		}
		st, err := s.Stat(t.Context(), "etag/a")
		if err != nil {
			t.Fatal(err)
		}
		if a.ETag != want || b.ETag != want || st.ETag != want {
			t.Fatalf("ETags %q, %q, %q for %d bytes; want the content MD5 %q everywhere", a.ETag, b.ETag, st.ETag, len(data), want)
		}
	}
}

func TestFSSymlinkEscapeRefused(t *testing.T) {
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret")
	if err := os.WriteFile(secret, []byte("outside secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(root, "clients")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(root, "leak")); err != nil {
		t.Fatal(err)
	}
	s := newFS(t, root)
	ctx := t.Context()

	for _, key := range []string{"clients/secret", "leak"} {
		if data, _, err := s.Get(ctx, key); err == nil || bytes.Contains(data, []byte("secret")) {
			t.Errorf("Get(%q) through a link out of the root = %q, %v; want an error", key, data, err)
		}
		if _, err := s.Stat(ctx, key); err == nil {
			t.Errorf("Stat(%q) through a link out of the root succeeded", key)
		}
	}
	if err := s.Delete(ctx, "clients/secret"); err == nil {
		t.Error("Delete through a directory link out of the root reported success")
	}
	// Deleting a link at a key removes the link, never what it points to (checked below).
	_ = s.Delete(ctx, "leak")
	if _, err := s.Put(ctx, "clients/new", []byte("x"), store.PutOptions{}); err == nil {
		t.Error("Put through a directory link out of the root succeeded")
	}
	if _, err := s.Put(ctx, "clients/secret", []byte("overwritten"), store.PutOptions{}); err == nil {
		t.Error("Put over a file behind a directory link out of the root succeeded")
	}
	if got, err := os.ReadFile(secret); err != nil || string(got) != "outside secret" {
		t.Fatalf("the file outside the root was touched: %q, %v", got, err)
	}
	entries, err := os.ReadDir(outside)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Fatalf("the store created files outside its root: %v", entries)
	}
	list, err := s.List(ctx, "")
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(list) != 0 {
		t.Fatalf("List shows objects behind links: %+v", list)
	}
	// Starting the walk at the link itself must not reach outside either.
	if list, err := s.List(ctx, "clients/"); err == nil && len(list) != 0 {
		t.Fatalf("List(clients/) shows objects outside the root: %+v", list)
	}
}

func TestFSRootMayBeASymlink(t *testing.T) {
	real := t.TempDir()
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	s := newFS(t, link)
	if _, err := s.Put(t.Context(), "a/b", []byte("x"), store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(real, "a", "b")); err != nil || string(got) != "x" {
		t.Fatalf("object not at its path under the real root: %q, %v", got, err)
	}
}

// TestFSNoTempFilesLeft checks the temp-file-then-rename protocol cleans up after
// itself, including when a conditional put loses, and that objects are private.
func TestFSNoTempFilesLeft(t *testing.T) {
	root := t.TempDir()
	s := newFS(t, root)
	ctx := t.Context()
	first, err := s.Put(ctx, "c/k", []byte("1"), store.PutOptions{IfNoneMatch: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, "c/k", []byte("2"), store.PutOptions{IfNoneMatch: true}); !errors.Is(err, store.ErrPreconditionFailed) {
		t.Fatalf("second create: %v", err)
	}
	if _, err := s.Put(ctx, "c/k", []byte("3"), store.PutOptions{IfMatch: "ffffffffffffffffffffffffffffffff"}); !errors.Is(err, store.ErrPreconditionFailed) {
		t.Fatalf("stale IfMatch: %v", err)
	}
	if _, err := s.Put(ctx, "c/k", []byte("4"), store.PutOptions{IfMatch: first.ETag}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, "c/k/under", []byte("5"), store.PutOptions{}); err == nil {
		t.Fatal("Put under an object succeeded")
	}

	var files []string
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if strings.Contains(rel, "~tmp-") {
			t.Errorf("temporary file left behind: %s", rel)
		}
		if d.Type().IsRegular() && !strings.HasPrefix(rel, "~locks") {
			files = append(files, filepath.ToSlash(rel))
			if fi, err := d.Info(); err == nil && fi.Mode().Perm()&0o077 != 0 {
				t.Errorf("%s is readable by others: %v", rel, fi.Mode())
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 || files[0] != "c/k" {
		t.Fatalf("files in the root = %q, want [c/k]", files)
	}
}

// TestFSIgnoresForeignFiles: a temp file left by a crash, and names that cannot be
// keys, are not objects.
func TestFSIgnoresForeignFiles(t *testing.T) {
	root := t.TempDir()
	s := newFS(t, root)
	if _, err := s.Put(t.Context(), "c/k", []byte("x"), store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"c/~tmp-CRASHED", "c/with space", "c/caf\u00e9", "~tmp-top"} {
		if err := os.WriteFile(filepath.Join(root, filepath.FromSlash(name)), []byte("junk"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(root, "bad dir"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "bad dir", "k"), []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	list, err := s.List(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Key != "c/k" {
		t.Fatalf("List = %+v, want only c/k", list)
	}
}

func TestFSEmptyDirectoryAtKey(t *testing.T) {
	root := t.TempDir()
	s := newFS(t, root)
	// As left by a process that died between deleting "k/x" and pruning "k".
	if err := os.MkdirAll(filepath.Join(root, "k"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(t.Context(), "k", []byte("x"), store.PutOptions{IfNoneMatch: true}); err != nil {
		t.Fatalf("Put over an empty directory: %v", err)
	}
	if _, err := s.Put(t.Context(), "p/x", []byte("x"), store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err := s.Put(t.Context(), "p", []byte("x"), store.PutOptions{})
	if err == nil || errors.Is(err, store.ErrPreconditionFailed) || !strings.Contains(err.Error(), `"p"`) {
		t.Fatalf("Put of a key that prefixes other objects: err = %v, want an error naming the key", err)
	}
}

func TestFSDeletePrunesEmptyDirectories(t *testing.T) {
	root := t.TempDir()
	s := newFS(t, root)
	ctx := t.Context()
	for _, k := range []string{"a/b/c/d", "a/x"} {
		if _, err := s.Put(ctx, k, []byte("x"), store.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Delete(ctx, "a/b/c/d"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "a", "b")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("empty directory a/b left behind (%v)", err)
	}
	if _, err := os.Stat(filepath.Join(root, "a", "x")); err != nil {
		t.Fatalf("sibling object lost: %v", err)
	}
}

// TestFSTwoInstancesShareLocks stands in for two processes on one root: separate FS
// values share no mutex, so only the lock files keep their creates exclusive.
func TestFSTwoInstancesShareLocks(t *testing.T) {
	root := t.TempDir()
	stores := []*store.FS{newFS(t, root), newFS(t, root)}
	for round := range 10 {
		key := "shared/k" + string(rune('a'+round))
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins := 0
		start := make(chan struct{})
		for i := range 16 {
			wg.Go(func() {
				<-start
				_, err := stores[i%2].Put(t.Context(), key, []byte{byte(i)}, store.PutOptions{IfNoneMatch: true})
				switch {
				case err == nil:
					mu.Lock()
					wins++
					mu.Unlock()
				case !errors.Is(err, store.ErrPreconditionFailed):
					t.Errorf("writer %d: %v", i, err)
				}
			})
		}
		close(start)
		wg.Wait()
		if wins != 1 {
			t.Fatalf("round %d: %d writers created %s, want exactly 1", round, wins, key)
		}
	}
}

func TestNewFSErrors(t *testing.T) {
	if _, err := store.NewFS(""); err == nil {
		t.Error("NewFS(\"\") succeeded")
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := store.NewFS(file); err == nil {
		t.Error("NewFS on a regular file succeeded")
	}
}
