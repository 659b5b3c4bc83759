//go:build linux

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spawnit/spawnit"
	"github.com/spawnit/spawnit/api"
	"github.com/spawnit/spawnit/api/auth"
	"github.com/spawnit/spawnit/api/authn"
	"github.com/spawnit/spawnit/api/ui"
	"github.com/spawnit/spawnit/catalog"
	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/pkg/cluster"
	"github.com/spawnit/spawnit/pkg/platform"
	"github.com/spawnit/spawnit/pkg/store"
	"github.com/spawnit/spawnit/pkg/store/s3store"
	"github.com/spawnit/spawnit/pkg/supervisor"
)

func init() {
	register(&command{name: "serve", summary: "run the SpawnIt server (API, jobs, catalog)", run: runServe})
}

// serveConfig is spawnit serve's configuration: flags, each defaulting to its
// SPAWNIT_* environment variable (a flag on the command line wins).
type serveConfig struct {
	listen         string
	dataDir        string
	tofu           string
	providerMirror string
	s3             s3Config
	oidc           oidcConfig
	maxParallel    int
	driftInterval  time.Duration
	jobTimeout     time.Duration
	shutdownGrace  time.Duration
	killGrace      time.Duration
	jobHistory     int
	targets        string   // as given
	targetNames    []string // parsed from targets
	targetEnv      targetEnvFlag
	targetVars     targetEnvFlag // target=file pairs too: JSON objects of the target's variables
	portRange      targetEnvFlag // target=first-last
	publishAddress targetEnvFlag // target=IP
	publicHost     targetEnvFlag // target=host name
	logLevel       string
	logFormat      string
	metricsListen  string // a listener of /metrics' own; empty: on the API's listener
	metricsToken   string // the bearer token /metrics needs
	quotas         platform.Quota
	encryption     encryptionConfig
}

type s3Config struct {
	endpoint, bucket, accessKey, secretKey, region string
	pathStyle, tls                                 bool
}

type oidcConfig struct {
	issuer, audience, clientID, clientSecret, redirectURL, tenantClaim string
	sessionSecret                                                      string // see checkSessionSecret
	cliClientID                                                        string
	roleClaim, roleMap, defaultRole                                    string
	roles                                                              auth.RoleMapping // parsed from the three above
}

