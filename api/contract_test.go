package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
)

// The API tests check their own expectations; on top of that every response their
// server sends is held against openapi.json, the reference of the API's shapes: the
// status must be documented for the route, the content type must be one the document
// lists, and a body must match its schema. Event streams are checked as they are
// written: status and content type at once, then each event's data against the schema
// the media type's x-sse-events names for the event (its "*" entry for any other).
//
// The check is server-side (a wrapper around the API's handler in newHarness), so it
// sees every client the tests use: the harness's, pkg/client, raw connections.

// contract is openapi.json, loaded once per test binary.
type contract struct {
	doc *openapi3.T
	// responses and events count what was checked, and seen the documented responses
	// (method, route, status) met at least once, for the summary TestMain prints.
	responses, events atomic.Int64
	seen              sync.Map
}

// checked counts a response that matched the document.
func (c *contract) checked(rec *recorder) {
	c.responses.Add(1)
	if rec.route != nil && rec.route.Operation != nil {
		c.seen.Store(fmt.Sprintf("%s %s %d", rec.req.Method, rec.route.Path, rec.status), true)
	}
}

// documented lists the (method, route, status) triples the document has.
func (c *contract) documented() []string {
	var out []string
	for path, item := range c.doc.Paths.Map() {
		for method, op := range item.Operations() {
			for status := range op.Responses.Map() {
				out = append(out, fmt.Sprintf("%s %s %s", method, path, status))
			}
		}
	}
	slices.Sort(out)
	return out
}

var loadContract = sync.OnceValues(func() (*contract, error) {
	b, err := os.ReadFile("openapi.json")
	if err != nil {
		return nil, err
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(b)
	if err != nil {
		return nil, fmt.Errorf("openapi.json: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("openapi.json is not a valid OpenAPI document: %w", err)
	}
	return &contract{doc: doc}, nil
})

func TestMain(m *testing.M) {
	code := m.Run()
	if c, err := loadContract(); err == nil && c.responses.Load() > 0 {
		var unseen []string
		all := c.documented()
		for _, d := range all {
			if _, ok := c.seen.Load(d); !ok {
				unseen = append(unseen, d)
			}
		}
		fmt.Printf("openapi.json: %d responses and %d stream events validated; %d of the %d documented responses (method, route, status) seen\n",
			c.responses.Load(), c.events.Load(), len(all)-len(unseen), len(all))
		if testing.Verbose() {
			fmt.Printf("openapi.json: not seen: %s\n", strings.Join(unseen, ", "))
		}
	}
	os.Exit(code)
}

// contractFor returns the loaded document or fails the test.
func contractFor(t testing.TB) *contract {
	t.Helper()
	c, err := loadContract()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// route finds the document's operation for a request. It returns nil when the path is
// not in the document; pathParams holds the template's values.
func (c *contract) route(method, path string) (*routers.Route, map[string]string) {
	segs := strings.Split(path, "/")
	for _, tmpl := range c.doc.Paths.InMatchingOrder() {
		params, ok := matchPath(tmpl, segs)
		if !ok {
			continue
		}
		item := c.doc.Paths.Value(tmpl)
		return &routers.Route{Spec: c.doc, Path: tmpl, PathItem: item, Method: method, Operation: item.GetOperation(method)}, params
	}
	return nil, nil
}

func matchPath(tmpl string, segs []string) (map[string]string, bool) {
	parts := strings.Split(tmpl, "/")
	if len(parts) != len(segs) {
		return nil, false
	}
	params := map[string]string{}
	for i, p := range parts {
		if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}") {
			if segs[i] == "" {
				return nil, false
			}
			params[p[1:len(p)-1]] = segs[i]
		} else if p != segs[i] {
			return nil, false
		}
	}
	return params, true
}

// handler wraps next: each response is checked when its handler returns (a stream,
// as it is written), and fail is called once per mismatch.
func (c *contract) handler(next http.Handler, fail func(msg string)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &recorder{ResponseWriter: w, c: c, req: r, fail: fail}
		rec.route, rec.params = c.route(r.Method, r.URL.Path)
		next.ServeHTTP(rec, r)
		rec.finish()
	})
}

// recorder passes a response through while keeping what the check needs.
type recorder struct {
	http.ResponseWriter
	c      *contract
	req    *http.Request
	route  *routers.Route // nil outside the document's paths
	params map[string]string
	fail   func(string)

	status int // 0 until the header is written
	body   bytes.Buffer
	stream *eventChecker // set when the response is an event stream
	done   bool          // no further check (not the API's, or failed already)
	// hijacked: the server took the connection over (a stream's fan-out); what it
	// writes there is checked by the connection (checkedConn) from then on.
	hijacked bool
}

func (rec *recorder) WriteHeader(code int) {
	if rec.status == 0 && code >= 200 {
		rec.status = code
		rec.started()
	}
	rec.ResponseWriter.WriteHeader(code)
}

func (rec *recorder) Write(p []byte) (int, error) {
	if rec.status == 0 {
		rec.WriteHeader(http.StatusOK)
	}
	if !rec.done {
		if rec.stream != nil {
			rec.stream.feed(p)
		} else {
			rec.body.Write(p)
		}
	}
	return rec.ResponseWriter.Write(p)
}

