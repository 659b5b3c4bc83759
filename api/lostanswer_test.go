package api_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/spawnit/spawnit/pkg/apiv1"
	"github.com/spawnit/spawnit/pkg/store"
)

// lossyStore performs the first idempotency-key write but reports it failed, as when a
// slow store's answer is lost.
type lossyStore struct {
	store.Store
	lost atomic.Bool
}

func (l *lossyStore) Put(ctx context.Context, key string, data []byte, opts store.PutOptions) (store.Object, error) {
	obj, err := l.Store.Put(ctx, key, data, opts)
	if err == nil && strings.Contains(key, "/idempotency/") && l.lost.CompareAndSwap(false, true) {
		return store.Object{}, errors.Join(store.ErrUnavailable, errors.New("answer lost"))
	}
	return obj, err
}

// TestIdempotencyClaimAnswerLost: a request whose idempotency claim was written but whose
// answer was lost still creates its job, and a retry with the key gets that same job.
func TestIdempotencyClaimAnswerLost(t *testing.T) {
	lossy := &lossyStore{}
	h := newHarness(t, harnessOptions{wrapStore: func(st store.Store) store.Store { lossy.Store = st; return lossy }})
	svc := h.createService("", "bulk", map[string]any{"items": 1})
	key := map[string]string{"Idempotency-Key": "lost-answer-1"}
	var first, again apiv1.Job
	h.must(202, req{method: "POST", path: "/api/v1/services/" + svc.ID + "/plan?wait=false", headers: key}).decode(t, &first)
	if !lossy.lost.Load() {
		t.Fatal("the fault was not injected")
	}
	h.must(202, req{method: "POST", path: "/api/v1/services/" + svc.ID + "/plan?wait=false", headers: key}).decode(t, &again)
	if first.ID == "" || again.ID != first.ID {
		t.Fatalf("retry got job %q, first %q", again.ID, first.ID)
	}
}
