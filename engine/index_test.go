package engine

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/spawnit/spawnit/pkg/store"
	"github.com/spawnit/spawnit/pkg/storekey"
)

// recordingStore notes the keys written and the prefixes listed.
type recordingStore struct {
	*flakyStore
	mu      sync.Mutex
	puts    []string
	lists   []string
	deletes []string
}

func (r *recordingStore) Put(ctx context.Context, key string, data []byte, opts store.PutOptions) (store.Object, error) {
	r.mu.Lock()
	r.puts = append(r.puts, key)
	r.mu.Unlock()
	return r.flakyStore.Put(ctx, key, data, opts)
}

func (r *recordingStore) List(ctx context.Context, prefix string) ([]store.Object, error) {
	r.mu.Lock()
	r.lists = append(r.lists, prefix)
	r.mu.Unlock()
	return r.flakyStore.List(ctx, prefix)
}

func (r *recordingStore) Delete(ctx context.Context, key string) error {
	r.mu.Lock()
	r.deletes = append(r.deletes, key)
	r.mu.Unlock()
	return r.flakyStore.Delete(ctx, key)
}

func (r *recordingStore) listed() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.lists
	r.lists = nil
	return out
}

// TestUnfinishedJobsIndex: a job's entry in the index of unfinished jobs is written
// before its first record and removed after its final one.
func TestUnfinishedJobsIndex(t *testing.T) {
	e, fst := unitEngine(t, false)
	st := &recordingStore{flakyStore: fst}
	e.cfg.Store = st
	ref := ServiceRef{Client: "acme", Service: "web"}
	j, err := e.Plan(context.Background(), ref) // fails (no module, no tofu), and ends
	if err != nil {
		t.Fatal(err)
	}
	<-j.Done()
	entry := storekey.For("acme", "web").RunningJob(j.ID())
	st.mu.Lock()
	puts, deletes := slices.Clone(st.puts), slices.Clone(st.deletes)
	st.mu.Unlock()
	first, record := slices.Index(puts, entry), slices.Index(puts, jobKey(ref, j.ID()))
	if first < 0 || record < 0 || first > record {
		t.Fatalf("the entry must be written before the first record: %v", puts)
	}
	if !slices.Contains(deletes, entry) || exists(st, entry) {
		t.Fatalf("the entry of an ended job is left: deletes %v", deletes)
	}
}

// TestRecoveryUsesTheIndex: once the index of unfinished jobs is built, start-up
// recovery reads it and no longer lists clients/; an entry whose job has ended is
// removed. Without the index (removed, or a store from before it), recovery scans
// every record once and rebuilds it, so no unfinished job is missed.
func TestRecoveryUsesTheIndex(t *testing.T) {
	e, fst := unitEngine(t, false)
	st := &recordingStore{flakyStore: fst}
	e.cfg.Store = st
	ctx := context.Background()
	started := timeNow().Add(-time.Minute)
	running := func(ref ServiceRef, host string) string {
		id := uuid.NewString()
		putJSON(t, st, jobKey(ref, id), jobRecord{JobInfo: JobInfo{ID: id, Operation: OpApply, Service: ref, State: StateRunning,
			CreatedAt: started, StartedAt: &started, Host: host, PID: 1<<22 + 12345}})
		return id
	}
	stateOf := func(ref ServiceRef, id string) JobState {
		info, _, err := e.LoadJob(ctx, ref, id)
		if err != nil {
			t.Fatal(err)
		}
		return info.State
	}

	// A store without the index: the first recovery scans, and builds it.
	a := ServiceRef{Client: "acme", Service: "a"}
	mine := running(a, e.cfg.Host)
	theirs := running(ServiceRef{Client: "acme", Service: "b"}, "another-host")
	if fixed, err := e.RecoverInterrupted(ctx); err != nil || len(fixed) != 1 || fixed[0].ID != mine {
		t.Fatalf("first recovery: %+v %v", fixed, err)
	}
	if !slices.Contains(st.listed(), storekey.TenantsPrefix) {
		t.Fatal("without the index, recovery must scan every record")
	}
	if !exists(st, storekey.RunningJobsBuilt) || !exists(st, storekey.For("acme", "b").RunningJob(theirs)) {
		t.Fatal("the scan did not rebuild the index (the other host's unfinished job has no entry)")
	}
	if exists(st, storekey.For("acme", "a").RunningJob(mine)) {
		t.Fatal("the recovered job's entry is left")
	}

	// With the index: an unfinished job is found through its entry, and clients/ is
	// never listed. A record without an entry is not looked at.
	c := ServiceRef{Client: "beta", Service: "c"}
	next := running(c, e.cfg.Host)
	putJSON(t, st, storekey.For("beta", "c").RunningJob(next), unfinishedEntry{Host: e.cfg.Host})
	ended := uuid.NewString()
	putJSON(t, st, jobKey(c, ended), jobRecord{JobInfo: JobInfo{ID: ended, Operation: OpPlan, Service: c, State: StateSucceeded, Host: e.cfg.Host}})
	putJSON(t, st, storekey.For("beta", "c").RunningJob(ended), unfinishedEntry{Host: e.cfg.Host})
	unindexed := running(ServiceRef{Client: "beta", Service: "d"}, e.cfg.Host)
	st.listed()
	if fixed, err := e.RecoverInterrupted(ctx); err != nil || len(fixed) != 1 || fixed[0].ID != next {
		t.Fatalf("recovery with the index: %+v %v", fixed, err)
	}
	for _, p := range st.listed() {
		// Listing a recovered job's own event chunks is no scan.
		if strings.HasPrefix(p, storekey.TenantsPrefix) && p != storekey.For("beta", "c").EventChunks(next) {
			t.Fatalf("recovery listed %s although the index is built", p)
		}
	}
	if exists(st, storekey.For("beta", "c").RunningJob(ended)) {
		t.Fatal("the entry of a job that has ended is left")
	}
	if stateOf(ServiceRef{Client: "beta", Service: "d"}, unindexed) != StateRunning {
		t.Fatal("a record without an entry was read: the index is not what recovery uses")
	}

	// The index removed (as a whole, with its mark): the next recovery scans again.
	objs, _ := st.List(ctx, storekey.IndexPrefix)
	for _, o := range objs {
		_ = st.Delete(ctx, o.Key)
	}
	if fixed, err := e.RecoverInterrupted(ctx); err != nil || len(fixed) != 1 || fixed[0].ID != unindexed {
		t.Fatalf("recovery after the index was removed: %+v %v", fixed, err)
	}
	if !exists(st, storekey.RunningJobsBuilt) || !exists(st, storekey.For("acme", "b").RunningJob(theirs)) {
		t.Fatal("the index was not rebuilt")
	}
}
