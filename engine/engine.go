package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"time"

	"github.com/google/uuid"

	"github.com/spawnit/spawnit"
	"github.com/spawnit/spawnit/pkg/cluster"
	"github.com/spawnit/spawnit/pkg/keyring"
	"github.com/spawnit/spawnit/pkg/store"
)

// Config configures an Engine. Only TofuPath, DataDir (or the directories it defaults)
// and Source are required.
type Config struct {
	// TofuPath is the tofu binary.
	TofuPath string
	// DataDir is the default parent of WorkDir (work/), PluginCacheDir (plugin-cache/),
	// the local state root and the default file store (store/).
	DataDir string
	// WorkDir holds one workdir per service: <WorkDir>/<tenant>/<service>. Workdirs are
	// caches: each operation rebuilds what it needs from Source.
	WorkDir string
	// PluginCacheDir is shared by every workdir when providers come from a registry (not
	// used with a ProviderMirror, whose packages tofu links directly).
	PluginCacheDir string
	// ProviderMirror, when set, is a provider filesystem mirror tofu installs from.
	ProviderMirror string
	// ProviderDirectFallback lets tofu download providers missing from the mirror.
	ProviderDirectFallback bool
	// Backend says where OpenTofu state lives. The zero value is a local backend.
	Backend Backend
	// Source provides each service's module and terraform.tfvars.json.
	Source Source
	// Store keeps job records and intents; defaults to a file store under DataDir/store.
	Store Store
	// MaxParallel caps jobs running at once across services (default 4).
	MaxParallel int
	// CancelCoolOff is how long after the first cancel a forced cancel is allowed (default 10s).
	CancelCoolOff time.Duration
	// JobTimeout interrupts a job that runs longer (default 30m); KillGrace later its
	// process group is killed (default 30s).
	JobTimeout time.Duration
	KillGrace  time.Duration
	// JobHistory is how many finished jobs each service keeps in the store (default
	// 100): when a job ends, the oldest finished records beyond it are deleted.
	// Background checks keep their latest record apart and do not count.
	JobHistory int
	// Host names this process in lock holders and job records (default: hostname).
	Host string
	// Cluster is this replica's membership among the processes sharing Store (see
	// package cluster): its id names the replica in leases and job records, its TTL is
	// the leases' (renewed every TTL/3), and its liveness decides which jobs of other
	// replicas are dead. nil means this engine is alone on its store: leases then live
	// cluster.DefaultTTL, and only an expired lease (or, at start-up, a job of this
	// host whose process is gone) shows a job that can no longer end. With a cluster,
	// running jobs' events are also written to the store as they happen (see Follow).
	Cluster *cluster.Registry
	// Logger receives the engine's own logs; nil means silent.
	Logger *slog.Logger
	// Encryption, when set, encrypts every service's OpenTofu state and plan files with
	// OpenTofu's state encryption (configured through TF_ENCRYPTION, so modules need
	// nothing), under a key derived per service from its current key; previous
	// keys still decrypt, and a plaintext state is read once and written back encrypted.
	// The pre-destroy snapshots the engine keeps are sealed with it too. Every replica
	// sharing a store must have the same keys. nil: nothing is encrypted.
	Encryption *keyring.Keyring
}

// Backend selects the OpenTofu state backend.
type Backend struct {
	// S3, when set, keeps state in an S3 bucket under StateKey(ref), locked with
	// OpenTofu's S3 lockfile.
	S3 *S3Backend
	// LocalStateRoot is the root of local state files (<root>/clients/<tenant>/<service>/terraform.tfstate),
	// outside every workdir. Defaults to DataDir/store, so the local layout matches the
	// bucket's.
	LocalStateRoot string
}

// S3Backend configures OpenTofu's S3 backend. Credentials are passed to tofu in its
// environment only.
type S3Backend struct {
	Bucket    string
	Region    string // default us-east-1
	Endpoint  string // e.g. http://127.0.0.1:7070; empty for AWS
	PathStyle bool
	AccessKey string
	SecretKey string
}

func (s *S3Backend) region() string {
	if s.Region == "" {
		return "us-east-1"
	}
	return s.Region
}

