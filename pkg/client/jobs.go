package client

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/spawnit/spawnit/pkg/apiv1"
)

// RunOption adjusts a job-starting call (Plan, Apply, Destroy, CheckDrift, Accept,
// Remediate).
type RunOption func(*runConfig)

type runConfig struct {
	idempotencyKey string
	failIfLocked   bool
}

// IdempotencyKey sends key as the Idempotency-Key header: the server starts one job per
// key, and answers a repeated request with the job the first one started. Without this
// option each call generates a random key, which protects the call's own retries; give
// a key to make a call that your program itself repeats (after a crash, say) safe too.
func IdempotencyKey(key string) RunOption {
	return func(c *runConfig) { c.idempotencyKey = key }
}

// FailIfLocked makes the call fail (an error with code apiv1.CodeLocked) when a job
// already runs or waits for the service, instead of queueing behind it (?wait=false).
func FailIfLocked() RunOption {
	return func(c *runConfig) { c.failIfLocked = true }
}

// Plan starts a job computing what Apply would change; the finished job's Plan says.
func (c *Client) Plan(ctx context.Context, service string, opts ...RunOption) (*apiv1.Job, error) {
	return c.startJob(ctx, service, "/plan", opts)
}

// Apply starts a job making the infrastructure match the service's configuration.
func (c *Client) Apply(ctx context.Context, service string, opts ...RunOption) (*apiv1.Job, error) {
	return c.startJob(ctx, service, "/apply", opts)
}

// Destroy starts a job removing the service's infrastructure (its configuration stays).
func (c *Client) Destroy(ctx context.Context, service string, opts ...RunOption) (*apiv1.Job, error) {
	return c.startJob(ctx, service, "/destroy", opts)
}

// Accept starts a job recording the real infrastructure as the service's state (a
// refresh-only apply): drift is accepted instead of undone. It fails with code
// apiv1.CodeAcceptDisabled when the template forbids it, apiv1.CodeNotDeployed when the
// service is not deployed.
func (c *Client) Accept(ctx context.Context, service string, opts ...RunOption) (*apiv1.Job, error) {
	return c.startJob(ctx, service, "/accept", opts)
}

// Remediate starts an apply that undoes drift, recorded as a remediation in the audit
// log.
func (c *Client) Remediate(ctx context.Context, service string, opts ...RunOption) (*apiv1.Job, error) {
	return c.startJob(ctx, service, "/remediate", opts)
}

// CheckDrift starts a drift check; the finished job's Drift holds the report.
func (c *Client) CheckDrift(ctx context.Context, service string, opts ...RunOption) (*apiv1.Job, error) {
	return c.startJob(ctx, service, "/drift", opts)
}

func (c *Client) startJob(ctx context.Context, service, action string, opts []RunOption) (*apiv1.Job, error) {
	p, err := servicePath(service)
	if err != nil {
		return nil, err
	}
	var cfg runConfig
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.idempotencyKey == "" {
		cfg.idempotencyKey = newUUID()
	}
	var q url.Values
	if cfg.failIfLocked {
		q = url.Values{"wait": {"false"}}
	}
	var job apiv1.Job
	_, err = c.do(ctx, request{method: http.MethodPost, path: p + action, query: q,
		header: http.Header{"Idempotency-Key": {cfg.idempotencyKey}}, retry: true, retryLocked: !cfg.failIfLocked}, &job)
	if err != nil {
		return nil, err
	}
	return &job, nil
}

// Jobs lists a service's jobs, newest first.
func (c *Client) Jobs(ctx context.Context, service string) ([]apiv1.Job, error) {
	p, err := servicePath(service)
	if err != nil {
		return nil, err
	}
	out := []apiv1.Job{}
	pg := Page{Limit: MaxPageLimit}
	for {
		list, err := c.jobsPage(ctx, p, pg)
		if err != nil {
			return nil, err
		}
		out = append(out, list.Jobs...)
		if list.NextCursor == "" {
			return out, nil
		}
		pg.Cursor = list.NextCursor
	}
}

// JobsPage lists one page of a service's jobs, newest first; the list's NextCursor,
// when set, asks for the next page (pg.Query is not used).
func (c *Client) JobsPage(ctx context.Context, service string, pg Page) (apiv1.JobList, error) {
	p, err := servicePath(service)
	if err != nil {
		return apiv1.JobList{}, err
	}
	return c.jobsPage(ctx, p, pg)
}

func (c *Client) jobsPage(ctx context.Context, servicePath string, pg Page) (apiv1.JobList, error) {
	pg.Query = ""
	var list apiv1.JobList
	if _, err := c.do(ctx, request{method: http.MethodGet, path: servicePath + "/jobs", query: pg.values(), retry: true}, &list); err != nil {
		return apiv1.JobList{}, err
	}
	return list, nil
}

// Job returns one job with its change summary, plan and outputs. Sensitive output
// values are left empty unless reveal is true.
func (c *Client) Job(ctx context.Context, service, job string, reveal bool) (*apiv1.Job, error) {
	p, err := jobPath(service, job)
	if err != nil {
		return nil, err
	}
	var q url.Values
	if reveal {
		q = url.Values{"reveal": {"true"}}
	}
	var info apiv1.Job
	if _, err := c.do(ctx, request{method: http.MethodGet, path: p, query: q, retry: true}, &info); err != nil {
		return nil, err
	}
	return &info, nil
}

// JobEvents returns the events a job has recorded so far with a sequence number above
// after, without waiting for more (FollowJob waits).
func (c *Client) JobEvents(ctx context.Context, service, job string, after int64) ([]apiv1.Event, error) {
	p, err := jobPath(service, job)
	if err != nil {
		return nil, err
	}
	var q url.Values
	if after > 0 {
		q = url.Values{"after": {strconv.FormatInt(after, 10)}}
	}
	var list apiv1.EventList
	if _, err := c.do(ctx, request{method: http.MethodGet, path: p + "/events", query: q, retry: true}, &list); err != nil {
		return nil, err
	}
	return list.Events, nil
}

// Cancel asks a job to stop. The first cancel lets tofu stop gracefully; force, allowed
// only some seconds later (else an error with code apiv1.CodeCoolOff), kills it.
func (c *Client) Cancel(ctx context.Context, service, job string, force bool) (*apiv1.Job, error) {
	p, err := jobPath(service, job)
	if err != nil {
		return nil, err
	}
	var info apiv1.Job
	if _, err := c.do(ctx, request{method: http.MethodPost, path: p + "/cancel",
		body: apiv1.Cancel{Force: force}}, &info); err != nil {
		return nil, err
	}
	return &info, nil
}

// Drift returns the service's last drift report (status not_checked when none).
func (c *Client) Drift(ctx context.Context, service string) (*apiv1.Drift, error) {
	p, err := servicePath(service)
	if err != nil {
		return nil, err
	}
	var d apiv1.Drift
	if _, err := c.do(ctx, request{method: http.MethodGet, path: p + "/drift", retry: true}, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// newUUID returns a random (version 4) UUID, the form of the keys the client makes.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
