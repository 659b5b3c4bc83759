package spawnit

// IntentKind is what the last successful operation on a service asked for: its desired
// existence, against which drift is judged.
type IntentKind string

// Intents.
const (
	IntentNone      IntentKind = ""          // never applied
	IntentApplied   IntentKind = "applied"   // last success was an apply
	IntentDestroyed IntentKind = "destroyed" // last success was a destroy
)

// DriftStatus is a service's drift status (docs: architecture, "Drift").
type DriftStatus string

// Drift statuses of a service.
const (
	DriftInSync     DriftStatus = "in_sync"     // reality matches the configuration and the intent
	DriftDrifted    DriftStatus = "drifted"     // resources changed outside SpawnIt
	DriftMissing    DriftStatus = "missing"     // intent applied, resources deleted outside SpawnIt
	DriftOrphaned   DriftStatus = "orphaned"    // intent destroyed, resources still exist
	DriftPending    DriftStatus = "pending"     // the stored configuration is not applied yet
	DriftUnknown    DriftStatus = "unknown"     // the check failed
	DriftNotChecked DriftStatus = "not_checked" // never checked yet
)

// ResourceStatus is one resource's drift status.
type ResourceStatus string

// Resource statuses.
const (
	ResourceInSync     ResourceStatus = "in_sync"
	ResourceModified   ResourceStatus = "modified"
	ResourceDeleted    ResourceStatus = "deleted"
	ResourceUnexpected ResourceStatus = "unexpected"
)
