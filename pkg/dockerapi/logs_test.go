package dockerapi

import (
	"bytes"
	"encoding/binary"
	"slices"
	"strings"
	"testing"
)

func frame(stream byte, s string) []byte {
	h := make([]byte, 8, 8+len(s))
	h[0] = stream
	binary.BigEndian.PutUint32(h[4:], uint32(len(s)))
	return append(h, s...)
}

func TestReadLog(t *testing.T) {
	var mux bytes.Buffer
	mux.Write(frame(1, "one\ntw"))
	mux.Write(frame(2, "err: a\r\n"))
	mux.Write(frame(1, "o\nthree\n"))
	mux.Write(frame(1, strings.Repeat("é", MaxLogLine+10)+"\nla"))
	mux.Write(frame(1, "st"))
	var got []string
	if err := ReadLog(&mux, false, func(stream, line string) { got = append(got, stream+":"+line) }); err != nil {
		t.Fatal(err)
	}
	long := "stdout:" + strings.Repeat("é", MaxLogLine-1) + "…"
	want := []string{"stdout:one", "stderr:err: a", "stdout:two", "stdout:three", long, "stdout:last"}
	if !slices.Equal(got, want) {
		t.Fatalf("multiplexed log:\n got %.80q\nwant %.80q", got, want)
	}

	got = nil
	if err := ReadLog(strings.NewReader("a\r\nb\nc"), true, func(stream, line string) { got = append(got, stream+":"+line) }); err != nil {
		t.Fatal(err)
	}
	if want := []string{"stdout:a", "stdout:b", "stdout:c"}; !slices.Equal(got, want) {
		t.Fatalf("terminal log: got %q, want %q", got, want)
	}

	if err := ReadLog(bytes.NewReader(frame(1, "cut")[:9]), false, func(string, string) {}); err == nil {
		t.Fatal("a frame cut short read without an error")
	}
}