// Engine runs OpenTofu operations on services as jobs.
type Engine struct {
	cfg Config
	log *slog.Logger
	// The engine's parts, by concern: the scheduler queues and runs jobs, the runner
	// runs tofu in workdirs, the ledger keeps job records, intents, leases and recovery
	// in the store.
	jobs   *jobTable
	locks  *locker
	sched  *scheduler
	runner *runner
	ledger *ledger
}

// New checks the configuration, creates the directories and returns an Engine.
func New(cfg Config) (*Engine, error) {
	if err := applyDefaults(&cfg); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	e := &Engine{cfg: cfg, log: log, jobs: newJobTable(), locks: newLocker(cfg.MaxParallel, cfg.Host, os.Getpid())}
	stop := make(chan struct{})
	loops := &replicaLoops{quit: make(chan struct{})}
	e.ledger = &ledger{
		cfg: &e.cfg, log: log, jobs: e.jobs, locks: e.locks, stop: stop, loops: loops,
		records:  recordCache{m: map[string]cachedRecord{}},
		instance: uuid.NewString(),
	}
	e.runner = &runner{
		cfg: &e.cfg, ledger: e.ledger,
		cliConfigPath: filepath.Join(cfg.WorkDir, "spawnit.tofurc"),
		s3CredsPath:   filepath.Join(cfg.WorkDir, "spawnit-state.credentials"),
		workspaces:    map[workspaceKey]*workspace{},
	}
	e.sched = &scheduler{cfg: &e.cfg, log: log, jobs: e.jobs, locks: e.locks, ledger: e.ledger, runner: e.runner, stop: stop, loops: loops}
	if err := e.runner.writeCLIConfig(); err != nil {
		return nil, fmt.Errorf("write tofu CLI config: %w", err)
	}
	if err := e.runner.writeStateCredentials(); err != nil {
		return nil, fmt.Errorf("write the state bucket's credentials file: %w", err)
	}
	e.sched.startLoops()
	return e, nil
}

// applyDefaults checks cfg, fills in its defaults and creates its directories.
func applyDefaults(cfg *Config) error {
	if cfg.TofuPath == "" {
		return fmt.Errorf("%w: TofuPath is required", ErrInvalidInput)
	}
	if _, err := os.Stat(cfg.TofuPath); err != nil {
		return fmt.Errorf("%w: tofu binary: %w", ErrInvalidInput, err)
	}
	if cfg.Source == nil {
		return fmt.Errorf("%w: Source is required", ErrInvalidInput)
	}
	def := func(p *string, sub string) error {
		if *p != "" {
			return nil
		}
		if cfg.DataDir == "" {
			return fmt.Errorf("%w: DataDir is required unless every directory is set", ErrInvalidInput)
		}
		*p = filepath.Join(cfg.DataDir, sub)
		return nil
	}
	if err := errors.Join(def(&cfg.WorkDir, "work"), def(&cfg.PluginCacheDir, "plugin-cache")); err != nil {
		return err
	}
	if cfg.Backend.S3 == nil {
		if err := def(&cfg.Backend.LocalStateRoot, "store"); err != nil {
			return err
		}
	}
	if cfg.Store == nil {
		root := ""
		if err := def(&root, "store"); err != nil {
			return err
		}
		fsStore, err := store.NewFS(root)
		if err != nil {
			return err
		}
		cfg.Store = fsStore
	}
	if cfg.MaxParallel <= 0 {
		cfg.MaxParallel = 4
	}
	if cfg.CancelCoolOff <= 0 {
		cfg.CancelCoolOff = 10 * time.Second
	}
	if cfg.JobTimeout <= 0 {
		cfg.JobTimeout = 30 * time.Minute
	}
	if cfg.JobHistory <= 0 {
		cfg.JobHistory = DefaultJobHistory
	}
	if cfg.KillGrace <= 0 {
		cfg.KillGrace = 30 * time.Second
	}
	if cfg.Host == "" {
		cfg.Host, _ = os.Hostname()
	}
	return makeDirs(cfg)
}

