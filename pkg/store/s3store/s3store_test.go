package s3store_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/spawnit/spawnit/internal/testservers"
	"github.com/spawnit/spawnit/pkg/store"
	"github.com/spawnit/spawnit/pkg/store/s3store"
	"github.com/spawnit/spawnit/pkg/store/storetest"
)

var bucketSeq atomic.Int64

// freshBucket names a bucket no earlier test on this server has used.
func freshBucket() string {
	return fmt.Sprintf("spawnit-test-%d-%d", time.Now().UnixNano()%1e6, bucketSeq.Add(1))
}

func config(srv *testservers.S3, bucket string) s3store.Config {
	return s3store.Config{
		Endpoint:  srv.Endpoint,
		Bucket:    bucket,
		AccessKey: srv.AccessKey,
		SecretKey: srv.SecretKey,
		Region:    srv.Region,
		PathStyle: true,
	}
}

func newStore(t *testing.T, cfg s3store.Config) *s3store.Store {
	t.Helper()
	s, err := s3store.New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// rawClient talks to the server without going through the store, to check its effects.
func rawClient(t *testing.T, srv *testservers.S3) *minio.Client {
	t.Helper()
	c, err := minio.New(srv.Endpoint, &minio.Options{
		Creds:        credentials.NewStaticV4(srv.AccessKey, srv.SecretKey, ""),
		Region:       srv.Region,
		BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestS3Conformance(t *testing.T) {
	srv := testservers.Versitygw(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		return newStore(t, config(srv, freshBucket()))
	})
}

func TestS3ETagIsContentMD5(t *testing.T) {
	srv := testservers.Versitygw(t)
	s := newStore(t, config(srv, freshBucket()))
	data := []byte("same bytes, same ETag as store.FS")
	sum := md5.Sum(data)
	want := hex.EncodeToString(sum[:])
	put, err := s.Put(t.Context(), "k", data, store.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.Stat(t.Context(), "k")
	if err != nil {
		t.Fatal(err)
	}
	if put.ETag != want || st.ETag != want {
		t.Fatalf("ETags %q (Put), %q (Stat); want the content MD5 %q", put.ETag, st.ETag, want)
	}
}

func TestNewCreatesMissingBucket(t *testing.T) {
	srv := testservers.Versitygw(t)
	raw := rawClient(t, srv)
	ctx := t.Context()
	bucket := freshBucket()
	if ok, err := raw.BucketExists(ctx, bucket); err != nil || ok {
		t.Fatalf("bucket %s before New: exists=%v err=%v; want absent", bucket, ok, err)
	}
	s := newStore(t, config(srv, bucket))
	if ok, err := raw.BucketExists(ctx, bucket); err != nil || !ok {
		t.Fatalf("bucket %s after New: exists=%v err=%v; want created", bucket, ok, err)
	}
	if _, err := s.Put(ctx, "a/b", []byte("x"), store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	// Starting again on the existing bucket keeps its contents.
	again := newStore(t, config(srv, bucket))
	if data, _, err := again.Get(ctx, "a/b"); err != nil || string(data) != "x" {
		t.Fatalf("Get through a second store = %q, %v; want x", data, err)
	}

	// Several instances starting at once on a missing bucket must all succeed.
	shared := freshBucket()
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = s3store.New(ctx, config(srv, shared))
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("concurrent New #%d: %v", i, err)
		}
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, cfg := range []s3store.Config{
		{Endpoint: "", Bucket: "ok-bucket"},
		{Endpoint: "http://127.0.0.1:9000", Bucket: "ok-bucket"},
		{Endpoint: "127.0.0.1:9000/path", Bucket: "ok-bucket"},
		{Endpoint: "127.0.0.1:9000", Bucket: "Bad_Bucket"},
		{Endpoint: "127.0.0.1:9000", Bucket: ""},
	} {
		if _, err := s3store.New(t.Context(), cfg); err == nil || errors.Is(err, store.ErrUnavailable) {
			t.Errorf("New(%v): err = %v, want a configuration error", cfg, err)
		}
	}
}

func TestUnavailable(t *testing.T) {
	srv := testservers.Versitygw(t)
	cfg := config(srv, freshBucket())
	cfg.MaxRetries = 1 // fail fast; the retrying default is checked below
	s := newStore(t, cfg)
	ctx := t.Context()
	const key = "clients/c1/state"
	put, err := s.Put(ctx, key, []byte("v1"), store.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	retrying := cfg
	retrying.MaxRetries = 0 // minio-go's default: 10 attempts with backoff
	slow := newStore(t, retrying)

	srv.Stop()
	check := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, store.ErrUnavailable) {
			t.Fatalf("%s with the server down: err = %v, want store.ErrUnavailable", op, err)
		}
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrPreconditionFailed) {
			t.Fatalf("%s with the server down: %v also matches a definite answer", op, err)
		}
		if strings.Contains(err.Error(), srv.SecretKey) {
			t.Fatalf("%s: error reveals the secret key: %v", op, err)
		}
	}
	_, _, err = s.Get(ctx, key)
	check("Get", err)
	if !strings.Contains(err.Error(), key) {
		t.Errorf("error %q does not name the key", err)
	}
	_, err = s.Stat(ctx, key)
	check("Stat", err)
	_, err = s.Put(ctx, key, []byte("v2"), store.PutOptions{})
	check("Put", err)
	_, err = s.List(ctx, "clients/")
	check("List", err)
	check("Delete", s.Delete(ctx, key))
	_, err = s3store.New(ctx, cfg)
	check("New", err)

	// With minio-go's default retries, a caller's deadline ends the wait.
	dctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	_, err = slow.Stat(dctx, key)
	check("Stat with a deadline", err)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Stat with a deadline: %v does not keep context.DeadlineExceeded", err)
	}
	// Conditional puts are never retried, so they fail at once even with the default.
	start := time.Now()
	_, err = slow.Put(ctx, key, []byte("v2"), store.PutOptions{IfMatch: put.ETag})
	check("conditional Put", err)
	if d := time.Since(start); d > time.Second {
		t.Errorf("conditional Put took %v with the server down; it must not be retried", d)
	}

	srv.Restart(t)
	if data, _, err := s.Get(ctx, key); err != nil || string(data) != "v1" {
		t.Fatalf("Get after restart = %q, %v; want v1", data, err)
	}
}

func TestConfigHidesSecret(t *testing.T) {
	const secret = "super-secret-value"
	cfg := s3store.Config{Endpoint: "127.0.0.1:1", Bucket: "b", AccessKey: "AKIA", SecretKey: secret}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("start", "store", cfg)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("start", "store", cfg)
	fmt.Fprintf(&buf, "%v %+v %#v %s", cfg, cfg, cfg, cfg)
	if strings.Contains(buf.String(), secret) {
		t.Fatalf("secret key printed: %s", buf.String())
	}
	if !strings.Contains(buf.String(), "AKIA") {
		t.Fatalf("access key missing from %s; the test would not notice a dropped field", buf.String())
	}
}

func TestCheckConditionalWrites(t *testing.T) {
	srv := testservers.Versitygw(t)
	s := newStore(t, config(srv, freshBucket()))
	if err := store.CheckConditionalWrites(t.Context(), s); err != nil {
		t.Fatalf("versitygw: %v", err)
	}
	left, err := s.List(t.Context(), "")
	if err != nil || len(left) != 0 {
		t.Fatalf("probe left objects behind: %+v, %v", left, err)
	}
}

// TestCheckConditionalWritesDetectsIgnoringServer uses a fake S3 that accepts every
// PUT, conditional or not, as some implementations do.
func TestCheckConditionalWritesDetectsIgnoringServer(t *testing.T) {
	var puts atomic.Int64
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodHead: // BucketExists
		case http.MethodPut:
			puts.Add(1)
			w.Header().Set("ETag", `"0123456789abcdef0123456789abcdef"`)
		case http.MethodDelete:
			w.WriteHeader(http.StatusNoContent)
		default:
			w.WriteHeader(http.StatusNotImplemented)
		}
	}))
	defer fake.Close()
	s := newStore(t, s3store.Config{
		Endpoint:  strings.TrimPrefix(fake.URL, "http://"),
		Bucket:    "fake-bucket",
		AccessKey: "a",
		SecretKey: "b",
		PathStyle: true,
	})
	err := store.CheckConditionalWrites(t.Context(), s)
	if !errors.Is(err, store.ErrUnsafeStore) || !strings.Contains(err.Error(), "If-None-Match") {
		t.Fatalf("err = %v, want a report that If-None-Match is ignored", err)
	}
	if puts.Load() != 2 {
		t.Fatalf("%d PUTs reached the fake server, want 2", puts.Load())
	}
}
