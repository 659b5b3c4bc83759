package dockerapi

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/spawnit/spawnit/pkg/truncate"
)

// Post sends POST path?q without a body (the container verbs: start, stop, restart).
// A 304 (already in the state asked for) is success; a 404 is ErrNotFound, a 409
// ErrConflict, any other answer but 2xx an error with the engine's message.
func (c *Client) Post(ctx context.Context, path string, q url.Values) error {
	return c.send(ctx, http.MethodPost, path, q, http.StatusNotModified)
}

// Log streams.
const (
	StreamStdout = "stdout"
	StreamStderr = "stderr"
)

// MaxLogLine bounds one line of a container's log, in characters; a longer one is cut.
const MaxLogLine = 16 << 10

// LogOptions choose what Logs reads of a container's log.
type LogOptions struct {
	// Tail is how many of the last lines to read (0: none of the past, only what
	// follows; negative: all of them).
	Tail int
	// Follow keeps reading what the container writes until ctx ends or the container
	// stops.
	Follow bool
}

// Logs reads a container's log (stdout and stderr) and calls fn with each line, in
// order, without its line ending. It returns when the log ends (at once without
// Follow), or with ctx's error when ctx ends.
func (c *Client) Logs(ctx context.Context, container string, opts LogOptions, fn func(stream, line string)) error {
	path := "/containers/" + url.PathEscape(container)
	var inspect struct {
		Config struct {
			Tty bool `json:"Tty"`
		} `json:"Config"`
	}
	if err := c.Get(ctx, path+"/json", nil, &inspect); err != nil {
		return err
	}
	tail := "all"
	if opts.Tail >= 0 {
		tail = strconv.Itoa(opts.Tail)
	}
	q := url.Values{"stdout": {"1"}, "stderr": {"1"}, "tail": {tail}}
	if opts.Follow {
		q.Set("follow", "1")
	}
	body, err := c.Open(ctx, path+"/logs", q)
	if err != nil {
		return err
	}
	defer body.Close()
	err = ReadLog(body, inspect.Config.Tty, fn)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// ReadLog splits a log stream as the engine sends it into lines: a container with a
// terminal (tty) sends its output as it is (all of it stdout); any other multiplexes
// stdout and stderr in frames of an 8-byte header (stream, 3 zero bytes, big-endian
// length) and the payload. A line split across frames is joined; a last line without
// its ending is passed on at the end of the stream.
func ReadLog(r io.Reader, tty bool, fn func(stream, line string)) error {
	if tty {
		return splitLines(bufio.NewReader(r), StreamStdout, fn)
	}
	var hdr [8]byte
	partial := map[string]*strings.Builder{StreamStdout: {}, StreamStderr: {}}
	flush := func(stream string, final bool) {
		b := partial[stream]
		s := b.String()
		for {
			i := strings.IndexByte(s, '\n')
			if i < 0 {
				break
			}
			fn(stream, cut(strings.TrimSuffix(s[:i], "\r")))
			s = s[i+1:]
		}
		if final && s != "" {
			fn(stream, cut(strings.TrimSuffix(s, "\r")))
			s = ""
		}
		if len(s) > MaxLogLine {
			fn(stream, cut(s))
			s = ""
		}
		b.Reset()
		b.WriteString(s)
	}
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			flush(StreamStdout, true)
			flush(StreamStderr, true)
			if errors.Is(err, io.EOF) {
				return nil
			}
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return errors.New("docker logs: a frame header cut short")
			}
			return fmt.Errorf("docker logs: %w", err)
		}
		stream := StreamStdout
		switch hdr[0] {
		case 1:
		case 2:
			stream = StreamStderr
		case 0:
			// stdin: never sent for logs; read it as stdout.
		default:
			return fmt.Errorf("docker logs: unknown stream %d (a terminal's log read as multiplexed?)", hdr[0])
		}
		n := binary.BigEndian.Uint32(hdr[4:])
		b := partial[stream]
		if _, err := io.CopyN(b, r, int64(n)); err != nil {
			flush(StreamStdout, true)
			flush(StreamStderr, true)
			if errors.Is(err, io.EOF) {
				return errors.New("docker logs: a frame cut short")
			}
			return fmt.Errorf("docker logs: %w", err)
		}
		flush(stream, false)
	}
}

// splitLines calls fn with each line of a terminal's raw output.
func splitLines(r *bufio.Reader, stream string, fn func(stream, line string)) error {
	var b strings.Builder
	for {
		chunk, err := r.ReadSlice('\n')
		b.Write(chunk)
		if err == nil {
			fn(stream, cut(strings.TrimSuffix(strings.TrimSuffix(b.String(), "\n"), "\r")))
			b.Reset()
			continue
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			if b.Len() > MaxLogLine {
				fn(stream, cut(b.String()))
				b.Reset()
			}
			continue
		}
		if b.Len() > 0 {
			fn(stream, cut(strings.TrimSuffix(b.String(), "\r")))
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		return fmt.Errorf("docker logs: %w", err)
	}
}

// cut shortens a line to MaxLogLine characters (the one truncation: pkg/truncate).
func cut(s string) string { return truncate.String(s, MaxLogLine) }