// makeDirs creates the engine's directories and makes their paths absolute (with
// symlinks resolved, as tofu's working directory shows them).
func makeDirs(cfg *Config) error {
	for _, d := range []*string{&cfg.WorkDir, &cfg.PluginCacheDir} {
		if err := os.MkdirAll(*d, 0o700); err != nil {
			return err
		}
		abs, err := filepath.Abs(*d)
		if err != nil {
			return err
		}
		if *d, err = filepath.EvalSymlinks(abs); err != nil {
			return err
		}
	}
	if cfg.Backend.LocalStateRoot != "" {
		abs, err := filepath.Abs(cfg.Backend.LocalStateRoot)
		if err != nil {
			return err
		}
		cfg.Backend.LocalStateRoot = abs
	}
	return nil
}

// RunOption adjusts one operation.
type RunOption func(*runOptions)

type runOptions struct {
	failFast   bool
	background bool
	readiness  ReadinessFunc
	sweep      SweepFunc
	secrets    []string
	timeout    time.Duration
	env        map[string]string
	vars       map[string]string
	files      Files
}

// FailIfLocked makes a request for a busy service fail with ErrLocked instead of
// queueing behind the running job.
func FailIfLocked() RunOption { return func(o *runOptions) { o.failFast = true } }

// WithSecrets lists values that must never appear in events or logs (for example the
// service's generated passwords); they are masked wherever they occur.
func WithSecrets(values ...string) RunOption {
	return func(o *runOptions) { o.secrets = append(o.secrets, values...) }
}

// WithEnv adds environment variables to tofu's for this job: how a server gives a
// target's provider its credentials and region (AWS_REGION, AWS_ACCESS_KEY_ID,
// AWS_PROFILE, KUBE_CONFIG_PATH, ...), for the services of that target only. Names must
// be valid; TF_* is refused (the engine owns tofu's own settings, and input variables
// come from the service's terraform.tfvars.json). Values of names that look secret
// (KEY, SECRET, TOKEN, PASSWORD, CREDENTIAL) are masked in events. The S3 state
// backend does not read these: its credentials are kept apart (see Config.Backend).
func WithEnv(env map[string]string) RunOption {
	return func(o *runOptions) {
		if o.env == nil {
			o.env = map[string]string{}
		}
		maps.Copy(o.env, env)
	}
}

// WithVars sets input variables of the module that the form does not: a target's own
// variables (docs/targets.md, rule 2: docker_image_map, aws_instance_type, ...), which
// the server's configuration sets for every service of that target. Each reaches tofu as
// TF_VAR_<name>, its value as tofu reads such a variable (a string as it is, a map or a
// list in HCL or JSON syntax). Tofu ignores one that the module does not declare, and a
// value in the service's terraform.tfvars.json wins over it. Names must be identifiers.
func WithVars(vars map[string]string) RunOption {
	return func(o *runOptions) {
		if o.vars == nil {
			o.vars = map[string]string{}
		}
		maps.Copy(o.vars, vars)
	}
}

// Background marks a job as the supervisor's: it never queues (ErrLocked when the
// service is busy) and a user's job arriving while it runs cancels it and goes first.
// Its record is not added to the service's job history (ListJobs): the store keeps the
// latest background job of each service only, so periodic checks take bounded space.
func Background() RunOption { return func(o *runOptions) { o.background = true; o.failFast = true } }

// ReadinessFunc is a service's readiness: it waits until an applied service is ready
// to use (a port answers, a container's healthcheck passes), reporting progress through
// progress. Its error fails the apply job; the resources stay for inspection. It is not
// the SpawnIt server's own readiness.
type ReadinessFunc func(ctx context.Context, outputs map[string]Output, progress func(msg string)) error

// WithReadiness makes an apply succeed only once ready reports the service ready.
func WithReadiness(ready ReadinessFunc) RunOption { return func(o *runOptions) { o.readiness = ready } }

// WithFiles runs the job on files instead of what the Source gives for the service: a
// configuration proposed but not recorded yet, such as an upgrade to another version
// of the service's module, planned (and applied) before it becomes the service's own.
// The job changes the service's state as any other; what it ran is the caller's to
// record when it succeeds.
func WithFiles(files Files) RunOption {
	return func(o *runOptions) { o.files = files }
}

