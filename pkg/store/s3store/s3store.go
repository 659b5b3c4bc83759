// Package s3store is the store.Store on an S3 API (versitygw in tests; any server that
// honours conditional PUTs, see docs/store.md), through minio-go.
//
// Conditional puts map onto the standard headers: IfNoneMatch sends "If-None-Match: *"
// and IfMatch sends "If-Match: <etag>". The server must evaluate them atomically with
// the write; this package adds no locking of its own. Some servers accept and ignore
// those headers: store.CheckConditionalWrites finds them out, and servers call it at
// start-up.
//
// Errors are translated at this boundary: a missing object becomes store.ErrNotFound,
// HTTP 412 and 409 ConditionalRequestConflict become store.ErrPreconditionFailed, and a
// server that cannot be reached (refused or reset connections, time-outs, 502-504)
// becomes store.ErrUnavailable, with the original error still wrapped.
package s3store

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/s3utils"

	"github.com/spawnit/spawnit/pkg/redact"
	"github.com/spawnit/spawnit/pkg/store"
)

// DefaultRegion is used when Config.Region is empty.
const DefaultRegion = "us-east-1"

// ResponseHeaderTimeout bounds the wait for an S3 answer once a request is sent.
const ResponseHeaderTimeout = 20 * time.Second

// Config locates the bucket. Its String and LogValue methods hide the secret key, so
// printing or logging a Config never leaks it.
type Config struct {
	Endpoint  string // host:port, without a scheme
	Bucket    string
	AccessKey string
	SecretKey string
	Region    string // DefaultRegion when empty
	UseTLS    bool   // https instead of http
	PathStyle bool   // address the bucket as http://host/bucket (MinIO, versitygw) instead of bucket.host
	// MaxRetries bounds attempts per request for reads, deletes and unconditional
	// writes; 0 means minio-go's default (10, with backoff capped at 1 s). Conditional
	// puts are always sent once (see Store.Put).
	MaxRetries int
}

// String describes the configuration without the secret key.
func (c Config) String() string {
	scheme := "http"
	if c.UseTLS {
		scheme = "https"
	}
	return fmt.Sprintf("s3store.Config{%s://%s bucket=%s region=%s access_key=%s secret_key=%s path_style=%t}",
		scheme, c.Endpoint, c.Bucket, c.Region, c.AccessKey, redact.Value(c.SecretKey), c.PathStyle)
}

// GoString is String, so %#v cannot print the secret either.
func (c Config) GoString() string { return c.String() }

// LogValue implements slog.LogValuer without the secret key.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("endpoint", c.Endpoint),
		slog.String("bucket", c.Bucket),
		slog.String("region", c.Region),
		slog.String("access_key", c.AccessKey),
		slog.String("secret_key", redact.Value(c.SecretKey)),
		slog.Bool("tls", c.UseTLS),
		slog.Bool("path_style", c.PathStyle),
	)
}

// Store is a store.Store on one S3 bucket. It is safe for concurrent use.
//
// ETags are returned without quotes. For the single-part uploads this package makes,
// S3-compatible servers use the hex MD5 of the content, the same as store.FS.
type Store struct {
	core   *minio.Core
	bucket string
}

var _ store.Store = (*Store)(nil)

// New connects to the bucket described by cfg, creating the bucket when it is missing.
// A server that cannot be reached yields an error matching store.ErrUnavailable.
func New(ctx context.Context, cfg Config) (*Store, error) {
	switch {
	case cfg.Endpoint == "":
		return nil, errors.New("s3store: no endpoint configured")
	case strings.Contains(cfg.Endpoint, "://") || strings.Contains(cfg.Endpoint, "/"):
		return nil, fmt.Errorf("s3store: endpoint %q must be host:port, without a scheme or path (set UseTLS for https)", cfg.Endpoint)
	}
	if err := s3utils.CheckValidBucketNameStrict(cfg.Bucket); err != nil {
		return nil, fmt.Errorf("s3store: bucket name %q: %w", cfg.Bucket, err)
	}
	region := cfg.Region
	if region == "" {
		region = DefaultRegion
	}
	lookup := minio.BucketLookupAuto
	if cfg.PathStyle {
		lookup = minio.BucketLookupPath
	}
	tr, err := minio.DefaultTransport(cfg.UseTLS)
	if err != nil {
		return nil, fmt.Errorf("s3store: transport: %w", err)
	}
	// A server that accepts requests but never answers (a blackholed or wedged S3) must
	// turn into ErrUnavailable, not a request hanging for minutes.
	tr.ResponseHeaderTimeout = ResponseHeaderTimeout
	core, err := minio.NewCore(cfg.Endpoint, &minio.Options{
		Transport:    tr,
		Creds:        credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:       cfg.UseTLS,
		Region:       region,
		BucketLookup: lookup,
		MaxRetries:   cfg.MaxRetries,
	})
	if err != nil {
		return nil, fmt.Errorf("s3store: client for %s: %w", cfg.Endpoint, err)
	}
	s := &Store{core: core, bucket: cfg.Bucket}
	if err := s.ensureBucket(ctx, region); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Store) ensureBucket(ctx context.Context, region string) error {
	exists, err := s.core.BucketExists(ctx, s.bucket)
	if err != nil {
		return s.bucketError("check", err)
	}
	if exists {
		return nil
	}
	err = s.core.MakeBucket(ctx, s.bucket, minio.MakeBucketOptions{Region: region})
	if err == nil {
		return nil
	}
	switch minio.ToErrorResponse(err).Code {
	case "BucketAlreadyOwnedByYou":
		return nil
	case "BucketAlreadyExists":
		// Either another instance created it a moment ago, or it belongs to someone
		// else: only the first is fine, and only then can we see it.
		if ok, e := s.core.BucketExists(ctx, s.bucket); e == nil && ok {
			return nil
		}
	}
	return s.bucketError("create", err)
}