// envName is the environment variable of a flag: --s3-secret-key → SPAWNIT_S3_SECRET_KEY.
func envName(flagName string) string {
	return "SPAWNIT_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parseServeFlags reads the flags, after setting each from its environment variable.
// Secrets (S3 secret key, OIDC client secret) are best given in the environment:
// command lines are visible to every user of the machine.
func parseServeFlags(args []string, lookupEnv func(string) (string, bool), output io.Writer) (*serveConfig, error) {
	var c serveConfig
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(output)
	fs.StringVar(&c.listen, "listen", "127.0.0.1:8080", "address to listen on (host:port)")
	fs.StringVar(&c.dataDir, "data-dir", ".data", "directory for workdirs, the plugin cache and (without S3) the store and state")
	fs.StringVar(&c.tofu, "tofu", "", "tofu binary (default: tofu on PATH, else .tools/bin/tofu)")
	fs.StringVar(&c.providerMirror, "provider-mirror", "", "provider filesystem mirror (default: .tools/providers when it exists)")
	fs.StringVar(&c.s3.endpoint, "s3-endpoint", "", "S3 endpoint (host:port or URL); when set, the store and OpenTofu state live in the bucket")
	fs.StringVar(&c.s3.bucket, "s3-bucket", "spawnit", "S3 bucket")
	fs.StringVar(&c.s3.accessKey, "s3-access-key", "", "S3 access key")
	fs.StringVar(&c.s3.secretKey, "s3-secret-key", "", "S3 secret key (prefer the environment variable)")
	fs.StringVar(&c.s3.region, "s3-region", "us-east-1", "S3 region")
	fs.BoolVar(&c.s3.pathStyle, "s3-path-style", true, "address the bucket path-style (MinIO, versitygw)")
	fs.BoolVar(&c.s3.tls, "s3-tls", false, "use HTTPS for a host:port endpoint")
	fs.StringVar(&c.oidc.issuer, "oidc-issuer", "", "OIDC issuer URL; without one the server is single-user on loopback")
	fs.StringVar(&c.oidc.audience, "oidc-audience", "", "audience required in bearer tokens (default: the client id)")
	fs.StringVar(&c.oidc.clientID, "oidc-client-id", "", "OIDC client id of the browser sign-in")
	fs.StringVar(&c.oidc.clientSecret, "oidc-client-secret", "", "OIDC client secret (prefer the environment variable)")
	fs.StringVar(&c.oidc.redirectURL, "oidc-redirect-url", "", "this server's /auth/callback URL as the issuer knows it")
	fs.StringVar(&c.oidc.tenantClaim, "oidc-tenant-claim", "", "token claim naming the tenant (default: a sanitised sub)")
	fs.StringVar(&c.oidc.sessionSecret, "session-secret", "", "key of browser sessions, the same on every replica, at least 32 characters (prefer the environment variable or its _FILE; default: one kept in the store)")
	fs.StringVar(&c.oidc.cliClientID, "oidc-cli-client-id", "", "public OIDC client (PKCE, loopback redirect) for spawnit login; its tokens are accepted too")
	fs.StringVar(&c.oidc.roleClaim, "oidc-role-claim", "", "token claim (a string or an array of strings, such as groups) whose values give the caller's role; without it every user is a deployer of its own tenant")
	fs.StringVar(&c.oidc.roleMap, "oidc-role-map", "", "VALUE=ROLE pairs, comma-separated: which values of the role claim make a viewer, deployer or operator (the strongest wins)")
	fs.StringVar(&c.oidc.defaultRole, "oidc-default-role", "", "role of a user whose role claim maps to no role (default: viewer with --oidc-role-claim)")
	fs.StringVar(&c.metricsListen, "metrics-listen", "", "serve /metrics on this address (host:port) of its own instead of the API's listener")
	fs.StringVar(&c.metricsToken, "metrics-token", "", "bearer token /metrics requires (prefer the environment variable or its _FILE); with OIDC and neither this nor --metrics-listen, /metrics is off")
	fs.IntVar(&c.quotas.Services, "quota-services", 0, "services a tenant may have (0: no limit); an operator may set a tenant's own (PUT /api/v1/quota)")
	fs.IntVar(&c.quotas.Deployed, "quota-deployed", 0, "deployed services a tenant may have (0: no limit)")
	fs.IntVar(&c.quotas.RunningJobs, "quota-running-jobs", 0, "jobs of a tenant queued or running at once, on all replicas (0: no limit)")
	fs.IntVar(&c.maxParallel, "max-parallel", 4, "jobs running at once across services")
	fs.DurationVar(&c.driftInterval, "drift-interval", 5*time.Minute, "how often each deployed service is checked for drift (0: never on its own)")
	fs.DurationVar(&c.jobTimeout, "job-timeout", 30*time.Minute, "a job running longer is interrupted")
	fs.DurationVar(&c.shutdownGrace, "shutdown-grace", 30*time.Second, "on SIGTERM, how long running jobs get to stop before tofu is killed")
	fs.DurationVar(&c.killGrace, "kill-grace", 30*time.Second, "after a job times out and tofu is interrupted, how long it gets before its process group is killed")
	fs.IntVar(&c.jobHistory, "job-history", engine.DefaultJobHistory, "finished jobs kept per service; older records are deleted")
	fs.StringVar(&c.targets, "targets", "docker", "targets users may deploy new services to, comma-separated (docker, aws, kubernetes)")
	c.targetEnv = targetEnvFlag{}
	fs.Var(c.targetEnv, "target-env", "target=file: environment for a target's tofu runs (credentials, region), read from a KEY=VALUE file; repeat per target, or comma-separate")
	c.targetVars = targetEnvFlag{}
	fs.Var(c.targetVars, "target-vars", "target=file: the target's own module variables (docker_image_map, docker_image_prefix, docker_registry_auth, aws_instance_type, ...) as a JSON object; repeat per target, or comma-separate")
	fs.StringVar(&c.encryption.key, "encryption-key", "", "key that encrypts OpenTofu states and secret inputs at rest, at least 32 characters, the same on every replica (prefer the environment variable or its _FILE; default without S3: one generated and kept in the data directory)")
	fs.StringVar(&c.encryption.previous, "previous-encryption-key", "", "the key before --encryption-key, while rotating: it still decrypts; each service is encrypted again with the new key on its next run")
	c.portRange, c.publishAddress, c.publicHost = targetEnvFlag{}, targetEnvFlag{}, targetEnvFlag{}
	fs.Var(c.portRange, "port-range", "target=first-last: host ports allocated to services that leave a port empty (default docker=20000-29999)")
	fs.Var(c.publishAddress, "publish-address", "target=IP: host address the target's services publish their ports on (default docker=127.0.0.1)")
	fs.Var(c.publicHost, "public-host", "target=host: host name users are shown in outputs and endpoints (default docker=127.0.0.1)")
	fs.StringVar(&c.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&c.logFormat, "log-format", "json", "json (one object a line) or text")
	fs.Usage = func() { serveUsage(fs, output) }
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		name := envName(f.Name)
		f.Usage += " [$" + name + "]"
		if secretFlag(f.Name) {
			f.Usage = strings.TrimSuffix(f.Usage, "]") + " or $" + name + "_FILE]"
		}
		v, ok, err := serveEnvValue(lookupEnv, f.Name)
		if err != nil && envErr == nil {
			envErr = err
		}
		if ok && envErr == nil {
			if err := f.Value.Set(v); err != nil {
				envErr = usageError{fmt.Sprintf("environment variable %s: invalid value", name)}
			}
		}
	})
	if envErr != nil {
		return nil, envErr
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return nil, usageError{fmt.Sprintf("unexpected arguments: %q", fs.Args())}
	}
	if err := checkSessionSecret(&c.oidc); err != nil {
		return nil, err
	}
	if err := parseRoles(&c.oidc); err != nil {
		return nil, err
	}
	if c.quotas.Services < 0 || c.quotas.Deployed < 0 || c.quotas.RunningJobs < 0 {
		return nil, usageError{"--quota-* must be 0 (no limit) or more"}
	}
	if err := c.encryption.check(); err != nil {
		return nil, err
	}
	if _, err := parseLogLevel(c.logLevel); err != nil {
		return nil, usageError{err.Error()}
	}
	if c.logFormat != "json" && c.logFormat != "text" {
		return nil, usageError{fmt.Sprintf("--log-format %q: want json or text", c.logFormat)}
	}
	if c.maxParallel < 1 {
		return nil, usageError{"--max-parallel must be at least 1"}
	}
	if c.driftInterval < 0 {
		return nil, usageError{"--drift-interval must not be negative"}
	}
	if c.jobTimeout <= 0 || c.shutdownGrace <= 0 || c.killGrace <= 0 {
		return nil, usageError{"--job-timeout, --shutdown-grace and --kill-grace must be positive"}
	}
	if c.jobHistory < 1 {
		return nil, usageError{"--job-history must be at least 1"}
	}
	for _, name := range strings.Split(c.targets, ",") {
		name = strings.TrimSpace(name)
		if err := spawnit.ValidateID(name); err != nil {
			return nil, usageError{fmt.Sprintf("--targets: %q is not a target name", name)}
		}
		c.targetNames = append(c.targetNames, name)
	}
	for flagName, values := range map[string]targetEnvFlag{"target-env": c.targetEnv, "port-range": c.portRange, "publish-address": c.publishAddress, "public-host": c.publicHost} {
		for name := range values {
			if !slices.Contains(c.targetNames, name) {
				return nil, usageError{fmt.Sprintf("--%s %s: %s is not in --targets (%s)", flagName, name, name, c.targets)}
			}
		}
	}
	for name, v := range c.portRange {
		if _, err := platform.ParsePortRange(v); err != nil {
			return nil, usageError{fmt.Sprintf("--port-range %s: %q: want first-last within 1-65535", name, v)}
		}
	}
	for name, v := range c.publishAddress {
		if net.ParseIP(v) == nil {
			return nil, usageError{fmt.Sprintf("--publish-address %s: %q is not an IP address", name, v)}
		}
	}
	for name := range c.targetVars {
		if !slices.Contains(c.targetNames, name) {
			return nil, usageError{fmt.Sprintf("--target-vars %s: %s is not in --targets (%s)", name, name, c.targets)}
		}
	}
	return &c, nil
}

func parseLogLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("--log-level %q: want debug, info, warn or error", s)
	}
	return l, nil
}

func runServe(ctx context.Context, args []string) error {
	cfg, err := parseServeFlags(args, os.LookupEnv, os.Stderr)
	if err != nil {
		return err
	}
	level, _ := parseLogLevel(cfg.logLevel)
	log := newServeLogger(cfg.logFormat, level, os.Stderr)
	a, err := newApp(ctx, cfg, log, os.Stdout)
	if err != nil {
		return err
	}
	return a.serve(ctx)
}

// app is a configured server, listening but not yet serving.
type app struct {
	cfg      *serveConfig
	log      *slog.Logger
	out      io.Writer
	store    store.Store
	closers  []func() error
	cluster  *cluster.Registry
	engine   *engine.Engine
	platform *platform.Platform
	oidc     *auth.OIDC // nil: single-user
	api      *api.Server
	listener net.Listener
	// metricsListener serves /metrics alone (--metrics-listen); nil: none.
	metricsListener net.Listener
}

const singleUserNotice = "single-user mode: no OIDC issuer configured; listening on loopback only"

// newApp checks the configuration, opens the store, seeds the catalog, recovers jobs
// interrupted by a previous process and listens. Nothing starts jobs yet.
//
// On an error it releases what it took so far and returns the reason. The app is a
// local variable, not the named result: `return nil, err` sets the result to nil, and
// the cleanup must still reach the app.
func newApp(ctx context.Context, cfg *serveConfig, log *slog.Logger, out io.Writer) (_ *app, err error) {
	singleUser := cfg.oidc.issuer == ""
	if singleUser {
		fmt.Fprintln(out, singleUserNotice)
		if !loopbackListen(cfg.listen) {
			return nil, fmt.Errorf("refusing to listen on %q in single-user mode: use a loopback address such as 127.0.0.1:8080, or configure --oidc-issuer", cfg.listen)
		}
	}
	a := &app{cfg: cfg, log: log, out: out}
	defer func() {
		if err != nil {
			a.abandon()
		}
	}()

	dataDir, err := filepath.Abs(cfg.dataDir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	fmt.Fprintf(out, "data directory: %s\n", dataDir)
	tofu, err := findTofu(cfg.tofu)
	if err != nil {
		return nil, err
	}
	mirror := cfg.providerMirror
	if mirror == "" {
		if st, err := os.Stat(filepath.Join(".tools", "providers")); err == nil && st.IsDir() {
			mirror, _ = filepath.Abs(filepath.Join(".tools", "providers"))
		}
	}

	var backend engine.Backend
	var storeName string // for messages
	if cfg.s3.endpoint != "" {
		hostport, tls, err := splitEndpoint(cfg.s3.endpoint, cfg.s3.tls)
		if err != nil {
			return nil, err
		}
		s3cfg := s3store.Config{Endpoint: hostport, Bucket: cfg.s3.bucket, AccessKey: cfg.s3.accessKey,
			SecretKey: cfg.s3.secretKey, Region: cfg.s3.region, UseTLS: tls, PathStyle: cfg.s3.pathStyle,
			// A few quick retries: a store that is down must turn into a clear 503 in
			// seconds, not after minio-go's ten attempts.
			MaxRetries: 3}
		log.Info("store: S3", "config", s3cfg) // s3store.Config hides its secret key
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		st, err := s3store.New(sctx, s3cfg)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("S3 store: %w", err)
		}
		a.store = st
		storeName = fmt.Sprintf("S3 bucket %q at %s", cfg.s3.bucket, hostport)
		scheme := "http://"
		if tls {
			scheme = "https://"
		}
		backend.S3 = &engine.S3Backend{Bucket: cfg.s3.bucket, Region: cfg.s3.region, Endpoint: scheme + hostport,
			PathStyle: cfg.s3.pathStyle, AccessKey: cfg.s3.accessKey, SecretKey: cfg.s3.secretKey}
	} else {
		// The state root defaults to the same directory, so state sits beside each
		// service's configuration, as it would in the bucket.
		st, err := store.NewFS(filepath.Join(dataDir, "store"))
		if err != nil {
			return nil, err
		}
		a.store = st
		a.closers = append(a.closers, st.Close)
		storeName = "local store " + filepath.Join(dataDir, "store")
		log.Info("store: local files", "root", filepath.Join(dataDir, "store"))
	}

	// Leases, create-only writes and If-Match updates are only as safe as the store's
	// conditional writes: a store that ignores them is refused before anything is
	// written for real.
	if err := checkStore(ctx, a.store, storeName); err != nil {
		return nil, err
	}
	log.Info("store checked: conditional writes and read-after-write hold", "store", storeName)

	// The replica's heartbeat comes first: the engine and the supervisor tell live
	// replicas' work from a dead one's by it.
	if a.cluster, err = cluster.New(a.store, cluster.Options{Version: versionString(), Log: log}); err != nil {
		return nil, err
	}
	if err := a.cluster.Join(ctx); err != nil {
		return nil, err
	}
	log.Info("replica joined", "replica", a.cluster.ID(), "live_replicas", len(a.cluster.Members()))

	ring, err := loadKeyring(cfg.encryption, dataDir, cfg.s3.endpoint != "", log, out)
	if err != nil {
		return nil, err
	}
	cat := catalog.New(a.store, log)
	cat.UseKeyring(ring)
	if err := cat.Seed(ctx); err != nil {
		return nil, fmt.Errorf("seed the catalog: %w", err)
	}
	a.engine, err = engine.New(engine.Config{
		TofuPath:       tofu,
		DataDir:        dataDir,
		ProviderMirror: mirror,
		Backend:        backend,
		Source:         catalog.NewServiceSource(cat),
		Store:          a.store,
		MaxParallel:    cfg.maxParallel,
		JobTimeout:     cfg.jobTimeout,
		KillGrace:      cfg.killGrace,
		JobHistory:     cfg.jobHistory,
		Cluster:        a.cluster,
		Logger:         log,
		Encryption:     ring,
	})
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	metrics := api.NewMetrics()
	targets, err := loadTargets(cfg.targetNames, cfg.targetEnv, cfg.targetVars)
	if err != nil {
		return nil, err
	}
	addTargetSettings(targets, cfg)
	a.platform, err = platform.New(platform.Config{Store: a.store, Catalog: cat, Engine: a.engine, Cluster: a.cluster, Logger: log, Observer: metrics, Targets: targets, Quotas: cfg.quotas})
	if err != nil {
		return nil, err
	}
	if _, err := a.platform.Start(ctx); err != nil {
		return nil, err
	}

	var auth authn.Authenticator = api.NewSingleUser()
	var handlers *api.AuthHandlers
	if !singleUser {
		if a.oidc, handlers, err = newOIDCAuthenticator(ctx, cfg.oidc, a.store, log); err != nil {
			return nil, fmt.Errorf("OIDC: %w", err)
		}
		auth = a.oidc
	}
	a.api, err = api.New(api.Config{
		Platform:     a.platform,
		Auth:         auth,
		SingleUser:   singleUser,
		AuthHandlers: handlers,
		CLILogin:     cliLogin(cfg.oidc),
		UI:           ui.Handler(),
		Logger:       log,
		Metrics:      metrics,
		MetricsToken: cfg.metricsToken,
		// Single-user mode listens on loopback only: its /metrics stays open there.
		MetricsOpen: singleUser,
		MetricsOff:  cfg.metricsListen != "",
		Ready:       []api.ReadyCheck{api.StoreCheck(a.store), api.TofuCheck(tofu)},
	})
	if err != nil {
		return nil, err
	}
	if !singleUser && cfg.metricsToken == "" && cfg.metricsListen == "" {
		log.Warn("/metrics is off: set --metrics-token or --metrics-listen to scrape it")
	}
	if a.listener, err = net.Listen("tcp", cfg.listen); err != nil {
		return nil, err
	}
	if cfg.metricsListen != "" {
		if a.metricsListener, err = net.Listen("tcp", cfg.metricsListen); err != nil {
			return nil, fmt.Errorf("--metrics-listen: %w", err)
		}
		a.closers = append(a.closers, a.metricsListener.Close)
		fmt.Fprintf(out, "metrics on http://%s/metrics\n", a.metricsListener.Addr())
	}
	log.Info("spawnit ready", "version", versionString(), "targets", a.platform.Targets(), "listen", a.listener.Addr().String(), "data_dir", dataDir,
		"tofu", tofu, "provider_mirror", mirror, "single_user", singleUser, "max_parallel", cfg.maxParallel,
		"drift_interval", cfg.driftInterval)
	fmt.Fprintf(out, "listening on http://%s\n", a.listener.Addr())
	return a, nil
}

