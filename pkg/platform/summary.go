package platform

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/spawnit/spawnit"
	"github.com/spawnit/spawnit/catalog"
	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/pkg/apiv1"
	"github.com/spawnit/spawnit/pkg/store"
	"github.com/spawnit/spawnit/pkg/storekey"
)

// The service list reads summaries, not services. Each service's entry in the
// catalog's service index (index/services/<tenant>/<service>) carries the service as
// the list shows it, built by view, the code GET /api/v1/services/{s} answers with, so
// that a field added to the view reaches the list without more work. A page is one
// listing of the tenant's index (store.ListPage) and one small read per service on it,
// whatever the tenant's total.
//
// Keeping them current. Every change of what a summary shows ends in refreshSummary:
// the platform publishes a status event for each (a service created, updated, deleted
// or stopped, each state of a job, a drift report, a health change), and publish
// refreshes the service's summary first, so that a client reacting to the event reads
// the new one. A refresh reads the entry (its ETag), then builds the view from the
// records, then writes the entry If-Match that ETag, and starts over when another
// writer went first. A writer therefore never replaces a summary with one it built
// before the write it replaces: whichever write lands last was built after it read the
// entry, so after every change that preceded that read.
//
// What cannot be kept in a record is filled in at read: Busy (the engine knows, for
// every replica), Expired (the clock) and the upgrade offer (a template's newest
// version changes without its services changing).
//
// Repair. An entry without a summary (written by the catalog at creation or by a
// rebuild of the index), with a corrupt one, or whose summary says nothing of a
// service that no longer exists, is rebuilt when a page finds it. A summary older than
// summaryMaxAge is shown and rebuilt in the background, which bounds how long one left
// behind by a replica that stopped half-way through a change stays out of date. An
// index that was removed is rebuilt by the catalog from the service folders
// (catalog.RebuildIndex) and its summaries on the pages that show them.
//
// Search (q) needs every entry of the tenant: each replica keeps the summaries it read,
// by entry key and ETag, and checks them against one listing of the tenant's index, so
// a search reads from the store only the entries that changed since.

// summaryMaxAge: a summary older than this is rebuilt in the background when read.
const summaryMaxAge = 2 * time.Minute

// Page limits of the service list and of job histories.
const (
	DefaultPageLimit = 100
	MaxPageLimit     = 500
)

// Page asks for one page of a listing.
type Page struct {
	// Limit is the page size (1..MaxPageLimit; 0 means DefaultPageLimit).
	Limit int
	// Cursor is the NextCursor of the previous page ("" for the first).
	Cursor string
	// Query keeps the services whose id, name or template contains it (ignoring case).
	Query string
}

// summaryDoc is what an index entry's summary holds.
type summaryDoc struct {
	Service apiv1.Service `json:"service"`
	// Pinned: the service runs a recorded template version (catalog.Info.VersionPinned),
	// needed to offer upgrades at read.
	Pinned bool `json:"pinned,omitempty"`
	// IntentJob is the job that set the intent (Watched.IntentJob).
	IntentJob string `json:"intent_job,omitempty"`
	// Gone: the service no longer exists (an entry left by a delete that stopped
	// half-way): not shown.
	Gone bool `json:"gone,omitempty"`
}

// summaryCache is a replica's copy of the summaries it read, by entry key; an entry is
// used only while the store's ETag for its key is the one it was read with.
type summaryCache struct {
	mu        sync.Mutex
	m         map[string]cachedSummary
	repairing map[string]bool
}

type cachedSummary struct {
	etag string
	doc  summaryDoc
	at   time.Time
}

// maxCachedSummaries bounds a replica's cache; it starts over when full.
const maxCachedSummaries = 200_000

func (c *summaryCache) get(key, etag string) (cachedSummary, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.m[key]
	return s, ok && s.etag == etag
}

