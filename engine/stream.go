package engine

import (
	"bytes"
	"encoding/json"
	"time"

	"github.com/spawnit/spawnit/pkg/redact"
)

// uiMessage is one line of OpenTofu's machine-readable UI (`-json`). terraform-json
// models only a few of these message types, so the engine declares the subset of fields
// it reads; unknown fields and types are tolerated.
type uiMessage struct {
	Level      string          `json:"@level"`
	Message    string          `json:"@message"`
	Timestamp  string          `json:"@timestamp"`
	Type       string          `json:"type"`
	Hook       *uiHook         `json:"hook"`
	Change     *uiChange       `json:"change"`
	Changes    *ChangeSummary  `json:"changes"`
	Diagnostic *uiDiagnostic   `json:"diagnostic"`
	Outputs    map[string]uiOV `json:"outputs"`
}

type uiResource struct {
	Addr         string `json:"addr"`
	ResourceType string `json:"resource_type"`
	ResourceName string `json:"resource_name"`
}

type uiHook struct {
	Resource uiResource `json:"resource"`
	Action   string     `json:"action"`
	IDKey    string     `json:"id_key"`
	IDValue  string     `json:"id_value"`
	Elapsed  float64    `json:"elapsed_seconds"`
}

type uiChange struct {
	Resource uiResource `json:"resource"`
	Action   string     `json:"action"`
	Reason   string     `json:"reason"`
}

type uiDiagnostic struct {
	Severity string `json:"severity"`
	Summary  string `json:"summary"`
	Detail   string `json:"detail"`
	Address  string `json:"address"`
}

type uiOV struct {
	Sensitive bool            `json:"sensitive"`
	Type      json.RawMessage `json:"type"`
	Value     json.RawMessage `json:"value"`
}

// MaxLineBytes bounds one line of tofu output kept in an event; longer lines are cut
// (and marked) so a runaway provider cannot grow memory without limit.
const MaxLineBytes = 1 << 20

// parseUILine turns one line of `tofu ... -json` output into an event. Lines that are
// not JSON (a provider's stray print, a panic trace) become log events, never errors.
func parseUILine(line []byte) Event {
	line = bytes.TrimRight(line, "\r")
	trimmed := bytes.TrimSpace(line)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return Event{Type: EventLog, Level: "info", Message: string(line)}
	}
	var m uiMessage
	if err := json.Unmarshal(trimmed, &m); err != nil || (m.Type == "" && m.Message == "") {
		return Event{Type: EventLog, Level: "info", Message: string(line)}
	}
	ev := Event{Level: m.Level, Message: m.Message}
	if ts, err := time.Parse(time.RFC3339Nano, m.Timestamp); err == nil {
		ev.Time = ts
	}
	switch m.Type {
	case "", "version", "log", "init_output":
		ev.Type = EventLog
	case "diagnostic":
		ev.Type = EventDiagnostic
		if m.Diagnostic != nil {
			d := Diagnostic(*m.Diagnostic)
			ev.Diagnostic = &d
			if ev.Level == "" {
				ev.Level = d.Severity
			}
		}
	case "planned_change", "resource_drift":
		ev.Type = EventPlannedChange
		if m.Type == "resource_drift" {
			ev.Type = EventResourceDrift
		}
		if m.Change != nil {
			ev.Resource = &ResourceEvent{Address: m.Change.Resource.Addr, Type: m.Change.Resource.ResourceType,
				Name: m.Change.Resource.ResourceName, Action: m.Change.Action, Reason: m.Change.Reason}
		}
	case "change_summary":
		ev.Type = EventChangeSummary
		ev.Summary = m.Changes
	case "apply_start", "apply_progress", "apply_complete", "apply_errored", "refresh_start", "refresh_complete":
		ev.Type = EventType(m.Type)
		if m.Hook != nil {
			ev.Resource = &ResourceEvent{Address: m.Hook.Resource.Addr, Type: m.Hook.Resource.ResourceType,
				Name: m.Hook.Resource.ResourceName, Action: m.Hook.Action, IDKey: m.Hook.IDKey,
				IDValue: m.Hook.IDValue, Elapsed: m.Hook.Elapsed}
		}
	case "outputs":
		ev.Type = EventOutputs
		ev.Outputs = make(map[string]Output, len(m.Outputs))
		for name, o := range m.Outputs {
			out := Output{Sensitive: o.Sensitive, Type: o.Type}
			if !o.Sensitive {
				out.Value = o.Value
			}
			ev.Outputs[name] = out
		}
	default:
		ev.Type = EventOther
		ev.Raw = m.Type
	}
	return ev
}

// lineWriter splits a byte stream into lines of any length (no 64 KiB scanner limit),
// hands each to emit, and flushes a last line that has no trailing newline on Close.
type lineWriter struct {
	buf       []byte
	truncated bool
	emit      func(line []byte, truncated bool)
}

func (w *lineWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.add(p)
			break
		}
		w.add(p[:i])
		w.flush()
		p = p[i+1:]
	}
	return n, nil
}

func (w *lineWriter) add(p []byte) {
	room := MaxLineBytes - len(w.buf)
	if len(p) > room {
		p = p[:max(room, 0)]
		w.truncated = true
	}
	w.buf = append(w.buf, p...)
}

func (w *lineWriter) flush() {
	line, truncated := w.buf, w.truncated
	w.buf, w.truncated = nil, false
	if len(line) == 0 && !truncated {
		return
	}
	w.emit(line, truncated)
}

// Close emits a pending partial line.
func (w *lineWriter) Close() error {
	w.flush()
	return nil
}

// maskEvent replaces secret values wherever they appear in an event's text and output
// values.
func maskEvent(m *redact.Redactor, ev *Event) {
	if m.Empty() {
		return
	}
	ev.Message = m.String(ev.Message)
	if ev.Diagnostic != nil {
		d := *ev.Diagnostic
		d.Summary, d.Detail = m.String(d.Summary), m.String(d.Detail)
		ev.Diagnostic = &d
	}
	for k, o := range ev.Outputs {
		if len(o.Value) > 0 {
			o.Value = maskJSON(m, o.Value)
			ev.Outputs[k] = o
		}
	}
}

// maskJSON masks secrets in a JSON value. A secret can be part of a number or span
// JSON syntax, where the mask would leave invalid JSON, which no event may carry: the
// masked text then becomes a JSON string.
func maskJSON(m *redact.Redactor, v json.RawMessage) json.RawMessage {
	masked := m.String(string(v))
	if masked == string(v) || json.Valid([]byte(masked)) {
		return json.RawMessage(masked)
	}
	b, _ := json.Marshal(masked)
	return b
}
