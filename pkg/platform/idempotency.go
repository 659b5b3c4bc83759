package platform

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/google/uuid"
	"time"

	"github.com/spawnit/spawnit/catalog"
	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/pkg/store"
)

// MaxIdempotencyKeyLen bounds an Idempotency-Key.
const MaxIdempotencyKeyLen = 255

const (
	// claimTimeout: a claim whose job id never arrived (its process died between the
	// claim and the job) is taken over after this long.
	claimTimeout = 2 * time.Minute
	// claimWait bounds how long a concurrent retry waits for the first request to fill
	// its claim in.
	claimWait = 30 * time.Second
)

// ValidateIdempotencyKey accepts 1 to MaxIdempotencyKeyLen printable ASCII characters.
func ValidateIdempotencyKey(key string) error {
	if key == "" || len(key) > MaxIdempotencyKeyLen {
		return fmt.Errorf("%w: Idempotency-Key must be 1 to %d characters", engine.ErrInvalidInput, MaxIdempotencyKeyLen)
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x20 || key[i] > 0x7e {
			return fmt.Errorf("%w: Idempotency-Key must be printable ASCII", engine.ErrInvalidInput)
		}
	}
	return nil
}

// idempotencyRecord maps a key to the job it created. JobID is empty while the request
// that claimed the key is still creating the job.
type idempotencyRecord struct {
	Operation engine.Operation `json:"operation"`
	Reason    string           `json:"reason,omitempty"`
	JobID     string           `json:"job_id,omitempty"`
	Created   time.Time        `json:"created"`
	// Nonce identifies the request that wrote the claim, so that a request whose write
	// landed but whose answer was lost can recognise the claim as its own.
	Nonce string `json:"nonce,omitempty"`
}

// idempotencyKey stores the key's hash, never the key: it is the client's value, of any
// shape, and must not become a path.
func idempotencyKey(ref engine.ServiceRef, key string) string {
	sum := sha256.Sum256([]byte(key))
	return storeKeys(ref).IdempotencyClaim(hex.EncodeToString(sum[:]))
}