func (c *summaryCache) put(key string, s cachedSummary) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxCachedSummaries {
		c.m = map[string]cachedSummary{}
	}
	c.m[key] = s
}

// startRepair reports whether the caller should repair key (no one else is).
func (c *summaryCache) startRepair(key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.repairing[key] {
		return false
	}
	if c.repairing == nil {
		c.repairing = map[string]bool{}
	}
	c.repairing[key] = true
	return true
}

func (c *summaryCache) endRepair(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.repairing, key)
}

// summaryAttempts bounds the retries of a refresh that keeps losing to other writers;
// the next change or read repairs what the last one left.
const summaryAttempts = 12

// refreshSummary rebuilds the service's summary from its records and writes it into its
// index entry (see above). ok is false when the service does not exist.
func (p *Platform) refreshSummary(ctx context.Context, ref engine.ServiceRef) (doc summaryDoc, ok bool, err error) {
	for attempt := range summaryAttempts {
		if attempt > 0 {
			// Writers that keep colliding take turns: a random pause, longer each time.
			select {
			case <-time.After(time.Duration(rand.Int64N(int64(attempt) * int64(5*time.Millisecond)))):
			case <-ctx.Done():
				return summaryDoc{}, false, ctx.Err()
			}
		}
		cur, err := p.cat.ServiceEntry(ctx, ref)
		etag := cur.ETag
		if errors.Is(err, store.ErrNotFound) {
			etag = ""
		} else if err != nil {
			return summaryDoc{}, false, err
		}
		s, err := p.cat.GetService(ctx, ref)
		if errors.Is(err, catalog.ErrServiceNotFound) {
			if etag == "" || len(cur.Entry.Summary) == 0 {
				return summaryDoc{}, false, nil // a create in progress, or nothing left
			}
			doc = summaryDoc{Service: apiv1.Service{ID: ref.Service}, Gone: true}
		} else if err != nil {
			return summaryDoc{}, false, err
		} else {
			v, in, err := p.viewIntent(ctx, s)
			if err != nil {
				return summaryDoc{}, false, err
			}
			doc = summaryDoc{Service: v, Pinned: s.VersionPinned, IntentJob: in.JobID}
		}
		raw, err := json.Marshal(doc)
		if err != nil {
			return summaryDoc{}, false, err
		}
		e := catalog.IndexEntry{Template: doc.Service.Template, Provider: doc.Service.Target, Created: doc.Service.CreatedAt,
			Summary: raw, SummaryAt: p.now()}
		if doc.Gone {
			e.Template, e.Provider, e.Created = cur.Entry.Template, cur.Entry.Provider, cur.Entry.Created
		}
		obj, err := p.cat.WriteIndexEntry(ctx, ref, e, etag)
		if errors.Is(err, store.ErrPreconditionFailed) {
			continue // another writer went first: build it again, after its write
		}
		if err != nil {
			return summaryDoc{}, false, err
		}
		p.summaries.put(obj.Key, cachedSummary{etag: obj.ETag, doc: doc, at: e.SummaryAt})
		return doc, !doc.Gone, nil
	}
	return summaryDoc{}, false, fmt.Errorf("platform: summary of %s: %w", ref, store.ErrPreconditionFailed)
}

// touch refreshes a service's summary after a change, logging what fails: the change
// is made, and a summary left behind is repaired when read.
func (p *Platform) touch(ctx context.Context, ref engine.ServiceRef) {
	if ref.Validate() != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if _, _, err := p.refreshSummary(ctx, ref); err != nil {
		p.log.Warn("platform: could not refresh a service's summary", "service", ref.String(), "error", err)
	}
}