// Flush, FlushError and Unwrap keep streaming and http.ResponseController working
// through the wrapper. FlushError matters: the server's streams learn from a failed
// flush (a write deadline passed) that a client is stuck, and drop it.
func (rec *recorder) Flush() { _ = rec.FlushError() }

func (rec *recorder) FlushError() error {
	return http.NewResponseController(rec.ResponseWriter).Flush()
}

func (rec *recorder) Unwrap() http.ResponseWriter { return rec.ResponseWriter }

// Hijack lets the server take a stream's connection over; the response head and the
// events it then writes on the connection are checked as they go, like a stream
// written through the recorder.
func (rec *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := http.NewResponseController(rec.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	rec.hijacked = true
	return &checkedConn{Conn: conn, rec: rec}, rw, nil
}

// checkedConn is a hijacked connection whose writes are checked: first the response
// head, then the stream.
type checkedConn struct {
	net.Conn
	rec  *recorder
	mu   sync.Mutex
	head []byte // until the end of the response head
	body bool
}

func (cc *checkedConn) Write(p []byte) (int, error) {
	n, err := cc.Conn.Write(p)
	cc.mu.Lock()
	defer cc.mu.Unlock()
	data := p[:n]
	rec := cc.rec
	if !cc.body {
		cc.head = append(cc.head, data...)
		i := bytes.Index(cc.head, []byte("\r\n\r\n"))
		if i < 0 {
			return n, err
		}
		cc.body = true
		data = cc.head[i+4:]
		res, perr := http.ReadResponse(bufio.NewReader(bytes.NewReader(cc.head[:i+4])), rec.req)
		if perr != nil {
			rec.failf("unreadable response head: %v: %q", perr, cc.head[:i+4])
			return n, err
		}
		rec.status = res.StatusCode
		rec.started()
	}
	if rec.stream != nil && !rec.done {
		rec.stream.feed(data)
	}
	return n, err
}

// SyscallConn lets the server peek at the socket, as it does on a bare connection.
func (cc *checkedConn) SyscallConn() (syscall.RawConn, error) {
	return cc.Conn.(syscall.Conn).SyscallConn()
}

func (rec *recorder) failf(format string, args ...any) {
	rec.done = true
	route := "(no route)"
	if rec.route != nil {
		route = rec.route.Path
	}
	rec.fail(fmt.Sprintf("openapi.json: %s %s (route %s) -> %d: ", rec.req.Method, rec.req.URL.Path, route, rec.status) + fmt.Sprintf(format, args...))
}

// started runs once the status is known: a stream is checked from here on.
func (rec *recorder) started() {
	ct := rec.Header().Get("Content-Type")
	if mt, _, _ := mime.ParseMediaType(ct); mt != "text/event-stream" {
		return
	}
	res := rec.response()
	if res == nil {
		return
	}
	media := res.Content.Get(ct)
	if media == nil {
		rec.failf("content type %q is not documented", ct)
		return
	}
	rec.c.checked(rec)
	rec.stream = &eventChecker{rec: rec, schemas: eventSchemas(rec.c.doc, media)}
}

// response finds the documented response of the request's route and status, failing
// when there is none. It returns nil for requests outside the API (the UI's pages).
func (rec *recorder) response() *openapi3.Response {
	route := rec.route
	if route == nil || route.Operation == nil {
		if !strings.HasPrefix(rec.req.URL.Path, "/api/") {
			rec.done = true
			return nil
		}
		// An unknown API route or method: one of the API's documented errors.
		if ref := rec.c.doc.Components.Responses[fmt.Sprintf("E%d", rec.status)]; ref != nil && ref.Value != nil {
			return ref.Value
		}
		rec.failf("status %d is not one of the API's documented errors", rec.status)
		return nil
	}
	ref := route.Operation.Responses.Status(rec.status)
	if ref == nil {
		ref = route.Operation.Responses.Default()
	}
	if ref == nil || ref.Value == nil {
		rec.failf("status %d is not documented", rec.status)
		return nil
	}
	return ref.Value
}

// finish checks a complete response.
func (rec *recorder) finish() {
	if rec.hijacked {
		return // checked by the connection, as it is written
	}
	if rec.status == 0 {
		rec.status = http.StatusOK
		rec.started()
	}
	if rec.done {
		return
	}
	if rec.stream != nil {
		return // checked as it was written; a cut last event is not an error
	}
	if rec.req.Method == http.MethodHead {
		return
	}
	res := rec.response()
	if res == nil {
		return
	}
	if rec.body.Len() > 0 && len(res.Content) == 0 {
		rec.failf("a body (%s) where the document has none: %.200s", rec.Header().Get("Content-Type"), rec.body.Bytes())
		return
	}
	route := rec.route
	if route == nil || route.Operation == nil {
		// An unknown API route: check the body against the error response alone.
		op := openapi3.NewOperation()
		op.Responses = openapi3.NewResponses(openapi3.WithStatus(rec.status, &openapi3.ResponseRef{Value: res}))
		route = &routers.Route{Spec: rec.c.doc, Path: rec.req.URL.Path, Method: rec.req.Method, Operation: op}
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: rec.req, PathParams: rec.params, Route: route},
		Status:                 rec.status,
		Header:                 rec.Header(),
		Body:                   io.NopCloser(bytes.NewReader(rec.body.Bytes())),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		rec.failf("%v\nbody: %.300s", err, rec.body.Bytes())
		return
	}
	rec.c.checked(rec)
}

