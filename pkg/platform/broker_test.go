package platform

import (
	"sync"
	"testing"
	"time"

	"github.com/spawnit/spawnit/pkg/apiv1"
)

// TestBrokerDropsSlowSubscriber: a subscriber that does not read is dropped once its
// buffer is full; publishing never blocks and the others keep receiving.
func TestBrokerDropsSlowSubscriber(t *testing.T) {
	b := NewBroker(4)
	slow := b.Subscribe("t1")
	fast := b.Subscribe("t1")
	other := b.Subscribe("t2")
	var got []string
	var wg sync.WaitGroup
	read := make(chan struct{}, 1000)
	wg.Go(func() {
		for ev := range fast.C {
			got = append(got, ev.Service)
			read <- struct{}{}
		}
	})
	done := make(chan struct{})
	go func() {
		for i := range 100 {
			b.Publish("t1", apiv1.StatusEvent{Kind: "service", Service: string(rune('a' + i%26))})
			// The fast reader keeps up: it has read this event before the next is sent
			// (however the goroutines are scheduled on a loaded machine).
			<-read
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("Publish blocked on a subscriber that does not read")
	}
	if !slow.Dropped() {
		t.Fatal("the slow subscriber was not dropped")
	}
	n := 0
	for range slow.C { // closed after what it had buffered
		n++
	}
	if n != 4 {
		t.Fatalf("the slow subscriber had %d buffered events, want its buffer (4)", n)
	}
	if b.Subscribers("t1") > 1 {
		t.Fatalf("%d subscribers left for t1", b.Subscribers("t1"))
	}
	fast.Close()
	wg.Wait()
	if fast.Dropped() {
		t.Fatal("a closed subscriber reads as dropped")
	}
	if len(got) != 100 {
		t.Fatalf("the reading subscriber got %d of 100 events", len(got))
	}
	select {
	case ev := <-other.C:
		t.Fatalf("tenant t2 received t1's event %+v", ev)
	default:
	}
	b.Close()
	if _, ok := <-other.C; ok {
		t.Fatal("Close left a subscription open")
	}
	if late := b.Subscribe("t2"); func() bool { _, ok := <-late.C; return ok }() {
		t.Fatal("a subscription after Close is open")
	}
	other.Close() // harmless after Close
}
