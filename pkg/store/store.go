// Package store is SpawnIt's durable storage: one small interface over an object store,
// with an S3 implementation (any S3 API that honours conditional writes; package
// s3store) and a local-filesystem one (the embedded single-machine default; NewFS).
// Both behave the same, down to conditional writes, and are checked by one conformance
// suite (package storetest). CheckConditionalWrites checks a store at start-up.
//
// Keys are slash-separated paths such as "clients/c1/s1/terraform.tfvars.json". Every
// key is validated (ValidateKey) before it touches a bucket or a file system.
package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spawnit/spawnit"
)

// Errors returned by every Store. Check them with errors.Is.
var (
	// ErrNotFound: the key does not exist. It also matches fs.ErrNotExist, so code that
	// declares its own small store interface can test for absence without importing this
	// package.
	ErrNotFound = fmt.Errorf("store: object not found: %w", fs.ErrNotExist)
	// ErrPreconditionFailed: a conditional put lost (IfNoneMatch on an existing key, or
	// IfMatch with an ETag that is no longer current).
	// Its kind is a conflict: whoever retries reads the object again.
	ErrPreconditionFailed error = spawnit.NewError(spawnit.KindConflict,
		"store: precondition failed (object changed or already exists)",
		"the object was changed by someone else meanwhile: retry")
	// ErrInvalidKey: the key is not acceptable (see ValidateKey).
	ErrInvalidKey = errors.New("store: invalid key")
	// ErrUnavailable: the backing store cannot be reached.
	ErrUnavailable error = spawnit.NewError(spawnit.KindUnavailable, "store: unavailable",
		"storage is unavailable; retry later")
)

// Object describes a stored object.
type Object struct {
	Key      string    `json:"key"`
	ETag     string    `json:"etag"`
	Size     int64     `json:"size"`
	Modified time.Time `json:"modified"`
}

// PutOptions make a put conditional.
type PutOptions struct {
	// IfNoneMatch: create only; fails with ErrPreconditionFailed when the key exists.
	IfNoneMatch bool
	// IfMatch: replace only if the current ETag equals this one; fails with
	// ErrPreconditionFailed otherwise (and when the key does not exist).
	IfMatch string
	// ContentType is recorded where the store supports it.
	ContentType string
}

// Store is the interface both implementations satisfy.
type Store interface {
	// Get returns the object's bytes and metadata, or ErrNotFound.
	Get(ctx context.Context, key string) ([]byte, Object, error)
	// Put writes the object, atomically, honouring opts' conditions.
	Put(ctx context.Context, key string, data []byte, opts PutOptions) (Object, error)
	// Stat returns the object's metadata, or ErrNotFound.
	Stat(ctx context.Context, key string) (Object, error)
	// List returns every object whose key starts with prefix (recursively), sorted by key.
	List(ctx context.Context, prefix string) ([]Object, error)
	// Delete removes the object; deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
}

// MaxKeyLen bounds key length (S3 allows 1024 bytes).
const MaxKeyLen = 1024

// ValidateKey accepts keys made of segments of [A-Za-z0-9._-] separated by single
// slashes, with no empty, "." or ".." segment, no leading or trailing slash, at most
// MaxKeyLen bytes. Everything else (NUL, backslashes, non-ASCII look-alikes, spaces)
// is rejected, so a key can never escape a root directory or address another tenant.
func ValidateKey(key string) error {
	if key == "" {
		return fmt.Errorf("%w: empty", ErrInvalidKey)
	}
	if len(key) > MaxKeyLen {
		return fmt.Errorf("%w: longer than %d bytes", ErrInvalidKey, MaxKeyLen)
	}
	if !utf8.ValidString(key) {
		return fmt.Errorf("%w: not UTF-8", ErrInvalidKey)
	}
	for _, seg := range strings.Split(key, "/") {
		if err := validSegment(seg); err != nil {
			return fmt.Errorf("%w: %q: %v", ErrInvalidKey, key, err)
		}
	}
	return nil
}

// ValidatePrefix accepts "" or a key optionally followed by a trailing slash.
func ValidatePrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	return ValidateKey(strings.TrimSuffix(prefix, "/"))
}

func validSegment(seg string) error {
	switch seg {
	case "":
		return errors.New("empty path segment")
	case ".", "..":
		return errors.New("relative path segment")
	}
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-' {
			continue
		}
		return fmt.Errorf("character %q not allowed", c)
	}
	return nil
}

// NormalizeETag strips surrounding whitespace and the double quotes HTTP puts around
// entity tags, so an ETag copied from an S3 response or header compares equal to the
// unquoted form every Store returns.
func NormalizeETag(etag string) string {
	return strings.Trim(strings.TrimSpace(etag), `"`)
}

// Check rejects option combinations no store can honour: IfNoneMatch together with
// IfMatch (the two can never both hold) and an IfMatch that is empty after
// normalisation or the "*" wildcard, which S3 servers interpret inconsistently. Stores
// call it before any write so that a caller's mistake never looks like a lost race.
func (o PutOptions) Check() error {
	if o.IfMatch == "" {
		return nil
	}
	if o.IfNoneMatch {
		return errors.New("store: IfNoneMatch and IfMatch cannot be combined")
	}
	switch NormalizeETag(o.IfMatch) {
	case "":
		return fmt.Errorf("store: IfMatch %q is not an ETag", o.IfMatch)
	case "*":
		return errors.New(`store: IfMatch "*" is not supported; pass the ETag read from Stat or Get`)
	}
	return nil
}
