package supervisor

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"
)

// Prime checks every watched service this replica owns now (up to Concurrency at once) and spreads their next
// checks uniformly over one Interval: the state a long-running supervisor is in. It is
// the "check everything" action, and what benchmarks use to measure steady state
// without waiting an interval first. Call it before Run.
func (s *Supervisor) Prime(ctx context.Context) error {
	s.refreshWatched(ctx, true)
	var inv *dockerInventory
	if s.docker != nil {
		if i, err := s.docker.inventory(ctx); err == nil {
			inv = i
			s.mu.Lock()
			s.inv, s.invAt = i, time.Now()
			s.stats.Inventories++
			s.mu.Unlock()
		}
	}
	s.mu.Lock()
	var all []*watch
	for _, w := range s.watches {
		if !w.owned {
			continue // another replica's
		}
		w.running, w.startedAt = true, time.Now()
		all = append(all, w)
	}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, w := range all {
		s.mu.Lock()
		t := w.svc
		s.mu.Unlock()
		select {
		case s.slots <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-s.slots }()
			fp := ""
			if inv != nil && t.Target == "docker" {
				f, n, err := s.docker.fingerprint(ctx, inv, t.Ref)
				if err == nil {
					fp = f
				}
				s.mu.Lock()
				s.stats.Inspected += n
				s.mu.Unlock()
			}
			s.check(ctx, w, t, fp, inv)
		}()
	}
	wg.Wait()
	now := time.Now()
	s.mu.Lock()
	for _, w := range s.watches {
		w.next = now.Add(time.Duration(rand.Int64N(int64(s.cfg.Interval))))
	}
	s.mu.Unlock()
	return nil
}