// summaryAt returns the summary the index entry at obj holds, rebuilding it when it is
// missing, corrupt or of a service now gone, and in the background when old. ok is
// false when there is no service to show.
func (p *Platform) summaryAt(ctx context.Context, obj store.Object) (summaryDoc, bool, error) {
	if c, hit := p.summaries.get(obj.Key, obj.ETag); hit {
		p.repairIfOld(obj.Key, c)
		return c.doc, !c.doc.Gone, nil
	}
	e, err := p.cat.ReadIndexEntry(ctx, obj.Key)
	if errors.Is(err, store.ErrNotFound) {
		return summaryDoc{}, false, nil // deleted since the listing
	}
	if err != nil {
		return summaryDoc{}, false, err
	}
	var doc summaryDoc
	if e.Valid && len(e.Entry.Summary) > 0 && json.Unmarshal(e.Entry.Summary, &doc) == nil &&
		(doc.Gone || doc.Service.ID == e.Ref.Service) {
		c := cachedSummary{etag: e.ETag, doc: doc, at: e.Entry.SummaryAt}
		p.summaries.put(obj.Key, c)
		p.repairIfOld(obj.Key, c)
		return doc, !doc.Gone, nil
	}
	return p.refreshSummary(ctx, e.Ref)
}

// repairIfOld rebuilds an old summary in the background.
func (p *Platform) repairIfOld(key string, c cachedSummary) {
	if p.now().Sub(c.at) < summaryMaxAge || p.isClosed() || !p.summaries.startRepair(key) {
		return
	}
	ref, ok := parseEntryKey(key)
	if !ok {
		p.summaries.endRepair(key)
		return
	}
	p.watches.Add(1)
	go func() {
		defer p.watches.Done()
		defer p.summaries.endRepair(key)
		p.touch(context.Background(), ref)
	}()
}

// ServicesPage lists one page of the tenant's services, sorted by id, from their
// summaries (see above). NextCursor is set when more may follow.
func (p *Platform) ServicesPage(ctx context.Context, a Actor, pg Page) (apiv1.ServiceList, error) {
	if err := spawnit.ValidateID(a.Tenant); err != nil {
		return apiv1.ServiceList{}, fmt.Errorf("tenant: %w", err)
	}
	limit, err := pageLimit(pg.Limit)
	if err != nil {
		return apiv1.ServiceList{}, err
	}
	after, err := decodeCursor(pg.Cursor)
	if err != nil {
		return apiv1.ServiceList{}, err
	}
	q := strings.ToLower(strings.TrimSpace(pg.Query))
	var docs []summaryDoc
	var more bool
	if q == "" {
		objs, err := p.cat.IndexPage(ctx, a.Tenant, after, limit+1)
		if err != nil {
			return apiv1.ServiceList{}, err
		}
		more = len(objs) > limit
		objs = objs[:min(limit, len(objs))]
		docs, err = p.summariesOf(ctx, objs)
		if err != nil {
			return apiv1.ServiceList{}, err
		}
		if more && len(objs) > 0 {
			after = entryService(objs[len(objs)-1].Key)
		}
	} else {
		docs, more, err = p.searchSummaries(ctx, a.Tenant, after, q, limit)
		if err != nil {
			return apiv1.ServiceList{}, err
		}
		if more && len(docs) > 0 {
			after = docs[len(docs)-1].Service.ID
		}
	}
	out := apiv1.ServiceList{Services: make([]apiv1.Service, 0, len(docs))}
	offers := map[string]*catalog.Template{}
	for _, d := range docs {
		if d.Gone {
			continue
		}
		out.Services = append(out.Services, p.live(ctx, d, a.Tenant, offers))
	}
	if more {
		out.NextCursor = encodeCursor(after)
	}
	return out, nil
}

