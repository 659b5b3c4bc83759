// Package spawnit is SpawnIt's kernel: the few types every layer shares, with no
// dependency beyond the standard library. The engine, the catalog, the platform, the
// HTTP API, its wire types (pkg/apiv1) and the Go client all speak in these terms:
//
//   - ServiceRef names a service of a tenant, and ValidateID is the one allow-list
//     every id passes before it reaches a path, a store key, a command or a URL.
//   - Operation, JobState (with the transitions a job may make), IntentKind,
//     DriftStatus, ResourceStatus and EventType are the enums of jobs and drift; their
//     string values are the API's.
//   - Kind classifies errors: each kind carries its stable API code and HTTP status, so
//     every package declares its sentinels as errors of a kind (NewError) and the API
//     maps any error by looking its kind up.
package spawnit

import "fmt"

// ServiceRef names one service: its tenant and its id. Both must pass ValidateID before
// they reach a path, a store key or a command.
//
// The tenant's field is named Client, as in the engine's API, stored records and the
// JSON ({"client": ..., "service": ...}), which stay as they are; Tenant returns it.
type ServiceRef struct {
	// Client is the tenant that owns the service.
	Client  string `json:"client"`
	Service string `json:"service"`
}

// Tenant returns the id of the tenant that owns the service (the Client field).
func (r ServiceRef) Tenant() string { return r.Client }

func (r ServiceRef) String() string { return r.Client + "/" + r.Service }

// Validate checks both ids against the allow-list.
func (r ServiceRef) Validate() error {
	if err := ValidateID(r.Client); err != nil {
		return fmt.Errorf("client: %w", err)
	}
	if err := ValidateID(r.Service); err != nil {
		return fmt.Errorf("service: %w", err)
	}
	return nil
}

// MaxIDLen bounds ids (tenants, services, templates, targets).
const MaxIDLen = 63

// ValidateID is the one allow-list for ids of tenants, services, templates and targets:
// 1 to 63 characters of lowercase ASCII letters, digits and '-', starting with a letter
// or digit. It rejects path separators, dots, NUL, upper case and every non-ASCII
// look-alike, so an id is safe as a path segment, a store key segment, a Docker name
// part and a label value. Errors wrap ErrInvalidInput.
func ValidateID(id string) error {
	if id == "" {
		return fmt.Errorf("%w: id is empty", ErrInvalidInput)
	}
	if len(id) > MaxIDLen {
		return fmt.Errorf("%w: id longer than %d characters", ErrInvalidInput, MaxIDLen)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '-' && i > 0:
		default:
			return fmt.Errorf("%w: id %.80q: only a-z, 0-9 and '-' (not first) are allowed", ErrInvalidInput, id)
		}
	}
	return nil
}

// ValidateJobID checks a job id: a UUID in its canonical lowercase form
// (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx). Errors wrap ErrInvalidInput.
func ValidateJobID(id string) error {
	ok := len(id) == 36
	for i := 0; ok && i < len(id); i++ {
		c := id[i]
		switch i {
		case 8, 13, 18, 23:
			ok = c == '-'
		default:
			ok = c >= '0' && c <= '9' || c >= 'a' && c <= 'f'
		}
	}
	if !ok {
		return fmt.Errorf("%w: job id %.80q", ErrInvalidInput, id)
	}
	return nil
}
