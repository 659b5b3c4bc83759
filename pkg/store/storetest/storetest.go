// Package storetest is the conformance suite every store.Store implementation must
// pass, so that code written against the interface behaves the same on the local file
// system and on S3.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spawnit/spawnit/pkg/store"
	"github.com/spawnit/spawnit/pkg/truncate"
)

// Run runs the whole suite. newStore must return a new, empty store for each call (each
// subtest gets its own) and arrange its cleanup through t.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(*testing.T, store.Store)
	}{
		{"RoundTrip", testRoundTrip},
		{"Missing", testMissing},
		{"IfNoneMatch", testIfNoneMatch},
		{"IfMatch", testIfMatch},
		{"IfMatchMissingKey", testIfMatchMissingKey},
		{"InvalidOptions", testInvalidOptions},
		{"ListMany", testListMany},
		{"ListPrefix", testListPrefix},
		{"ListPage", testListPage},
		{"Delete", testDelete},
		{"ConcurrentIfMatch", testConcurrentIfMatch},
		{"ConcurrentIfNoneMatch", testConcurrentIfNoneMatch},
		{"HostileKeys", testHostileKeys},
		{"Binary", testBinary},
		{"Empty", testEmpty},
		{"CanceledContext", testCanceledContext},
		{"ConditionalWritesProbe", testConditionalWritesProbe},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

// HostileKeys are keys every store must refuse with store.ErrInvalidKey before touching
// its backend: path traversal, absolute paths, empty or dot segments, separators and
// control bytes, over-long keys, look-alike Unicode, trailing slashes and spaces.
func HostileKeys() []string {
	return []string{
		"",
		"..",
		"../x",
		"a/../../x",
		"/etc/passwd",
		"a//b",
		"a/./b",
		"./a",
		"a/.",
		`a\b`,
		`..\x`,
		"C:/x",
		"a\x00b",
		"a\nb",
		"\xff\xfe",
		strings.Repeat("k", store.MaxKeyLen+1),
		"clients/c\uff11",  // fullwidth digit one
		"clients/\u04411",  // Cyrillic es, looks like Latin c
		"clients/c\u0430",  // Cyrillic a
		"clients/c1\u200b", // zero-width space
		"clients/",
		"clients/c1/",
		"/",
		"clients/c 1",
		" clients",
		"clients\t",
		"%2e%2e/x",
		"a?b",
		"a*b",
		"~tmp-x",
	}
}

func ctx(t *testing.T) context.Context {
	return t.Context()
}

func mustPut(t *testing.T, s store.Store, key string, data []byte, opts store.PutOptions) store.Object {
	t.Helper()
	obj, err := s.Put(ctx(t), key, data, opts)
	if err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
	return obj
}

func mustGet(t *testing.T, s store.Store, key string) ([]byte, store.Object) {
	t.Helper()
	data, obj, err := s.Get(ctx(t), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return data, obj
}

// wantContent fails unless key holds exactly want.
func wantContent(t *testing.T, s store.Store, key string, want []byte) {
	t.Helper()
	got, _ := mustGet(t, s, key)
	if !bytes.Equal(got, want) {
		t.Fatalf("Get(%q) = %q, want %q", key, truncate.String(string(got), 65), truncate.String(string(want), 65))
	}
}

func wantPrecondition(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, store.ErrPreconditionFailed) {
		t.Fatalf("%s: err = %v, want store.ErrPreconditionFailed", what, err)
	}
}

func wantNotFound(t *testing.T, what, key string, err error) {
	t.Helper()
	if !errors.Is(err, store.ErrNotFound) || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("%s(%q): err = %v, want store.ErrNotFound matching fs.ErrNotExist", what, key, err)
	}
	if !strings.Contains(err.Error(), key) {
		t.Errorf("%s(%q): error %q does not name the key", what, key, err)
	}
}

