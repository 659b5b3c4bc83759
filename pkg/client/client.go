package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spawnit/spawnit/pkg/apiv1"
)

// DefaultUserAgent is sent when WithUserAgent is not used.
const DefaultUserAgent = "spawnit-go-client/1"

const (
	defaultAttempts = 4
	defaultBackoff  = 250 * time.Millisecond
	maxBackoff      = 5 * time.Second
	// The server sends a keep-alive comment at least every 15 s; three missed ones mean
	// the connection is dead even if TCP has not noticed (a NAT or proxy dropped it).
	defaultIdleTimeout = 45 * time.Second
	// Error bodies are small; a misbehaving proxy's page is cut rather than read whole.
	maxErrorBody = 1 << 20
)

// Client calls one SpawnIt server. It is safe for concurrent use.
type Client struct {
	base      string // scheme://host[/prefix] without a trailing slash
	hc        *http.Client
	userAgent string
	// token is behind a pointer so that printing a Client (%v, %+v) shows an address,
	// never the bearer token.
	token       *string
	attempts    int
	backoff     time.Duration
	idleTimeout time.Duration
}

// Option configures a Client.
type Option func(*config)

type config struct {
	token     string
	hc        *http.Client
	userAgent string
	attempts  int
	backoff   time.Duration
}

// WithToken sends token as "Authorization: Bearer <token>" on every request.
func WithToken(token string) Option {
	return func(c *config) { c.token = token }
}

// WithHTTPClient makes the client use hc (its transport, TLS settings, proxy). Leave its
// Timeout at zero: it would cut event streams, which last as long as a job; give
// deadlines through the contexts instead.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *config) { c.hc = hc }
}

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) Option {
	return func(c *config) { c.userAgent = ua }
}

// WithRetry sets how many times a request that is safe to repeat, or a dropped event
// stream, is tried before giving up (attempts, at least 1; 1 disables retries), and the
// first delay between tries, which doubles up to 5 s. The default is 4 attempts from
// 250 ms.
func WithRetry(attempts int, backoff time.Duration) Option {
	return func(c *config) { c.attempts, c.backoff = attempts, backoff }
}

// New returns a client of the server at baseURL (for example "http://127.0.0.1:8080",
// or "https://example.com/spawnit" behind a reverse proxy that adds a prefix).
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("client: server address %q is not a URL: %w", baseURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("client: server address %q must start with http:// or https://", baseURL)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("client: server address %q has no host", baseURL)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		// Credentials in the URL would end up in error messages; tokens go in WithToken.
		return nil, fmt.Errorf("client: server address must not contain credentials, a query or a fragment")
	}
	cfg := config{userAgent: DefaultUserAgent, attempts: defaultAttempts, backoff: defaultBackoff}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.attempts < 1 {
		return nil, fmt.Errorf("client: retry attempts must be at least 1, got %d", cfg.attempts)
	}
	if cfg.backoff < 0 {
		return nil, fmt.Errorf("client: retry backoff must not be negative")
	}
	if cfg.hc == nil {
		cfg.hc = &http.Client{}
	}
	c := &Client{
		base:        strings.TrimRight(u.Scheme+"://"+u.Host+u.EscapedPath(), "/"),
		hc:          cfg.hc,
		userAgent:   cfg.userAgent,
		attempts:    cfg.attempts,
		backoff:     cfg.backoff,
		idleTimeout: defaultIdleTimeout,
	}
	if cfg.token != "" {
		c.token = &cfg.token
	}
	return c, nil
}

// BaseURL returns the server address the client calls.
func (c *Client) BaseURL() string { return c.base }

// request describes one API call.
type request struct {
	method string
	path   string // already escaped, starting with "/"
	query  url.Values
	body   any
	header http.Header
	// retry marks a request that may be sent again after a failure whose outcome is
	// unknown: a GET, or a POST carrying an Idempotency-Key.
	retry bool
	// emptyOK accepts a 2xx without a body (a DELETE answered 200 instead of 204).
	emptyOK bool
	// retryLocked also retries 409 locked: for a job-starting POST that may queue, it
	// can only mean that the server is still handling an earlier try with the same
	// Idempotency-Key, whose job the next try will return.
	retryLocked bool
}

// response is what callers need from an answer besides its decoded body.
type response struct {
	status int
	header http.Header
}

