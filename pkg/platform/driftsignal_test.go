package platform

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/spawnit/spawnit/catalog"
	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/pkg/apiv1"
	"github.com/spawnit/spawnit/pkg/store"
)

// TestDriftRecord: a signal stands in front of the report of a check that began before
// it, is answered (dropped, with a confirmed drift event) by the report of a check that
// began after it, and the status shows either as it should.
func TestDriftRecord(t *testing.T) {
	ctx := context.Background()
	st, err := store.NewFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	p := &Platform{st: st, cat: catalog.New(st, nil), log: slog.New(slog.NewTextHandler(io.Discard, nil)), broker: NewBroker(16), now: func() time.Time { return time.Now().UTC() }}
	sub := p.broker.Subscribe("acme")
	ref := engine.ServiceRef{Client: "acme", Service: "web"}
	t0 := time.Now().UTC().Truncate(time.Millisecond)
	report := func(status engine.ServiceStatus, start time.Time) engine.DriftReport {
		return engine.DriftReport{Status: status, Intent: engine.IntentApplied, CheckedAt: start.Add(time.Second), Duration: time.Second}
	}
	sig := &driftSignal{Status: engine.StatusMissing, Message: "container spawnit-acme-web was removed", At: t0.Add(2 * time.Second)}
	shown := func() apiv1.ServiceStatus {
		t.Helper()
		rec, _, err := p.readDrift(ctx, ref)
		if err != nil {
			t.Fatal(err)
		}
		var s apiv1.ServiceStatus
		showDrift(&s, rec)
		return s
	}
	next := func() *apiv1.StatusEvent {
		select {
		case ev := <-sub.C:
			return ev
		default:
			return nil
		}
	}

	// A signal before any check, then a check that began before the event: the signal
	// stays shown and nothing is published for the check.
	if err := p.updateDrift(ctx, ref, func(r *driftRecord) bool { r.Signal = sig; return true }); err != nil {
		t.Fatal(err)
	}
	if s := shown(); s.Drift != engine.StatusMissing || !s.DriftUnconfirmed || s.DriftSignal != sig.Message || s.DriftAt != nil {
		t.Fatalf("signal alone: %+v", s)
	}
	if err := p.recordDrift(ctx, ref, report(engine.StatusInSync, t0)); err != nil {
		t.Fatal(err)
	}
	if s := shown(); s.Drift != engine.StatusMissing || !s.DriftUnconfirmed || s.DriftAt == nil {
		t.Fatalf("after an older check: %+v", s)
	}
	if ev := next(); ev != nil {
		t.Fatalf("an older check published %+v", ev)
	}
	if last, _ := p.lastDrift(ctx, ref); last == nil || last.Status != engine.StatusInSync {
		t.Fatalf("lastDrift (confirmed only) = %+v", last)
	}

	// A check that began after the event corrects it: in_sync, confirmed, published
	// although the confirmed status did not change.
	if err := p.recordDrift(ctx, ref, report(engine.StatusInSync, t0.Add(3*time.Second))); err != nil {
		t.Fatal(err)
	}
	if s := shown(); s.Drift != engine.StatusInSync || s.DriftUnconfirmed || s.DriftSignal != "" {
		t.Fatalf("after a newer check: %+v", s)
	}
	if ev := next(); ev == nil || ev.Kind != "drift" || ev.Drift != engine.StatusInSync || ev.Unconfirmed {
		t.Fatalf("the correction published %+v", ev)
	}
	rec, _, _ := p.readDrift(ctx, ref)
	if rec.Signal != nil {
		t.Fatalf("the answered signal is still stored: %+v", rec.Signal)
	}

	// A stale signal (of an event before the last check began) is never shown.
	rec.Signal = &driftSignal{Status: engine.StatusMissing, Message: "old", At: t0}
	var s apiv1.ServiceStatus
	showDrift(&s, rec)
	if s.DriftUnconfirmed || s.Drift != engine.StatusInSync {
		t.Fatalf("a stale signal shows: %+v", s)
	}
}
