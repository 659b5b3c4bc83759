package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"

	"github.com/spawnit/spawnit/pkg/apiv1"
)

// Logs returns the last tail lines of each of a deployed service's containers (Docker
// target); tail < 0 asks for the server's default (100).
func (c *Client) Logs(ctx context.Context, service string, tail int) ([]apiv1.LogLine, error) {
	p, err := servicePath(service)
	if err != nil {
		return nil, err
	}
	var q url.Values
	if tail >= 0 {
		q = url.Values{"tail": {strconv.Itoa(tail)}}
	}
	var out apiv1.LogList
	if _, err := c.do(ctx, request{method: http.MethodGet, path: p + "/logs", query: q, retry: true}, &out); err != nil {
		return nil, err
	}
	return out.Lines, nil
}

// FollowLogs yields the last tail lines of each of the service's containers (tail < 0:
// the server's default), then every line they write, until the containers stop
// writing (stopped or removed), the loop body breaks or ctx ends (then ctx's error).
// Unlike FollowJob it does not reconnect: a log has no positions to resume from, and
// a new connection would repeat the tail; a lost connection ends it with an error.
func (c *Client) FollowLogs(ctx context.Context, service string, tail int) iter.Seq2[apiv1.LogLine, error] {
	return func(yield func(apiv1.LogLine, error) bool) {
		p, err := servicePath(service)
		if err != nil {
			yield(apiv1.LogLine{}, err)
			return
		}
		q := url.Values{"follow": {"true"}}
		if tail >= 0 {
			q.Set("tail", strconv.Itoa(tail))
		}
		var bad error
		ended := false
		res := c.connect(ctx, p+"/logs?"+q.Encode(), "", func(ev sseEvent) bool {
			switch ev.event {
			case apiv1.SSEEnd:
				ended = true
				var end apiv1.LogEnd
				if json.Unmarshal(ev.data, &end) == nil && end.Error != "" {
					bad = errors.New("client: " + end.Error)
				}
				return false
			case apiv1.SSELog:
				var l apiv1.LogLine
				if err := json.Unmarshal(ev.data, &l); err != nil {
					bad = fmt.Errorf("client: logs of %s: a line is not valid JSON: %w", service, err)
					return false
				}
				return yield(l, nil)
			}
			return true
		})
		switch {
		case bad != nil:
			yield(apiv1.LogLine{}, bad)
		case ended || (res.stopped && res.err == nil):
		case ctx.Err() != nil:
			yield(apiv1.LogLine{}, ctx.Err())
		case res.err != nil:
			yield(apiv1.LogLine{}, res.err)
		}
	}
}

// Stop stops a deployed service's containers (Docker target): the service is then
// shown as stopped (Status.Stopped), not as drifted, until started or applied again.
func (c *Client) Stop(ctx context.Context, service string) (*apiv1.Service, error) {
	return c.containerAction(ctx, service, "stop")
}

// Start starts a stopped service's containers again.
func (c *Client) Start(ctx context.Context, service string) (*apiv1.Service, error) {
	return c.containerAction(ctx, service, "start")
}

// Restart restarts a deployed service's containers (a stopped one starts).
func (c *Client) Restart(ctx context.Context, service string) (*apiv1.Service, error) {
	return c.containerAction(ctx, service, "restart")
}

func (c *Client) containerAction(ctx context.Context, service, action string) (*apiv1.Service, error) {
	p, err := servicePath(service)
	if err != nil {
		return nil, err
	}
	var svc apiv1.Service
	if _, err := c.do(ctx, request{method: http.MethodPost, path: p + "/" + action}, &svc); err != nil {
		return nil, err
	}
	return &svc, nil
}