func (s *Store) bucketError(op string, err error) error {
	if isUnavailable(err) {
		return fmt.Errorf("%w: s3store: %s bucket %q: %w", store.ErrUnavailable, op, s.bucket, err)
	}
	return fmt.Errorf("s3store: %s bucket %q: %w", op, s.bucket, err)
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, key string) ([]byte, store.Object, error) {
	if err := begin(ctx, key); err != nil {
		return nil, store.Object{}, err
	}
	// One GET: the body and the metadata come from the same response, so the ETag
	// always describes the bytes returned.
	body, info, _, err := s.core.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, store.Object{}, translate("get", key, err)
	}
	defer body.Close()
	data, err := io.ReadAll(body)
	if err != nil {
		return nil, store.Object{}, translate("get", key, err)
	}
	obj := objectOf(key, info)
	obj.Size = int64(len(data))
	return data, obj, nil
}

// Stat implements store.Store.
func (s *Store) Stat(ctx context.Context, key string) (store.Object, error) {
	if err := begin(ctx, key); err != nil {
		return store.Object{}, err
	}
	info, err := s.core.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return store.Object{}, translate("stat", key, err)
	}
	return objectOf(key, info), nil
}

// Put implements store.Store. The returned Modified is the client's clock when the
// server acknowledged the write (S3 does not return the server's time for a PUT).
//
// Conditional puts are sent exactly once. Retrying one whose response was lost would
// turn its own success into ErrPreconditionFailed (the retry finds the object it just
// wrote); instead the caller gets ErrUnavailable, meaning the outcome is unknown and it
// should read the key again.
func (s *Store) Put(ctx context.Context, key string, data []byte, opts store.PutOptions) (store.Object, error) {
	if err := begin(ctx, key); err != nil {
		return store.Object{}, err
	}
	if err := opts.Check(); err != nil {
		return store.Object{}, fmt.Errorf("put %q: %w", key, err)
	}
	po := minio.PutObjectOptions{ContentType: opts.ContentType, DisableMultipart: true}
	var body io.Reader = bytes.NewReader(data)
	conditional := opts.IfNoneMatch || opts.IfMatch != ""
	switch {
	case opts.IfNoneMatch:
		po.SetMatchETagExcept("*")
	case opts.IfMatch != "":
		po.SetMatchETag(store.NormalizeETag(opts.IfMatch))
	}
	if conditional {
		// minio-go only retries requests whose body can seek back to the start.
		body = struct{ io.Reader }{body}
	}
	md5sum := md5.Sum(data)
	shasum := sha256.Sum256(data)
	info, err := s.core.PutObject(ctx, s.bucket, key, body, int64(len(data)),
		base64.StdEncoding.EncodeToString(md5sum[:]), hex.EncodeToString(shasum[:]), po)
	if err != nil {
		resp := minio.ToErrorResponse(err)
		switch {
		case opts.IfMatch != "" && isNotFound(resp):
			// AWS and versitygw answer 404 here; the store contract says a missing key
			// simply fails the condition.
			return store.Object{}, fmt.Errorf("put %q: %w: IfMatch %s but the key does not exist",
				key, store.ErrPreconditionFailed, store.NormalizeETag(opts.IfMatch))
		case conditional && resp.StatusCode == http.StatusConflict:
			// A concurrent conditional write to the same key was in progress.
			return store.Object{}, fmt.Errorf("put %q: %w (S3 %s)", key, store.ErrPreconditionFailed, resp.Code)
		}
		return store.Object{}, translate("put", key, err)
	}
	return store.Object{
		Key:      key,
		ETag:     store.NormalizeETag(info.ETag),
		Size:     int64(len(data)),
		Modified: time.Now().UTC(),
	}, nil
}

