package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/spawnit/spawnit/pkg/apiv1"
)

// Revisions lists a service's configuration revisions, newest first.
func (c *Client) Revisions(ctx context.Context, service string) ([]apiv1.Revision, error) {
	p, err := servicePath(service)
	if err != nil {
		return nil, err
	}
	var list apiv1.RevisionList
	if _, err := c.do(ctx, request{method: http.MethodGet, path: p + "/revisions", retry: true}, &list); err != nil {
		return nil, err
	}
	return list.Revisions, nil
}

// Revision returns one of a service's revisions.
func (c *Client) Revision(ctx context.Context, service string, number int) (*apiv1.Revision, error) {
	p, err := servicePath(service)
	if err != nil {
		return nil, err
	}
	var rev apiv1.Revision
	if _, err := c.do(ctx, request{method: http.MethodGet, path: p + "/revisions/" + strconv.Itoa(number), retry: true}, &rev); err != nil {
		return nil, err
	}
	return &rev, nil
}

// CompareRevisions lists the fields that differ from revision from to revision to.
func (c *Client) CompareRevisions(ctx context.Context, service string, from, to int) (*apiv1.RevisionComparison, error) {
	p, err := servicePath(service)
	if err != nil {
		return nil, err
	}
	q := url.Values{"from": {strconv.Itoa(from)}, "to": {strconv.Itoa(to)}}
	var cmp apiv1.RevisionComparison
	if _, err := c.do(ctx, request{method: http.MethodGet, path: p + "/revisions/compare", query: q, retry: true}, &cmp); err != nil {
		return nil, err
	}
	return &cmp, nil
}

// RestoreRevision sets a service's inputs to those of revision number and starts a plan
// of them (it applies nothing: Apply does, when asked). ifMatch, when not empty, is the
// service's ETag: the restore is refused if the configuration changed since (an error
// for which IsPreconditionFailed is true). It is not retried: a lost answer would
// restore and plan twice, so the caller decides.
func (c *Client) RestoreRevision(ctx context.Context, service string, number int, ifMatch string) (*apiv1.Restore, error) {
	p, err := servicePath(service)
	if err != nil {
		return nil, err
	}
	var h http.Header
	if ifMatch != "" {
		h = http.Header{"If-Match": {ifMatch}}
	}
	var res apiv1.Restore
	if _, err := c.do(ctx, request{method: http.MethodPost, path: p + "/revisions/" + strconv.Itoa(number) + "/restore", header: h}, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// PublishTemplate publishes the template files (by path: "template.json",
// "modules/<target>/<file>") as the version their template.json names. Only operators
// may. Problems with the files come back as one error listing each (FieldErrors); a
// version already published with other content is a conflict. Publishing the same
// content again changes nothing (Created is false), so the call is retried safely.
func (c *Client) PublishTemplate(ctx context.Context, template string, files map[string][]byte) (*apiv1.PublishedVersion, error) {
	s, err := seg("template", template)
	if err != nil {
		return nil, err
	}
	body := apiv1.PublishTemplate{Files: make(map[string]string, len(files))}
	for p, b := range files {
		body.Files[p] = string(b)
	}
	var v apiv1.PublishedVersion
	if _, err := c.do(ctx, request{method: http.MethodPost, path: "/api/v1/catalog/" + s + "/versions", body: body, retry: true}, &v); err != nil {
		return nil, err
	}
	return &v, nil
}