// WithTimeout overrides Config.JobTimeout for this job.
func WithTimeout(d time.Duration) RunOption { return func(o *runOptions) { o.timeout = d } }

// Plan computes what applying the service's configuration would change, saving the plan
// and summarizing it in the job's Plan.
func (e *Engine) Plan(ctx context.Context, ref ServiceRef, opts ...RunOption) (*Job, error) {
	return e.sched.submit(ctx, ref, OpPlan, opts)
}

// Apply makes real infrastructure match the service's configuration. The job's Outputs
// hold the module outputs afterwards.
func (e *Engine) Apply(ctx context.Context, ref ServiceRef, opts ...RunOption) (*Job, error) {
	return e.sched.submit(ctx, ref, OpApply, opts)
}

// Destroy removes the service's infrastructure.
func (e *Engine) Destroy(ctx context.Context, ref ServiceRef, opts ...RunOption) (*Job, error) {
	return e.sched.submit(ctx, ref, OpDestroy, opts)
}

// Accept records the real infrastructure as the service's new state (a refresh-only
// apply): the way to accept drift instead of remediating it with Apply.
func (e *Engine) Accept(ctx context.Context, ref ServiceRef, opts ...RunOption) (*Job, error) {
	return e.sched.submit(ctx, ref, OpAccept, opts)
}

// CheckDrift compares reality with the service's intent; the job's Drift holds the report.
func (e *Engine) CheckDrift(ctx context.Context, ref ServiceRef, opts ...RunOption) (*Job, error) {
	return e.sched.submit(ctx, ref, OpDrift, opts)
}

// Outputs reads the service's current outputs, sensitive values included, as a short
// job that queues behind any running operation. Sensitive values are returned to the
// caller only: the job's record and events carry them redacted.
func (e *Engine) Outputs(ctx context.Context, ref ServiceRef) (map[string]Output, error) {
	j, err := e.sched.submit(ctx, ref, OpOutputs, nil)
	if err != nil {
		return nil, err
	}
	info, err := j.Wait(ctx)
	if err != nil {
		return nil, err
	}
	if j.keyErr != nil {
		return nil, fmt.Errorf("read outputs: %w", j.keyErr)
	}
	if info.State != StateSucceeded {
		return nil, fmt.Errorf("read outputs: %s", info.Error)
	}
	return info.Outputs, nil
}

// Job returns a job this process knows (running, queued or recently finished).
func (e *Engine) Job(id string) (*Job, bool) {
	return e.jobs.get(id)
}

// LockHolder reports which job holds the service, if any.
func (e *Engine) LockHolder(ref ServiceRef) (LockHolder, bool) { return e.locks.holder(ref) }

// Busy reports whether a user's job runs or waits for the service (background checks
// do not count): in this process, or on another replica as the latest sweep of the
// store saw it (every half lease TTL). ServiceBusy reads the store now.
func (e *Engine) Busy(ref ServiceRef) bool { return e.locks.busy(ref) || e.ledger.busyElsewhere(ref) }

// ServiceBusy reports whether a user's job runs or waits for the service in this
// process or, as the store says now, on any replica sharing it: the check to make
// before deleting a service. Jobs of dead replicas found on the way are interrupted.
func (e *Engine) ServiceBusy(ctx context.Context, ref ServiceRef) (bool, error) {
	if err := ref.Validate(); err != nil {
		return false, err
	}
	if e.locks.busy(ref) {
		return true, nil
	}
	a, err := e.ledger.serviceActivity(ctx, ref)
	return a.userJob, err
}

// CancelJob cancels job id of the service wherever it runs: as Cancel does when this
// engine holds it, else by recording a cancel request in the store that the replica
// holding the job acts on within about a second, with the same graceful-then-forced
// semantics and the same answers (ErrJobFinished, ErrCoolOff). It returns the job as
// it is after the cancel.
func (e *Engine) CancelJob(ctx context.Context, ref ServiceRef, id string, force bool) (JobInfo, error) {
	return e.sched.cancelAnywhere(ctx, ref, id, force)
}

