package client

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/spawnit/spawnit/pkg/apiv1"
)

// Health checks /healthz: nil when the server process answers.
func (c *Client) Health(ctx context.Context) error {
	_, err := c.do(ctx, request{method: http.MethodGet, path: "/healthz", retry: true}, nil)
	return err
}

// Ready checks the server's readiness (/readyz): nil when the server reaches its store and tofu. It does not
// retry a 503, which is the answer it exists to report.
func (c *Client) Ready(ctx context.Context) error {
	_, err := c.do(ctx, request{method: http.MethodGet, path: "/readyz"}, nil)
	return err
}

// Metrics returns /metrics in the Prometheus text format.
func (c *Client) Metrics(ctx context.Context) ([]byte, error) {
	return c.raw(ctx, "/metrics", "text/plain")
}

// OpenAPI returns the server's OpenAPI 3 document (/api/v1/openapi.json).
func (c *Client) OpenAPI(ctx context.Context) (json.RawMessage, error) {
	var doc json.RawMessage
	_, err := c.do(ctx, request{method: http.MethodGet, path: "/api/v1/openapi.json", retry: true}, &doc)
	return doc, err
}

func (c *Client) raw(ctx context.Context, path, accept string) ([]byte, error) {
	req, err := c.newRequest(ctx, request{method: http.MethodGet, path: path,
		header: http.Header{"Accept": {accept}}}, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, c.transportError(err)
	}
	defer drain(resp.Body)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, decodeError(resp)
	}
	return io.ReadAll(resp.Body)
}

// Me describes the caller as the server sees it (subject, tenant).
func (c *Client) Me(ctx context.Context) (*apiv1.Me, error) {
	var me apiv1.Me
	if _, err := c.do(ctx, request{method: http.MethodGet, path: "/api/v1/me", retry: true}, &me); err != nil {
		return nil, err
	}
	return &me, nil
}

// Catalog lists the templates the caller can deploy.
func (c *Client) Catalog(ctx context.Context) ([]apiv1.Template, error) {
	var list apiv1.TemplateList
	if _, err := c.do(ctx, request{method: http.MethodGet, path: "/api/v1/catalog", retry: true}, &list); err != nil {
		return nil, err
	}
	return list.Templates, nil
}

// Template returns one template with its input form and providers.
func (c *Client) Template(ctx context.Context, id string) (*apiv1.Template, error) {
	s, err := seg("template", id)
	if err != nil {
		return nil, err
	}
	var t apiv1.Template
	if _, err := c.do(ctx, request{method: http.MethodGet, path: "/api/v1/catalog/" + s, retry: true}, &t); err != nil {
		return nil, err
	}
	return &t, nil
}

// Services lists every service of the caller with its status, following the pages
// (ServicesPage).
func (c *Client) Services(ctx context.Context) ([]apiv1.Service, error) {
	out := []apiv1.Service{}
	pg := Page{Limit: MaxPageLimit}
	for {
		list, err := c.ServicesPage(ctx, pg)
		if err != nil {
			return nil, err
		}
		out = append(out, list.Services...)
		if list.NextCursor == "" {
			return out, nil
		}
		pg.Cursor = list.NextCursor
	}
}

// MaxPageLimit is the largest page the server gives.
const MaxPageLimit = 500

// Page asks for one page of a listing. The zero Page is the first page of the
// server's default size.
type Page struct {
	// Limit is the page size, 1 to MaxPageLimit (0: the server's default, 100).
	Limit int
	// Cursor is the previous page's NextCursor ("" for the first page).
	Cursor string
	// Query keeps the services whose id, name or template contains it, ignoring case
	// (ServicesPage only).
	Query string
}

func (p Page) values() url.Values {
	q := url.Values{}
	if p.Limit != 0 {
		q.Set("limit", strconv.Itoa(p.Limit))
	}
	if p.Cursor != "" {
		q.Set("cursor", p.Cursor)
	}
	if p.Query != "" {
		q.Set("q", p.Query)
	}
	return q
}

// ServicesPage lists one page of the tenant's services, sorted by id; the list's
// NextCursor, when set, asks for the next page.
func (c *Client) ServicesPage(ctx context.Context, pg Page) (apiv1.ServiceList, error) {
	var list apiv1.ServiceList
	if _, err := c.do(ctx, request{method: http.MethodGet, path: "/api/v1/services", query: pg.values(), retry: true}, &list); err != nil {
		return apiv1.ServiceList{}, err
	}
	return list, nil
}

// CreateService records a new service's configuration; it deploys nothing (Apply
// does). It returns the service and its ETag. It is not retried: a lost answer would
// make a second attempt fail or create a twin, so the caller decides.
func (c *Client) CreateService(ctx context.Context, req apiv1.CreateService) (*apiv1.Service, string, error) {
	if req.Inputs == nil {
		// The contract's body always has an inputs object, even an empty one.
		req.Inputs = map[string]any{}
	}
	var svc apiv1.Service
	res, err := c.do(ctx, request{method: http.MethodPost, path: "/api/v1/services", body: req}, &svc)
	if err != nil {
		return nil, "", err
	}
	return &svc, etagOf(res, &svc), nil
}