// checkStore refuses a store that does not honour conditional writes (see
// store.CheckConditionalWrites), naming the store and what it failed.
func checkStore(ctx context.Context, st store.Store, name string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err := store.CheckConditionalWrites(ctx, st)
	switch {
	case errors.Is(err, store.ErrUnsafeStore):
		return fmt.Errorf("refusing to run on the %s: it does not keep the promises SpawnIt relies on (conditional writes, read-after-write consistency; see docs/store.md): %w", name, err)
	case err != nil:
		return fmt.Errorf("checking the %s: %w", name, err)
	}
	return nil
}

// serve answers requests until ctx ends (SIGINT or SIGTERM), then shuts down: no new
// jobs, running ones interrupted and given the grace period, streams closed, every
// job's final state recorded.
func (a *app) serve(ctx context.Context) error {
	defer a.close()
	srv := &http.Server{
		Handler:           a.api,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second, // event streams lift it for themselves
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(a.listener) }()
	if a.metricsListener != nil {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", a.api.MetricsHandler())
		msrv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
			WriteTimeout: 30 * time.Second, ErrorLog: slog.NewLogLogger(a.log.Handler(), slog.LevelWarn)}
		go func() { _ = msrv.Serve(a.metricsListener) }()
		defer msrv.Close()
	}
	// The heartbeat outlives the jobs: it stops (and the replica's record is removed)
	// only once the platform has shut down.
	heartbeat, stopHeartbeat := context.WithCancel(context.Background())
	beating := make(chan struct{})
	go func() { defer close(beating); a.cluster.Run(heartbeat) }()
	defer func() { stopHeartbeat(); <-beating }()
	// Background work stops before the platform shuts down, so it starts no job then.
	bgCtx, stopBackground := context.WithCancel(ctx)
	defer stopBackground()
	var background sync.WaitGroup
	background.Go(func() { a.sweepIdempotencyKeys(bgCtx) })
	if a.oidc != nil {
		background.Go(func() { a.sweepSessions(bgCtx) })
	}
	if a.cfg.driftInterval > 0 {
		// Docker events are followed on the docker target's engine, where tofu deploys.
		// Each replica supervises the services it owns among the live ones.
		sup := supervisor.New(supervisor.Config{Interval: a.cfg.driftInterval, DockerEvents: true, Docker: a.platform.Docker(),
			Cluster: a.cluster, Logger: a.log}, a.platform.Supervised())
		background.Go(func() { _ = sup.Run(bgCtx) })
	}

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	a.log.Info("shutting down: no new jobs; running jobs get the grace period", "grace", a.cfg.shutdownGrace)
	a.api.Drain()
	stopBackground()
	background.Wait()
	grace, cancel := context.WithTimeout(context.Background(), a.cfg.shutdownGrace)
	defer cancel()
	if err := a.platform.Shutdown(grace); err != nil {
		a.log.Warn("jobs did not stop within the grace period and were killed", "err", err)
	}
	a.api.CloseStreams()
	hctx, hcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer hcancel()
	if err := srv.Shutdown(hctx); err != nil {
		a.log.Warn("HTTP connections still open at exit were closed", "err", err)
		_ = srv.Close()
	}
	a.log.Info("stopped")
	return nil
}

