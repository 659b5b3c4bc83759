// Package storekey owns the layout of SpawnIt's store: every key a package reads or
// writes is built here, and the keys a listing returns are parsed back here. The layout
// is described for operators in docs/store.md; the two must say the same thing.
//
//	templates/<template>/template.json
//	templates/<template>/modules/<target>/<path>
//	templates/<template>/disabled
//	templates/<template>/versions/<version>/...  see TemplateVersion
//	clients/<tenant>/<service>/<file>          see Service
//	audit/<yyyy-mm-dd>/<time>-<random>.json
//	index/services/<tenant>/<service>          see ServiceEntry
//	index/jobs/<tenant>/<service>/<job>        see RunningJob
//	replicas/<replica>.json                    see Replica
//	probes/<probe>                             see Probe
//	auth/session-secret                        see SessionSecret
//	auth/sessions/<hash>.json                  see Session
//	feeds/<tenant>/<time>-<origin>-<random>.json  see FeedEntry
//	quotas/<tenant>.json                       see Quota
//
// Keys are built from ids the caller has validated (spawnit.ValidateID, job ids): this
// package does not validate them again, and it imports only the standard library so
// that every layer, the engine included, can use it.
package storekey

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Top-level prefixes.
const (
	// TemplatesPrefix holds the catalog: one folder per template.
	TemplatesPrefix = "templates/"
	// TenantsPrefix holds one folder per tenant, with one folder per service in it.
	// (It is called "clients/" for compatibility with existing stores.)
	TenantsPrefix = "clients/"
	// AuditPrefix holds one object per audit entry, in one folder per day.
	AuditPrefix = "audit/"
	// IndexPrefix holds indexes that spare listings a scan of TenantsPrefix. Everything
	// under it can be rebuilt from the service folders: it is never the only record
	// of anything.
	IndexPrefix = "index/"
	// ReplicasPrefix holds one heartbeat record per running replica (package cluster).
	ReplicasPrefix = "replicas/"
	// ProbesPrefix holds the short-lived objects of start-up checks of the store.
	ProbesPrefix = "probes/"
	// AuthPrefix holds what browser sign-in shares between replicas (package api/auth).
	AuthPrefix = "auth/"
	// FeedsPrefix holds each tenant's short-lived feed of status events, through which
	// replicas tell each other's subscribers what changed (package platform).
	FeedsPrefix = "feeds/"
	// PortsPrefix holds one claim per host port a target's services use (package
	// platform): who holds it.
	PortsPrefix = "ports/"
)

// Files of a template folder.
const (
	// TemplateFile is a template's metadata and input schema.
	TemplateFile = "template.json"
	// DisabledFile, when present, hides the template (and stops the built-in one from
	// being seeded again).
	DisabledFile = "disabled"
	// ModulesDir holds one OpenTofu module per target.
	ModulesDir = "modules"
	// VersionsDir holds one folder per published version of the template.
	VersionsDir = "versions"
	// VersionManifestFile lists a published version's files with their SHA-256: it is
	// written first, create-only, and claims the version for that content.
	VersionManifestFile = "version.json"
	// RetiredFile, in a version's folder, stops the version from being offered to new
	// services and upgrades; services pinned to it keep running it.
	RetiredFile = "retired"
)

// TemplatePrefix is the folder of a template: templates/<id>/.
func TemplatePrefix(id string) string { return TemplatesPrefix + id + "/" }

// Template is the template's metadata: templates/<id>/template.json.
func Template(id string) string { return TemplatePrefix(id) + TemplateFile }

// TemplateDisabled is the marker that hides a template: templates/<id>/disabled.
func TemplateDisabled(id string) string { return TemplatePrefix(id) + DisabledFile }

// TemplateModules is the folder of a template's modules: templates/<id>/modules/.
func TemplateModules(id string) string { return TemplatePrefix(id) + ModulesDir + "/" }

