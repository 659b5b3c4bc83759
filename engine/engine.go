package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/google/uuid"
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
	// WorkDir holds one workdir per service: <WorkDir>/<client>/<service>. Workdirs are
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
	// Logger receives the engine's own logs; nil means silent.
	Logger *slog.Logger
}

// Backend selects the OpenTofu state backend.
type Backend struct {
	// S3, when set, keeps state in an S3 bucket under StateKey(ref), locked with
	// OpenTofu's S3 lockfile.
	S3 *S3Backend
	// LocalStateRoot is the root of local state files (<root>/clients/<c>/<s>/terraform.tfstate),
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
	cfg           Config
	log           *slog.Logger
	locks         *locker
	cliConfigPath string
	s3CredsPath   string
	cliConfig     string

	mu         sync.Mutex
	jobs       map[string]*Job
	finished   []string // ids of finished jobs kept in memory, oldest first
	workspaces map[workspaceKey]*workspace
	records    recordCache // job records' infos, parsed once per version
	closed     bool
	// stop is closed by Shutdown: background retries (retryLater) give up.
	stop chan struct{}
	// instance tells this Engine's leases from those of other processes (and of other
	// engines in this process), so one left by its own finished job can be taken over.
	instance string
	// initMu serialises `tofu init` when providers come through the shared plugin cache:
	// concurrent inits filling one cache were seen to fail ("installed provider plugins
	// are not consistent with the packages selected in the dependency lock file"). Init
	// runs only when a module changes, so this costs little.
	initMu sync.Mutex
	wg     sync.WaitGroup
}

// maxFinishedInMemory bounds finished jobs kept in memory; older ones are read back
// from the store.
const maxFinishedInMemory = 1000