// checkETag insists on the unquoted form both stores promise.
func checkETag(t *testing.T, key, etag string) {
	t.Helper()
	if etag == "" || strings.ContainsAny(etag, "\" \t") {
		t.Fatalf("%q: ETag %q is empty, quoted or padded", key, etag)
	}
}

func testRoundTrip(t *testing.T, s store.Store) {
	const key = "clients/c1/s1/terraform.tfvars.json"
	v1 := []byte(`{"replicas": 1}`)
	v2 := []byte(`{"replicas": 2}`)
	before := time.Now()

	put1 := mustPut(t, s, key, v1, store.PutOptions{ContentType: "application/json"})
	checkETag(t, key, put1.ETag)
	if put1.Key != key || put1.Size != int64(len(v1)) {
		t.Fatalf("Put returned %+v, want key %q size %d", put1, key, len(v1))
	}
	data, got := mustGet(t, s, key)
	if !bytes.Equal(data, v1) {
		t.Fatalf("Get = %q, want %q", data, v1)
	}
	if got.Key != key || got.ETag != put1.ETag || got.Size != int64(len(v1)) {
		t.Fatalf("Get object = %+v, want key %q ETag %q size %d", got, key, put1.ETag, len(v1))
	}
	st, err := s.Stat(ctx(t), key)
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	if st.Key != key || st.ETag != put1.ETag || st.Size != int64(len(v1)) {
		t.Fatalf("Stat = %+v, want key %q ETag %q size %d", st, key, put1.ETag, len(v1))
	}
	// S3 timestamps have one-second resolution and come from the server's clock.
	if st.Modified.Before(before.Add(-time.Minute)) || st.Modified.After(time.Now().Add(time.Minute)) {
		t.Fatalf("Stat.Modified = %v, want about %v", st.Modified, before)
	}

	put2 := mustPut(t, s, key, v2, store.PutOptions{})
	checkETag(t, key, put2.ETag)
	if put2.ETag == put1.ETag {
		t.Fatalf("ETag unchanged (%q) after the content changed", put2.ETag)
	}
	data, got = mustGet(t, s, key)
	if !bytes.Equal(data, v2) || got.ETag != put2.ETag {
		t.Fatalf("after update Get = %q ETag %q, want %q ETag %q", data, got.ETag, v2, put2.ETag)
	}
	if st, err := s.Stat(ctx(t), key); err != nil || st.ETag != put2.ETag {
		t.Fatalf("after update Stat = %+v, %v; want ETag %q", st, err, put2.ETag)
	}
}

func testMissing(t *testing.T, s store.Store) {
	mustPut(t, s, "present/a", []byte("x"), store.PutOptions{})
	for _, key := range []string{
		"absent",
		"present/b",
		"present",     // a prefix of an object is not an object
		"present/a/b", // under an object
	} {
		_, _, err := s.Get(ctx(t), key)
		wantNotFound(t, "Get", key, err)
		_, err = s.Stat(ctx(t), key)
		wantNotFound(t, "Stat", key, err)
	}
}

func testIfNoneMatch(t *testing.T, s store.Store) {
	const key = "locks/deploy"
	first := mustPut(t, s, key, []byte("first"), store.PutOptions{IfNoneMatch: true})
	_, err := s.Put(ctx(t), key, []byte("second"), store.PutOptions{IfNoneMatch: true})
	wantPrecondition(t, "second create-only Put", err)
	if !strings.Contains(err.Error(), key) {
		t.Errorf("error %q does not name the key", err)
	}
	wantContent(t, s, key, []byte("first"))
	if st, err := s.Stat(ctx(t), key); err != nil || st.ETag != first.ETag {
		t.Fatalf("Stat after the lost create = %+v, %v; want ETag %q", st, err, first.ETag)
	}
	// Once the key is gone, create-only succeeds again.
	if err := s.Delete(ctx(t), key); err != nil {
		t.Fatal(err)
	}
	mustPut(t, s, key, []byte("third"), store.PutOptions{IfNoneMatch: true})
	wantContent(t, s, key, []byte("third"))
}

