package client

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

func readAll(t *testing.T, r io.Reader) ([]sseEvent, error) {
	t.Helper()
	sr := newSSEReader(r)
	var out []sseEvent
	for {
		ev, err := sr.next()
		if err != nil {
			return out, err
		}
		out = append(out, ev)
	}
}

func TestSSEReaderTrickyInput(t *testing.T) {
	long := strings.Repeat("x", 200_000)
	input := "\xEF\xBB\xBF" + // a BOM is dropped
		": a comment, ignored\n" +
		"id: 1\r\nevent: log\r\ndata: {\"a\":1}\r\n\r\n" + // CRLF
		"id: 2\revent: log\rdata: first\rdata: second\r\r" + // lone CR
		"id: 3\ndata:no-space\ndata:  two spaces\ndata\n\n" + // value forms; "data" alone adds a line
		": keep-alive\n\n" + // a comment and a blank line dispatch nothing
		"id: 4\nevent: big\ndata: " + long + "\n\n" +
		"retry: 1500\nevent: end\n\n" + // a named event without data is still dispatched
		"id: 5\ndata: never dispatched, no blank line after it\n"
	got, err := readAll(t, strings.NewReader(input))
	if err != io.EOF {
		t.Fatalf("err = %v, want EOF", err)
	}
	want := []sseEvent{
		{id: "1", event: "log", data: []byte(`{"a":1}`)},
		{id: "2", event: "log", data: []byte("first\nsecond")},
		{id: "3", data: []byte("no-space\n two spaces\n")},
		{id: "4", event: "big", data: []byte(long)},
		{id: "4", event: "end", data: []byte{}},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d events, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i].id != want[i].id || got[i].event != want[i].event || string(got[i].data) != string(want[i].data) {
			t.Errorf("event %d = {%q %q %.40q}, want {%q %q %.40q}", i,
				got[i].id, got[i].event, got[i].data, want[i].id, want[i].event, want[i].data)
		}
	}
}

// Byte-at-a-time reads put every CR, LF and CRLF on a buffer boundary.
func TestSSEReaderOneByteReads(t *testing.T) {
	input := "id: 1\r\ndata: a\r\n\r\nid: 2\rdata: b\r\rid: 3\ndata: " + strings.Repeat("y", 70_000) + "\n\n"
	got, err := readAll(t, iotest.OneByteReader(strings.NewReader(input)))
	if err != io.EOF {
		t.Fatalf("err = %v", err)
	}
	if len(got) != 3 || string(got[0].data) != "a" || string(got[1].data) != "b" || len(got[2].data) != 70_000 || got[2].id != "3" {
		t.Fatalf("got %+v", got)
	}
}

func TestSSEReaderCutMidLine(t *testing.T) {
	got, err := readAll(t, strings.NewReader("id: 1\ndata: a\n\nid: 2\ndata: {\"cut"))
	if !errors.Is(err, io.ErrUnexpectedEOF) || len(got) != 1 {
		t.Fatalf("got %+v, err %v; want one event and ErrUnexpectedEOF", got, err)
	}
}

func TestSSEReaderRetryAndID(t *testing.T) {
	sr := newSSEReader(strings.NewReader("retry: 2000\nid: 7\ndata: x\n\nretry: soon\nid: bad\x00id\ndata: y\n\n"))
	ev, err := sr.next()
	if err != nil || ev.id != "7" || sr.retry != 2*time.Second {
		t.Fatalf("ev %+v err %v retry %v", ev, err, sr.retry)
	}
	ev, err = sr.next()
	// A non-numeric retry is ignored, an id with NUL too (the last id stays).
	if err != nil || ev.id != "7" || sr.retry != 2*time.Second {
		t.Fatalf("ev %+v err %v retry %v", ev, err, sr.retry)
	}
}

func TestSSEReaderBoundsEvents(t *testing.T) {
	sr := newSSEReader(strings.NewReader("data: " + strings.Repeat("z", 1000) + "\n\n"))
	sr.max = 100
	if _, err := sr.next(); !errors.Is(err, errEventTooLarge) {
		t.Fatalf("err = %v, want errEventTooLarge", err)
	}
	sr = newSSEReader(strings.NewReader(strings.Repeat("data: 0123456789\n", 20) + "\n"))
	sr.max = 100
	if _, err := sr.next(); !errors.Is(err, errEventTooLarge) {
		t.Fatalf("many data lines: err = %v, want errEventTooLarge", err)
	}
}