// TemplateModule is the folder of a template's module for one target:
// templates/<id>/modules/<target>/. A module file's key is this prefix followed by the
// file's path in the module.
func TemplateModule(id, target string) string { return TemplateModules(id) + target + "/" }

// TemplateVersions is the folder of a template's published versions:
// templates/<id>/versions/.
func TemplateVersions(id string) string { return TemplatePrefix(id) + VersionsDir + "/" }

// TemplateVersion is the folder of one published version, a snapshot of the template
// laid out like the template's folder (template.json, modules/<target>/<path>) plus its
// manifest: templates/<id>/versions/<version>/. Versions are checked by the catalog
// (1 to 32 of [0-9A-Za-z.+-], starting with a letter or digit), so they are safe as a
// key segment. A file's key is this prefix followed by its path in the template.
func TemplateVersion(id, version string) string { return TemplateVersions(id) + version + "/" }

// TemplateVersionManifest is a version's manifest: templates/<id>/versions/<version>/version.json.
func TemplateVersionManifest(id, version string) string {
	return TemplateVersion(id, version) + VersionManifestFile
}

// TemplateVersionRetired is the marker of a retired version.
func TemplateVersionRetired(id, version string) string {
	return TemplateVersion(id, version) + RetiredFile
}

// TemplateKeyKind says what a key under TemplatesPrefix is.
type TemplateKeyKind int

// Kinds of template keys.
const (
	// TemplateOther: a key in a template's folder that the layout does not name.
	TemplateOther TemplateKeyKind = iota
	// TemplateMeta: templates/<id>/template.json.
	TemplateMeta
	// TemplateMarkDisabled: templates/<id>/disabled.
	TemplateMarkDisabled
	// TemplateModuleFile: templates/<id>/modules/<target>/<path>.
	TemplateModuleFile
	// TemplateVersionFile: templates/<id>/versions/<version>/<path>, where path is the
	// manifest, the retired marker, or a published file (template.json,
	// modules/<target>/<path>).
	TemplateVersionFile
)

// TemplateKey is a key under TemplatesPrefix, parsed.
type TemplateKey struct {
	ID   string
	Kind TemplateKeyKind
	// Target and Path (the file's path inside the module) are set for a module file.
	// For a version's file, Version is set and Path is the file's path inside the
	// version's folder.
	Target  string
	Path    string
	Version string
}

// ParseTemplate parses a key under TemplatesPrefix. ok is false for keys outside it and
// for a key directly in it (not in a template's folder).
func ParseTemplate(key string) (k TemplateKey, ok bool) {
	rest, found := strings.CutPrefix(key, TemplatesPrefix)
	if !found {
		return TemplateKey{}, false
	}
	id, file, found := strings.Cut(rest, "/")
	if !found || id == "" || file == "" {
		return TemplateKey{}, false
	}
	k.ID = id
	switch {
	case file == TemplateFile:
		k.Kind = TemplateMeta
	case file == DisabledFile:
		k.Kind = TemplateMarkDisabled
	case strings.HasPrefix(file, VersionsDir+"/"):
		v, p, ok := strings.Cut(strings.TrimPrefix(file, VersionsDir+"/"), "/")
		if ok && v != "" && p != "" {
			k.Kind, k.Version, k.Path = TemplateVersionFile, v, p
		}
	default:
		if mod, ok := strings.CutPrefix(file, ModulesDir+"/"); ok {
			if target, p, ok := strings.Cut(mod, "/"); ok && target != "" && p != "" {
				k.Kind, k.Target, k.Path = TemplateModuleFile, target, p
			}
		}
	}
	return k, true
}

// TenantPrefix is the folder of a tenant's services: clients/<tenant>/.
func TenantPrefix(tenant string) string { return TenantsPrefix + tenant + "/" }