func testIfMatch(t *testing.T, s store.Store) {
	const key = "clients/c1/state"
	v1 := mustPut(t, s, key, []byte("v1"), store.PutOptions{})
	v2, err := s.Put(ctx(t), key, []byte("v2"), store.PutOptions{IfMatch: v1.ETag})
	if err != nil {
		t.Fatalf("Put with the current ETag: %v", err)
	}
	_, err = s.Put(ctx(t), key, []byte("v3"), store.PutOptions{IfMatch: v1.ETag})
	wantPrecondition(t, "Put with a stale ETag", err)
	if !strings.Contains(err.Error(), key) {
		t.Errorf("error %q does not name the key", err)
	}
	wantContent(t, s, key, []byte("v2"))

	// ETags copied from HTTP headers carry quotes; they must still match.
	if _, err := s.Put(ctx(t), key, []byte("v4"), store.PutOptions{IfMatch: `"` + v2.ETag + `"`}); err != nil {
		t.Fatalf("Put with the current ETag in quotes: %v", err)
	}
	wantContent(t, s, key, []byte("v4"))
	_, err = s.Put(ctx(t), key, []byte("v5"), store.PutOptions{IfMatch: "0123456789abcdef0123456789abcdef"})
	wantPrecondition(t, "Put with an unrelated ETag", err)
	wantContent(t, s, key, []byte("v4"))
}

func testIfMatchMissingKey(t *testing.T, s store.Store) {
	const key = "never/written"
	_, err := s.Put(ctx(t), key, []byte("x"), store.PutOptions{IfMatch: "0123456789abcdef0123456789abcdef"})
	wantPrecondition(t, "IfMatch on a missing key", err)
	_, err = s.Stat(ctx(t), key)
	wantNotFound(t, "Stat", key, err)
}

func testInvalidOptions(t *testing.T, s store.Store) {
	const key = "opts/x"
	for _, opts := range []store.PutOptions{
		{IfNoneMatch: true, IfMatch: "0123456789abcdef0123456789abcdef"},
		{IfMatch: "*"},
		{IfMatch: `""`},
	} {
		_, err := s.Put(ctx(t), key, []byte("x"), opts)
		if err == nil || errors.Is(err, store.ErrPreconditionFailed) {
			t.Fatalf("Put with %+v: err = %v, want a usage error", opts, err)
		}
		_, err = s.Stat(ctx(t), key)
		wantNotFound(t, "Stat after a refused Put", key, err)
	}
}

func testListMany(t *testing.T, s store.Store) {
	// More than one S3 page (1,000 keys), so pagination is exercised.
	const n = 1500
	want := make([]string, n)
	for i := range want {
		want[i] = fmt.Sprintf("many/k%04d", i)
	}
	// Written in parallel (and out of order) to keep the suite quick on a remote store.
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 8)
	for i := n - 1; i >= 0; i-- {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if _, err := s.Put(ctx(t), want[i], []byte(want[i]), store.PutOptions{}); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Put: %v", err)
	}
	mustPut(t, s, "other/x", []byte("x"), store.PutOptions{})

	got, err := s.List(ctx(t), "many/")
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if keys := keysOf(got); !slices.Equal(keys, want) {
		t.Fatalf("List(many/) returned %d keys (first %q), want %d sorted keys", len(keys), head(keys), n)
	}
	for _, o := range got {
		if o.Size != int64(len(o.Key)) {
			t.Fatalf("List: %q has size %d, want %d", o.Key, o.Size, len(o.Key))
		}
		checkETag(t, o.Key, o.ETag)
	}
	all, err := s.List(ctx(t), "")
	if err != nil {
		t.Fatalf("List(\"\"): %v", err)
	}
	if len(all) != n+1 || all[n].Key != "other/x" {
		t.Fatalf("List(\"\") returned %d objects, want %d ending with other/x", len(all), n+1)
	}
	some, err := s.List(ctx(t), "many/k149")
	if err != nil {
		t.Fatal(err)
	}
	if keys := keysOf(some); !slices.Equal(keys, want[1490:1500]) {
		t.Fatalf("List(many/k149) = %q, want %q", keys, want[1490:1500])
	}
}

