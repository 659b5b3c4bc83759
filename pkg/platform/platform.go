// Package platform is SpawnIt's domain layer: the operations a user (through the HTTP
// API) or a supervisor performs on a tenant's services. It composes the catalog (what a
// service is), the engine (jobs that run OpenTofu) and the store (what must survive a
// restart: drift reports, idempotency keys, the audit log), and enforces the rules that
// belong to neither: tenant scoping, "no delete while busy or deployed", idempotent job
// creation, auditing and status notifications. It knows nothing about HTTP.
package platform

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"maps"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/spawnit/spawnit"
	"github.com/spawnit/spawnit/catalog"
	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/pkg/apiv1"
	"github.com/spawnit/spawnit/pkg/cluster"
	"github.com/spawnit/spawnit/pkg/dockerapi"
	"github.com/spawnit/spawnit/pkg/store"
	"github.com/spawnit/spawnit/pkg/storekey"
)

// Errors of this package, each of a kind of the kernel (spawnit.Kind: the API's code
// and status); the engine's, catalog's and store's sentinels pass through wrapped, so
// callers test every error with errors.Is.
var (
	// ErrBusy: the service has a job running or queued, so it cannot be deleted now.
	ErrBusy error = spawnit.NewError(spawnit.KindBusy, "service has a job running or queued",
		"the service has a job running or queued")
	// ErrResourcesExist: the service is deployed; destroy it before deleting it.
	ErrResourcesExist error = spawnit.NewError(spawnit.KindResourcesExist,
		"service is deployed: destroy it first, or delete it with destroy",
		"the service is deployed: destroy it first, or delete it with ?destroy=true")
	// ErrStale: the caller's If-Match is not the configuration's current ETag. It wraps
	// store.ErrPreconditionFailed. A write that loses a race after the check returns
	// catalog.ErrConflict instead.
	ErrStale error = spawnit.WrapError(spawnit.KindPreconditionFailed, "the configuration changed since it was read",
		"If-Match is not the current ETag: read the service again", store.ErrPreconditionFailed)
	// ErrIdempotencyMismatch: an idempotency key was already used for another operation.
	ErrIdempotencyMismatch error = spawnit.NewError(spawnit.KindConflict, "idempotency key already used for another operation",
		"this Idempotency-Key was already used for another operation")
	// ErrAcceptDisabled: the service's template sets "accept_drift": false; remediate
	// (apply) instead.
	ErrAcceptDisabled error = spawnit.NewError(spawnit.KindAcceptDisabled,
		"the service's template does not allow accepting drift: remediate it instead",
		"the service's template does not allow accepting drift: remediate it instead")
	// ErrNotDeployed: the operation needs a deployed service (accepting drift).
	ErrNotDeployed error = spawnit.NewError(spawnit.KindNotDeployed, "the service is not deployed",
		"the service is not deployed")
	// ErrNotDue: what the supervisor asked for no longer applies (the expiry was moved
	// or removed, auto-remediation was turned off, the service is no longer drifted).
	ErrNotDue = errors.New("no longer due")
)

// Actor is who performs an action: the verified caller's tenant and subject, and the
// request that carried it (for the audit log).
type Actor struct {
	Tenant    string
	Subject   string
	RequestID string
	// HomeTenant is the caller's own tenant when an operator acts on another tenant's
	// services (Tenant), for support; empty otherwise. Audit entries carry both.
	HomeTenant string
}

// Observer is told about job ends and drift results, for metrics. Its methods must
// return quickly.
type Observer interface {
	JobEnded(info engine.JobInfo)
	DriftChecked(report engine.DriftReport)
}

// Config wires a Platform. Store, Catalog and Engine are required; the engine must keep
// its records in the same store.
type Config struct {
	Store   store.Store
	Catalog *catalog.Catalog
	Engine  *engine.Engine
	// Cluster is this replica's membership among the servers sharing Store: work done
	// once for all (supervision) is split over its live members. Nil: this server is alone.
	Cluster *cluster.Registry
	// Logger receives the platform's own logs; nil means silent.
	Logger *slog.Logger
	// Observer, when set, is told when jobs end and drift checks complete.
	Observer Observer
	// IdempotencyTTL is how long an Idempotency-Key keeps pointing at its job (24h).
	IdempotencyTTL time.Duration
	// SubscriberBuffer bounds each status subscriber's queue (64); a subscriber that
	// falls that far behind is dropped.
	SubscriberBuffer int
	// Targets are the targets (each a template module folder) users may deploy new services to,
	// each with the environment its tofu runs get (credentials, region): nil means
	// docker alone, with none. Existing services of a target no longer listed keep
	// working (they can still be destroyed), with no environment.
	Targets map[string]Target
	// Quotas are every tenant's default limits (0: none); a tenant's own, set by an
	// operator (SetQuota), are kept in the store.
	Quotas Quota
}

