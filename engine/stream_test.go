package engine

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/spawnit/spawnit/pkg/redact"
)

// collect feeds data to a lineWriter in chunks of the given size and parses each line.
func collect(t *testing.T, data []byte, chunk int) []Event {
	t.Helper()
	var evs []Event
	w := &lineWriter{emit: func(line []byte, truncated bool) {
		ev := parseUILine(line)
		if truncated {
			ev.Message += " (truncated)"
		}
		evs = append(evs, ev)
	}}
	for len(data) > 0 {
		n := min(chunk, len(data))
		if _, err := w.Write(data[:n]); err != nil {
			t.Fatal(err)
		}
		data = data[n:]
	}
	w.Close()
	return evs
}

func TestParseRecordedApply(t *testing.T) {
	data, err := os.ReadFile("../testdata/stream/apply.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	for _, chunk := range []int{1, 7, 4096, len(data)} {
		evs := collect(t, data, chunk)
		count := map[EventType]int{}
		var summary *ChangeSummary
		var outputs map[string]Output
		for _, ev := range evs {
			count[ev.Type]++
			if ev.Summary != nil {
				summary = ev.Summary
			}
			if ev.Outputs != nil {
				outputs = ev.Outputs
			}
			if ev.Type == EventApplyComplete && (ev.Resource == nil || ev.Resource.Address == "") {
				t.Fatalf("apply_complete without resource: %+v", ev)
			}
		}
		if count[EventPlannedChange] != 3 || count[EventApplyStart] != 3 || count[EventApplyComplete] != 3 {
			t.Fatalf("chunk %d: counts %v", chunk, count)
		}
		if summary == nil || summary.Add != 3 || summary.Operation != "apply" {
			t.Fatalf("summary %+v", summary)
		}
		if o, ok := outputs["token"]; !ok || !o.Sensitive || len(o.Value) != 0 {
			t.Fatalf("sensitive output must have no value in events: %+v", outputs)
		}
		if o := outputs["endpoint"]; string(o.Value) != `"http://127.0.0.1:18081"` {
			t.Fatalf("endpoint output = %s", o.Value)
		}
	}
}

func TestParseRecordedDriftPlanAndDestroy(t *testing.T) {
	data, _ := os.ReadFile("../testdata/stream/plan-drift.jsonl")
	var drift, planned int
	for _, ev := range collect(t, data, 100) {
		switch ev.Type {
		case EventResourceDrift:
			drift++
			if ev.Resource.Address != "docker_container.app" || ev.Resource.Action != "update" {
				t.Fatalf("drift event %+v", ev.Resource)
			}
		case EventPlannedChange:
			planned++
		}
	}
	if drift != 1 || planned != 1 {
		t.Fatalf("drift %d planned %d", drift, planned)
	}
	data, _ = os.ReadFile("../testdata/stream/destroy.jsonl")
	var sum *ChangeSummary
	for _, ev := range collect(t, data, 100) {
		if ev.Summary != nil {
			sum = ev.Summary
		}
	}
	if sum == nil || sum.Remove != 3 || sum.Operation != "destroy" {
		t.Fatalf("destroy summary %+v", sum)
	}
	data, _ = os.ReadFile("../testdata/stream/init.jsonl")
	var logs int
	for _, ev := range collect(t, data, 100) {
		if strings.HasPrefix(ev.Message, "{") || (ev.Type != EventLog && ev.Type != EventDiagnostic) {
			t.Fatalf("init line not parsed: %+v", ev)
		}
		if ev.Type == EventLog {
			logs++
		}
	}
	if logs < 5 {
		t.Fatalf("only %d init log lines", logs)
	}
}

func TestParseToleratesOddOutput(t *testing.T) {
	long := strings.Repeat("x", 200_000) // over 64 KiB, bufio.Scanner's default limit
	input := "plain text from a provider\n" +
		`{"@level":"info","@message":"` + long + `","type":"log"}` + "\n" +
		"{broken json\n" +
		`{"@level":"warn","@message":"future","type":"brand_new_type"}` + "\n" +
		"\r\n" +
		`{"@level":"info","@message":"last line without newline","type":"log"}`
	evs := collect(t, []byte(input), 1000)
	if len(evs) != 6 {
		t.Fatalf("got %d events: %+v", len(evs), evs)
	}
	if evs[0].Type != EventLog || evs[0].Message != "plain text from a provider" {
		t.Fatalf("plain line: %+v", evs[0])
	}
	if evs[1].Type != EventLog || len(evs[1].Message) != len(long) {
		t.Fatalf("long line: type %s len %d", evs[1].Type, len(evs[1].Message))
	}
	if evs[2].Type != EventLog || evs[2].Message != "{broken json" {
		t.Fatalf("broken json: %+v", evs[2])
	}
	if evs[3].Type != EventOther || evs[3].Raw != "brand_new_type" {
		t.Fatalf("unknown type: %+v", evs[3])
	}
	if evs[4].Type != EventLog || evs[4].Message != "" {
		t.Fatalf("blank CRLF line: %+v", evs[4])
	}
	if evs[5].Message != "last line without newline" {
		t.Fatalf("unterminated last line: %+v", evs[5])
	}
}

func TestLineWriterBoundsHugeLines(t *testing.T) {
	var got [][]byte
	var cut []bool
	w := &lineWriter{emit: func(line []byte, truncated bool) {
		got = append(got, bytes.Clone(line))
		cut = append(cut, truncated)
	}}
	huge := bytes.Repeat([]byte("y"), MaxLineBytes+12345)
	w.Write(huge)
	w.Write([]byte("\nnext\n"))
	if len(got) != 2 || len(got[0]) != MaxLineBytes || !cut[0] || string(got[1]) != "next" || cut[1] {
		t.Fatalf("lines %d, first len %d truncated %v", len(got), len(got[0]), cut)
	}
}

func TestMaskerHidesSecrets(t *testing.T) {
	var m redact.Redactor
	m.Add("hunter2-password", "ab") // too short to mask safely: ignored
	ev := Event{Message: "password is hunter2-password", Diagnostic: &Diagnostic{Detail: "got hunter2-password"},
		Outputs: map[string]Output{"x": {Value: []byte(`"hunter2-password"`)}}}
	maskEvent(&m, &ev)
	if strings.Contains(ev.Message, "hunter2") || strings.Contains(ev.Diagnostic.Detail, "hunter2") || strings.Contains(string(ev.Outputs["x"].Value), "hunter2") {
		t.Fatalf("secret leaked: %+v", ev)
	}
	if m.String("ab cd") != "ab cd" {
		t.Fatal("short values must not be masked")
	}
}

func TestMaskerKeepsOutputsValidJSON(t *testing.T) {
	var m redact.Redactor
	m.Add("4242")
	ev := Event{Outputs: map[string]Output{
		"port": {Value: []byte(`42424`)},
		"url":  {Value: []byte(`"http://u:4242@host/"`)},
	}}
	maskEvent(&m, &ev)
	for k, o := range ev.Outputs {
		if !json.Valid(o.Value) || strings.Contains(string(o.Value), "4242") {
			t.Errorf("output %s = %s: invalid JSON or secret leaked", k, o.Value)
		}
	}
	if _, err := json.Marshal(ev); err != nil {
		t.Fatalf("event no longer encodes: %v", err)
	}
}