func testListPrefix(t *testing.T, s store.Store) {
	objs := map[string]string{
		"list/a-c":   "1",
		"list/a.x":   "22",
		"list/a/b":   "333",
		"list/ab":    "4444",
		"list/b/c/d": "55555",
		"listing":    "6",
	}
	etags := map[string]string{}
	for k, v := range objs {
		etags[k] = mustPut(t, s, k, []byte(v), store.PutOptions{}).ETag
	}
	for _, tc := range []struct {
		prefix string
		want   []string
	}{
		// Byte order: '-' < '.' < '/' < letters, as S3 sorts.
		{"list/a", []string{"list/a-c", "list/a.x", "list/a/b", "list/ab"}},
		{"list/a/", []string{"list/a/b"}},
		{"list/", []string{"list/a-c", "list/a.x", "list/a/b", "list/ab", "list/b/c/d"}},
		{"list", []string{"list/a-c", "list/a.x", "list/a/b", "list/ab", "list/b/c/d", "listing"}},
		{"list/b/c/d", []string{"list/b/c/d"}},
		{"list/b/c/d/", nil},
		{"nothing/", nil},
		{"nothing", nil},
	} {
		got, err := s.List(ctx(t), tc.prefix)
		if err != nil {
			t.Fatalf("List(%q): %v", tc.prefix, err)
		}
		if keys := keysOf(got); !slices.Equal(keys, tc.want) {
			t.Errorf("List(%q) = %q, want %q", tc.prefix, keys, tc.want)
		}
		for _, o := range got {
			if o.ETag != etags[o.Key] || o.Size != int64(len(objs[o.Key])) {
				t.Errorf("List(%q): %+v, want ETag %q size %d", tc.prefix, o, etags[o.Key], len(objs[o.Key]))
			}
		}
	}
}

func testDelete(t *testing.T, s store.Store) {
	const key = "d/e/f"
	mustPut(t, s, key, []byte("x"), store.PutOptions{})
	mustPut(t, s, "d/e/g", []byte("y"), store.PutOptions{})
	for i := range 2 {
		if err := s.Delete(ctx(t), key); err != nil {
			t.Fatalf("Delete #%d: %v", i+1, err)
		}
	}
	_, _, err := s.Get(ctx(t), key)
	wantNotFound(t, "Get after Delete", key, err)
	if err := s.Delete(ctx(t), "never/existed"); err != nil {
		t.Fatalf("Delete of a never-written key: %v", err)
	}
	// A prefix is not an object: deleting it must leave the objects below alone.
	if err := s.Delete(ctx(t), "d/e"); err != nil {
		t.Fatalf("Delete of a prefix: %v", err)
	}
	got, err := s.List(ctx(t), "d/")
	if err != nil {
		t.Fatal(err)
	}
	if keys := keysOf(got); !slices.Equal(keys, []string{"d/e/g"}) {
		t.Fatalf("List after deletes = %q, want [d/e/g]", keys)
	}
	// Emptying a directory and writing into it again must work.
	if err := s.Delete(ctx(t), "d/e/g"); err != nil {
		t.Fatal(err)
	}
	mustPut(t, s, key, []byte("again"), store.PutOptions{IfNoneMatch: true})
	wantContent(t, s, key, []byte("again"))
}

// racers is how many goroutines contend for one key.
const racers = 16

func testConcurrentIfMatch(t *testing.T, s store.Store) {
	const key = "race/state"
	base := mustPut(t, s, key, []byte("base"), store.PutOptions{})
	winners := race(t, func(i int) error {
		_, err := s.Put(ctx(t), key, racerData(i), store.PutOptions{IfMatch: base.ETag})
		return err
	})
	wantContent(t, s, key, racerData(winners))
}

