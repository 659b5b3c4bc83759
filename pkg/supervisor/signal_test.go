package supervisor

import (
	"testing"
	"time"

	"github.com/spawnit/spawnit/engine"
)

// TestSignalOf: removals say missing, a container's death says drifted (and waits to
// settle), everything else says nothing.
func TestSignalOf(t *testing.T) {
	ev := func(typ, action string, attrs map[string]string) dockerEvent {
		var e dockerEvent
		e.Type, e.Action, e.TimeNano = typ, action, time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC).UnixNano()
		e.Actor.ID, e.Actor.Attributes = "abc123", attrs
		return e
	}
	for _, c := range []struct {
		ev      dockerEvent
		status  engine.ServiceStatus
		message string
		settle  bool
	}{
		{ev("container", "destroy", map[string]string{"name": "spawnit-acme-web"}), engine.StatusMissing, "container spawnit-acme-web was removed", false},
		{ev("volume", "destroy", nil), engine.StatusMissing, "volume abc123 was removed", false},
		{ev("network", "destroy", map[string]string{"name": "net1"}), engine.StatusMissing, "network net1 was removed", false},
		{ev("container", "die", map[string]string{"name": "web", "exitCode": "137"}), engine.StatusDrifted, "container web stopped (exit code 137)", true},
		{ev("container", "kill", nil), "", "", false},
		{ev("container", "start", nil), "", "", false},
		{ev("volume", "create", nil), "", "", false},
		{ev("network", "disconnect", nil), "", "", false},
	} {
		sig, settle, ok := signalOf(c.ev)
		if ok != (c.status != "") || sig.Status != c.status || sig.Message != c.message || settle != c.settle {
			t.Errorf("%s %s: %+v settle %v ok %v", c.ev.Type, c.ev.Action, sig, settle, ok)
		}
		if ok && (!sig.At.Equal(time.Unix(0, c.ev.TimeNano)) || sig.Object != "abc123") {
			t.Errorf("%s %s: at %s object %q", c.ev.Type, c.ev.Action, sig.At, sig.Object)
		}
	}
}