// Service returns a service and its ETag, the value UpdateInputs needs as ifMatch.
func (c *Client) Service(ctx context.Context, id string) (*apiv1.Service, string, error) {
	p, err := servicePath(id)
	if err != nil {
		return nil, "", err
	}
	var svc apiv1.Service
	res, err := c.do(ctx, request{method: http.MethodGet, path: p, retry: true}, &svc)
	if err != nil {
		return nil, "", err
	}
	return &svc, etagOf(res, &svc), nil
}

// UpdateInputs replaces a service's inputs if it still has the ETag ifMatch (from
// Service, CreateService or a previous UpdateInputs). A stale ETag gives an error for
// which IsPreconditionFailed is true: read the service again and redo the change. It
// returns the updated service and its new ETag.
func (c *Client) UpdateInputs(ctx context.Context, id string, inputs map[string]any, ifMatch string) (*apiv1.Service, string, error) {
	p, err := servicePath(id)
	if err != nil {
		return nil, "", err
	}
	if inputs == nil {
		inputs = map[string]any{}
	}
	var h http.Header
	if ifMatch != "" {
		// Sent as given: the ETag header's exact bytes (quotes included) are what the
		// server compares.
		h = http.Header{"If-Match": {ifMatch}}
	}
	var svc apiv1.Service
	res, err := c.do(ctx, request{method: http.MethodPut, path: p + "/inputs", header: h,
		body: apiv1.UpdateInputs{Inputs: inputs}}, &svc)
	if err != nil {
		return nil, "", err
	}
	return &svc, etagOf(res, &svc), nil
}

// UpdateService changes a service's settings (expiry, auto-remediation): the fields set
// in u replace those settings, the others stay. No ETag is needed (settings do not
// depend on each other nor on the inputs). It returns the updated service and its ETag.
func (c *Client) UpdateService(ctx context.Context, id string, u apiv1.UpdateService) (*apiv1.Service, string, error) {
	p, err := servicePath(id)
	if err != nil {
		return nil, "", err
	}
	var svc apiv1.Service
	res, err := c.do(ctx, request{method: http.MethodPatch, path: p, body: u, retry: true}, &svc)
	if err != nil {
		return nil, "", err
	}
	return &svc, etagOf(res, &svc), nil
}

// etagOf prefers the ETag header, which is what If-Match must echo, and falls back to
// the body's copy.
func etagOf(res response, svc *apiv1.Service) string {
	if e := res.header.Get("ETag"); e != "" {
		return e
	}
	return svc.ETag
}

// DeleteService removes a service's configuration. A deployed service is refused (an
// error with code apiv1.CodeResourcesExist) unless destroy is true: then the server
// starts a destroy job, returned here, and removes the configuration when it succeeds.
// The job is nil when the service was deleted at once.
func (c *Client) DeleteService(ctx context.Context, id string, destroy bool) (*apiv1.Job, error) {
	p, err := servicePath(id)
	if err != nil {
		return nil, err
	}
	var q url.Values
	if destroy {
		q = url.Values{"destroy": {"true"}}
	}
	var job apiv1.Job
	res, err := c.do(ctx, request{method: http.MethodDelete, path: p, query: q, emptyOK: true}, &job)
	if err != nil {
		return nil, err
	}
	if res.status == http.StatusNoContent || job.ID == "" {
		return nil, nil
	}
	return &job, nil
}

// Recover clears a service's needs_recovery mark once its state was repaired.
func (c *Client) Recover(ctx context.Context, id string) (*apiv1.Service, error) {
	p, err := servicePath(id)
	if err != nil {
		return nil, err
	}
	var svc apiv1.Service
	if _, err := c.do(ctx, request{method: http.MethodPost, path: p + "/recover"}, &svc); err != nil {
		return nil, err
	}
	return &svc, nil
}

// CLILogin returns how a command-line client signs in to the server (no token needed).
func (c *Client) CLILogin(ctx context.Context) (*apiv1.CLILogin, error) {
	var l apiv1.CLILogin
	if _, err := c.do(ctx, request{method: http.MethodGet, path: "/api/v1/cli-login", retry: true}, &l); err != nil {
		return nil, err
	}
	return &l, nil
}

// Tenants lists every tenant that has services, with how many (operators only: 403
// forbidden for others). An operator addresses one of them with ?tenant=.
func (c *Client) Tenants(ctx context.Context) ([]apiv1.TenantSummary, error) {
	var list apiv1.TenantList
	if _, err := c.do(ctx, request{method: http.MethodGet, path: "/api/v1/tenants", retry: true}, &list); err != nil {
		return nil, err
	}
	return list.Tenants, nil
}