// Files in a service's folder (Service builds their keys).
const (
	InfoFile        = "info.json"
	TfvarsFile      = "terraform.tfvars.json"
	StateFile       = "terraform.tfstate"
	StateLockFile   = StateFile + ".tflock"
	IntentFile      = "intent.json"
	LeaseFile       = "lease.json"
	JobsDir         = "jobs"
	CheckFile       = "check.json"
	DriftFile       = "drift.json"
	HealthFile      = "health.json"
	PreDestroyFile  = "pre-destroy.tfstate"
	ErroredFile     = "errored.tfstate"
	IdempotencyDir  = "idempotency"
	CancelDir       = "cancel"
	EventsDir       = "events"
	RevisionsDir    = "revisions"
	recordExtension = ".json"
)

// Service is the folder of one service, clients/<tenant>/<service>/; its methods name
// the objects in it.
type Service struct {
	Tenant  string
	Service string
}

// For returns the folder of the tenant's service.
func For(tenant, service string) Service { return Service{Tenant: tenant, Service: service} }

// Prefix is the service's folder: clients/<tenant>/<service>/.
func (s Service) Prefix() string { return TenantPrefix(s.Tenant) + s.Service + "/" }

// Info is what the service is (template, target, name, labels...): info.json. Its
// existence is what makes the service exist.
func (s Service) Info() string { return s.Prefix() + InfoFile }

// Tfvars are the service's validated inputs and SpawnIt's own values.
func (s Service) Tfvars() string { return s.Prefix() + TfvarsFile }

// State is the service's OpenTofu state (S3 backend key, or local backend path).
func (s Service) State() string { return s.Prefix() + StateFile }

// StateLock is the lockfile tofu's S3 backend writes next to the state.
func (s Service) StateLock() string { return s.Prefix() + StateLockFile }

// Intent is the last successful apply, accept or destroy.
func (s Service) Intent() string { return s.Prefix() + IntentFile }

// Lease is the cross-process lock of a running operation.
func (s Service) Lease() string { return s.Prefix() + LeaseFile }

// CancelRequest is a request to cancel job id, written by any replica and acted on (then
// removed) by the replica that holds the job: cancel/<job>.json.
func (s Service) CancelRequest(id string) string {
	return s.Prefix() + CancelDir + "/" + id + recordExtension
}

// Jobs is the folder of the service's job records: clients/<tenant>/<service>/jobs/.
func (s Service) Jobs() string { return s.Prefix() + JobsDir + "/" }

// Job is a job's record and event log: jobs/<job>.json.
func (s Service) Job(id string) string { return s.Jobs() + id + recordExtension }

// EventChunks is the folder of a running job's event chunks: events/<job>/. They carry
// the job's events to the store as they happen, for other replicas to stream; the final
// record holds the whole log, and the chunks go once it is written.
func (s Service) EventChunks(id string) string { return s.Prefix() + EventsDir + "/" + id + "/" }

// EventChunk is the chunk holding the job's events first..last (sequence numbers),
// named so that chunks sort by sequence: events/<job>/<first>-<last>.json, numbers
// zero-padded to 20 digits.
func (s Service) EventChunk(id string, first, last int64) string {
	return s.EventChunks(id) + seqName(first) + "-" + seqName(last) + recordExtension
}

func seqName(n int64) string {
	d := strconv.FormatInt(max(n, 0), 10)
	return strings.Repeat("0", max(0, 20-len(d))) + d
}

// ParseEventChunk parses the key of an event chunk.
func ParseEventChunk(key string) (s Service, id string, first, last int64, ok bool) {
	s, file, ok := ParseService(key)
	if !ok {
		return Service{}, "", 0, 0, false
	}
	parts := strings.Split(file, "/")
	if len(parts) != 3 || parts[0] != EventsDir || parts[1] == "" {
		return Service{}, "", 0, 0, false
	}
	name, found := strings.CutSuffix(parts[2], recordExtension)
	a, b, dash := strings.Cut(name, "-")
	first, err1 := strconv.ParseInt(a, 10, 64)
	last, err2 := strconv.ParseInt(b, 10, 64)
	if !found || !dash || err1 != nil || err2 != nil || first < 1 || last < first {
		return Service{}, "", 0, 0, false
	}
	return s, parts[1], first, last, true
}

