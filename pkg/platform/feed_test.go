package platform

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/spawnit/spawnit/pkg/apiv1"
	"github.com/spawnit/spawnit/pkg/store"
	"github.com/spawnit/spawnit/pkg/storekey"
)

// TestFeedAcrossReplicas: a status event published on one replica reaches another's
// subscriber through the store, and a replica's own events reach its subscribers once
// (from its broker, never again from the feed).
func TestFeedAcrossReplicas(t *testing.T) {
	st, err := store.NewFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	ba, bb := NewBroker(16), NewBroker(16)
	fa, fb := newFeed(st, ba, nil, log), newFeed(st, bb, nil, log)
	t.Cleanup(func() { fa.close(); fb.close() })

	sub := bb.Subscribe("acme")
	defer sub.Close()
	fb.follow("acme")
	publish := func(b *Broker, f *feed, ev apiv1.StatusEvent) { b.Publish("acme", ev); f.publish("acme", ev) }

	publish(ba, fa, apiv1.StatusEvent{Kind: "service", Service: "from-a", Time: time.Now()})
	publish(bb, fb, apiv1.StatusEvent{Kind: "service", Service: "from-b", Time: time.Now()})
	got := map[string]int{}
	deadline := time.After(time.Minute)
	for got["from-a"] == 0 || got["from-b"] == 0 {
		select {
		case ev := <-sub.C:
			got[ev.Service]++
		case <-deadline:
			t.Fatalf("B's subscriber got %v", got)
		}
	}
	// B's own event is in the store now; wait until B's follower has read the feed
	// past it (a later entry of A's arrives), then check nothing came twice.
	publish(ba, fa, apiv1.StatusEvent{Kind: "service", Service: "later", Time: time.Now()})
	for got["later"] == 0 {
		select {
		case ev := <-sub.C:
			got[ev.Service]++
		case <-deadline:
			t.Fatalf("B's subscriber got %v", got)
		}
	}
	for k, n := range got {
		if n != 1 {
			t.Fatalf("%s delivered %d times", k, n)
		}
	}
}

func TestFeedSweep(t *testing.T) {
	st, err := store.NewFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	now := time.Now()
	old, fresh := storekey.FeedEntry("acme", now.Add(-time.Hour), "aa", "1"), storekey.FeedEntry("acme", now, "aa", "2")
	for _, k := range []string{old, fresh} {
		if _, err := st.Put(ctx, k, []byte(`{}`), store.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	f := newFeed(st, NewBroker(1), nil, slog.New(slog.DiscardHandler))
	defer f.close()
	f.sweep(ctx, now.Add(-feedRetention))
	objs, err := st.List(ctx, storekey.FeedsPrefix)
	if err != nil || len(objs) != 1 || objs[0].Key != fresh {
		t.Fatalf("after the sweep: %v (%v), want only %s", objs, err, fresh)
	}
}