// New checks the configuration, creates the directories and returns an Engine.
func New(cfg Config) (*Engine, error) {
	if cfg.TofuPath == "" {
		return nil, fmt.Errorf("%w: TofuPath is required", ErrInvalidInput)
	}
	if _, err := os.Stat(cfg.TofuPath); err != nil {
		return nil, fmt.Errorf("%w: tofu binary: %w", ErrInvalidInput, err)
	}
	if cfg.Source == nil {
		return nil, fmt.Errorf("%w: Source is required", ErrInvalidInput)
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
		return nil, err
	}
	if cfg.Backend.S3 == nil {
		if err := def(&cfg.Backend.LocalStateRoot, "store"); err != nil {
			return nil, err
		}
	}
	if cfg.Store == nil {
		root := ""
		if err := def(&root, "store"); err != nil {
			return nil, err
		}
		fsStore, err := store.NewFS(root)
		if err != nil {
			return nil, err
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
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	for _, d := range []*string{&cfg.WorkDir, &cfg.PluginCacheDir} {
		if err := os.MkdirAll(*d, 0o700); err != nil {
			return nil, err
		}
		abs, err := filepath.Abs(*d)
		if err != nil {
			return nil, err
		}
		if *d, err = filepath.EvalSymlinks(abs); err != nil {
			return nil, err
		}
	}
	if cfg.Backend.LocalStateRoot != "" {
		abs, err := filepath.Abs(cfg.Backend.LocalStateRoot)
		if err != nil {
			return nil, err
		}
		cfg.Backend.LocalStateRoot = abs
	}
	e := &Engine{
		cfg:           cfg,
		log:           log,
		locks:         newLocker(cfg.MaxParallel, cfg.Host, os.Getpid()),
		cliConfigPath: filepath.Join(cfg.WorkDir, "spawnit.tofurc"),
		s3CredsPath:   filepath.Join(cfg.WorkDir, "spawnit-state.credentials"),
		jobs:          map[string]*Job{},
		workspaces:    map[workspaceKey]*workspace{},
		records:       recordCache{m: map[string]cachedRecord{}},
		stop:          make(chan struct{}),
		instance:      uuid.NewString(),
	}
	if err := e.writeCLIConfig(); err != nil {
		return nil, fmt.Errorf("write tofu CLI config: %w", err)
	}
	if err := e.writeStateCredentials(); err != nil {
		return nil, fmt.Errorf("write the state bucket's credentials file: %w", err)
	}
	return e, nil
}

// RunOption adjusts one operation.
type RunOption func(*runOptions)

type runOptions struct {
	failFast   bool
	background bool
	readiness  ReadinessFunc
	secrets    []string
	timeout    time.Duration
	env        map[string]string
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

// Background marks a job as the supervisor's: it never queues (ErrLocked when the
// service is busy) and a user's job arriving while it runs cancels it and goes first.
// Its record is not added to the service's job history (ListJobs): the store keeps the
// latest background job of each service only, so periodic checks take bounded space.
func Background() RunOption { return func(o *runOptions) { o.background = true; o.failFast = true } }

// ReadinessFunc waits until an applied service is ready to use (a port answers, a health
// check passes), reporting progress through progress. Its error fails the apply job; the
// resources stay for inspection.
type ReadinessFunc func(ctx context.Context, outputs map[string]Output, progress func(msg string)) error

// WithReadiness makes an apply succeed only once ready reports the service ready.
func WithReadiness(ready ReadinessFunc) RunOption { return func(o *runOptions) { o.readiness = ready } }

// WithTimeout overrides Config.JobTimeout for this job.
func WithTimeout(d time.Duration) RunOption { return func(o *runOptions) { o.timeout = d } }

// Plan computes what applying the service's configuration would change, saving the plan
// and summarizing it in the job's Plan.
func (e *Engine) Plan(ctx context.Context, ref ServiceRef, opts ...RunOption) (*Job, error) {
	return e.submit(ctx, ref, OpPlan, opts)
}

// Apply makes real infrastructure match the service's configuration. The job's Outputs
// hold the module outputs afterwards.
func (e *Engine) Apply(ctx context.Context, ref ServiceRef, opts ...RunOption) (*Job, error) {
	return e.submit(ctx, ref, OpApply, opts)
}

// Destroy removes the service's infrastructure.
func (e *Engine) Destroy(ctx context.Context, ref ServiceRef, opts ...RunOption) (*Job, error) {
	return e.submit(ctx, ref, OpDestroy, opts)
}

// Accept records the real infrastructure as the service's new state (a refresh-only
// apply): the way to accept drift instead of remediating it with Apply.
func (e *Engine) Accept(ctx context.Context, ref ServiceRef, opts ...RunOption) (*Job, error) {
	return e.submit(ctx, ref, OpAccept, opts)
}

// CheckDrift compares reality with the service's intent; the job's Drift holds the report.
func (e *Engine) CheckDrift(ctx context.Context, ref ServiceRef, opts ...RunOption) (*Job, error) {
	return e.submit(ctx, ref, OpDrift, opts)
}

// Outputs reads the service's current outputs, sensitive values included, as a short
// job that queues behind any running operation. Sensitive values are returned to the
// caller only: the job's record and events carry them redacted.
func (e *Engine) Outputs(ctx context.Context, ref ServiceRef) (map[string]Output, error) {
	j, err := e.submit(ctx, ref, OpOutputs, nil)
	if err != nil {
		return nil, err
	}
	info, err := j.Wait(ctx)
	if err != nil {
		return nil, err
	}
	if info.State != StateSucceeded {
		return nil, fmt.Errorf("read outputs: %s", info.Error)
	}
	return info.Outputs, nil
}

// Job returns a job this process knows (running, queued or recently finished).
func (e *Engine) Job(id string) (*Job, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	j, ok := e.jobs[id]
	return j, ok
}

// LockHolder reports which job holds the service, if any.
func (e *Engine) LockHolder(ref ServiceRef) (LockHolder, bool) { return e.locks.holder(ref) }

// Busy reports whether a user's job runs or waits for the service in this process
// (background checks do not count). Lease reports the cross-process view.
func (e *Engine) Busy(ref ServiceRef) bool { return e.locks.busy(ref) }

func parseJobID(id string) (uuid.UUID, error) {
	u, err := uuid.Parse(id)
	if err != nil || len(id) != 36 {
		return uuid.UUID{}, fmt.Errorf("%w: job id %q", ErrInvalidInput, truncate(id, 80))
	}
	return u, nil
}

var timeNow = func() time.Time { return time.Now().UTC() }

func (e *Engine) submit(ctx context.Context, ref ServiceRef, op Operation, opts []RunOption) (*Job, error) {
	if err := ref.Validate(); err != nil {
		return nil, err
	}
	var o runOptions
	for _, f := range opts {
		f(&o)
	}
	if o.timeout <= 0 {
		o.timeout = e.cfg.JobTimeout
	}
	if err := ValidateEnv(o.env); err != nil {
		return nil, err
	}
	e.mu.Lock()
	closed := e.closed
	e.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	if changesState(op) {
		if err := e.checkRecovery(ctx, ref); err != nil {
			return nil, err
		}
	}
	j := newJob(JobInfo{
		ID: uuid.NewString(), Operation: op, Service: ref, State: StateQueued,
		CreatedAt: timeNow(), Host: e.cfg.Host, PID: os.Getpid(), Background: o.background,
	})
	j.mask.add(o.secrets...)
	j.env = o.env
	for k, v := range o.env {
		if secretEnvName(k) {
			j.mask.add(v)
		}
	}
	j.failFast = o.failFast
	j.readiness = o.readiness
	j.timeout = o.timeout
	j.emit(Event{Type: EventJobState, State: StateQueued, Level: "info", Message: fmt.Sprintf("job queued: %s %s", op, ref)})
	preempt, err := e.locks.enqueue(j, o.failFast)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", op, ref, err)
	}
	if preempt != nil {
		preempt.preempt(op)
	}
	// The record must exist before the job can run, so a crash leaves a trace that start-up
	// turns into "interrupted". A store that cannot take it fails the request, lock freed.
	if err := e.saveJob(ctx, j); err != nil {
		if !e.locks.dequeue(j) {
			e.locks.release(j)
		}
		return nil, err
	}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		if !e.locks.dequeue(j) {
			e.locks.release(j)
		}
		j.finish(StateCancelled, "engine shutting down")
		_ = e.saveJob(context.Background(), j)
		j.markDone()
		return nil, ErrClosed
	}
	e.jobs[j.ID()] = j
	e.wg.Add(1)
	e.mu.Unlock()
	go e.run(j)
	return j, nil
}

// Cancel cancels a job. The first cancel of a running job sends tofu SIGINT (it stops
// gracefully and saves state) and the job shows "cancelling"; a forced cancel, allowed
// CancelCoolOff after the first, kills tofu's whole process group. A queued job is just
// removed from its queue.
func (e *Engine) Cancel(id string, force bool) error {
	j, ok := e.Job(id)
	if !ok {
		return fmt.Errorf("%w: job %s", ErrNotFound, id)
	}
	res, err := j.cancel(force, e.cfg.CancelCoolOff)
	if res == cancelQueued {
		if e.locks.dequeue(j) {
			if j.cancelQueued() {
				_ = e.saveJob(context.Background(), j)
				e.forget(j)
				j.markDone()
			}
			j.softCancel() // wakes run(), which returns without the service
			return nil
		}
		// It was granted the service meanwhile: run() sees the cancel before starting tofu.
		j.softCancel()
	}
	return err
}

// Shutdown stops accepting jobs, interrupts running tofu processes once, waits up to the
// context's deadline, then kills what is left; every job ends in a recorded final state.
func (e *Engine) Shutdown(ctx context.Context) error {
	e.mu.Lock()
	if !e.closed {
		close(e.stop)
	}
	e.closed = true
	jobs := make([]*Job, 0, len(e.jobs))
	for _, j := range e.jobs {
		jobs = append(jobs, j)
	}
	e.mu.Unlock()
	for _, j := range jobs {
		_ = e.Cancel(j.ID(), false)
	}
	done := make(chan struct{})
	go func() { e.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	for _, j := range jobs {
		j.kill()
	}
	<-done
	return ctx.Err()
}

func (e *Engine) forget(j *Job) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.finished = append(e.finished, j.ID())
	for len(e.finished) > maxFinishedInMemory {
		delete(e.jobs, e.finished[0])
		e.finished = e.finished[1:]
	}
}

func (e *Engine) run(j *Job) {
	defer e.wg.Done()
	ref := j.info.Service
	select {
	case <-j.granted:
	case <-j.softCtx.Done():
		// Cancelled while queued; Cancel may have raced the grant.
		select {
		case <-j.granted:
		default:
			return
		}
	}
	slot, leased := false, false
	end := func(state JobState, msg string) { e.settle(j, state, msg, slot, leased) }
	if j.softCtx.Err() != nil {
		end(StateCancelled, "cancelled before it started")
		return
	}
	if err := e.locks.acquireSlot(j.softCtx); err != nil {
		end(StateCancelled, "cancelled while waiting for a free slot")
		return
	}
	slot = true
	// Operations that change state also hold the cross-process lease; checks and output
	// reads only read, without tofu's state lock, and need none.
	if j.info.Operation != OpDrift && j.info.Operation != OpOutputs {
		ctx, cancel := context.WithTimeout(j.softCtx, 30*time.Second)
		err := e.acquireLease(ctx, j, j.timeout+e.cfg.KillGrace+time.Minute)
		cancel()
		if err != nil {
			_ = j.transition(StateRunning, "")
			end(StateFailed, "could not take the service's lease: "+err.Error())
			return
		}
		leased = true
	}
	if err := j.transition(StateRunning, ""); err != nil {
		end(StateCancelled, "cancelled before it started")
		return
	}
	_ = e.saveJob(context.Background(), j)
	e.log.Info("job started", "job", j.ID(), "op", j.info.Operation, "service", ref.String())

	timer := time.AfterFunc(j.timeout, func() {
		j.timeOut()
		time.AfterFunc(e.cfg.KillGrace, func() { j.overdue() })
	})
	err := e.execute(j)
	timer.Stop()
	end(j.outcome(err))
	info := j.Info()
	e.log.Info("job finished", "job", j.ID(), "op", info.Operation, "service", ref.String(), "state", info.State, "duration", info.Duration())
}

// settle ends job j in state: it records the final state, saves it, frees the service
// and only then closes Done, so whoever waited for the job finds the record written and
// the lock free. What the store cannot take now (it is down) is written later, in order
// (finishLater). slot and leased say what the job holds besides the service.
func (e *Engine) settle(j *Job, state JobState, msg string, slot, leased bool) {
	ref := j.info.Service
	j.finish(state, msg)
	save, release := j.endWrites(leased)
	saved, released := false, !leased
	if save {
		saved = e.saveJob(context.Background(), j) == nil
	}
	if saved && !j.info.Background {
		e.pruneJobs(context.Background(), ref)
	}
	if release {
		released = e.releaseLease(context.Background(), j) == nil
	}
	if !j.settled(saved, released) {
		e.log.Error("the store did not take the end of a job: retrying in the background", "job", j.ID(),
			"record_saved", saved, "lease_released", released, "errored_state_kept", !j.erroredPending.Load())
		e.finishLater(j, saved, released)
	}
	if slot {
		e.locks.releaseSlot()
	}
	e.locks.release(j)
	j.hardCancel()
	e.forget(j)
	j.markDone()
}

// changesState reports whether an operation may write the service's state.
func changesState(op Operation) bool { return op == OpApply || op == OpDestroy || op == OpAccept }

// retryLater runs f in the background until it succeeds, with a growing pause between
// tries, giving up when the engine shuts down. It is for what a job could not write
// while the store was down: its final record, its lease, its errored state.
func (e *Engine) retryLater(what string, f func(ctx context.Context) error) {
	go func() {
		pause := time.Second
		for try := 1; ; try++ {
			select {
			case <-e.stop:
				e.log.Error("gave up at shutdown", "what", what, "tries", try-1)
				return
			case <-time.After(pause):
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			err := f(ctx)
			cancel()
			if err == nil {
				e.log.Info("written after the store came back", "what", what, "tries", try)
				return
			}
			pause = min(2*pause, 10*time.Second)
		}
	}()
}

// finishLater writes, once the store takes it, what the end of job j could not: its
// errored state (and the service's needs-recovery mark), its final record, and the
// release of its lease, in that order.
func (e *Engine) finishLater(j *Job, saved, released bool) {
	ref := j.info.Service
	dir := filepath.Join(e.cfg.WorkDir, ref.Client, ref.Service)
	e.retryLater("end of job "+j.ID(), func(ctx context.Context) error {
		if j.erroredPending.Load() {
			if _, err := e.keepErrored(ctx, ref, dir); err != nil {
				return err
			}
			j.erroredPending.Store(false)
		}
		if !saved {
			if err := e.saveJob(ctx, j); err != nil {
				return err
			}
			saved = true
		}
		if !released {
			if err := e.releaseLease(ctx, j); err != nil {
				return err
			}
			released = true
		}
		return nil
	})
}
