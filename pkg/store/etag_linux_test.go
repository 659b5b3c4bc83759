package store_test

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/spawnit/spawnit/pkg/store"
)

// TestETagCacheSeesEveryChange: Stat and List hash a file only when it changed, yet an
// edit made outside the store, even one keeping the size and restoring the
// modification time, gets its new ETag.
func TestETagCacheSeesEveryChange(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := store.NewFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := s.Put(ctx, "a/b", []byte("first"), store.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := s.Stat(ctx, "a/b"); st.ETag != obj.ETag {
		t.Fatalf("stat %s, put %s", st.ETag, obj.ETag)
	}
	p := filepath.Join(dir, "a", "b")
	fi, _ := os.Stat(p)
	if err := os.WriteFile(p, []byte("other"), 0o600); err != nil { // same size, in place
		t.Fatal(err)
	}
	_ = os.Chtimes(p, fi.ModTime(), fi.ModTime())
	sum := md5.Sum([]byte("other"))
	want := hex.EncodeToString(sum[:])
	if st, _ := s.Stat(ctx, "a/b"); st.ETag != want {
		t.Fatalf("stat after an outside edit: %s, want %s", st.ETag, want)
	}
	l, _ := s.List(ctx, "a/")
	if len(l) != 1 || l[0].ETag != want {
		t.Fatalf("list after an outside edit: %+v", l)
	}
}