// Check is the record of the latest background drift check (one slot).
func (s Service) Check() string { return s.Prefix() + CheckFile }

// Drift is the latest drift report.
func (s Service) Drift() string { return s.Prefix() + DriftFile }

// Health is the latest readiness/health result.
func (s Service) Health() string { return s.Prefix() + HealthFile }

// PreDestroy is the state before the last destroy (for orphan checks).
func (s Service) PreDestroy() string { return s.Prefix() + PreDestroyFile }

// Errored is state tofu could not save (the service needs recovery).
func (s Service) Errored() string { return s.Prefix() + ErroredFile }

// Idempotency is the folder of the service's Idempotency-Key claims.
func (s Service) Idempotency() string { return s.Prefix() + IdempotencyDir + "/" }

// IdempotencyClaim is one claim, named by the hex hash of its key (never the key
// itself: it is the client's value, of any shape).
func (s Service) IdempotencyClaim(hash string) string {
	return s.Idempotency() + hash + recordExtension
}

// Revisions is the folder of the service's configuration revisions: revisions/.
func (s Service) Revisions() string { return s.Prefix() + RevisionsDir + "/" }

// Revision is one numbered configuration revision: revisions/<number>.json, the
// number zero-padded to ten digits so that names sort as numbers do.
func (s Service) Revision(number int) string {
	return s.Revisions() + fmt.Sprintf("%010d", number) + recordExtension
}

// ParseRevision returns the number of a revision's key (see Revision); ok is false for
// every other key.
func ParseRevision(key string) (s Service, number int, ok bool) {
	s, file, ok := ParseService(key)
	if !ok {
		return Service{}, 0, false
	}
	name, ok := strings.CutPrefix(file, RevisionsDir+"/")
	if !ok {
		return Service{}, 0, false
	}
	digits, ok := strings.CutSuffix(name, recordExtension)
	if !ok || len(digits) != 10 {
		return Service{}, 0, false
	}
	n, err := strconv.Atoi(digits)
	if err != nil || n < 1 {
		return Service{}, 0, false
	}
	return s, n, true
}

// ParseService splits a key under TenantsPrefix into the service whose folder holds it
// and the key's path inside that folder ("info.json", "jobs/<job>.json"). ok is false
// for keys outside a service's folder.
func ParseService(key string) (s Service, file string, ok bool) {
	rest, found := strings.CutPrefix(key, TenantsPrefix)
	if !found {
		return Service{}, "", false
	}
	parts := strings.SplitN(rest, "/", 3)
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return Service{}, "", false
	}
	return Service{Tenant: parts[0], Service: parts[1]}, parts[2], true
}

// ParseJob parses a job record's key (clients/<tenant>/<service>/jobs/<job>.json). ok
// is false for every other key.
func ParseJob(key string) (s Service, id string, ok bool) {
	s, file, ok := ParseService(key)
	if !ok {
		return Service{}, "", false
	}
	name, ok := strings.CutPrefix(file, JobsDir+"/")
	if !ok || strings.Contains(name, "/") {
		return Service{}, "", false
	}
	id, ok = strings.CutSuffix(name, recordExtension)
	if !ok || id == "" {
		return Service{}, "", false
	}
	return s, id, true
}

// ParseCheck reports whether key is a service's background check record
// (clients/<tenant>/<service>/check.json).
func ParseCheck(key string) (s Service, ok bool) {
	s, file, ok := ParseService(key)
	return s, ok && file == CheckFile
}

// ParseIdempotencyClaim reports whether key is an Idempotency-Key claim.
func ParseIdempotencyClaim(key string) (s Service, ok bool) {
	s, file, ok := ParseService(key)
	if !ok {
		return Service{}, false
	}
	name, ok := strings.CutPrefix(file, IdempotencyDir+"/")
	return s, ok && name != "" && !strings.Contains(name, "/")
}