// eventSchemas reads a stream's x-sse-events: event name to the schema of its data.
func eventSchemas(doc *openapi3.T, media *openapi3.MediaType) map[string]*openapi3.Schema {
	out := map[string]*openapi3.Schema{}
	raw, ok := media.Extensions["x-sse-events"].(map[string]any)
	if !ok {
		return out
	}
	for name, v := range raw {
		m, _ := v.(map[string]any)
		ref, _ := m["$ref"].(string)
		if s := doc.Components.Schemas[strings.TrimPrefix(ref, "#/components/schemas/")]; s != nil {
			out[name] = s.Value
		}
	}
	return out
}

// eventChecker parses a Server-Sent Events stream as it is written and checks each
// event's data.
type eventChecker struct {
	rec     *recorder
	schemas map[string]*openapi3.Schema
	pending []byte // the start of a line not yet complete
	name    string
	data    []byte
}

func (ec *eventChecker) feed(p []byte) {
	ec.pending = append(ec.pending, p...)
	for !ec.rec.done {
		i := bytes.IndexByte(ec.pending, '\n')
		if i < 0 {
			return
		}
		line := string(ec.pending[:i])
		ec.pending = ec.pending[i+1:]
		ec.line(line)
	}
}

func (ec *eventChecker) line(line string) {
	if line == "" {
		if ec.data != nil {
			ec.event(ec.name, ec.data)
		}
		ec.name, ec.data = "", nil
		return
	}
	if strings.HasPrefix(line, ":") {
		return // a comment (keep-alive)
	}
	field, value, _ := strings.Cut(line, ":")
	value = strings.TrimPrefix(value, " ")
	switch field {
	case "event":
		ec.name = value
	case "data":
		if ec.data != nil {
			ec.data = append(ec.data, '\n')
		}
		ec.data = append(ec.data, value...)
	}
}

func (ec *eventChecker) event(name string, data []byte) {
	if name == "" {
		name = "message"
	}
	schema := ec.schemas[name]
	if schema == nil {
		schema = ec.schemas["*"]
	}
	if schema == nil {
		ec.rec.failf("event %q is not documented (x-sse-events)", name)
		return
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		ec.rec.failf("event %q: data is not JSON: %v: %.200s", name, err, data)
		return
	}
	if err := schema.VisitJSON(v, openapi3.MultiErrors(), openapi3.VisitAsResponse()); err != nil {
		ec.rec.failf("event %q: data doesn't match the schema: %v\ndata: %.300s", name, err, data)
		return
	}
	ec.rec.c.events.Add(1)
}

// TestContractCatchesMismatches shows the check failing on responses that break the
// document, so a silent checker cannot pass for a strict one.
func TestContractCatchesMismatches(t *testing.T) {
	c := contractFor(t)
	cases := []struct {
		name, method, path string
		handler            http.HandlerFunc
		want               string // in the failure; "" for none
	}{
		{"good error", "GET", "/api/v1/services/x", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(404)
			io.WriteString(w, `{"error":{"code":"not_found","message":"no"}}`)
		}, ""},
		{"undocumented status", "GET", "/api/v1/services", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(418)
			io.WriteString(w, `{}`)
		}, "status 418 is not documented"},
		{"wrong content type", "GET", "/api/v1/services", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, `hello`)
		}, "text/plain"},
		{"missing required field", "GET", "/api/v1/me", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"tenant":"a","single_user":false}`)
		}, "subject"},
		{"unknown error code", "GET", "/api/v1/nope", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(404)
			io.WriteString(w, `{"error":{"code":"what","message":"no"}}`)
		}, "what"},
		{"bad stream event", "GET", "/api/v1/events", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, ": keep-alive\n\nevent: status\ndata: {\"kind\":\"nonsense\",\"service\":\"s\",\"time\":\"2026-01-01T00:00:00Z\"}\n\n")
		}, "nonsense"},
		{"undocumented stream event", "GET", "/api/v1/events", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, "event: surprise\ndata: {}\n\n")
		}, `event "surprise" is not documented`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			h := c.handler(tc.handler, func(msg string) { got = append(got, msg) })
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(tc.method, tc.path, nil))
			switch {
			case tc.want == "" && len(got) > 0:
				t.Fatalf("unexpected failure: %v", got)
			case tc.want != "" && (len(got) != 1 || !strings.Contains(got[0], tc.want)):
				t.Fatalf("failures %q, want one naming %q", got, tc.want)
			}
		})
	}
}

// TestOpenAPIDocumentValid checks openapi.json against the OpenAPI 3 rules (every
// operation declares its path parameters, references resolve, examples and defaults
// match their schemas).
func TestOpenAPIDocumentValid(t *testing.T) { contractFor(t) }
