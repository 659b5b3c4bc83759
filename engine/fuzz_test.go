package engine

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Fuzz targets for everything the engine parses from outside: tofu's -json stream, plan
// JSON, and ids. Seeds are the recorded real outputs; the corpus found is kept in
// testdata/fuzz/. Run one with: go test -fuzz=FuzzParseUILine ./engine

func seedStream(f *testing.F) {
	files, _ := filepath.Glob("../testdata/stream/*.jsonl")
	for _, p := range files {
		b, _ := os.ReadFile(p)
		for _, line := range bytes.Split(b, []byte("\n")) {
			f.Add(line)
		}
	}
	f.Add([]byte(`{"type":"outputs","outputs":{"x":{"sensitive":true,"value":"secret"}}}`))
	f.Add([]byte("{\"type\":\"diagnostic\",\"diagnostic\":null}"))
}

func FuzzParseUILine(f *testing.F) {
	seedStream(f)
	f.Fuzz(func(t *testing.T, line []byte) {
		ev := parseUILine(line)
		if ev.Type == "" {
			t.Fatalf("event without a type for %q", line)
		}
		for name, o := range ev.Outputs {
			if o.Sensitive && len(o.Value) > 0 {
				t.Fatalf("sensitive output %s kept its value", name)
			}
		}
		if ev.Type == EventLog && ev.Message == "" && len(bytes.TrimSpace(line)) > 0 && line[0] != '{' {
			t.Fatalf("non-JSON text lost: %q", line)
		}
	})
}

func FuzzLineWriter(f *testing.F) {
	f.Add([]byte("a\nb\n"), uint8(1))
	f.Add([]byte("no newline at all"), uint8(3))
	f.Add([]byte("\n\n\r\nx"), uint8(2))
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		size := int(chunk)%16 + 1
		var got [][]byte
		w := &lineWriter{emit: func(line []byte, truncated bool) { got = append(got, bytes.Clone(line)) }}
		for p := data; len(p) > 0; {
			n := min(size, len(p))
			w.Write(p[:n])
			p = p[n:]
		}
		w.Close()
		// Every non-empty line of the input comes out, in order, whole.
		var want [][]byte
		for _, l := range bytes.Split(data, []byte("\n")) {
			if len(l) > 0 {
				want = append(want, l)
			}
		}
		if len(got) != len(want) {
			t.Fatalf("%d lines out, %d in", len(got), len(want))
		}
		for i := range want {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("line %d: %q, want %q", i, got[i], want[i])
			}
		}
	})
}

func FuzzClassify(f *testing.F) {
	files, _ := filepath.Glob("../testdata/drift/*.golden.json")
	for _, p := range files {
		b, _ := os.ReadFile(p)
		f.Add(b, uint8(0))
	}
	f.Add([]byte(`{"resource_drift":[{"address":"a","mode":"managed","change":{"actions":["update"],"before":{"x":1},"after":[1]}}]}`), uint8(1))
	valid := map[ServiceStatus]bool{StatusInSync: true, StatusDrifted: true, StatusMissing: true, StatusOrphaned: true, StatusPending: true, StatusUnknown: true}
	intents := []IntentKind{IntentNone, IntentApplied, IntentDestroyed}
	f.Fuzz(func(t *testing.T, planJSON []byte, intent uint8) {
		r, err := Classify(planJSON, intents[int(intent)%3], nil)
		if err != nil {
			return
		}
		if !valid[r.Status] {
			t.Fatalf("status %q", r.Status)
		}
		seen := map[string]bool{}
		for _, res := range r.Resources {
			if seen[res.Address] {
				t.Fatalf("resource %q reported twice", res.Address)
			}
			seen[res.Address] = true
		}
	})
}

func FuzzValidateID(f *testing.F) {
	for _, s := range []string{"a", "svc-1", "../x", "/etc", "a/b", "a\x00", "с1", strings.Repeat("a", 70), "-a", "A"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		if ValidateID(id) != nil {
			return
		}
		// An accepted id is one plain path segment, and safe in a Docker name and a key.
		root := "/srv/work"
		if p := filepath.Join(root, id); filepath.Dir(p) != root || filepath.Base(p) != id {
			t.Fatalf("id %q escapes as a path segment", id)
		}
		if strings.ContainsAny(id, "/\\.\x00 ") || len(id) > MaxIDLen || strings.ToLower(id) != id {
			t.Fatalf("id %q accepted", id)
		}
	})
}