// summariesOf reads the summaries at objs concurrently, in objs' order; gone ones are
// marked Gone.
func (p *Platform) summariesOf(ctx context.Context, objs []store.Object) ([]summaryDoc, error) {
	docs := make([]summaryDoc, len(objs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(32)
	for i, o := range objs {
		g.Go(func() error {
			d, ok, err := p.summaryAt(gctx, o)
			if err != nil {
				if errors.Is(err, store.ErrUnavailable) || gctx.Err() != nil {
					return err
				}
				// An unreadable service (a corrupt info.json) is left out, not the page.
				p.log.Warn("platform: skipping a service whose summary cannot be built", "entry", o.Key, "error", err)
				ok = false
			}
			d.Gone = !ok
			docs[i] = d
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return docs, nil
}

// searchBatch is how many summaries a search reads at once.
const searchBatch = 256

// searchSummaries returns up to limit summaries after the id after that match q, in id
// order, and whether more may match.
func (p *Platform) searchSummaries(ctx context.Context, tenant, after, q string, limit int) ([]summaryDoc, bool, error) {
	objs, err := p.cat.IndexObjects(ctx, tenant)
	if err != nil {
		return nil, false, err
	}
	var out []summaryDoc
	for start := 0; start < len(objs); start += searchBatch {
		batch := objs[start:min(start+searchBatch, len(objs))]
		keep := batch[:0:0]
		for _, o := range batch {
			if id := entryService(o.Key); id > after {
				keep = append(keep, o)
			}
		}
		docs, err := p.summariesOf(ctx, keep)
		if err != nil {
			return nil, false, err
		}
		for _, d := range docs {
			if d.Gone || !matches(d.Service, q) {
				continue
			}
			if len(out) == limit {
				return out, true, nil
			}
			out = append(out, d)
		}
	}
	return out, false, nil
}

// matches reports whether q (lower case) is in the service's id, name or template.
func matches(s apiv1.Service, q string) bool {
	return strings.Contains(strings.ToLower(s.ID), q) || strings.Contains(strings.ToLower(s.Name), q) ||
		strings.Contains(strings.ToLower(s.Template), q)
}

// live fills in what a summary cannot keep: whether a job holds the service now, the
// expiry against the clock, and the upgrade its template offers now. templates caches
// the templates read for one page.
func (p *Platform) live(ctx context.Context, d summaryDoc, tenant string, templates map[string]*catalog.Template) apiv1.Service {
	v := d.Service
	ref := engine.ServiceRef{Client: tenant, Service: v.ID}
	v.Status.Busy = p.eng.Busy(ref)
	v.Status.Expired = v.ExpiresAt != nil && !p.now().Before(*v.ExpiresAt)
	latest, seen := templates[v.Template]
	if !seen {
		latest = p.latestTemplate(ctx, v.Template)
		templates[v.Template] = latest
	}
	v.Upgrade = nil
	if latest != nil && d.Pinned && catalog.CompareVersions(latest.Version, v.TemplateVersion) > 0 {
		v.Upgrade = &apiv1.UpgradeOffer{From: v.TemplateVersion, To: latest.Version, ReleaseNotes: latest.ReleaseNotes}
	}
	return v
}

// pageLimit checks a page size: 0 is the default.
func pageLimit(n int) (int, error) {
	if n == 0 {
		return DefaultPageLimit, nil
	}
	if n < 1 || n > MaxPageLimit {
		return 0, &catalog.ValidationError{Fields: []catalog.FieldError{{Field: "limit", Code: catalog.CodeRange,
			Reason: fmt.Sprintf("must be between 1 and %d", MaxPageLimit)}}}
	}
	return n, nil
}

// cursorPrefix versions the cursors' format.
const cursorPrefix = "v1:"

// encodeCursor makes the opaque cursor of a page that ends at key (a service or job id).
func encodeCursor(key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + key))
}

// decodeCursor returns the key a cursor carries ("" for no cursor); a cursor this
// server did not make is a field error.
func decodeCursor(c string) (string, error) {
	if c == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	key, found := strings.CutPrefix(string(b), cursorPrefix)
	if err != nil || !found || key == "" || len(key) > 200 || !cursorSafe(key) {
		return "", &catalog.ValidationError{Fields: []catalog.FieldError{{Field: "cursor", Code: catalog.CodeInvalid,
			Reason: "not a cursor this server gave: start again without one"}}}
	}
	return key, nil
}

// cursorSafe accepts the characters of service and job ids (and the separator of a
// job cursor).
func cursorSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '|' {
			continue
		}
		return false
	}
	return true
}

// parseEntryKey returns the service an index entry's key names.
func parseEntryKey(key string) (engine.ServiceRef, bool) {
	s, ok := storekey.ParseServiceEntry(key)
	ref := engine.ServiceRef{Client: s.Tenant, Service: s.Service}
	return ref, ok && ref.Validate() == nil
}

// entryService is the service id an index entry's key names.
func entryService(key string) string {
	s, _ := storekey.ParseServiceEntry(key)
	return s.Service
}

// JobsPage lists one page of a service's job history, newest first (see ListJobs).
// The cursor names the last job shown by its creation time and id, so a job pruned
// meanwhile does not break the next page.
func (p *Platform) JobsPage(ctx context.Context, a Actor, service string, pg Page) ([]engine.JobInfo, string, error) {
	limit, err := pageLimit(pg.Limit)
	if err != nil {
		return nil, "", err
	}
	after, err := decodeCursor(pg.Cursor)
	if err != nil {
		return nil, "", err
	}
	var afterAt int64
	var afterID string
	if after != "" {
		at, id, found := strings.Cut(after, "|")
		n, err := strconv.ParseInt(at, 10, 64)
		if !found || err != nil || spawnit.ValidateJobID(id) != nil {
			_, err := decodeCursor("!")
			return nil, "", err
		}
		afterAt, afterID = n, id
	}
	jobs, err := p.ListJobs(ctx, a, service)
	if err != nil {
		return nil, "", err
	}
	slices.SortStableFunc(jobs, func(x, y engine.JobInfo) int {
		return cmp.Or(y.CreatedAt.Compare(x.CreatedAt), strings.Compare(y.ID, x.ID))
	})
	if after != "" {
		i := slices.IndexFunc(jobs, func(j engine.JobInfo) bool {
			n := j.CreatedAt.UnixNano()
			return n < afterAt || n == afterAt && j.ID < afterID
		})
		if i < 0 {
			i = len(jobs)
		}
		jobs = jobs[i:]
	}
	if len(jobs) <= limit {
		return jobs, "", nil
	}
	jobs = jobs[:limit]
	last := jobs[limit-1]
	return jobs, encodeCursor(strconv.FormatInt(last.CreatedAt.UnixNano(), 10) + "|" + last.ID), nil
}

// latestTTL: how long a replica reuses a template's latest version for the upgrade
// offers of its lists (an offer shows this much later after a publish at most).
const latestTTL = 2 * time.Second

type latestCache struct {
	mu sync.Mutex
	m  map[string]latestEntry
}

type latestEntry struct {
	tpl *catalog.Template
	at  time.Time
}

// latestTemplate is the template's latest version as users see it (nil when it is
// gone), read at most every latestTTL.
func (p *Platform) latestTemplate(ctx context.Context, id string) *catalog.Template {
	now := time.Now()
	p.latest.mu.Lock()
	e, ok := p.latest.m[id]
	p.latest.mu.Unlock()
	if ok && now.Sub(e.at) < latestTTL {
		return e.tpl
	}
	tpl, err := p.cat.Get(ctx, id)
	if err != nil {
		tpl = nil
	}
	p.latest.mu.Lock()
	if p.latest.m == nil || len(p.latest.m) > 4096 {
		p.latest.m = map[string]latestEntry{}
	}
	p.latest.m[id] = latestEntry{tpl: tpl, at: now}
	p.latest.mu.Unlock()
	return tpl
}

// forgetLatest drops what latestTemplate kept of a template.
func (p *Platform) forgetLatest(id string) {
	p.latest.mu.Lock()
	delete(p.latest.m, id)
	p.latest.mu.Unlock()
}
