package client

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
)

// maxEventBytes bounds one SSE line and one event's data. Lines have no length limit
// of their own (a job's outputs or a long tofu log line can exceed 64 KiB), but a
// broken or hostile server must not make the client buffer without end.
const maxEventBytes = 64 << 20

var errEventTooLarge = fmt.Errorf("client: event stream: an event is larger than %d bytes", maxEventBytes)

// sseEvent is one dispatched Server-Sent Event.
type sseEvent struct {
	id    string // the last event id seen on the stream, as the spec defines it
	event string // event name; "" means the default ("message")
	data  []byte // data lines joined with "\n"
}

// sseReader parses text/event-stream (WHATWG HTML, "Server-sent events"): lines end
// with CRLF, LF or CR; "field: value" lines, one optional space after the colon; lines
// starting with ':' are comments; a blank line dispatches the event.
type sseReader struct {
	br      *bufio.Reader
	max     int
	started bool // the optional leading BOM has been dealt with
	skipLF  bool // the previous line ended with CR, so an LF right after belongs to it
	lastID  string
	retry   time.Duration // the server's reconnection delay, 0 if it sent none
	lines   int           // lines read, comments included: proof that the connection is alive
	onLine  func()
}

func newSSEReader(r io.Reader) *sseReader {
	return &sseReader{br: bufio.NewReaderSize(r, 32<<10), max: maxEventBytes}
}

// next returns the next event. At the end of the input it returns io.EOF (or the read
// error) and drops an event not yet closed by a blank line: the spec says so, and a
// connection cut in the middle of an event may have cut its data too. A follower does
// not lose it: it resumes after the last event it received, so the event comes again.
func (r *sseReader) next() (sseEvent, error) {
	var (
		ev      sseEvent
		data    []byte
		hasData bool
	)
	for {
		line, err := r.readLine()
		if err != nil {
			return sseEvent{}, err
		}
		r.lines++
		if r.onLine != nil {
			r.onLine()
		}
		if len(line) == 0 {
			// The spec dispatches only events with data; an event with a name but no
			// data (a bare "event: end") is dispatched too, so a terse server's end of
			// stream is not missed.
			if !hasData && ev.event == "" {
				ev = sseEvent{}
				continue
			}
			ev.id = r.lastID
			ev.data = bytes.TrimSuffix(data, []byte("\n"))
			return ev, nil
		}
		if line[0] == ':' {
			continue
		}
		field, value := line, []byte(nil)
		if i := bytes.IndexByte(line, ':'); i >= 0 {
			field, value = line[:i], line[i+1:]
			value = bytes.TrimPrefix(value, []byte(" "))
		}
		switch string(field) {
		case "event":
			ev.event = string(value)
		case "data":
			if len(data)+len(value)+1 > r.max {
				return sseEvent{}, errEventTooLarge
			}
			data = append(data, value...)
			data = append(data, '\n')
			hasData = true
		case "id":
			if bytes.IndexByte(value, 0) < 0 {
				r.lastID = string(value)
			}
		case "retry":
			if ms, err := strconv.ParseUint(string(value), 10, 32); err == nil && isDigits(value) {
				r.retry = time.Duration(ms) * time.Millisecond
			}
		}
	}
}

func isDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}

var bom = []byte("\xEF\xBB\xBF")

// readLine returns the next line without its terminator. It reads in buffer-sized
// chunks, so a line is limited only by r.max, not by bufio's buffer.
func (r *sseReader) readLine() ([]byte, error) {
	if !r.started {
		r.started = true
		if b, err := r.br.Peek(len(bom)); err == nil && bytes.Equal(b, bom) {
			_, _ = r.br.Discard(len(bom))
		}
	}
	var line []byte
	for {
		if r.br.Buffered() == 0 {
			if _, err := r.br.Peek(1); err != nil {
				if err == io.EOF && len(line) > 0 {
					err = io.ErrUnexpectedEOF
				}
				return nil, err
			}
		}
		buf, _ := r.br.Peek(r.br.Buffered())
		if r.skipLF {
			r.skipLF = false
			if buf[0] == '\n' {
				_, _ = r.br.Discard(1)
				continue
			}
		}
		i := bytes.IndexAny(buf, "\r\n")
		if i < 0 {
			if len(line)+len(buf) > r.max {
				return nil, errEventTooLarge
			}
			line = append(line, buf...)
			_, _ = r.br.Discard(len(buf))
			continue
		}
		if len(line)+i > r.max {
			return nil, errEventTooLarge
		}
		line = append(line, buf[:i]...)
		r.skipLF = buf[i] == '\r'
		_, _ = r.br.Discard(i + 1)
		return line, nil
	}
}

// isProtocolError reports stream errors that a reconnection would only repeat.
func isProtocolError(err error) bool {
	return errors.Is(err, errEventTooLarge)
}
