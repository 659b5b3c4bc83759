package catalog

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spawnit/spawnit/pkg/store"
)

// memStore is an in-memory store.Store with the same conditional-write semantics as the
// real ones, plus counters so tests can prove what the catalog (does not) re-read.
// ETags are per-write generations, so rewriting identical bytes still changes the ETag
// (the strictest behaviour a real store may have). It passes pkg/store/storetest.
type memStore struct {
	mu      sync.Mutex
	objects map[string]memObject
	gen     int
	gets    map[string]int
	// failPut, when set, is consulted before every Put (fault injection).
	failPut func(key string) error
}

type memObject struct {
	data []byte
	obj  store.Object
}

var _ store.Store = (*memStore)(nil)

// begin checks what every call checks first, as the real stores do.
func begin(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return store.ValidateKey(key)
}

func newMemStore() *memStore {
	return &memStore{objects: map[string]memObject{}, gets: map[string]int{}}
}

func (m *memStore) Get(ctx context.Context, key string) ([]byte, store.Object, error) {
	if err := begin(ctx, key); err != nil {
		return nil, store.Object{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gets[key]++
	o, ok := m.objects[key]
	if !ok {
		return nil, store.Object{}, fmt.Errorf("%w: %s", store.ErrNotFound, key)
	}
	return append([]byte(nil), o.data...), o.obj, nil
}

func (m *memStore) Put(ctx context.Context, key string, data []byte, opts store.PutOptions) (store.Object, error) {
	if err := begin(ctx, key); err != nil {
		return store.Object{}, err
	}
	ifMatch := strings.Trim(opts.IfMatch, `"`)
	if opts.IfMatch != "" && (opts.IfNoneMatch || ifMatch == "" || ifMatch == "*") {
		return store.Object{}, fmt.Errorf("memstore: invalid put options %+v", opts)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failPut != nil {
		if err := m.failPut(key); err != nil {
			return store.Object{}, err
		}
	}
	cur, exists := m.objects[key]
	if (opts.IfNoneMatch && exists) || (ifMatch != "" && (!exists || cur.obj.ETag != ifMatch)) {
		return store.Object{}, fmt.Errorf("%w: %s", store.ErrPreconditionFailed, key)
	}
	m.gen++
	o := memObject{
		data: append([]byte(nil), data...),
		obj:  store.Object{Key: key, ETag: fmt.Sprintf("g%d", m.gen), Size: int64(len(data)), Modified: time.Now().UTC()},
	}
	m.objects[key] = o
	return o.obj, nil
}

func (m *memStore) Stat(ctx context.Context, key string) (store.Object, error) {
	if err := begin(ctx, key); err != nil {
		return store.Object{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.objects[key]
	if !ok {
		return store.Object{}, fmt.Errorf("%w: %s", store.ErrNotFound, key)
	}
	return o.obj, nil
}

func (m *memStore) List(ctx context.Context, prefix string) ([]store.Object, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := store.ValidatePrefix(prefix); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []store.Object
	for k, o := range m.objects {
		if strings.HasPrefix(k, prefix) {
			out = append(out, o.obj)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

func (m *memStore) Delete(ctx context.Context, key string) error {
	if err := begin(ctx, key); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.objects, key)
	return nil
}

// put writes unconditionally, for test setup.
func (m *memStore) put(key, data string) store.Object {
	o, err := m.Put(context.Background(), key, []byte(data), store.PutOptions{})
	if err != nil {
		panic(err)
	}
	return o
}

func (m *memStore) getCount(key string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.gets[key]
}

func (m *memStore) data(key string) (string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.objects[key]
	return string(o.data), ok
}

func (m *memStore) keys(prefix string) []string {
	objs, _ := m.List(context.Background(), prefix)
	var out []string
	for _, o := range objs {
		out = append(out, o.Key)
	}
	return out
}