// runIdempotent returns the job already created under the request's key, or creates it.
// The key's record is claimed with a create-only write before the job is submitted, so
// of two concurrent requests with one key exactly one submits; the other waits for the
// claim to name the job.
func (p *Platform) runIdempotent(ctx context.Context, a Actor, svc *catalog.Service, req RunRequest) (engine.JobInfo, error) {
	ref := svc.Ref()
	key := idempotencyKey(ref, req.IdempotencyKey)
	waitUntil := time.Now().Add(claimWait)
	for {
		if err := ctx.Err(); err != nil {
			return engine.JobInfo{}, err
		}
		b, obj, err := p.st.Get(ctx, key)
		if errors.Is(err, store.ErrNotFound) {
			c, err := p.putClaim(ctx, key, req, store.PutOptions{IfNoneMatch: true})
			if errors.Is(err, store.ErrPreconditionFailed) {
				continue // another request claimed it first
			}
			if err != nil {
				return engine.JobInfo{}, err
			}
			return p.fulfil(ctx, a, svc, req, key, c)
		}
		if err != nil {
			return engine.JobInfo{}, err
		}
		var rec idempotencyRecord
		corrupt := json.Unmarshal(b, &rec) != nil
		age := p.now().Sub(rec.Created)
		if corrupt || age > p.idemTTL || (rec.JobID == "" && age > claimTimeout) {
			c, err := p.putClaim(ctx, key, req, store.PutOptions{IfMatch: obj.ETag})
			if errors.Is(err, store.ErrPreconditionFailed) {
				continue
			}
			if err != nil {
				return engine.JobInfo{}, err
			}
			return p.fulfil(ctx, a, svc, req, key, c)
		}
		if rec.Operation != req.Operation || rec.Reason != req.Reason {
			return engine.JobInfo{}, fmt.Errorf("%w (%s)", ErrIdempotencyMismatch, rec.Operation)
		}
		if rec.JobID != "" {
			info, err := p.jobInfo(ctx, ref, rec.JobID)
			return hideSensitive(info), err
		}
		if time.Now().After(waitUntil) {
			return engine.JobInfo{}, fmt.Errorf("%w: a request with this Idempotency-Key is still being processed", engine.ErrLocked)
		}
		select {
		case <-ctx.Done():
			return engine.JobInfo{}, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// claim is a key's record as this request wrote it, and the ETag that proves it is
// still this request's.
type claim struct {
	rec  idempotencyRecord
	etag string
}

func (p *Platform) putClaim(ctx context.Context, key string, req RunRequest, opts store.PutOptions) (claim, error) {
	rec := idempotencyRecord{Operation: req.Operation, Reason: req.Reason, Created: p.now(), Nonce: uuid.NewString()}
	b, _ := json.Marshal(rec)
	opts.ContentType = "application/json"
	obj, err := p.st.Put(ctx, key, b, opts)
	if err == nil {
		return claim{rec: rec, etag: obj.ETag}, nil
	}
	if errors.Is(err, store.ErrPreconditionFailed) {
		return claim{}, err
	}
	// The write may have landed with its answer lost (a slow or flaky store): if the
	// record now there is ours, the claim is this request's and it goes on; otherwise
	// the key would stay claimed by nobody until claimTimeout.
	if cur, cobj, gerr := p.st.Get(ctx, key); gerr == nil {
		var got idempotencyRecord
		if json.Unmarshal(cur, &got) == nil && got.Nonce == rec.Nonce {
			return claim{rec: rec, etag: cobj.ETag}, nil
		}
	}
	return claim{}, err
}

// fulfil submits the job for a claimed key and records its id; a failed submission
// releases the claim so that a retry may try again.
func (p *Platform) fulfil(ctx context.Context, a Actor, svc *catalog.Service, req RunRequest, key string, c claim) (engine.JobInfo, error) {
	j, err := p.submit(ctx, a, svc, req)
	if err != nil {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if derr := p.st.Delete(dctx, key); derr != nil {
			p.log.Warn("platform: could not release an idempotency claim", "service", svc.Ref().String(), "err", derr)
		}
		return engine.JobInfo{}, err
	}
	c.rec.JobID = j.ID()
	b, _ := json.Marshal(c.rec)
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := p.st.Put(wctx, key, b, store.PutOptions{IfMatch: c.etag, ContentType: "application/json"}); err != nil {
		// The job runs; only a retry of this request could miss it (after claimTimeout).
		p.log.Error("platform: could not record an idempotency key's job", "service", svc.Ref().String(), "job", j.ID(), "err", err)
	}
	return hideSensitive(j.Info()), nil
}

// SweepIdempotencyKeys deletes expired idempotency records and returns how many. Expired
// records are already ignored; sweeping only reclaims their space. It lists the claims
// of each service the catalog's index names, not the whole store (a deleted service's
// claims went with it: see dropClaims).
func (p *Platform) SweepIdempotencyKeys(ctx context.Context) (int, error) {
	refs, err := p.cat.AllServiceRefs(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, ref := range refs {
		objs, err := p.st.List(ctx, storeKeys(ref).Idempotency())
		if err != nil {
			return n, err
		}
		for _, o := range objs {
			b, _, err := p.st.Get(ctx, o.Key)
			if err != nil {
				continue
			}
			var rec idempotencyRecord
			if json.Unmarshal(b, &rec) == nil && p.now().Sub(rec.Created) <= p.idemTTL {
				continue
			}
			if err := p.st.Delete(ctx, o.Key); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}

// dropClaims deletes the idempotency claims of a service whose configuration was just
// removed: no request can use them any more, and the sweep no longer visits the
// service. A claim that cannot be deleted stays, ignored.
func (p *Platform) dropClaims(ctx context.Context, ref engine.ServiceRef) {
	objs, err := p.st.List(ctx, storeKeys(ref).Idempotency())
	for _, o := range objs {
		if err == nil {
			err = p.st.Delete(ctx, o.Key)
		}
	}
	if err != nil {
		p.log.Warn("platform: could not remove a deleted service's idempotency claims", "service", ref.String(), "err", err)
	}
}
