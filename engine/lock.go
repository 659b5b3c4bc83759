package engine

import (
	"context"
	"sync"
	"time"
)

// locker grants one job at a time per service, in arrival order (FIFO), and at most cap
// running jobs overall. A job first waits for its service, then for a global slot; a
// job waiting for a slot keeps its service, which no other job could use anyway.
type locker struct {
	mu       sync.Mutex
	services map[ServiceRef]*serviceQueue
	slots    chan struct{}
	host     string
	pid      int
}

type serviceQueue struct {
	holder *Job
	since  time.Time
	queue  []*Job
}

func newLocker(maxParallel int, host string, pid int) *locker {
	if maxParallel < 1 {
		maxParallel = 1
	}
	return &locker{services: map[ServiceRef]*serviceQueue{}, slots: make(chan struct{}, maxParallel), host: host, pid: pid}
}

// enqueue takes the service for j at once when it is free, or queues j behind the
// current holder; with failFast a busy service returns ErrLocked instead. A user's job
// arriving while a background job (a drift check) holds the service queues as usual, and
// the background job is returned so the caller cancels it: a check never makes a user
// wait longer than it takes to stop.
func (l *locker) enqueue(j *Job, failFast bool) (preempt *Job, err error) {
	ref := j.info.Service
	l.mu.Lock()
	defer l.mu.Unlock()
	q := l.services[ref]
	if q == nil {
		q = &serviceQueue{}
		l.services[ref] = q
	}
	if q.holder == nil {
		q.holder, q.since = j, time.Now().UTC()
		close(j.granted)
		return nil, nil
	}
	// Background jobs never queue, so the queue holds users' jobs only, in arrival order.
	// A user's job behind a check queues even when it asked not to: the check is
	// stopped at once, so the service is free in a moment.
	if q.holder.info.Background && !j.info.Background {
		q.queue = append(q.queue, j)
		return q.holder, nil
	}
	if failFast {
		return nil, ErrLocked
	}
	q.queue = append(q.queue, j)
	return nil, nil
}

// dequeue removes a job that is still waiting (a cancelled queued job). It reports
// false when the job already holds the service.
func (l *locker) dequeue(j *Job) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	q := l.services[j.info.Service]
	if q == nil {
		return false
	}
	for i, w := range q.queue {
		if w == j {
			q.queue = append(q.queue[:i], q.queue[i+1:]...)
			return true
		}
	}
	return false
}

// release hands the service to the next queued job, once: releasing a service that j
// does not hold is a no-op, so a lock is never freed twice or by a stranger.
func (l *locker) release(j *Job) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ref := j.info.Service
	q := l.services[ref]
	if q == nil || q.holder != j {
		return
	}
	if len(q.queue) == 0 {
		delete(l.services, ref)
		return
	}
	next := q.queue[0]
	q.queue = q.queue[1:]
	q.holder, q.since = next, time.Now().UTC()
	close(next.granted)
}

// holder reports who holds a service, if anyone.
func (l *locker) holder(ref ServiceRef) (LockHolder, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	q := l.services[ref]
	if q == nil || q.holder == nil {
		return LockHolder{}, false
	}
	return LockHolder{JobID: q.holder.info.ID, Host: l.host, PID: l.pid, Since: q.since}, true
}

// busy reports whether a user's job holds or waits for the service (a background check
// does not count: it yields to anything a user does).
func (l *locker) busy(ref ServiceRef) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	q := l.services[ref]
	return q != nil && (len(q.queue) > 0 || q.holder != nil && !q.holder.info.Background)
}

func (l *locker) acquireSlot(ctx context.Context) error {
	select {
	case l.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (l *locker) releaseSlot() { <-l.slots }
