// Package dockerapi is the little of the Docker Engine API that SpawnIt calls itself
// (inspect, list, events, and removing what a cancelled deployment left outside its
// state), without the Docker SDK's weight. Deployments go through OpenTofu's Docker
// provider; this is for watching and sweeping them, on the engine the provider
// deploys to: a client is made from the same environment (DOCKER_HOST, and TLS as
// DOCKER_TLS_VERIFY and DOCKER_CERT_PATH set it up), over a unix socket or TCP.
package dockerapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"
)

// ErrNotFound: the engine has no such object (HTTP 404).
var ErrNotFound = errors.New("docker: no such object")

// ErrConflict: the engine refuses the change in the object's current state (HTTP 409:
// a volume in use, a removal already in progress).
var ErrConflict = errors.New("docker: conflict")

// MaxBody bounds a decoded answer.
const MaxBody = 16 << 20

// Client talks to one Docker engine. Safe for concurrent use.
type Client struct {
	http *http.Client
	base string // scheme and authority of every request's URL
	host string
}

// New is FromEnv of the process's own environment.
func New() (*Client, error) { return FromEnv(os.Getenv) }

// FromEnv makes a client of the engine an environment names (getenv returns "" for an
// unset variable; Overlay makes one of a target's environment): DOCKER_HOST as
// unix:///path or tcp://host:port, DefaultHost when unset, and for tcp:// TLS when
// DOCKER_TLS_VERIFY or DOCKER_CERT_PATH is set (ca.pem, cert.pem and key.pem of
// DOCKER_CERT_PATH, else ~/.docker). An unsupported DOCKER_HOST (ssh://, say) or
// unreadable certificates are an error here. Nothing is dialled until the first call.
func FromEnv(getenv func(string) string) (*Client, error) {
	ep, err := parseEnv(getenv)
	if err != nil {
		return nil, err
	}
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		// An engine is reached directly: HTTP_PROXY and the like are for the web.
		Proxy: nil,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, ep.network, ep.address)
		},
		TLSClientConfig:     ep.tls,
		TLSHandshakeTimeout: 10 * time.Second,
		MaxIdleConns:        4,
		IdleConnTimeout:     90 * time.Second,
	}
	c := &Client{http: &http.Client{Transport: tr}, host: ep.host, base: "http://docker"}
	switch {
	case ep.tls != nil:
		c.base = "https://" + ep.address // the engine's certificate is checked for this host
	case ep.network == "tcp":
		c.base = "http://" + ep.address
	}
	return c, nil
}

// Host is the engine's DOCKER_HOST, for messages: unix:///path or tcp://host:port.
func (c *Client) Host() string { return c.host }

// TLS reports whether the client speaks TLS to its engine.
func (c *Client) TLS() bool { return strings.HasPrefix(c.base, "https://") }

// Open sends GET path?q and returns the answer's body (for streams such as /events);
// a 404 is ErrNotFound, any other non-200 an error with the engine's message.
func (c *Client) Open(ctx context.Context, path string, q url.Values) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url(path, q), nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("docker %s: %w", path, err)
	}
	if resp.StatusCode == http.StatusOK {
		return resp.Body, nil
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, path)
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return nil, fmt.Errorf("docker %s: %s: %s", path, resp.Status, strings.TrimSpace(string(b)))
}

// url is the request URL of path?q.
func (c *Client) url(path string, q url.Values) string {
	if len(q) > 0 {
		return c.base + path + "?" + q.Encode()
	}
	return c.base + path
}

// Delete sends DELETE path?q. A 404 is ErrNotFound, a 409 ErrConflict (both with the
// engine's message), any other answer but 2xx an error with the engine's message.
func (c *Client) Delete(ctx context.Context, path string, q url.Values) error {
	return c.send(ctx, http.MethodDelete, path, q)
}

// send sends a request without a body whose answer matters only by its status: 2xx
// and the statuses in accept are success, a 404 is ErrNotFound, a 409 ErrConflict
// (both with the engine's message), any other an error with the engine's message.
func (c *Client) send(ctx context.Context, method, path string, q url.Values, accept ...int) error {
	req, err := http.NewRequestWithContext(ctx, method, c.url(path, q), nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("docker %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 == 2 || slices.Contains(accept, resp.StatusCode) {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	msg := engineMessage(b)
	switch resp.StatusCode {
	case http.StatusNotFound:
		return fmt.Errorf("%w: %s: %s", ErrNotFound, path, msg)
	case http.StatusConflict:
		return fmt.Errorf("%w: %s: %s", ErrConflict, path, msg)
	}
	return fmt.Errorf("docker %s %s: %s: %s", method, path, resp.Status, msg)
}

// engineMessage is the message of an engine's error answer ({"message": ...}), or
// the answer itself.
func engineMessage(b []byte) string {
	var e struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(b, &e) == nil && e.Message != "" {
		return e.Message
	}
	return strings.TrimSpace(string(b))
}

// Get sends GET path?q and decodes the JSON answer into v.
func (c *Client) Get(ctx context.Context, path string, q url.Values, v any) error {
	body, err := c.Open(ctx, path, q)
	if err != nil {
		return err
	}
	defer body.Close()
	if err := json.NewDecoder(io.LimitReader(body, MaxBody)).Decode(v); err != nil {
		return fmt.Errorf("docker %s: unreadable answer: %w", path, err)
	}
	return nil
}

// LabelFilter is the filters parameter selecting objects that carry every label
// given ("key" or "key=value").
func LabelFilter(label ...string) url.Values {
	f, _ := json.Marshal(map[string][]string{"label": label})
	return url.Values{"filters": {string(f)}}
}
