package store

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"

	"github.com/spawnit/spawnit/pkg/storekey"
)

// ErrUnsafeStore: the store does not keep a promise SpawnIt relies on (it ignores a
// conditional write, or a read does not see the write just before it). Running on it
// would silently turn every lease, every create-only write and every If-Match update
// into a blind overwrite, so servers refuse to start on such a store.
var ErrUnsafeStore = errors.New("store: unsafe for SpawnIt")

// CheckConditionalWrites checks, on a probe object of its own (storekey.Probe, removed
// afterwards), that s keeps the promises every replica relies on:
//
//   - a create-only write (IfNoneMatch, S3's "If-None-Match: *") of an existing key is
//     refused, and one of a missing key is accepted;
//   - a read right after a write returns what was written (read-after-write);
//   - a write with IfMatch is refused on a stale ETag and accepted on the current one;
//   - a listing shows the object just written.
//
// Some S3 implementations accept and ignore the conditional headers, which would make
// every conditional Put an unconditional one. The error names the promise that failed
// and matches ErrUnsafeStore; any other error (the store cannot be reached, access is
// denied) is returned as it came, wrapped. It needs write access and costs a handful
// of requests: servers call it once, at start-up.
func CheckConditionalWrites(ctx context.Context, s Store) (err error) {
	key := storekey.Probe(rand.Text())
	unsafe := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s (checked on %s)", ErrUnsafeStore, fmt.Sprintf(format, args...), key)
	}
	failed := func(step string, err error) error {
		return fmt.Errorf("store: conditional write check: %s: %w", step, err)
	}
	defer func() {
		if derr := s.Delete(context.WithoutCancel(ctx), key); derr != nil {
			err = errors.Join(err, failed("remove the probe object", derr))
		}
	}()

	first, err := s.Put(ctx, key, []byte("probe 1"), PutOptions{IfNoneMatch: true})
	if errors.Is(err, ErrPreconditionFailed) {
		return unsafe("a create-only write (If-None-Match: *) of a key that does not exist was refused")
	} else if err != nil {
		return failed("create-only write of a new key", err)
	}
	_, err = s.Put(ctx, key, []byte("probe 2"), PutOptions{IfNoneMatch: true})
	if err == nil {
		return unsafe("a create-only write (If-None-Match: *) of an existing key was accepted and replaced the object: the store ignores If-None-Match")
	} else if !errors.Is(err, ErrPreconditionFailed) {
		return failed("create-only write of an existing key", err)
	}
	data, got, err := s.Get(ctx, key)
	if err != nil {
		return failed("read after write", err)
	}
	if !bytes.Equal(data, []byte("probe 1")) || got.ETag != first.ETag {
		return unsafe("a read right after a write returned %q (ETag %s), not what was written (ETag %s): the store lacks read-after-write consistency", data, got.ETag, first.ETag)
	}
	// An ETag no write of this probe can have: neither stale-but-real nor current.
	made := md5.Sum([]byte("no object of the probe has this content"))
	_, err = s.Put(ctx, key, []byte("probe 3"), PutOptions{IfMatch: hex.EncodeToString(made[:])})
	if err == nil {
		return unsafe("a write with If-Match and an ETag the object does not have was accepted: the store ignores If-Match")
	} else if !errors.Is(err, ErrPreconditionFailed) {
		return failed("write with a wrong If-Match", err)
	}
	second, err := s.Put(ctx, key, []byte("probe 4"), PutOptions{IfMatch: first.ETag})
	if errors.Is(err, ErrPreconditionFailed) {
		return unsafe("a write with If-Match and the object's current ETag was refused")
	} else if err != nil {
		return failed("write with the current If-Match", err)
	}
	if second.ETag == first.ETag {
		return unsafe("a write of new content kept the ETag %s: ETags must change with the content", first.ETag)
	}
	_, err = s.Put(ctx, key, []byte("probe 5"), PutOptions{IfMatch: first.ETag})
	if err == nil {
		return unsafe("a write with If-Match and a stale ETag (the object was replaced since) was accepted: the store ignores If-Match")
	} else if !errors.Is(err, ErrPreconditionFailed) {
		return failed("write with a stale If-Match", err)
	}
	listed, err := s.List(ctx, key)
	if err != nil {
		return failed("list", err)
	}
	if !slices.ContainsFunc(listed, func(o Object) bool { return o.Key == key }) {
		return unsafe("a listing right after a write does not show the object written")
	}
	return nil
}
