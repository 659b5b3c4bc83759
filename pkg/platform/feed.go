package platform

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spawnit/spawnit/pkg/apiv1"
	"github.com/spawnit/spawnit/pkg/cluster"
	"github.com/spawnit/spawnit/pkg/store"
	"github.com/spawnit/spawnit/pkg/storekey"
)

// The status events a replica publishes reach its own subscribers through its Broker.
// So that subscribers of the other replicas sharing the store see them too, each one
// is also written to the tenant's feed in the store (storekey.FeedEntry), and every
// replica with subscribers for a tenant polls that tenant's feed and publishes what the
// others wrote. Entries are short-lived: a subscriber that connects later re-reads the
// current state, as after a drop, so the feed only has to bridge the poll interval.

const (
	// feedPoll is how often a replica with subscribers for a tenant reads its feed.
	feedPoll = time.Second
	// feedRetention is how long an entry is kept, and the oldest a follower delivers.
	feedRetention = 2 * time.Minute
	// feedSweep is how often the replica that owns the sweep removes expired entries.
	feedSweep = time.Minute
	// feedQueue bounds the entries waiting to be written; past it they are dropped
	// (other replicas' subscribers miss them, as a dropped subscriber would).
	feedQueue = 1024
)

type feedEntry struct {
	tenant string
	ev     apiv1.StatusEvent
}

// feed writes this replica's status events to the store and brings the other
// replicas' to this one's subscribers.
type feed struct {
	st      store.Store
	broker  *Broker
	cluster *cluster.Registry
	log     *slog.Logger
	// origin names this replica in its entries' keys (hex: no "-" in it), so it skips
	// its own entries, which its subscribers had from the broker.
	origin string
	writes chan feedEntry

	mu        sync.Mutex
	followers map[string]bool // tenants whose feed is followed
	stopped   bool
	stop      chan struct{}
	wg        sync.WaitGroup
}

func newFeed(st store.Store, b *Broker, c *cluster.Registry, log *slog.Logger) *feed {
	f := &feed{st: st, broker: b, cluster: c, log: log, origin: randomHex(8),
		writes: make(chan feedEntry, feedQueue), followers: map[string]bool{}, stop: make(chan struct{})}
	f.wg.Add(2)
	go f.writeLoop()
	go f.sweepLoop()
	return f
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// publish queues ev for the tenant's feed without blocking.
func (f *feed) publish(tenant string, ev apiv1.StatusEvent) {
	select {
	case f.writes <- feedEntry{tenant, ev}:
	default:
		f.log.Warn("platform: status feed queue full: an event is not shared with other replicas", "tenant", tenant)
	}
}

func (f *feed) writeLoop() {
	defer f.wg.Done()
	for {
		select {
		case <-f.stop:
			return
		case w := <-f.writes:
			b, err := json.Marshal(w.ev)
			if err != nil {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			key := storekey.FeedEntry(w.tenant, time.Now(), f.origin, randomHex(4))
			if _, err := f.st.Put(ctx, key, b, store.PutOptions{ContentType: "application/json"}); err != nil {
				f.log.Warn("platform: could not share a status event with other replicas", "tenant", w.tenant, "err", err)
			}
			cancel()
		}
	}
}

// sweepLoop removes expired entries, on the one replica the cluster assigns the sweep.
func (f *feed) sweepLoop() {
	defer f.wg.Done()
	t := time.NewTicker(feedSweep)
	defer t.Stop()
	for {
		select {
		case <-f.stop:
			return
		case <-t.C:
		}
		if f.cluster != nil && !f.cluster.Owns(storekey.FeedsPrefix) {
			continue
		}
		f.sweep(context.Background(), time.Now().Add(-feedRetention))
	}
}

// sweep removes the entries written before cutoff.
func (f *feed) sweep(ctx context.Context, cutoff time.Time) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	objs, err := f.st.List(ctx, storekey.FeedsPrefix)
	if err != nil {
		f.log.Warn("platform: could not list the status feeds to sweep them", "err", err)
		return
	}
	for _, o := range objs {
		_, at, ok := storekey.ParseFeedEntry(o.Key)
		if ok && at.After(cutoff) {
			continue
		}
		if err := f.st.Delete(ctx, o.Key); err != nil && !errors.Is(err, fs.ErrNotExist) {
			f.log.Warn("platform: could not delete an expired status feed entry", "key", o.Key, "err", err)
			return
		}
	}
}

// follow makes sure the tenant's feed is followed; the follower stops by itself once
// the tenant has no subscriber here. Call it after subscribing.
func (f *feed) follow(tenant string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped || f.followers[tenant] {
		return
	}
	f.followers[tenant] = true
	f.wg.Add(1)
	go f.followLoop(tenant)
}

func (f *feed) followLoop(tenant string) {
	defer f.wg.Done()
	seen := map[string]time.Time{} // entries looked at
	// Entries written before the first subscriber came are not news to it (with a
	// second of slack for the replicas' clocks: a subscriber seeing a status from just
	// before it came is harmless, one missing a change is not).
	since := time.Now().Add(-feedPoll)
	t := time.NewTicker(feedPoll)
	defer t.Stop()
	for {
		f.read(tenant, seen, since)
		select {
		case <-f.stop:
			return
		case <-t.C:
		}
		f.mu.Lock()
		if f.broker.Subscribers(tenant) == 0 {
			delete(f.followers, tenant)
			f.mu.Unlock()
			return
		}
		f.mu.Unlock()
	}
}

// read publishes the entries of the tenant's feed other replicas wrote since then that
// are not in seen, oldest first.
func (f *feed) read(tenant string, seen map[string]time.Time, since time.Time) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	objs, err := f.st.List(ctx, storekey.Feed(tenant))
	if err != nil {
		f.log.Debug("platform: could not read a status feed", "tenant", tenant, "err", err)
		return
	}
	sort.Slice(objs, func(a, b int) bool { return objs[a].Key < objs[b].Key })
	oldest := time.Now().Add(-feedRetention)
	for _, o := range objs {
		_, at, ok := storekey.ParseFeedEntry(o.Key)
		if _, done := seen[o.Key]; done || !ok {
			continue
		}
		seen[o.Key] = at
		if at.Before(since) || at.Before(oldest) || strings.Contains(o.Key, "-"+f.origin+"-") {
			continue // older than the subscription, expired, or this replica's own
		}
		b, _, err := f.st.Get(ctx, o.Key)
		if err != nil {
			continue // swept meanwhile
		}
		var ev apiv1.StatusEvent
		if json.Unmarshal(b, &ev) != nil {
			continue
		}
		f.broker.Publish(tenant, ev)
	}
	// An entry older than the retention is never delivered, so forgetting it is safe.
	for k, at := range seen {
		if at.Before(oldest.Add(-feedRetention)) {
			delete(seen, k)
		}
	}
}

// close stops the feed's goroutines (queued writes are dropped).
func (f *feed) close() {
	f.mu.Lock()
	if f.stopped {
		f.mu.Unlock()
		return
	}
	f.stopped = true
	close(f.stop)
	f.mu.Unlock()
	f.wg.Wait()
}