// Target is one deployment target the server offers.
type Target struct {
	// Env is added to tofu's environment for the target's services (engine.WithEnv):
	// AWS_REGION and AWS credentials for aws, KUBE_CONFIG_PATH for kubernetes, ...
	// For docker, DOCKER_HOST (and DOCKER_TLS_VERIFY, DOCKER_CERT_PATH) also name the
	// engine that readiness checks and health probes inspect (see Docker).
	Env map[string]string
	// Vars are the target's own module variables (docs/targets.md, rule 2), named
	// <target>_..., set for every service of the target (engine.WithVars): for docker,
	// docker_image_map and docker_image_prefix (where images come from) and
	// docker_registry_auth (the registries to log in to with the credentials in Env).
	// Values as tofu reads a TF_VAR_ variable: a string as it is, a map or list as JSON.
	// Never credentials: those belong in Env.
	Vars map[string]string
	// Ports is the range host ports left empty in a form are allocated from
	// (DefaultPortRange when zero).
	Ports PortRange
	// PublishAddress is the host address the target's services publish their ports on,
	// and PublicHost the host name users are shown in outputs and endpoints (both
	// 127.0.0.1 in the modules when empty). They reach every module of the target as
	// its variables <target>_publish_address and <target>_public_host, over the same
	// names in Vars.
	PublishAddress string
	PublicHost     string
}

// variables are the target's module variables (engine.WithVars): Vars, with
// PublishAddress and PublicHost as <name>_publish_address and <name>_public_host.
func (t Target) variables(name string) map[string]string {
	vars := maps.Clone(t.Vars)
	if vars == nil {
		vars = map[string]string{}
	}
	if t.PublishAddress != "" {
		vars[name+"_publish_address"] = t.PublishAddress
	}
	if t.PublicHost != "" {
		vars[name+"_public_host"] = t.PublicHost
	}
	return vars
}

// publishAddress is where the target's services publish their ports.
func (t Target) publishAddress(name string) string {
	return cmp.Or(t.PublishAddress, t.Vars[name+"_publish_address"], "127.0.0.1")
}

// Platform performs tenant-scoped operations on services. Safe for concurrent use.
type Platform struct {
	st     store.Store
	cat    *catalog.Catalog
	eng    *engine.Engine
	log    *slog.Logger
	obs    Observer
	broker *Broker
	// feed shares status events with the other replicas (nil when alone on the store).
	feed    *feed
	docker  *dockerAPI
	idemTTL time.Duration
	now     func() time.Time
	targets map[string]Target
	quotas  Quota // every tenant's default limits
	ports   *ports
	// summaries caches the service summaries this replica read (summary.go).
	summaries summaryCache
	latest    latestCache

	// serviceMu serialises, per service, the check-then-act sequences of delete and job
	// submission, so "refuse to delete while busy" cannot race a new job in this process.
	serviceMu [64]sync.Mutex

	mu      sync.Mutex
	closed  bool
	watches sync.WaitGroup
}