func (a *app) sweepIdempotencyKeys(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := a.platform.SweepIdempotencyKeys(ctx); err != nil {
				a.log.Warn("sweeping expired idempotency keys", "err", err)
			} else if n > 0 {
				a.log.Info("expired idempotency keys removed", "count", n)
			}
		}
	}
}

// abandon undoes a start-up that failed part way. Nothing serves and no job runs yet,
// but recovery may have left retries in the background: shutting the platform (or the
// engine, when the platform was not built) down stops them.
func (a *app) abandon() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	switch {
	case a.platform != nil:
		_ = a.platform.Shutdown(ctx)
	case a.engine != nil:
		_ = a.engine.Shutdown(ctx)
	}
	a.close()
}

// close releases the listener and the store.
func (a *app) close() {
	if a.listener != nil {
		_ = a.listener.Close()
	}
	for _, c := range a.closers {
		_ = c()
	}
}

// loopbackListen reports whether a listen address is on loopback only. An empty host
// ("":8080) listens on every interface.
func loopbackListen(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func findTofu(flagValue string) (string, error) {
	if flagValue != "" {
		if _, err := os.Stat(flagValue); err != nil {
			return "", fmt.Errorf("--tofu %s: %w", flagValue, err)
		}
		return filepath.Abs(flagValue)
	}
	if p, err := exec.LookPath("tofu"); err == nil {
		return filepath.Abs(p)
	}
	local := filepath.Join(".tools", "bin", "tofu")
	if _, err := os.Stat(local); err == nil {
		return filepath.Abs(local)
	}
	return "", errors.New("tofu not found on PATH nor at .tools/bin/tofu: run `go -C tools tool task tools` or pass --tofu")
}

// splitEndpoint accepts host:port or an http(s) URL; a URL's scheme decides TLS.
func splitEndpoint(endpoint string, tls bool) (hostport string, useTLS bool, err error) {
	if !strings.Contains(endpoint, "://") {
		return strings.TrimSuffix(endpoint, "/"), tls, nil
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" || (u.Path != "" && u.Path != "/") || (u.Scheme != "http" && u.Scheme != "https") {
		return "", false, usageError{fmt.Sprintf("--s3-endpoint %q: want host:port or http(s)://host:port", endpoint)}
	}
	return u.Host, u.Scheme == "https", nil
}
