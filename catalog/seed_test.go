package catalog

import (
	"bytes"
	"context"
	"io/fs"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/spawnit/spawnit/pkg/store"
	"github.com/spawnit/spawnit/pkg/storekey"
)

// meetingStore makes two seeders meet: each one's read of a template.json waits until
// the other has read it too, so both find every template missing and both try to write
// it, the worst case of two replicas starting at once. It counts the writes that
// succeeded, by key.
type meetingStore struct {
	store.Store
	meet map[string]*sync.WaitGroup // by template.json key

	mu     sync.Mutex
	writes map[string]int
}

func (m *meetingStore) Get(ctx context.Context, key string) ([]byte, store.Object, error) {
	if wg, ok := m.meet[key]; ok {
		wg.Done()
		wg.Wait()
	}
	return m.Store.Get(ctx, key)
}

func (m *meetingStore) Put(ctx context.Context, key string, data []byte, opts store.PutOptions) (store.Object, error) {
	obj, err := m.Store.Put(ctx, key, data, opts)
	if err == nil {
		m.mu.Lock()
		m.writes[key]++
		m.mu.Unlock()
	}
	return obj, err
}

// TestSeedTwoReplicasAtOnce: two catalogs seed one (file) store at the same moment.
// Every built-in file is written once, each template is reported seeded by exactly one
// of them and found already there by the other, and their logs say so.
func TestSeedTwoReplicasAtOnce(t *testing.T) {
	fsStore, err := store.NewFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fsStore.Close() })
	ids := builtinIDs
	st := &meetingStore{Store: fsStore, meet: map[string]*sync.WaitGroup{}, writes: map[string]int{}}
	for _, id := range ids {
		wg := &sync.WaitGroup{}
		wg.Add(2)
		st.meet[storekey.Template(id)] = wg
	}

	var results [2]seeding
	var errs [2]error
	var both sync.WaitGroup
	for i := range 2 {
		c := New(st, nil)
		both.Go(func() {
			results[i], errs[i] = c.seed(t.Context())
		})
	}
	both.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
	}

	var seededByOne []string
	for i, r := range results {
		if len(r.seeded)+len(r.present) != len(ids) || len(r.disabled) != 0 {
			t.Errorf("replica %d: seeded %v, present %v, disabled %v; want every one of %v in seeded or present", i, r.seeded, r.present, r.disabled, ids)
		}
		seededByOne = append(seededByOne, r.seeded...)
	}
	slices.Sort(seededByOne)
	if !slices.Equal(seededByOne, ids) {
		t.Errorf("templates seeded by either replica: %v; want each of %v exactly once", seededByOne, ids)
	}

	n := 0
	err = fs.WalkDir(Builtin(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		if w := st.writes[storekey.TemplatesPrefix+p]; w != 1 {
			t.Errorf("%s written %d times, want once", p, w)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Each file in the template's folder and in its published version, plus one
	// manifest per template.
	if len(st.writes) != 2*n+len(ids) {
		t.Errorf("%d keys written, the built-in templates have %d files", len(st.writes), n)
	}
}

// TestSeedLogsWhatItDid: the first seed of a store says it seeded the templates; a
// second one, that it found them there.
func TestSeedLogsWhatItDid(t *testing.T) {
	st := newMemStore()
	ids := builtinIDs
	st.put(storekey.TemplateDisabled(ids[0]), "")
	var first, second bytes.Buffer
	if err := New(st, slog.New(slog.NewTextHandler(&first, nil))).Seed(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := New(st, slog.New(slog.NewTextHandler(&second, nil))).Seed(t.Context()); err != nil {
		t.Fatal(err)
	}
	wantFirst := "catalog: seeded " + strconv.Itoa(len(ids)-1) + " built-in templates"
	if !strings.Contains(first.String(), wantFirst) || !strings.Contains(first.String(), "disabled=["+ids[0]+"]") {
		t.Errorf("first seed logged\n%s\nwant %q and the disabled %s", first.String(), wantFirst, ids[0])
	}
	if !strings.Contains(second.String(), "already in the store; nothing seeded") || strings.Contains(second.String(), "catalog: seeded") {
		t.Errorf("second seed logged\n%s\nwant that nothing was seeded", second.String())
	}
}
