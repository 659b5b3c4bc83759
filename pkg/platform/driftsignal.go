package platform

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/pkg/apiv1"
	"github.com/spawnit/spawnit/pkg/store"
	"github.com/spawnit/spawnit/pkg/supervisor"
)

// Drift signals: a Docker event saying that one of a deployed service's objects was
// removed, or that its container stopped, is shown at once as the service's drift
// status, marked unconfirmed, before the drift check it calls for has run; that
// check's report then confirms or corrects it. The signal is kept in the store with
// the report it stands in front of (the same key, so one read serves both and every
// replica shows it), and every write of that key is conditional.

// driftRecord is what the store keeps at a service's drift key: the last report of a
// drift check (absent fields when none was made yet) and, while a Docker event since
// that check's start waits for confirmation, the signal.
type driftRecord struct {
	engine.DriftReport
	Signal *driftSignal `json:"signal,omitempty"`
}

type driftSignal struct {
	Status  engine.ServiceStatus `json:"status"`
	Message string               `json:"message"`
	At      time.Time            `json:"at"`
	Object  string               `json:"object,omitempty"`
}

// checked reports whether the record holds a check's report.
func (r *driftRecord) checked() bool { return r.Status != "" }

// checkStart is when the record's check began to look: what happened before, it saw.
func (r *driftRecord) checkStart() time.Time { return r.CheckedAt.Add(-r.Duration) }

// pending returns the signal a check has not looked at yet, if any.
func (r *driftRecord) pending() *driftSignal {
	if r == nil || r.Signal == nil || (r.checked() && !r.Signal.At.After(r.checkStart())) {
		return nil
	}
	return r.Signal
}

// readDrift returns the service's drift record and its ETag ("" and nil when none).
func (p *Platform) readDrift(ctx context.Context, ref engine.ServiceRef) (*driftRecord, string, error) {
	b, obj, err := p.st.Get(ctx, driftKey(ref))
	if errors.Is(err, store.ErrNotFound) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", err
	}
	var rec driftRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		p.log.Warn("platform: unreadable drift report ignored", "service", ref.String(), "err", err)
		return nil, obj.ETag, nil
	}
	return &rec, obj.ETag, nil
}

// updateDrift applies change to the service's drift record and writes it back
// conditionally, again from a fresh read when another writer came first; change
// returns false to leave the record as it is.
func (p *Platform) updateDrift(ctx context.Context, ref engine.ServiceRef, change func(rec *driftRecord) bool) error {
	for range 8 {
		rec, etag, err := p.readDrift(ctx, ref)
		if err != nil {
			return err
		}
		if rec == nil {
			rec = &driftRecord{}
		}
		if !change(rec) {
			return nil
		}
		b, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		opts := store.PutOptions{ContentType: "application/json", IfMatch: etag, IfNoneMatch: etag == ""}
		_, err = p.st.Put(ctx, driftKey(ref), b, opts)
		if !errors.Is(err, store.ErrPreconditionFailed) {
			return err
		}
	}
	return fmt.Errorf("drift record of %s: %w", ref, store.ErrPreconditionFailed)
}

// SignalDrift shows what a Docker event says about a deployed Docker service at once:
// its drift status becomes sig.Status, unconfirmed, with sig.Message as the signal, on
// every replica, and the tenant's stream gets a drift event marked unconfirmed. It
// returns ErrNotDue, and records nothing, when the event cannot be drift or is
// already answered: the service is stopped by a user (or restarted by SpawnIt) or not
// deployed; a stopped container runs again; a job is queued
// or runs for it (SpawnIt's own apply or destroy replaces containers), here or on
// another replica; its last job ended after the event (the event was that job's); a
// check that began after the event recorded its result; or a newer signal is shown.
func (p *Platform) SignalDrift(ctx context.Context, ref engine.ServiceRef, sig supervisor.Signal) error {
	if err := ref.Validate(); err != nil {
		return err
	}
	svc, err := p.cat.GetService(ctx, ref)
	if err != nil {
		return err
	}
	if svc.Provider != checkedTarget || svc.Stopped != nil {
		return fmt.Errorf("drift signal for %s (stopped by a user or not a Docker service): %w", ref, ErrNotDue)
	}
	in, err := p.eng.Intent(ctx, ref)
	if err != nil {
		return err
	}
	if in.Kind != engine.IntentApplied {
		return fmt.Errorf("drift signal for %s (not deployed): %w", ref, ErrNotDue)
	}
	if busy, err := p.eng.ServiceBusy(ctx, ref); err != nil || busy {
		return errors.Join(fmt.Errorf("drift signal for %s (a job holds it): %w", ref, ErrNotDue), err)
	}
	last, err := p.eng.LastJob(ctx, ref)
	if err != nil {
		return err
	}
	if last != nil && (last.EndedAt == nil || !sig.At.After(*last.EndedAt)) {
		return fmt.Errorf("drift signal for %s (during job %s): %w", ref, last.ID, ErrNotDue)
	}
	if sig.Status == engine.StatusDrifted && !p.containerStopped(ctx, sig.Object) {
		// Read after the stopped mark: a restart of SpawnIt's, whose mark is gone by
		// now, has run the container again.
		return fmt.Errorf("drift signal for %s (the container runs): %w", ref, ErrNotDue)
	}
	recorded := false
	err = p.updateDrift(ctx, ref, func(rec *driftRecord) bool {
		recorded = false
		if rec.checked() && !sig.At.After(rec.checkStart()) {
			return false // a check that began after the event recorded what it found
		}
		if rec.Signal != nil && rec.Signal.At.After(sig.At) {
			return false // a newer event said its part
		}
		rec.Signal = &driftSignal{Status: sig.Status, Message: sig.Message, At: sig.At.UTC(), Object: sig.Object}
		recorded = true
		return true
	})
	if err != nil {
		return err
	}
	if !recorded {
		return fmt.Errorf("drift signal for %s (a check or a newer event answered it): %w", ref, ErrNotDue)
	}
	p.publish(ref.Tenant(), apiv1.StatusEvent{Kind: "drift", Service: ref.Service, Drift: sig.Status,
		Unconfirmed: true, Message: sig.Message, Time: p.now()})
	return nil
}

// showDrift puts the record's drift on a service's status: the pending signal when a
// Docker event came after the last check began, else the last check's report.
func showDrift(st *apiv1.ServiceStatus, rec *driftRecord) {
	if rec == nil {
		return
	}
	if rec.checked() {
		st.Drift = rec.Status
		at := rec.CheckedAt
		st.DriftAt = &at
	}
	if sig := rec.pending(); sig != nil {
		st.Drift, st.DriftUnconfirmed, st.DriftSignal = sig.Status, true, sig.Message
	}
}

// containerStopped reports whether the container exists and neither runs nor is
// restarting or being removed (a removal has its own signal).
func (p *Platform) containerStopped(ctx context.Context, id string) bool {
	if p.docker.api == nil || id == "" {
		return false
	}
	var c struct {
		State struct {
			Status string `json:"Status"`
		} `json:"State"`
	}
	if err := p.docker.api.Get(ctx, "/containers/"+url.PathEscape(id)+"/json", nil, &c); err != nil {
		return false
	}
	return c.State.Status == "exited" || c.State.Status == "dead"
}
