package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"time"

	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/internal/strictjson"
	"github.com/spawnit/spawnit/pkg/store"
	"github.com/spawnit/spawnit/pkg/storekey"
)

// MaxRevisions is how many configuration revisions a service keeps (docs/store.md):
// writing a new one deletes those older than the newest MaxRevisions.
const MaxRevisions = 50

// What made a revision.
const (
	RevisionCreate  = "create"  // the service was created
	RevisionUpdate  = "update"  // its inputs were replaced
	RevisionRestore = "restore" // an earlier revision's inputs were restored
	RevisionUpgrade = "upgrade" // it moved to another version of its template
	RevisionApply   = "apply"   // an apply succeeded
)

// revisionAttempts bounds the retries after another writer took the number.
const revisionAttempts = 10

// maxRevisionBytes bounds a revision record (inputs are bounded by the form).
const maxRevisionBytes = 256 << 10

// ErrRevisionNotFound: the service has no revision of that number (never written, or
// older than the MaxRevisions kept).
var ErrRevisionNotFound = fmt.Errorf("revision %w", engine.ErrNotFound)

// Revision is one numbered state of a service's configuration:
// clients/<tenant>/<service>/revisions/<number>.json. It never holds a secret: the
// inputs named in Sensitive are masked (Masked) when they had a value.
type Revision struct {
	Number int    `json:"number"`
	Kind   string `json:"kind"`
	// Inputs are the service's inputs, secrets masked.
	Inputs map[string]any `json:"inputs"`
	// Sensitive names the masked inputs.
	Sensitive       []string `json:"sensitive,omitempty"`
	TemplateVersion string   `json:"template_version"`
	// StateSerial is the OpenTofu state's serial after an apply (0 otherwise).
	StateSerial int64 `json:"state_serial,omitempty"`
	// Job is the apply's job id (kind apply).
	Job string `json:"job,omitempty"`
	// RestoredFrom is the revision a restore copied (kind restore).
	RestoredFrom int       `json:"restored_from,omitempty"`
	By           string    `json:"by"`
	At           time.Time `json:"at"`
}

// RevisionOf is the revision describing svc's configuration now (Number, By and At are
// set when it is recorded): its inputs with the secrets masked.
func RevisionOf(svc *Service, kind string) Revision {
	return Revision{
		Kind:            kind,
		Inputs:          svc.MaskedValues(),
		Sensitive:       slices.Clone(svc.Sensitive),
		TemplateVersion: svc.TemplateVersion,
	}
}

// RecordRevision stores rev as the service's next revision, by who, and returns it
// numbered. Several writers (replicas) may record at once: each number is a
// create-only write, and a writer that lost one takes the next. Revisions beyond
// MaxRevisions are deleted, oldest first. Inputs named in rev.Sensitive are masked
// again here, so a caller's mistake never stores a secret.
func (c *Catalog) RecordRevision(ctx context.Context, ref engine.ServiceRef, rev Revision, by string) (Revision, error) {
	if err := ref.Validate(); err != nil {
		return Revision{}, err
	}
	rev.Inputs = MaskValues(rev.Inputs, rev.Sensitive)
	rev.By = by
	rev.At = c.now().UTC().Truncate(time.Millisecond)
	keys := storeKeys(ref)
	for attempt := 0; attempt < revisionAttempts; attempt++ {
		numbers, err := c.revisionNumbers(ctx, ref)
		if err != nil {
			return Revision{}, err
		}
		rev.Number = 1
		if len(numbers) > 0 {
			rev.Number = numbers[len(numbers)-1] + 1
		}
		data, err := json.MarshalIndent(rev, "", "  ")
		if err != nil {
			return Revision{}, fmt.Errorf("catalog: encode revision: %w", err)
		}
		_, err = c.st.Put(ctx, keys.Revision(rev.Number), data, store.PutOptions{IfNoneMatch: true, ContentType: "application/json"})
		if errors.Is(err, store.ErrPreconditionFailed) {
			continue // another writer took this number
		}
		if err != nil {
			return Revision{}, fmt.Errorf("catalog: record revision of %s: %w", ref, err)
		}
		numbers = append(numbers, rev.Number)
		for len(numbers) > MaxRevisions {
			if err := c.st.Delete(ctx, keys.Revision(numbers[0])); err != nil && !errors.Is(err, store.ErrNotFound) {
				c.log.Warn("catalog: could not delete an old revision", "service", ref.String(), "revision", numbers[0], "error", err)
				break
			}
			numbers = numbers[1:]
		}
		return rev, nil
	}
	return Revision{}, fmt.Errorf("%w (service %s: revision numbers kept being taken)", ErrConflict, ref)
}

