package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spawnit/spawnit/pkg/store"
)

// keepErrored stores the errored.tfstate found in dir, the service's workdir, beside the
// state, marks the service as needing recovery, and only then removes the file. found
// says whether there was one.
func (e *ledger) keepErrored(ctx context.Context, ref ServiceRef, dir string) (found bool, err error) {
	p := filepath.Join(dir, erroredStateFile)
	b, err := os.ReadFile(p)
	if err != nil {
		return false, nil
	}
	if _, err := e.cfg.Store.Put(ctx, erroredKey(ref), b, store.PutOptions{}); err != nil {
		return true, err
	}
	in, err := e.Intent(ctx, ref)
	if err != nil {
		return true, err
	}
	in.NeedsRecovery = true
	in.RecoveryNote = "tofu could not save state; the last state it had is kept at " + erroredKey(ref) +
		" (push it, and remove " + storeKeys(ref).StateLock() + " if tofu could not release its lock either)"
	if err := e.saveIntent(ctx, ref, in); err != nil {
		return true, err
	}
	_ = os.Remove(p)
	return true, nil
}

// checkRecovery refuses an operation that changes state on a service needing recovery:
// one marked so, or one whose workdir still holds an errored.tfstate the store did not
// take yet (it is kept now if the store takes it).
func (e *ledger) checkRecovery(ctx context.Context, ref ServiceRef) error {
	found, err := e.keepErrored(ctx, ref, filepath.Join(e.cfg.WorkDir, ref.Client, ref.Service))
	if found {
		if err != nil {
			return fmt.Errorf("%w: tofu could not save state and its errored.tfstate is still in the workdir (the store did not take it: %w)", ErrNeedsRecovery, err)
		}
		return fmt.Errorf("%w: kept at %s", ErrNeedsRecovery, erroredKey(ref))
	}
	in, err := e.Intent(ctx, ref)
	if err != nil {
		return fmt.Errorf("read intent of %s: %w", ref, err)
	}
	if in.NeedsRecovery {
		return fmt.Errorf("%w (%s)", ErrNeedsRecovery, in.RecoveryNote)
	}
	return nil
}

// retryLater runs f in the background until it succeeds, with a growing pause between
// tries, giving up when the engine shuts down. It is for what a job could not write
// while the store was down: its final record, its lease, its errored state.
func (e *ledger) retryLater(what string, f func(ctx context.Context) error) {
	go func() {
		pause := time.Second
		for try := 1; ; try++ {
			select {
			case <-e.stop:
				e.log.Error("gave up at shutdown", "what", what, "tries", try-1)
				return
			case <-time.After(pause):
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			err := f(ctx)
			cancel()
			if err == nil {
				e.log.Info("written after the store came back", "what", what, "tries", try)
				return
			}
			pause = min(2*pause, 10*time.Second)
		}
	}()
}

// finishLater writes, once the store takes it, what the end of job j could not: its
// errored state (and the service's needs-recovery mark), its final record, and the
// release of its lease, in that order.
func (e *ledger) finishLater(j *Job, saved, released bool) {
	ref := j.info.Service
	dir := filepath.Join(e.cfg.WorkDir, ref.Client, ref.Service)
	e.retryLater("end of job "+j.ID(), func(ctx context.Context) error {
		if j.erroredPending.Load() {
			if _, err := e.keepErrored(ctx, ref, dir); err != nil {
				return err
			}
			j.erroredPending.Store(false)
		}
		if !saved {
			if err := e.saveJob(ctx, j); err != nil {
				return err
			}
			saved = true
		}
		if !released {
			if err := e.releaseLease(ctx, j); err != nil {
				return err
			}
			released = true
		}
		return nil
	})
}