// do sends r, retrying when allowed, and decodes a 2xx JSON body into out (unless out is
// nil or the status is 204). Any other status becomes an *APIError.
func (c *Client) do(ctx context.Context, r request, out any) (response, error) {
	var body []byte
	if r.body != nil {
		var err error
		if body, err = json.Marshal(r.body); err != nil {
			return response{}, fmt.Errorf("client: encoding the request: %w", err)
		}
	}
	for attempt := 1; ; attempt++ {
		req, err := c.newRequest(ctx, r, body)
		if err != nil {
			return response{}, err
		}
		resp, err := c.hc.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return response{}, ctx.Err()
			}
			if r.retry && attempt < c.attempts {
				if err := sleep(ctx, c.delay(attempt, 0)); err != nil {
					return response{}, err
				}
				continue
			}
			return response{}, c.transportError(err)
		}
		if r.retry && attempt < c.attempts && retryableStatus(resp.StatusCode) {
			wait := retryAfter(resp.Header)
			drain(resp.Body)
			if err := sleep(ctx, c.delay(attempt, wait)); err != nil {
				return response{}, err
			}
			continue
		}
		res, err := c.finish(resp, r, out)
		if r.retryLocked && attempt < c.attempts && HasCode(err, apiv1.CodeLocked) {
			if err := sleep(ctx, c.delay(attempt, 0)); err != nil {
				return response{}, err
			}
			continue
		}
		return res, err
	}
}

func (c *Client) finish(resp *http.Response, r request, out any) (response, error) {
	defer drain(resp.Body)
	res := response{status: resp.StatusCode, header: resp.Header}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return res, decodeError(resp)
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return res, nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		if r.emptyOK && errors.Is(err, io.EOF) {
			return res, nil
		}
		return res, fmt.Errorf("client: reading the answer to %s %s: %w", r.method, r.path, err)
	}
	return res, nil
}

func (c *Client) newRequest(ctx context.Context, r request, body []byte) (*http.Request, error) {
	u := c.base + r.path
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	for k, vs := range r.header {
		req.Header[k] = vs
	}
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "application/json")
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.userAgent != "" {
		req.Header.Set("User-Agent", c.userAgent)
	}
	if c.token != nil {
		req.Header.Set("Authorization", "Bearer "+*c.token)
	}
	return req, nil
}

// transportError turns a failed round trip into a sentence naming the server, without
// the request URL's method and path that *url.Error adds.
func (c *Client) transportError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return &TransportError{Server: c.base, Err: err}
}

// TransportError reports that the server could not be reached or the connection broke
// before an answer arrived.
type TransportError struct {
	Server string
	Err    error
}

func (e *TransportError) Error() string {
	return fmt.Sprintf("cannot reach the SpawnIt server at %s: %v", e.Server, e.Err)
}

func (e *TransportError) Unwrap() error { return e.Err }

// delay is the wait before try attempt+1: exponential from the configured backoff, with
// jitter so that many clients dropped at once by a restarting server do not come back
// in lockstep; a server's Retry-After wins when it is longer.
func (c *Client) delay(attempt int, serverWait time.Duration) time.Duration {
	d := c.backoff << min(attempt-1, 16)
	if d > maxBackoff || d < 0 {
		d = maxBackoff
	}
	if d > 0 {
		d = d/2 + rand.N(d/2+1)
	}
	return max(d, min(serverWait, 30*time.Second))
}

func retryableStatus(status int) bool {
	return status == http.StatusBadGateway || status == http.StatusServiceUnavailable ||
		status == http.StatusGatewayTimeout
}

func retryAfter(h http.Header) time.Duration {
	s, err := strconv.Atoi(strings.TrimSpace(h.Get("Retry-After")))
	if err != nil || s < 0 {
		return 0
	}
	return time.Duration(s) * time.Second
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// drain reads a little of what is left so the connection can be reused, then closes.
func drain(body io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(body, 64<<10))
	_ = body.Close()
}

// ErrInvalidID is returned, before any request, for an empty id or one that would
// change the meaning of the URL path ("." or "..").
var ErrInvalidID = errors.New("client: invalid id")

// seg escapes one path segment. Ids are checked by the server too, but an empty one
// here would turn "delete service X" into a request on the collection.
func seg(kind, id string) (string, error) {
	if id == "" || id == "." || id == ".." {
		return "", fmt.Errorf("%w: %s id %q", ErrInvalidID, kind, id)
	}
	return url.PathEscape(id), nil
}

func servicePath(id string) (string, error) {
	s, err := seg("service", id)
	if err != nil {
		return "", err
	}
	return "/api/v1/services/" + s, nil
}

func jobPath(svc, job string) (string, error) {
	p, err := servicePath(svc)
	if err != nil {
		return "", err
	}
	j, err := seg("job", job)
	if err != nil {
		return "", err
	}
	return p + "/jobs/" + j, nil
}