// revisionNumbers lists the numbers of the service's revisions, ascending.
func (c *Catalog) revisionNumbers(ctx context.Context, ref engine.ServiceRef) ([]int, error) {
	objs, err := c.st.List(ctx, storeKeys(ref).Revisions())
	if err != nil {
		return nil, fmt.Errorf("catalog: list revisions of %s: %w", ref, err)
	}
	var numbers []int
	for _, o := range objs {
		if _, n, ok := storekey.ParseRevision(o.Key); ok {
			numbers = append(numbers, n)
		}
	}
	slices.Sort(numbers)
	return numbers, nil
}

// Revisions returns the service's revisions kept, newest first. An unreadable record is
// logged and left out.
func (c *Catalog) Revisions(ctx context.Context, ref engine.ServiceRef) ([]Revision, error) {
	if err := ref.Validate(); err != nil {
		return nil, err
	}
	if _, err := c.readInfo(ctx, ref); err != nil {
		return nil, err
	}
	numbers, err := c.revisionNumbers(ctx, ref)
	if err != nil {
		return nil, err
	}
	out := make([]Revision, 0, len(numbers))
	for _, n := range slices.Backward(numbers) {
		rev, err := c.readRevision(ctx, ref, n)
		if errors.Is(err, ErrRevisionNotFound) {
			continue // pruned since the listing
		}
		if err != nil {
			if errors.Is(err, store.ErrUnavailable) {
				return nil, err
			}
			c.log.Warn("catalog: skipping unreadable revision", "service", ref.String(), "revision", n, "error", err)
			continue
		}
		out = append(out, rev)
	}
	return out, nil
}

// GetRevision returns one of the service's revisions.
func (c *Catalog) GetRevision(ctx context.Context, ref engine.ServiceRef, number int) (Revision, error) {
	if err := ref.Validate(); err != nil {
		return Revision{}, err
	}
	if _, err := c.readInfo(ctx, ref); err != nil {
		return Revision{}, err
	}
	return c.readRevision(ctx, ref, number)
}

func (c *Catalog) readRevision(ctx context.Context, ref engine.ServiceRef, number int) (Revision, error) {
	if number < 1 {
		return Revision{}, fmt.Errorf("%w: %d", ErrRevisionNotFound, number)
	}
	data, _, err := c.st.Get(ctx, storeKeys(ref).Revision(number))
	if errors.Is(err, store.ErrNotFound) {
		return Revision{}, fmt.Errorf("%w: %s has no revision %d", ErrRevisionNotFound, ref, number)
	}
	if err != nil {
		return Revision{}, fmt.Errorf("catalog: read revision %d of %s: %w", number, ref, err)
	}
	var rev Revision
	if err := strictjson.Decode(data, &rev, strictjson.Limits{MaxBytes: maxRevisionBytes, MaxDepth: 10}); err != nil {
		return Revision{}, fmt.Errorf("catalog: revision %d of %s: %w", number, ref, err)
	}
	rev.Number = number // the key, not the content, says which revision this is
	if rev.Inputs == nil {
		rev.Inputs = map[string]any{}
	}
	return rev, nil
}

// deleteRevisions removes every revision of a deleted service.
func (c *Catalog) deleteRevisions(ctx context.Context, ref engine.ServiceRef) error {
	numbers, err := c.revisionNumbers(ctx, ref)
	if err != nil {
		return err
	}
	for _, n := range numbers {
		if err := c.st.Delete(ctx, storeKeys(ref).Revision(n)); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	return nil
}

// Change is one field that differs between two revisions: "template_version" or
// "inputs.<name>". From or To is nil when the input is absent on that side. Secret
// inputs compare masked: a change of a secret's value between two revisions that both
// had one does not show.
type Change struct {
	Field string `json:"field"`
	From  any    `json:"from"`
	To    any    `json:"to"`
}

// CompareRevisions lists the fields that differ from revision from to revision to:
// the template version first, then the inputs by name.
func CompareRevisions(from, to Revision) []Change {
	changes := []Change{}
	if from.TemplateVersion != to.TemplateVersion {
		changes = append(changes, Change{Field: "template_version", From: from.TemplateVersion, To: to.TemplateVersion})
	}
	names := slices.Sorted(maps.Keys(from.Inputs))
	for n := range maps.Keys(to.Inputs) {
		if _, ok := from.Inputs[n]; !ok {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	for _, n := range names {
		a, inA := from.Inputs[n]
		b, inB := to.Inputs[n]
		if inA && inB && reflect.DeepEqual(a, b) {
			continue
		}
		ch := Change{Field: "inputs." + n}
		if inA {
			ch.From = a
		}
		if inB {
			ch.To = b
		}
		changes = append(changes, ch)
	}
	return changes
}