// JobIDOf returns the job id a job record's key names: the file name without ".json".
// Unlike ParseJob it accepts any key whose last segment is <id>.json.
func JobIDOf(key string) string {
	return strings.TrimSuffix(key[strings.LastIndexByte(key, '/')+1:], recordExtension)
}

// AuditDay is the folder of one day's audit entries: audit/<yyyy-mm-dd>/. Pass t in
// UTC (the platform's clock is).
func AuditDay(t time.Time) string { return AuditPrefix + t.Format("2006-01-02") + "/" }

// Audit is one audit entry: audit/<yyyy-mm-dd>/<time>-<random>.json, so entries sort
// by time within a day. random keeps entries written in the same nanosecond apart.
func Audit(t time.Time, random string) string {
	return AuditDay(t) + t.Format("20060102T150405.000000000Z") + "-" + random + recordExtension
}

// The service index: one entry per service, kept by whoever creates and deletes
// services (the catalog). It lists a tenant's services, or every tenant's, without a
// scan of TenantsPrefix (which holds every job record and claim too).
const (
	// ServicesIndexPrefix holds the entries: index/services/<tenant>/<service>.
	ServicesIndexPrefix = IndexPrefix + "services/"
	// ServicesIndexBuilt exists once the service index was built from the service
	// folders; without it, the index is rebuilt before it is trusted.
	ServicesIndexBuilt = IndexPrefix + "services.built"
)

// TenantIndex is the folder of a tenant's index entries: index/services/<tenant>/.
func TenantIndex(tenant string) string { return ServicesIndexPrefix + tenant + "/" }

// ServiceEntry is the service's entry in the service index.
func (s Service) ServiceEntry() string { return TenantIndex(s.Tenant) + s.Service }

// ParseServiceEntry parses a key of the service index.
func ParseServiceEntry(key string) (s Service, ok bool) {
	rest, found := strings.CutPrefix(key, ServicesIndexPrefix)
	if !found {
		return Service{}, false
	}
	tenant, service, found := strings.Cut(rest, "/")
	if !found || tenant == "" || service == "" || strings.Contains(service, "/") {
		return Service{}, false
	}
	return Service{Tenant: tenant, Service: service}, true
}

// The index of unfinished jobs: one entry per job whose record may not be final, kept by
// the engine (written before a job's first record, removed after its final one), so
// start-up recovery finds the jobs a dead process left without reading every record.
const (
	// RunningJobsPrefix holds the entries: index/jobs/<tenant>/<service>/<job>.
	RunningJobsPrefix = IndexPrefix + "jobs/"
	// RunningJobsBuilt exists once a recovery has scanned every job record; without
	// it, recovery scans them all (a store written by a version without the index).
	RunningJobsBuilt = IndexPrefix + "jobs.built"
)

// RunningJob is the index entry of a job of the service that may not be final.
func (s Service) RunningJob(id string) string {
	return RunningJobsPrefix + s.Tenant + "/" + s.Service + "/" + id
}

// RunningJobs is the folder of the service's entries in the unfinished-jobs index:
// index/jobs/<tenant>/<service>/.
func (s Service) RunningJobs() string { return RunningJobsPrefix + s.Tenant + "/" + s.Service + "/" }

// ParseRunningJob parses a key of the unfinished-jobs index.
func ParseRunningJob(key string) (s Service, id string, ok bool) {
	rest, found := strings.CutPrefix(key, RunningJobsPrefix)
	if !found {
		return Service{}, "", false
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return Service{}, "", false
	}
	return Service{Tenant: parts[0], Service: parts[1]}, parts[2], true
}

// TenantRunningJobs is the folder of a tenant's entries in the unfinished-jobs index:
// index/jobs/<tenant>/ (the tenant's jobs queued or running on any replica).
func TenantRunningJobs(tenant string) string { return RunningJobsPrefix + tenant + "/" }

// QuotasPrefix holds the tenants' own quotas, set by an operator (package platform):
// quotas/<tenant>.json. Without one, a tenant has the server's default quota.
const QuotasPrefix = "quotas/"