// Delete implements store.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := begin(ctx, key); err != nil {
		return err
	}
	err := s.core.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{})
	if err != nil && !isNotFound(minio.ToErrorResponse(err)) {
		return translate("delete", key, err)
	}
	return nil
}

// List implements store.Store. Keys that ValidateKey would refuse (directory markers
// such as "a/", objects written by other tools) are left out, so every key listed can
// be passed back to Get.
func (s *Store) List(ctx context.Context, prefix string) ([]store.Object, error) {
	if err := store.ValidatePrefix(prefix); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops minio-go's pager if we return early
	objs := []store.Object{}
	for info := range s.core.ListObjectsIter(ctx, s.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if info.Err != nil {
			return nil, translate("list", prefix, info.Err)
		}
		if store.ValidateKey(info.Key) != nil {
			continue
		}
		objs = append(objs, objectOf(info.Key, info))
	}
	// S3 already returns byte order; sorting again costs little and makes the contract
	// independent of the server.
	slices.SortFunc(objs, func(a, b store.Object) int { return strings.Compare(a.Key, b.Key) })
	return objs, nil
}

var _ store.Pager = (*Store)(nil)

// ListPage implements store.Pager with ListObjectsV2's StartAfter and MaxKeys: one
// request for a page of up to 1,000 keys.
func (s *Store) ListPage(ctx context.Context, prefix, startAfter string, limit int) ([]store.Object, error) {
	if err := store.ValidatePrefix(prefix); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	objs := []store.Object{}
	if limit <= 0 {
		return objs, nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops minio-go's pager once the page is full
	opts := minio.ListObjectsOptions{Prefix: prefix, Recursive: true, StartAfter: startAfter, MaxKeys: min(limit, 1000)}
	for info := range s.core.ListObjectsIter(ctx, s.bucket, opts) {
		if info.Err != nil {
			return nil, translate("list", prefix, info.Err)
		}
		if store.ValidateKey(info.Key) != nil || info.Key <= startAfter {
			continue
		}
		objs = append(objs, objectOf(info.Key, info))
		if len(objs) == limit {
			break
		}
	}
	slices.SortFunc(objs, func(a, b store.Object) int { return strings.Compare(a.Key, b.Key) })
	return objs, nil
}

func begin(ctx context.Context, key string) error {
	if err := store.ValidateKey(key); err != nil {
		return err
	}
	return ctx.Err()
}

func objectOf(key string, info minio.ObjectInfo) store.Object {
	return store.Object{
		Key:      key,
		ETag:     store.NormalizeETag(info.ETag),
		Size:     info.Size,
		Modified: info.LastModified.UTC(),
	}
}

// translate maps an error from an S3 call on key (or prefix, for List) onto the
// store's sentinel errors, keeping the original wrapped.
func translate(op, key string, err error) error {
	resp := minio.ToErrorResponse(err)
	switch {
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("s3store: %s %q: %w", op, key, err)
	case isUnavailable(err):
		return fmt.Errorf("%w: s3store: %s %q: %w", store.ErrUnavailable, op, key, err)
	case isNotFound(resp):
		return fmt.Errorf("%s %q: %w", op, key, store.ErrNotFound)
	case resp.StatusCode == http.StatusPreconditionFailed || resp.Code == "PreconditionFailed" ||
		resp.Code == "ConditionalRequestConflict":
		return fmt.Errorf("%s %q: %w (S3 %s)", op, key, store.ErrPreconditionFailed, resp.Code)
	}
	return fmt.Errorf("s3store: %s %q: %w", op, key, err)
}

// isNotFound: the object is missing. A missing bucket is not folded in: that is a
// deployment problem, and calling it "not found" would hide it.
func isNotFound(resp minio.ErrorResponse) bool {
	return resp.Code == "NoSuchKey" || resp.StatusCode == http.StatusNotFound && resp.Code != "NoSuchBucket"
}

// isUnavailable: the server could not be reached or could not serve the request, as
// opposed to answering it with a refusal.
func isUnavailable(err error) bool {
	if minio.IsNetworkOrHostDown(err, false) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	resp := minio.ToErrorResponse(err)
	switch resp.StatusCode {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return resp.Code == "SlowDown" || resp.Code == "ServiceUnavailable"
}
