package cluster

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/spawnit/spawnit/pkg/store"
	"github.com/spawnit/spawnit/pkg/storekey"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newStore(t *testing.T) *store.FS {
	t.Helper()
	st, err := store.NewFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestLiveness: a replica is alive while it beats, dead one TTL after its last beat, and
// gone at once when it leaves.
func TestLiveness(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	clk := &clock{t: time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)}
	reg := func(id string) *Registry {
		r, err := New(st, Options{ID: id, Host: "h", Now: clk.now})
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Join(ctx); err != nil {
			t.Fatal(err)
		}
		return r
	}
	a, b, c := reg("a"), reg("b"), reg("c")
	live, err := a.Live(ctx)
	if err != nil || len(live) != 3 {
		t.Fatalf("live = %v, %v; want a, b, c", live, err)
	}
	clk.add(DefaultTTL - time.Second)
	if err := a.beat(ctx); err != nil {
		t.Fatal(err)
	}
	_ = b.beat(ctx)
	clk.add(2 * time.Second) // c last beat TTL+1s ago
	if ok, _ := a.Alive(ctx, "c"); ok {
		t.Fatal("c alive one second past its TTL")
	}
	if ok, _ := a.Alive(ctx, "b"); !ok {
		t.Fatal("b dead although it beat 2s ago")
	}
	b.Leave()
	if ok, _ := a.Alive(ctx, "b"); ok {
		t.Fatal("b alive after leaving")
	}
	if got := a.Members(); len(got) != 3 {
		t.Fatalf("members before a refresh = %v, want the three of the last refresh", got)
	}
	if _, err := a.Live(ctx); err != nil {
		t.Fatal(err)
	}
	if got := a.Members(); fmt.Sprint(got) != "[a]" {
		t.Fatalf("members = %v, want [a]", got)
	}
	// A record dead for over an hour is removed by the next reader.
	clk.add(forgetAfter + time.Minute)
	if _, err := a.Live(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.Get(ctx, storekey.Replica("c")); err == nil {
		t.Fatal("c's record kept an hour after its death")
	}
	_ = c
}

// TestOwnerStable: every member agrees on one owner per key, the keys spread over the
// members, and when one member leaves only its keys move.
func TestOwnerStable(t *testing.T) {
	members := []string{"r-1", "r-2", "r-3"}
	count := map[string]int{}
	before := map[string]string{}
	for i := range 3000 {
		k := fmt.Sprintf("clients/t%d/s%d", i%17, i)
		o := Owner(members, k)
		count[o]++
		before[k] = o
	}
	for _, m := range members {
		if count[m] < 800 {
			t.Fatalf("owner spread %v: %s got %d of 3000", count, m, count[m])
		}
	}
	for k, o := range before {
		n := Owner([]string{"r-1", "r-3"}, k)
		if o != "r-2" && n != o {
			t.Fatalf("key %s moved from %s to %s although its owner stayed", k, o, n)
		}
	}
	if Owner(nil, "x") != "" {
		t.Fatal("owner of no members")
	}
}

func TestOptions(t *testing.T) {
	st := newStore(t)
	if _, err := New(st, Options{ID: "Bad/ID"}); err == nil {
		t.Fatal("accepted an id with / and capitals")
	}
	if _, err := New(st, Options{Interval: 5 * time.Second, TTL: 10 * time.Second}); err == nil {
		t.Fatal("accepted a TTL of two intervals")
	}
	r, err := New(st, Options{Host: "Pod_7.example"})
	if err != nil {
		t.Fatal(err)
	}
	if !idChars.MatchString(r.ID()) && len(r.ID()) > len("pod-7-example-") {
		return
	}
	t.Fatalf("drawn id %q", r.ID())
}
