package engine

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"iter"
	"sort"
	"sync"
	"time"

	"github.com/spawnit/spawnit/pkg/store"
	"github.com/spawnit/spawnit/pkg/storekey"
)

// A job's events live in the memory of the process running it. So that any process
// sharing the store can stream them while the job runs, that process also appends them
// to the store in small chunks (storekey's EventChunk), at most EventFlushInterval
// apart; the final record holds the whole log, and the chunks are removed once it is
// written. A follower elsewhere reads the record, then the chunks after it, and polls
// every StorePollInterval until the record is final. Sequence numbers are the job's
// own, so a follower resuming after n, on any process, misses nothing and sees nothing
// twice.

// EventFlushInterval is how long a running job's new events may wait before they are
// written to the store for other processes to stream.
const EventFlushInterval = 500 * time.Millisecond

// StorePollInterval is how often a follower of another process's job reads the store.
const StorePollInterval = 300 * time.Millisecond

// eventFlush is what a job's flusher has written. mu is held for a whole write, so once
// stopped is set no chunk can appear after the chunks have been removed.
type eventFlush struct {
	mu      sync.Mutex
	through int64 // the events up to this sequence number are in the store
	wrote   bool  // a chunk was written (there are chunks to remove)
	stopped bool  // the final record is written: no more chunks
}

// stored records that the store holds the job's events through seq (a record saved).
func (f *eventFlush) stored(seq int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.through = max(f.through, seq)
}

// publishEvents writes job j's new events to the store every EventFlushInterval until
// its final record is written or it is done. A failed write is retried at the next
// tick, with whatever came meanwhile, as one chunk.
func (e *ledger) publishEvents(j *Job) {
	t := time.NewTicker(EventFlushInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-j.done:
			return
		case <-e.stop:
			return
		}
		if !e.flushEvents(j) {
			return
		}
	}
}

// flushEvents writes the events the store does not have yet as one chunk; false once
// the job's final record is written.
func (e *ledger) flushEvents(j *Job) bool {
	f := &j.flush
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped {
		return false
	}
	evs := j.Events(f.through)
	if len(evs) == 0 {
		return true
	}
	b, err := json.Marshal(evs)
	if err != nil {
		return true
	}
	first, last := evs[0].Seq, evs[len(evs)-1].Seq
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	key := storeKeys(j.info.Service).EventChunk(j.ID(), first, last)
	if _, err := e.cfg.Store.Put(ctx, key, b, store.PutOptions{ContentType: "application/json"}); err != nil {
		e.log.Debug("could not write a job's events to the store; retrying", "job", j.ID(), "err", err)
		return true
	}
	f.through, f.wrote = last, true
	return true
}

// dropEventChunks stops job j's flusher and removes its chunks: its final record,
// holding every event, is written. Chunks left behind (the store failed now, the
// process died) are removed with the record when it is pruned or recovered.
func (e *ledger) dropEventChunks(ctx context.Context, j *Job) {
	f := &j.flush
	f.mu.Lock()
	f.stopped = true
	wrote := f.wrote
	f.mu.Unlock()
	if wrote {
		e.deleteEventChunks(ctx, j.info.Service, j.ID())
	}
}

// deleteEventChunks removes the chunks of a job whose final record is written.
func (e *ledger) deleteEventChunks(ctx context.Context, ref ServiceRef, id string) {
	objs, err := e.cfg.Store.List(ctx, storeKeys(ref).EventChunks(id))
	if err != nil {
		e.log.Warn("could not list a finished job's event chunks", "job", id, "err", err)
		return
	}
	for _, o := range objs {
		if err := e.cfg.Store.Delete(ctx, o.Key); err != nil && !errors.Is(err, fs.ErrNotExist) {
			e.log.Warn("could not delete a finished job's event chunk", "key", o.Key, "err", err)
		}
	}
}

// withChunks returns rec's events followed by those of its chunks, in order, without
// gaps or repeats. Chunks holding only events up to after are not read.
func (e *ledger) withChunks(ctx context.Context, rec jobRecord, after int64) ([]Event, error) {
	evs := rec.Events
	next := rec.LastSeq
	if n := len(evs); n > 0 {
		next = max(next, evs[n-1].Seq)
	}
	next = max(next, after)
	objs, err := e.cfg.Store.List(ctx, storeKeys(rec.Service).EventChunks(rec.ID))
	if err != nil {
		return evs, err
	}
	sort.Slice(objs, func(a, b int) bool { return objs[a].Key < objs[b].Key })
	for _, o := range objs {
		_, _, first, last, ok := storekey.ParseEventChunk(o.Key)
		if !ok || last <= next {
			continue
		}
		if first > next+1 {
			break // a gap: the chunk between is not listed yet
		}
		b, _, err := e.cfg.Store.Get(ctx, o.Key)
		if err != nil {
			break // removed meanwhile (the job ended): the final record has them
		}
		var chunk []Event
		if json.Unmarshal(b, &chunk) != nil {
			break
		}
		for _, ev := range chunk {
			if ev.Seq == next+1 {
				evs = append(evs, ev)
				next = ev.Seq
			}
		}
	}
	return evs, nil
}

// follow yields the events with Seq > after of job id of service ref as they happen,
// until its final event or until ctx is done: from memory when this process runs the
// job, else from the store.
func (e *ledger) follow(ctx context.Context, ref ServiceRef, id string, after int64) (iter.Seq[Event], error) {
	if j, ok := e.jobs.get(id); ok && j.info.Service == ref {
		return j.Follow(ctx, after), nil
	}
	info, evs, err := e.loadJob(ctx, ref, id, after)
	if err != nil {
		return nil, err
	}
	return func(yield func(Event) bool) {
		poll := time.NewTimer(StorePollInterval)
		defer poll.Stop()
		for {
			for _, ev := range evs {
				if ev.Seq <= after {
					continue
				}
				if !yield(ev) {
					return
				}
				after = ev.Seq
			}
			if info.State.Final() {
				return
			}
			poll.Reset(StorePollInterval)
			select {
			case <-ctx.Done():
				return
			case <-poll.C:
			}
			i, got, err := e.loadJob(ctx, ref, id, after)
			switch {
			case errors.Is(err, ErrNotFound):
				return // the record is gone (its service was deleted)
			case err != nil:
				evs = nil // the store failed: try again at the next poll
			default:
				info, evs = i, got
			}
		}
	}, nil
}