func testConcurrentIfNoneMatch(t *testing.T, s store.Store) {
	const key = "race/new"
	winners := race(t, func(i int) error {
		_, err := s.Put(ctx(t), key, racerData(i), store.PutOptions{IfNoneMatch: true})
		return err
	})
	wantContent(t, s, key, racerData(winners))
}

func racerData(i int) []byte { return fmt.Appendf(nil, "writer %02d", i) }

// race starts racers goroutines at once and insists that exactly one succeeds and all
// others fail with ErrPreconditionFailed. It returns the winner's index.
func race(t *testing.T, put func(i int) error) int {
	t.Helper()
	errs := make([]error, racers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			<-start
			errs[i] = put(i)
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("writers %d and %d both won the same conditional put", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, store.ErrPreconditionFailed):
			t.Fatalf("writer %d: err = %v, want nil or store.ErrPreconditionFailed", i, err)
		}
	}
	if winner < 0 {
		t.Fatalf("none of %d writers won", racers)
	}
	return winner
}

func testHostileKeys(t *testing.T, s store.Store) {
	c := ctx(t)
	for _, key := range HostileKeys() {
		check := func(method string, err error) {
			t.Helper()
			if !errors.Is(err, store.ErrInvalidKey) {
				t.Errorf("%s(%q): err = %v, want store.ErrInvalidKey", method, key, err)
			}
		}
		_, _, err := s.Get(c, key)
		check("Get", err)
		_, err = s.Stat(c, key)
		check("Stat", err)
		_, err = s.Put(c, key, []byte("pwned"), store.PutOptions{})
		check("Put", err)
		_, err = s.Put(c, key, []byte("pwned"), store.PutOptions{IfNoneMatch: true})
		check("Put(IfNoneMatch)", err)
		check("Delete", s.Delete(c, key))
		// A trailing slash is how a prefix names a "directory", so List accepts those.
		if key != "" && !strings.HasSuffix(key, "/") {
			_, err = s.List(c, key)
			check("List", err)
		}
	}
	all, err := s.List(c, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 0 {
		t.Fatalf("hostile keys left objects behind: %q", keysOf(all))
	}
	// The longest acceptable key works (on S3; the file system's segment limit is
	// lower, so use many short segments).
	long := strings.Repeat("abcdefg/", store.MaxKeyLen/8-1) + "abcdefgh"
	if len(long) != store.MaxKeyLen {
		t.Fatalf("test bug: long key is %d bytes", len(long))
	}
	mustPut(t, s, long, []byte("ok"), store.PutOptions{})
	wantContent(t, s, long, []byte("ok"))
}

func testBinary(t *testing.T, s store.Store) {
	const key = "blobs/bin"
	data := make([]byte, 0, 256*257)
	for i := range 257 {
		for b := range 256 {
			data = append(data, byte(b^i))
		}
	}
	put := mustPut(t, s, key, data, store.PutOptions{ContentType: "application/octet-stream"})
	got, obj := mustGet(t, s, key)
	if !bytes.Equal(got, data) {
		t.Fatalf("binary content changed: got %d bytes, want %d", len(got), len(data))
	}
	if obj.ETag != put.ETag || obj.Size != int64(len(data)) {
		t.Fatalf("Get object = %+v, want ETag %q size %d", obj, put.ETag, len(data))
	}
	// Line endings and NULs must not be touched.
	crlf := []byte("a\r\nb\x00\n")
	mustPut(t, s, "blobs/crlf", crlf, store.PutOptions{ContentType: "text/plain"})
	wantContent(t, s, "blobs/crlf", crlf)
}

func testEmpty(t *testing.T, s store.Store) {
	const key = "empty/obj"
	put := mustPut(t, s, key, nil, store.PutOptions{IfNoneMatch: true})
	checkETag(t, key, put.ETag)
	if put.Size != 0 {
		t.Fatalf("Put size = %d, want 0", put.Size)
	}
	got, obj := mustGet(t, s, key)
	if len(got) != 0 || obj.Size != 0 || obj.ETag != put.ETag {
		t.Fatalf("Get = %q %+v, want empty with ETag %q", got, obj, put.ETag)
	}
	list, err := s.List(ctx(t), "empty/")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Key != key || list[0].Size != 0 {
		t.Fatalf("List(empty/) = %+v, want just %q with size 0", list, key)
	}
	// An empty object exists: create-only must refuse to replace it.
	_, err = s.Put(ctx(t), key, []byte("x"), store.PutOptions{IfNoneMatch: true})
	wantPrecondition(t, "create-only over an empty object", err)
	if _, err := s.Put(ctx(t), key, []byte("x"), store.PutOptions{IfMatch: put.ETag}); err != nil {
		t.Fatalf("IfMatch with the empty object's ETag: %v", err)
	}
}

func testCanceledContext(t *testing.T, s store.Store) {
	c, cancel := context.WithCancel(ctx(t))
	cancel()
	const key = "canceled/x"
	_, err := s.Put(c, key, []byte("x"), store.PutOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Put with a canceled context: err = %v, want context.Canceled", err)
	}
	if _, _, err := s.Get(c, key); !errors.Is(err, context.Canceled) {
		t.Fatalf("Get with a canceled context: err = %v, want context.Canceled", err)
	}
	if _, err := s.List(c, ""); !errors.Is(err, context.Canceled) {
		t.Fatalf("List with a canceled context: err = %v, want context.Canceled", err)
	}
	_, err = s.Stat(ctx(t), key)
	wantNotFound(t, "Stat after a canceled Put", key, err)
}

func keysOf(objs []store.Object) []string {
	var keys []string
	for _, o := range objs {
		keys = append(keys, o.Key)
	}
	return keys
}

func head(keys []string) []string {
	return keys[:min(len(keys), 3)]
}

// testConditionalWritesProbe: the start-up check passes and removes its object.
func testConditionalWritesProbe(t *testing.T, s store.Store) {
	if err := store.CheckConditionalWrites(ctx(t), s); err != nil {
		t.Fatalf("CheckConditionalWrites: %v", err)
	}
	left, err := s.List(ctx(t), "")
	if err != nil || len(left) != 0 {
		t.Fatalf("the probe left objects behind: %v, %v", keysOf(left), err)
	}
}

// testListPage: pages of a prefix, through the store's Pager if it has one, equal the
// matching slices of the whole listing.
func testListPage(t *testing.T, s store.Store) {
	c := ctx(t)
	var keys []string
	for i := range 23 {
		k := fmt.Sprintf("pg/t1/s%02d", i)
		keys = append(keys, k)
		mustPut(t, s, k, []byte(k), store.PutOptions{})
	}
	mustPut(t, s, "pg/t10/x", []byte("x"), store.PutOptions{}) // outside the prefix "pg/t1/"
	var got []string
	after := ""
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("ListPage never ended")
		}
		page, err := store.ListPage(c, s, "pg/t1/", after, 5)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > 5 {
			t.Fatalf("page of %d objects, limit 5", len(page))
		}
		for _, o := range page {
			checkETag(t, o.Key, o.ETag)
		}
		if len(page) == 0 {
			break
		}
		got = append(got, keysOf(page)...)
		after = page[len(page)-1].Key
	}
	if !slices.Equal(got, keys) {
		t.Fatalf("pages = %v, want %v", got, keys)
	}
	page, err := store.ListPage(c, s, "pg/t1/", "pg/t1/s05x", 2)
	if err != nil || !slices.Equal(keysOf(page), []string{"pg/t1/s06", "pg/t1/s07"}) {
		t.Fatalf("page after a key that is not stored = %v, %v", keysOf(page), err)
	}
	if page, err := store.ListPage(c, s, "pg/none/", "", 5); err != nil || len(page) != 0 {
		t.Fatalf("page of an empty prefix = %v, %v", keysOf(page), err)
	}
}