// New returns a Platform. Call Start before serving requests.
func New(cfg Config) (*Platform, error) {
	if cfg.Store == nil || cfg.Catalog == nil || cfg.Engine == nil {
		return nil, fmt.Errorf("%w: platform needs a store, a catalog and an engine", engine.ErrInvalidInput)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.IdempotencyTTL <= 0 {
		cfg.IdempotencyTTL = 24 * time.Hour
	}
	if cfg.SubscriberBuffer <= 0 {
		cfg.SubscriberBuffer = 64
	}
	if cfg.Targets == nil {
		cfg.Targets = map[string]Target{catalog.DefaultTarget: {}}
	}
	for name, t := range cfg.Targets {
		if err := spawnit.ValidateID(name); err != nil {
			return nil, fmt.Errorf("target: %w", err)
		}
		if err := engine.ValidateEnv(t.Env); err != nil {
			return nil, fmt.Errorf("target %s: %w", name, err)
		}
		if err := validateTargetVars(name, t.Vars); err != nil {
			return nil, fmt.Errorf("target %s: %w", name, err)
		}
		if t.Ports != (PortRange{}) {
			if err := t.Ports.Validate(); err != nil {
				return nil, fmt.Errorf("target %s: %w", name, err)
			}
		}
		if t.PublishAddress != "" && net.ParseIP(t.PublishAddress) == nil {
			return nil, fmt.Errorf("%w: target %s: publish address %q is not an IP address", engine.ErrInvalidInput, name, t.PublishAddress)
		}
		if strings.ContainsAny(t.PublicHost, "/ \t\r\n\x00@") {
			return nil, fmt.Errorf("%w: target %s: public host %q is not a host name", engine.ErrInvalidInput, name, t.PublicHost)
		}
	}
	// The Docker engine is the one tofu deploys the docker target's services to: the
	// target's environment over the server's. When docker is offered, an engine this
	// client cannot speak to is a configuration error; otherwise only the probes of
	// services left from before fail, saying why.
	docker, err := newDockerAPI(dockerapi.Overlay(cfg.Targets[checkedTarget].Env))
	if _, offered := cfg.Targets[checkedTarget]; offered && err != nil {
		return nil, fmt.Errorf("target %s: %w", checkedTarget, err)
	}
	if docker.api != nil {
		log.Info("platform: the docker target's engine", "docker_host", docker.api.Host(), "tls", docker.api.TLS())
	}
	p := &Platform{
		st:      cfg.Store,
		cat:     cfg.Catalog,
		eng:     cfg.Engine,
		log:     log,
		obs:     cfg.Observer,
		broker:  NewBroker(cfg.SubscriberBuffer),
		docker:  docker,
		idemTTL: cfg.IdempotencyTTL,
		targets: cfg.Targets,
		quotas:  cfg.Quotas,
		now:     func() time.Time { return time.Now().UTC() },
	}
	p.ports = &ports{st: cfg.Store, now: p.now}
	if docker.api != nil && strings.HasPrefix(docker.api.Host(), "unix://") {
		// The engine is on this machine: a port something listens on here is taken.
		p.ports.inUse = func(target string, port int) bool {
			if target != checkedTarget {
				return false
			}
			return portInUse(cfg.Targets[target].publishAddress(target), port)
		}
	}
	if cfg.Cluster != nil {
		p.feed = newFeed(cfg.Store, p.broker, cfg.Cluster, log)
	}
	return p, nil
}

// publish tells the tenant's subscribers, here and (through the feed) on the other
// replicas, about a status change.
func (p *Platform) publish(tenant string, ev apiv1.StatusEvent) {
	// The summary first: a client that reads the list when the event reaches it sees
	// the change.
	if ev.Service != "" {
		p.touch(context.Background(), engine.ServiceRef{Client: tenant, Service: ev.Service})
	}
	p.announce(tenant, ev)
}

// announce tells the tenant's subscribers, on every replica, without refreshing the
// service's summary: for what the summary does not show.
func (p *Platform) announce(tenant string, ev apiv1.StatusEvent) {
	p.broker.Publish(tenant, ev)
	if p.feed != nil {
		p.feed.publish(tenant, ev)
	}
}

// Docker is the docker target's engine, as the target's environment names it over the
// server's own (DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH): where tofu deploys
// the target's services, and so where their readiness and health are probed and where
// the supervisor watches them (supervisor.Config.Docker). Nil when that environment
// names an engine the client cannot speak to (only possible with docker not offered).
func (p *Platform) Docker() *dockerapi.Client { return p.docker.api }

// Start prepares the platform after a (re)start: jobs this host left queued or running
// are marked interrupted (never re-run). It returns the jobs it marked.
func (p *Platform) Start(ctx context.Context) ([]engine.JobInfo, error) {
	fixed, err := p.eng.RecoverInterrupted(ctx)
	if err != nil {
		return nil, fmt.Errorf("recover interrupted jobs: %w", err)
	}
	for _, j := range fixed {
		p.log.Warn("job marked interrupted at start-up", "job", j.ID, "op", j.Operation, "service", j.Service.String())
		p.publish(j.Service.Tenant(), jobStatus(j, p.now()))
	}
	// Services created before ports were claimed get their claims, in the background:
	// until then a create may be told that a port is free that an old service uses.
	p.watches.Add(1)
	go func() {
		defer p.watches.Done()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Minute)
		defer cancel()
		if err := p.ClaimExistingPorts(ctx); err != nil {
			p.log.Warn("platform: could not claim the ports of existing services", "error", err)
		}
	}()
	return fixed, nil
}

// Shutdown stops accepting jobs, lets the engine interrupt running ones (bounded by
// ctx, then killed), waits until every job's final state is recorded (drift reports,
// deferred deletes), and closes every status subscription.
func (p *Platform) Shutdown(ctx context.Context) error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	err := p.eng.Shutdown(ctx)
	done := make(chan struct{})
	go func() { p.watches.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		// The engine has ended every job by now; a watcher still busy is stuck on the
		// store, and must not hold the process hostage.
		p.log.Error("platform: job watchers did not finish after shutdown")
	}
	if p.feed != nil {
		p.feed.close()
	}
	p.broker.Close()
	return err
}

func (p *Platform) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// storeKeys is the service's folder in the store (package storekey owns the layout).
func storeKeys(ref engine.ServiceRef) storekey.Service {
	return storekey.For(ref.Tenant(), ref.Service)
}

// lockService serialises check-then-act sequences on one service (striped: a
// collision only costs a little waiting).
func (p *Platform) lockService(ref engine.ServiceRef) func() {
	h := fnv.New32a()
	_, _ = h.Write([]byte(ref.String()))
	m := &p.serviceMu[h.Sum32()%uint32(len(p.serviceMu))]
	m.Lock()
	return m.Unlock
}

// ref checks the actor's tenant and a service id from a request.
func (a Actor) ref(service string) (engine.ServiceRef, error) {
	if err := spawnit.ValidateID(a.Tenant); err != nil {
		return engine.ServiceRef{}, fmt.Errorf("tenant: %w", err)
	}
	if err := spawnit.ValidateID(service); err != nil {
		return engine.ServiceRef{}, fmt.Errorf("service: %w", err)
	}
	return engine.ServiceRef{Client: a.Tenant, Service: service}, nil
}
