package main

import (
	"bufio"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// backend starts a server answering its own name, and streaming lines on /stream
// until the client has read the first one.
func backend(t *testing.T, name string) string {
	t.Helper()
	read := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/stream" {
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, "data: first\n\n")
			w.(http.Flusher).Flush()
			<-read // the line must reach the client before the handler ends
			io.WriteString(w, "data: last\n\n")
			return
		}
		if r.URL.Path == "/read" {
			close(read)
		}
		io.WriteString(w, name)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func get(t *testing.T, url string) (body, served string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", url, resp.Status, b)
	}
	return string(b), resp.Header.Get(BackendHeader)
}

func start(t *testing.T, backends ...string) string {
	t.Helper()
	b, err := newBalancer(backends, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	lb := httptest.NewServer(b)
	t.Cleanup(lb.Close)
	return lb.URL
}

func TestRoundRobin(t *testing.T) {
	a, b := backend(t, "a"), backend(t, "b")
	lb := start(t, a, b)
	var got []string
	for range 4 {
		body, served := get(t, lb+"/")
		if want := map[string]string{"a": a, "b": b}[body]; served != want {
			t.Fatalf("answer %q came with %s %q, want %q", body, BackendHeader, served, want)
		}
		got = append(got, body)
	}
	if strings.Join(got, "") != "abab" {
		t.Fatalf("answers in order %v, want a, b, a, b", got)
	}
}

func TestSkipsABackendThatIsDown(t *testing.T) {
	a := backend(t, "a")
	gone := httptest.NewServer(http.NotFoundHandler())
	down := strings.TrimPrefix(gone.URL, "http://")
	gone.Close()
	lb := start(t, down, a)
	for range 4 {
		if body, _ := get(t, lb+"/"); body != "a" {
			t.Fatalf("answer %q, want every request served by the live backend", body)
		}
	}
	// A request with a body that could not be sent is not sent twice: 502 at worst.
	resp, err := http.Post(lb+"/", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("POST with a body: %s", resp.Status)
	}
}

func TestStreamsPassThroughLive(t *testing.T) {
	a := backend(t, "a")
	lb := start(t, a)
	resp, err := http.Get(lb + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	// The backend holds the stream open until /read: the first event must arrive
	// before that, or this read would wait for ever (the test's own timeout).
	if line, err := r.ReadString('\n'); err != nil || line != "data: first\n" {
		t.Fatalf("first line %q, %v", line, err)
	}
	get(t, lb+"/read")
	rest, _ := io.ReadAll(r)
	if !strings.Contains(string(rest), "data: last") {
		t.Fatalf("rest of the stream: %q", rest)
	}
}

func TestNeedsBackends(t *testing.T) {
	for _, in := range [][]string{nil, {""}, {"no-port"}} {
		if _, err := newBalancer(in, slog.New(slog.DiscardHandler)); err == nil {
			t.Errorf("newBalancer(%q): no error", in)
		}
	}
}
