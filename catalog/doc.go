// Package catalog is SpawnIt's catalog of deployable services and the configuration of
// each deployed one.
//
// A template (templates/<id>/ in the store) is metadata and a typed input schema
// (template.json, see Template) plus one OpenTofu module per target
// (modules/docker/, later modules/aws/). A user's form values are checked by
// Template.Validate (every bad field reported at once in a *ValidationError) and
// written by Template.Render as terraform.tfvars.json with encoding/json, so no value
// is ever evaluated by OpenTofu or placed on a command line. The server's own values
// (ReservedVariables) are added last and can never be set by a user. A template may
// also declare readiness checks (Template.Readiness: what an apply waits for) and
// forbid accepting drift (Template.AcceptDrift).
//
// Catalog loads templates from a store.Store, caches them by ETag and picks up an
// operator's changes without a restart; Seed installs the built-in templates
// (Builtin) without ever overwriting an operator's. CreateService, UpdateInputs
// (If-Match), UpdateInfo (expiry, auto-remediation, labels) and DeleteService manage
// clients/<tenant>/<service>/, and ServiceSource
// hands the engine a service's module and tfvars.
//
// Templates are versioned. Publish stores a template's files as an immutable version
// (templates/<id>/versions/<version>/, a manifest of SHA-256s written first and
// create-only); Seed and files an operator puts in the template's folder by hand are
// published the same way. Get returns the latest version (the highest not retired),
// GetVersion and Versions the others. A service is pinned to the version it was created
// with (Info.TemplateVersion) and runs that version's module (VersionModuleFiles)
// until PrepareMigration and, after a successful apply, CommitMigration move it to
// another one.
//
// See README.md in this folder for the module conventions and how an operator adds a
// template.
package catalog
