package platform

import (
	"sync"
	"time"

	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/pkg/apiv1"
)

// Broker fans status events out to each tenant's subscribers. Publishing never
// blocks: every subscriber has a bounded queue, and one whose queue is full is dropped
// (its channel closed) rather than slowing the publisher or taking memory without
// bound. A dropped subscriber reconnects and re-reads the current state.
type Broker struct {
	buffer int

	mu     sync.Mutex
	subs   map[string]map[*Subscription]struct{}
	closed bool
}

// Subscription receives one tenant's status events on C until it is closed, dropped
// for falling behind, or the broker shuts down; C is then closed. The events are
// shared by every subscriber: read them, never change them. (Pointers keep an idle
// subscriber's queue at 8 bytes a slot instead of a whole event: with a thousand
// subscribers and 64 slots each, 0.5 MiB instead of 9 MiB.)
type Subscription struct {
	C <-chan *apiv1.StatusEvent

	b       *Broker
	tenant  string
	ch      chan *apiv1.StatusEvent
	dropped bool // guarded by b.mu
	done    bool // guarded by b.mu
}

// NewBroker returns a broker whose subscribers each queue at most buffer events.
func NewBroker(buffer int) *Broker {
	if buffer < 1 {
		buffer = 1
	}
	return &Broker{buffer: buffer, subs: map[string]map[*Subscription]struct{}{}}
}

// Subscribe registers a subscriber for a tenant's events. After Close, the returned
// subscription's channel is already closed.
func (b *Broker) Subscribe(tenant string) *Subscription {
	ch := make(chan *apiv1.StatusEvent, b.buffer)
	s := &Subscription{C: ch, b: b, tenant: tenant, ch: ch}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		s.done = true
		close(ch)
		return s
	}
	m := b.subs[tenant]
	if m == nil {
		m = map[*Subscription]struct{}{}
		b.subs[tenant] = m
	}
	m[s] = struct{}{}
	return s
}

// Publish delivers ev to the tenant's subscribers without blocking.
func (b *Broker) Publish(tenant string, ev apiv1.StatusEvent) {
	shared := &ev
	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.subs[tenant] {
		select {
		case s.ch <- shared:
		default:
			s.dropped = true
			b.removeLocked(s)
		}
	}
}

// Subscribers counts the live subscriptions of a tenant.
func (b *Broker) Subscribers(tenant string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs[tenant])
}

// Close ends every subscription and refuses new ones.
func (b *Broker) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	for _, m := range b.subs {
		for s := range m {
			b.removeLocked(s)
		}
	}
}

func (b *Broker) removeLocked(s *Subscription) {
	if s.done {
		return
	}
	s.done = true
	close(s.ch)
	m := b.subs[s.tenant]
	delete(m, s)
	if len(m) == 0 {
		delete(b.subs, s.tenant)
	}
}

// Close ends the subscription; calling it more than once is harmless.
func (s *Subscription) Close() {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	s.b.removeLocked(s)
}

// Dropped reports whether the broker ended the subscription because it fell behind.
func (s *Subscription) Dropped() bool {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	return s.dropped
}

func jobStatus(info engine.JobInfo, now time.Time) apiv1.StatusEvent {
	return apiv1.StatusEvent{
		Kind:    "job",
		Service: info.Service.Service,
		Job:     &apiv1.JobRef{ID: info.ID, Operation: info.Operation, State: info.State},
		Time:    now,
	}
}
