package supervisor

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/spawnit/spawnit/engine"
)

// Signal is what a Docker event says about a service before any check confirmed it:
// one of its objects was removed (StatusMissing) or its container stopped
// (StatusDrifted). The drift check the event also calls for confirms or corrects it.
type Signal struct {
	Status  engine.ServiceStatus
	Message string    // what the event said, e.g. "container spawnit-acme-web was removed"
	At      time.Time // when Docker saw it happen
	Object  string    // the object's id (a container's, or a volume's or network's name)
}

// Signals is what a Platform implements to show Docker events at once: Signal records
// the signal as the service's provisional drift status and publishes it, unless it
// cannot be drift (the service is stopped by a user, not deployed, a stopped container
// runs again, or a job holds it: SpawnIt's own apply or destroy replaces containers),
// or a check made after the event already recorded what it found: then it returns an
// error wrapping ErrNotDue.
type Signals interface {
	Signal(ctx context.Context, ref engine.ServiceRef, sig Signal) error
}

// settleBeforeStop is how long a container's "die" waits before it is taken for a
// stop: a restart (SpawnIt's own, or Docker's restart policy) starts it again within
// that time, and a removal makes it gone (its "destroy" then says "removed").
func (c *Config) settleBeforeStop() time.Duration { return c.Debounce / 2 }

// signalOf reads what an event says about a managed object, if it is a removal or a
// stop; settle is set for a stop, which the platform confirms (the container still
// stopped) once the event settled.
func signalOf(ev dockerEvent) (sig Signal, settle bool, ok bool) {
	at := time.Unix(0, ev.TimeNano)
	if ev.TimeNano == 0 {
		at = time.Unix(ev.Time, 0)
	}
	name := ev.Actor.Attributes["name"]
	if name == "" {
		name = ev.Actor.ID
	}
	sig = Signal{At: at, Object: ev.Actor.ID}
	switch {
	case ev.Type == "container" && ev.Action == "destroy":
		sig.Status, sig.Message = engine.StatusMissing, "container "+name+" was removed"
	case ev.Type == "volume" && ev.Action == "destroy":
		sig.Status, sig.Message = engine.StatusMissing, "volume "+name+" was removed"
	case ev.Type == "network" && ev.Action == "destroy":
		sig.Status, sig.Message = engine.StatusMissing, "network "+name+" was removed"
	case ev.Type == "container" && ev.Action == "die":
		sig.Status, sig.Message = engine.StatusDrifted, "container "+name+" stopped"
		if code, err := strconv.Atoi(ev.Actor.Attributes["exitCode"]); err == nil {
			sig.Message += fmt.Sprintf(" (exit code %d)", code)
		}
		return sig, true, true
	default:
		return Signal{}, false, false
	}
	return sig, false, true
}

// signal shows what a removal or stop event says about ref at once, through the
// platform (when it implements Signals), in the background: the check the event calls
// for follows as before. Events of a service this supervisor knows to be stopped on
// purpose, not deployed or being remediated are left to that check.
func (s *Supervisor) signal(ctx context.Context, ref engine.ServiceRef, ev dockerEvent) {
	sp, ok := s.p.(Signals)
	if !ok {
		return
	}
	sig, settle, ok := signalOf(ev)
	if !ok {
		return
	}
	s.mu.Lock()
	w, watched := s.watches[ref]
	if !watched || w.svc.Stopped || w.svc.Intent != engine.IntentApplied || w.remediating {
		if watched {
			s.stats.SignalsIgnored++
		}
		s.mu.Unlock()
		return
	}
	s.signalling++
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		shown := false
		defer func() {
			s.mu.Lock()
			s.signalling--
			if shown {
				s.stats.Signals++
			} else {
				s.stats.SignalsIgnored++
			}
			s.mu.Unlock()
		}()
		if settle && !s.settled(ctx) {
			return
		}
		err := sp.Signal(ctx, ref, sig)
		switch {
		case err == nil:
			shown = true
			s.log.Debug("supervisor: drift signalled", "service", ref.String(), "drift", sig.Status, "signal", sig.Message)
		case errors.Is(err, ErrNotDue), ctx.Err() != nil:
		default:
			s.log.Warn("supervisor: could not record a drift signal; the check follows", "service", ref.String(), "err", err)
		}
	}()
}

// settled waits for a stop event to settle (a restart runs the container again
// meanwhile, which the platform sees); false when ctx ended first.
func (s *Supervisor) settled(ctx context.Context) bool {
	t := time.NewTimer(s.cfg.settleBeforeStop())
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
