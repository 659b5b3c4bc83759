// Package dockerapi is the little of the Docker Engine API that SpawnIt calls itself
// (inspect, list, events) over the engine's unix socket, without the Docker SDK's
// weight. Deployments go through OpenTofu's Docker provider; this is for watching them.
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
	"strings"
)

// ErrNotFound: the engine has no such object (HTTP 404).
var ErrNotFound = errors.New("docker: no such object")

// MaxBody bounds a decoded answer.
const MaxBody = 16 << 20

// Client talks to one Docker engine.
type Client struct {
	http *http.Client
}

// New connects to DOCKER_HOST (unix:// only) or /var/run/docker.sock. Nothing is dialled
// until the first call.
func New() (*Client, error) {
	sock := "/var/run/docker.sock"
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		if !strings.HasPrefix(h, "unix://") {
			return nil, fmt.Errorf("DOCKER_HOST %q: only unix:// sockets are supported", h)
		}
		sock = strings.TrimPrefix(h, "unix://")
	}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
		MaxIdleConns: 4,
	}
	return &Client{http: &http.Client{Transport: tr}}, nil
}

// Open sends GET path?q and returns the answer's body (for streams such as /events);
// a 404 is ErrNotFound, any other non-200 an error with the engine's message.
func (c *Client) Open(ctx context.Context, path string, q url.Values) (io.ReadCloser, error) {
	u := "http://docker" + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
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

// LabelFilter is the filters parameter selecting objects that carry label.
func LabelFilter(label string) url.Values {
	f, _ := json.Marshal(map[string][]string{"label": {label}})
	return url.Values{"filters": {string(f)}}
}
