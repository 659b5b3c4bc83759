package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/spawnit/spawnit/pkg/store"
)

// careless is a store that gets conditional writes wrong, the way some S3
// implementations do: change rewrites the options of every Put before it reaches the
// real store underneath.
type careless struct {
	store.Store
	change func(opts store.PutOptions) store.PutOptions
}

func (c careless) Put(ctx context.Context, key string, data []byte, opts store.PutOptions) (store.Object, error) {
	return c.Store.Put(ctx, key, data, c.change(opts))
}

// lagging is a store without read-after-write consistency: Get answers what the
// first write of a key wrote, for ever.
type lagging struct {
	store.Store
	first map[string][]byte
}

func (l lagging) Put(ctx context.Context, key string, data []byte, opts store.PutOptions) (store.Object, error) {
	if _, ok := l.first[key]; !ok {
		l.first[key] = data
	}
	obj, err := l.Store.Put(ctx, key, data, opts)
	return obj, err
}

func (l lagging) Get(ctx context.Context, key string) ([]byte, store.Object, error) {
	_, obj, err := l.Store.Get(ctx, key)
	if err != nil {
		return nil, obj, err
	}
	obj.ETag = "0123456789abcdef0123456789abcdef"
	return l.first[key], obj, nil
}

func TestCheckConditionalWrites(t *testing.T) {
	const otherETag = "0123456789abcdef0123456789abcdef"
	for _, tc := range []struct {
		name string
		wrap func(store.Store) store.Store
		want string // in the error; "" for a store that passes
	}{
		{"honest", func(s store.Store) store.Store { return s }, ""},
		{"ignores If-None-Match", func(s store.Store) store.Store {
			return careless{s, func(o store.PutOptions) store.PutOptions { o.IfNoneMatch = false; return o }}
		}, "a create-only write (If-None-Match: *) of an existing key was accepted"},
		{"ignores If-Match", func(s store.Store) store.Store {
			return careless{s, func(o store.PutOptions) store.PutOptions { o.IfMatch = ""; return o }}
		}, "a write with If-Match and an ETag the object does not have was accepted"},
		{"refuses every If-Match", func(s store.Store) store.Store {
			return careless{s, func(o store.PutOptions) store.PutOptions {
				if o.IfMatch != "" {
					o.IfMatch = otherETag
				}
				return o
			}}
		}, "a write with If-Match and the object's current ETag was refused"},
		{"refuses every create", func(s store.Store) store.Store {
			return careless{s, func(o store.PutOptions) store.PutOptions {
				if o.IfNoneMatch {
					o.IfNoneMatch, o.IfMatch = false, otherETag
				}
				return o
			}}
		}, "a create-only write (If-None-Match: *) of a key that does not exist was refused"},
		{"stale reads", func(s store.Store) store.Store { return lagging{s, map[string][]byte{}} },
			"the store lacks read-after-write consistency"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := newFS(t, t.TempDir())
			err := store.CheckConditionalWrites(t.Context(), tc.wrap(fs))
			if tc.want == "" {
				if err != nil {
					t.Fatalf("CheckConditionalWrites: %v", err)
				}
			} else if !errors.Is(err, store.ErrUnsafeStore) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("CheckConditionalWrites = %v; want store.ErrUnsafeStore saying %q", err, tc.want)
			}
			if left, lerr := fs.List(t.Context(), ""); lerr != nil || len(left) != 0 {
				t.Fatalf("the probe left %v behind (%v)", left, lerr)
			}
		})
	}
}

// TestCheckConditionalWritesReportsOtherErrors: a store that fails (here, a canceled
// context) is reported as failing, not as unsafe.
func TestCheckConditionalWritesReportsOtherErrors(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := store.CheckConditionalWrites(ctx, newFS(t, t.TempDir()))
	if err == nil || errors.Is(err, store.ErrUnsafeStore) || !errors.Is(err, context.Canceled) {
		t.Fatalf("CheckConditionalWrites on a canceled context = %v; want context.Canceled, not ErrUnsafeStore", err)
	}
}