// Quota is a tenant's own quota record: quotas/<tenant>.json.
func Quota(tenant string) string { return QuotasPrefix + tenant + recordExtension }

// Replica is a replica's heartbeat record: replicas/<replica>.json. Replica ids are
// made by package cluster from [a-z0-9-] only.
func Replica(id string) string { return ReplicasPrefix + id + recordExtension }

// ParseReplica parses a key of the replica registry.
func ParseReplica(key string) (id string, ok bool) {
	rest, found := strings.CutPrefix(key, ReplicasPrefix)
	if !found {
		return "", false
	}
	id, found = strings.CutSuffix(rest, recordExtension)
	if !found || id == "" || strings.Contains(id, "/") {
		return "", false
	}
	return id, true
}

// Probe is the object a start-up check of the store writes and removes again
// (store.CheckConditionalWrites): probes/<probe>. probe is random, so replicas starting
// at once never check on each other's object.
func Probe(probe string) string { return ProbesPrefix + probe }

// SessionSecret holds the key browser sessions are sealed with when the operator gives
// none (--session-secret): drawn once by the first replica, then read by every other.
const SessionSecret = AuthPrefix + "session-secret"

// SessionsPrefix holds one record per signed-in browser session.
const SessionsPrefix = AuthPrefix + "sessions/"

// Session is a browser session's record: auth/sessions/<hash>.json, named by the hex
// SHA-256 of the session id (never the id itself, which only the browser's cookie
// carries).
func Session(hash string) string { return SessionsPrefix + hash + recordExtension }

// Feed is the folder of a tenant's feed of status events: feeds/<tenant>/. Entries live
// for a minute or so (whoever writes them sweeps the old ones).
func Feed(tenant string) string { return FeedsPrefix + tenant + "/" }

// FeedEntry is one status event of a tenant's feed, written by replica origin at t:
// feeds/<tenant>/<time>-<origin>-<random>.json, where time is t in Unix nanoseconds
// zero-padded to 20 digits, so entries sort by time. origin and random must not
// contain "/" (random keeps entries of the same nanosecond apart).
func FeedEntry(tenant string, t time.Time, origin, random string) string {
	return Feed(tenant) + seqName(t.UnixNano()) + "-" + origin + "-" + random + recordExtension
}

// ParseFeedEntry parses a feed entry's key: its tenant and when it was written.
func ParseFeedEntry(key string) (tenant string, t time.Time, ok bool) {
	rest, found := strings.CutPrefix(key, FeedsPrefix)
	if !found {
		return "", time.Time{}, false
	}
	tenant, name, found := strings.Cut(rest, "/")
	if !found || tenant == "" || strings.Contains(name, "/") || !strings.HasSuffix(name, recordExtension) {
		return "", time.Time{}, false
	}
	stamp, _, _ := strings.Cut(name, "-")
	ns, err := strconv.ParseInt(stamp, 10, 64)
	if err != nil || len(stamp) != 20 {
		return "", time.Time{}, false
	}
	return tenant, time.Unix(0, ns).UTC(), true
}

// Ports is the folder of a target's port claims: ports/<target>/.
func Ports(target string) string { return PortsPrefix + target + "/" }

// Port is the claim of a host port on a target: ports/<target>/<port>.json. It is
// created create-only, so two services (on any replica) never hold the same port.
func Port(target string, port int) string {
	return Ports(target) + strconv.Itoa(port) + recordExtension
}

// ParsePort parses a port claim's key.
func ParsePort(key string) (target string, port int, ok bool) {
	rest, found := strings.CutPrefix(key, PortsPrefix)
	if !found {
		return "", 0, false
	}
	target, name, found := strings.Cut(rest, "/")
	if !found || target == "" {
		return "", 0, false
	}
	num, found := strings.CutSuffix(name, recordExtension)
	n, err := strconv.Atoi(num)
	if !found || err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != num {
		return "", 0, false
	}
	return target, n, true
}
