package client

import (
	"context"
	"net/http"

	"github.com/spawnit/spawnit/pkg/apiv1"
)

// TemplateVersions lists a template's published versions, lowest first.
func (c *Client) TemplateVersions(ctx context.Context, template string) ([]apiv1.TemplateVersion, error) {
	s, err := seg("template", template)
	if err != nil {
		return nil, err
	}
	var list apiv1.TemplateVersionList
	if _, err := c.do(ctx, request{method: http.MethodGet, path: "/api/v1/catalog/" + s + "/versions", retry: true}, &list); err != nil {
		return nil, err
	}
	return list.Versions, nil
}

// PlanUpgrade starts a plan of the service's move to another version of its template
// (req.Version, the latest when empty): the returned Upgrade says what happens to the
// inputs, and its finished Job's Plan what would change. Nothing is recorded.
func (c *Client) PlanUpgrade(ctx context.Context, service string, req apiv1.UpgradeRequest) (*apiv1.Upgrade, error) {
	return c.upgrade(ctx, service, "/upgrade/plan", req)
}

// Upgrade starts the service's move to another version (a downgrade when lower): an
// apply whose success records the new version and inputs; a failure keeps the old ones.
func (c *Client) Upgrade(ctx context.Context, service string, req apiv1.UpgradeRequest) (*apiv1.Upgrade, error) {
	return c.upgrade(ctx, service, "/upgrade", req)
}

func (c *Client) upgrade(ctx context.Context, service, action string, req apiv1.UpgradeRequest) (*apiv1.Upgrade, error) {
	p, err := servicePath(service)
	if err != nil {
		return nil, err
	}
	var u apiv1.Upgrade
	if _, err := c.do(ctx, request{method: http.MethodPost, path: p + action, body: req}, &u); err != nil {
		return nil, err
	}
	return &u, nil
}

// UpgradeAll moves every service of a template to one version (operators only); with
// req.DryRun it plans each move and returns once the plans ended.
func (c *Client) UpgradeAll(ctx context.Context, template string, req apiv1.BulkUpgradeRequest) (*apiv1.BulkUpgrade, error) {
	s, err := seg("template", template)
	if err != nil {
		return nil, err
	}
	var out apiv1.BulkUpgrade
	if _, err := c.do(ctx, request{method: http.MethodPost, path: "/api/v1/catalog/" + s + "/upgrade", body: req}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