// parseJobID accepts the job ids the engine makes: lowercase UUIDs (spawnit.ValidateJobID).
func parseJobID(id string) (uuid.UUID, error) {
	if err := spawnit.ValidateJobID(id); err != nil {
		return uuid.UUID{}, err
	}
	return uuid.Parse(id)
}

var timeNow = func() time.Time { return time.Now().UTC() }

// Cancel cancels a job. The first cancel of a running job sends tofu SIGINT (it stops
// gracefully and saves state) and the job shows "cancelling"; a forced cancel, allowed
// CancelCoolOff after the first, kills tofu's whole process group. A queued job is just
// removed from its queue.
func (e *Engine) Cancel(id string, force bool) error { return e.sched.cancel(id, force) }

// Shutdown stops accepting jobs, interrupts running tofu processes once, waits up to the
// context's deadline, then kills what is left; every job ends in a recorded final state.
func (e *Engine) Shutdown(ctx context.Context) error { return e.sched.shutdown(ctx) }

// Lease reports the cross-process lease of a service, if one is held (possibly by a
// process that died: expires says when it lapses).
func (e *Engine) Lease(ctx context.Context, ref ServiceRef) (holder LockHolder, expires time.Time, ok bool, err error) {
	return e.ledger.Lease(ctx, ref)
}

// Follow yields the events of job id of service ref with Seq > after as they happen,
// until the job's final event or until ctx is done, whichever process runs it: from
// memory when this Engine runs it (as Job.Follow), else from the store, where the
// process running it writes its events at most EventFlushInterval apart (read every
// StorePollInterval). Sequence numbers are the job's own, so resuming after n on any
// process sharing the store misses nothing and repeats nothing.
func (e *Engine) Follow(ctx context.Context, ref ServiceRef, id string, after int64) (iter.Seq[Event], error) {
	return e.ledger.follow(ctx, ref, id, after)
}

// LoadJob reads a job's record and event log from the store (finished jobs survive a
// restart this way).
func (e *Engine) LoadJob(ctx context.Context, ref ServiceRef, id string) (JobInfo, []Event, error) {
	return e.ledger.LoadJob(ctx, ref, id)
}

// ListJobs lists a service's jobs, newest first (running ones as they are now).
// Background checks are not listed (see Background).
func (e *Engine) ListJobs(ctx context.Context, ref ServiceRef) ([]JobInfo, error) {
	return e.ledger.ListJobs(ctx, ref)
}

// LastJob returns the newest job of the service's history, nil when it has none: the
// user's job holding the service in this process, else the record written last (a
// service runs one job at a time, so the newest record is the last job's; records
// written at the same instant are told apart by their creation time).
func (e *Engine) LastJob(ctx context.Context, ref ServiceRef) (*JobInfo, error) {
	return e.ledger.LastJob(ctx, ref)
}

// Intent returns the service's intent (IntentNone when it was never applied).
func (e *Engine) Intent(ctx context.Context, ref ServiceRef) (Intent, error) {
	return e.ledger.Intent(ctx, ref)
}

// ClearRecovery is the operator's acknowledgement that a service whose state could not
// be saved was repaired (for example by pushing the kept errored.tfstate), or that its
// stored state is right as it is: applies are accepted again, on the state now stored.
func (e *Engine) ClearRecovery(ctx context.Context, ref ServiceRef) error {
	return e.ledger.ClearRecovery(ctx, ref)
}

// RecoverInterrupted marks jobs that a dead process left queued or running as
// interrupted: with Config.Cluster, those of replicas the registry no longer sees alive
// (whatever their host, so a replacement with a new name recovers its predecessor's);
// alone, those of this host. Call it once at start-up, before accepting jobs. It never re-runs
// anything. It finds them through the index of unfinished jobs the engine keeps in the
// store (index/jobs/), not by reading every record. In-process locks died with the
// process; the lease of an interrupted job is deleted, and so is the S3 lockfile its
// tofu left (one created after the job started, while it held the lease), so the next
// operation finds the service free.
//
// It first kills what the dead process left running in the workdirs: tofu dies with
// the server, but its providers and provisioner commands outlive it.
func (e *Engine) RecoverInterrupted(ctx context.Context) ([]JobInfo, error) {
	return e.ledger.RecoverInterrupted(ctx)
}
