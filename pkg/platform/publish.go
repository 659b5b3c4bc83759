package platform

import (
	"context"
	"fmt"

	"github.com/spawnit/spawnit"
	"github.com/spawnit/spawnit/catalog"
	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/pkg/apiv1"
)

// ActionTemplatePublish: a version of a template was published.
const ActionTemplatePublish = "template.publish"

// PublishTemplate checks a template's files as `spawnit template validate` does without
// tofu (catalog.CheckTemplate: every problem in one *catalog.ValidationError whose
// fields are file paths) and publishes them as a new version (catalog.Publish). id is
// the template the request names: template.json must say the same. Who may publish
// is the caller's to decide (operators only).
func (p *Platform) PublishTemplate(ctx context.Context, a Actor, id string, files catalog.TemplateFiles) (v apiv1.PublishedVersion, err error) {
	entry := AuditEntry{Action: ActionTemplatePublish, Template: safeID(id)}
	defer func() { p.audit(ctx, a, entry, err) }()
	if err := spawnit.ValidateID(id); err != nil {
		return apiv1.PublishedVersion{}, fmt.Errorf("template: %w", err)
	}
	tpl, err := catalog.CheckTemplate(files)
	if err != nil {
		return apiv1.PublishedVersion{}, err
	}
	if tpl.ID != id {
		return apiv1.PublishedVersion{}, fmt.Errorf("%w: template.json is template %q, the request names %q", engine.ErrInvalidInput, tpl.ID, id)
	}
	pub, created, err := p.cat.Publish(ctx, files, a.Subject)
	if err != nil {
		return apiv1.PublishedVersion{}, err
	}
	p.forgetLatest(id) // this replica's lists offer the new version at once
	return apiv1.PublishedVersion{Template: pub.Template, Version: pub.Version, ReleaseNotes: pub.ReleaseNotes,
		Published: pub.Published, By: pub.By, Digest: pub.Digest, Created: created}, nil
}
