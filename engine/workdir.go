package engine

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/spawnit/spawnit/engine/internal/tofu"
	"github.com/spawnit/spawnit/pkg/truncate"
)

// Names the engine owns inside a workdir. Files.Validate refuses them in module files.
const (
	backendOverrideFile = "spawnit_backend_override.tf.json"
	planFile            = "spawnit_plan.tfplan"
	driftPlanFile       = "spawnit_drift.tfplan"
	initHashFile        = "spawnit-init.sha256" // inside .terraform/, so deleting it forces init
	erroredStateFile    = "errored.tfstate"
)

// runner runs tofu for jobs: it keeps one workdir per service (workspace), syncs it
// from the Source, writes the backend and CLI configuration, runs init and the
// operation's commands as processes the job holds (runTofu) and turns tofu's stream
// into events and the job's results. What it must keep in the store it asks the ledger.
type runner struct {
	cfg           *Config
	ledger        *ledger
	cliConfigPath string
	s3CredsPath   string
	cliConfig     string

	mu         sync.Mutex
	workspaces map[workspaceKey]*workspace
	// initMu serialises `tofu init` when providers come through the shared plugin cache:
	// concurrent inits filling one cache were seen to fail ("installed provider plugins
	// are not consistent with the packages selected in the dependency lock file"). Init
	// runs only when a module changes, so this costs little.
	initMu sync.Mutex
	// onHold, when set (tests), sees the provider servers a job holds.
	onHold func(*Job, map[string]*tofu.ProviderServer)
}

// workspace is one service's workdir. It is used only by the job holding the service's
// lock, so its fields need no mutex; that also makes the cached *tofu.Tofu safe (one job
// at a time), its environment set for the job that holds the service.
type workspace struct {
	ref ServiceRef
	dir string
	tf  *tofu.Tofu
}

// workspaceFor is the workdir of j's service, set up for j.
func (e *runner) workspaceFor(j *Job) (*workspace, error) {
	ws, err := e.workspaceIn(j, j.info.Service.Service)
	if err != nil {
		return nil, err
	}
	if j.encryption != "" {
		env := e.jobEnv(j)
		env["TF_ENCRYPTION"] = j.encryption
		ws.tf.Env = envList(env)
	}
	return ws, nil
}

// orphanWorkspace is the scratch workdir of j's service for refreshing its pre-destroy
// state (ids cannot start with '.', so it never collides with a service's). Its state
// is a local plaintext copy of the snapshot, removed after use, so tofu runs there
// without TF_ENCRYPTION.
func (e *runner) orphanWorkspace(j *Job) (*workspace, error) {
	return e.workspaceIn(j, ".orphans-"+j.info.Service.Service)
}

// workspaceIn returns the cached workspace of <WorkDir>/<tenant>/<name>, creating it
// on first use, with tofu's
// environment set for j (jobEnv): j holds the service, so nothing else uses it meanwhile.
func (e *runner) workspaceIn(j *Job, name string) (*workspace, error) {
	ws, err := e.cachedWorkspace(j.info.Service, name)
	if err != nil {
		return nil, err
	}
	ws.tf.Env = envList(e.jobEnv(j))
	return ws, nil
}

func (e *runner) cachedWorkspace(ref ServiceRef, name string) (*workspace, error) {
	key := workspaceKey{ref.Client, name}
	e.mu.Lock()
	ws := e.workspaces[key]
	e.mu.Unlock()
	if ws != nil {
		return ws, nil
	}
	dir, err := e.ensureDir(filepath.Join(e.cfg.WorkDir, ref.Client, name))
	if err != nil {
		return nil, err
	}
	tf, err := e.newTofu(dir)
	if err != nil {
		return nil, err
	}
	ws = &workspace{ref: ref, dir: dir, tf: tf}
	e.mu.Lock()
	if existing := e.workspaces[key]; existing != nil {
		ws = existing
	} else {
		e.workspaces[key] = ws
	}
	e.mu.Unlock()
	return ws, nil
}

type workspaceKey struct{ tenant, dir string }

// ensureDir creates dir and returns its absolute path with symlinks resolved, which is
// what /proc/<pid>/cwd shows for a process started there.
func (e *runner) ensureDir(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("create workdir: %w", err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(abs)
}

func (e *runner) newTofu(dir string) (*tofu.Tofu, error) {
	return &tofu.Tofu{Path: e.cfg.TofuPath, Dir: dir}, nil
}

// envList is env as a process environment, sorted, with TF_IN_AUTOMATION set (tofu
// then leaves out hints meant for a person at a terminal).
func envList(env map[string]string) []string {
	out := make([]string, 0, len(env)+1)
	for k, v := range env {
		if k != "TF_IN_AUTOMATION" {
			out = append(out, k+"="+v)
		}
	}
	sort.Strings(out)
	return append(out, "TF_IN_AUTOMATION=1")
}

// tofuEnv is the environment tofu runs with: the server's own, minus anything that could
// change tofu's behaviour behind the engine's back (TF_VAR_*, TF_CLI_ARGS*, TF_LOG*) or
// hand the server's cloud credentials to a provider (AWS_*), plus the CLI config.
//
// The S3 backend's credentials are not here: they are in a credentials file of the
// engine's, named by the backend configuration as an explicit profile, which the backend
// prefers to any AWS_* variable. So a job's target environment (WithEnv) can carry the
// AWS target's own credentials without the state bucket's keys ever reaching the AWS
// provider, or the target's keys the state bucket. Nothing secret is an argument
// (command lines show in process listings) or in the workdir (the backend file names a path).
func (e *runner) tofuEnv() map[string]string {
	env := map[string]string{}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "TF_") || strings.HasPrefix(k, "AWS_") {
			continue
		}
		env[k] = v
	}
	env["TF_CLI_CONFIG_FILE"] = e.cliConfigPath
	return env
}

// jobEnv is tofuEnv plus the job's own environment (WithEnv) and module variables
// (WithVars, as TF_VAR_<name>).
func (e *runner) jobEnv(j *Job) map[string]string {
	env := e.tofuEnv()
	maps.Copy(env, j.env)
	for k, v := range j.vars {
		env["TF_VAR_"+k] = v
	}
	return env
}

// stateProfile is the profile of the state bucket's credentials file.
const stateProfile = "spawnit-state"

// writeStateCredentials writes the S3 backend's keys to the engine's credentials file
// (mode 0600, outside every workdir), when the backend has keys.
func (e *runner) writeStateCredentials() error {
	s3 := e.cfg.Backend.S3
	if s3 == nil || s3.AccessKey == "" {
		return nil
	}
	for _, v := range []string{s3.AccessKey, s3.SecretKey} {
		if strings.ContainsAny(v, "\r\n") {
			return fmt.Errorf("%w: S3 keys cannot contain line breaks", ErrInvalidInput)
		}
	}
	body := fmt.Sprintf("[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n", stateProfile, s3.AccessKey, s3.SecretKey)
	if err := os.MkdirAll(filepath.Dir(e.s3CredsPath), 0o700); err != nil {
		return err
	}
	tmp := e.s3CredsPath + ".tmp"
	if err := os.WriteFile(tmp, []byte(body), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, e.s3CredsPath)
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ValidateEnv checks an environment for WithEnv: what a job given it would refuse.
func ValidateEnv(env map[string]string) error {
	for k, v := range env {
		switch {
		case !envName.MatchString(k):
			return fmt.Errorf("%w: environment variable name %q", ErrInvalidInput, truncate.String(k, 80))
		case strings.HasPrefix(k, "TF_"):
			return fmt.Errorf("%w: %s: tofu's own settings (TF_*) are the engine's to set", ErrInvalidInput, k)
		case strings.ContainsRune(v, 0):
			return fmt.Errorf("%w: environment variable %s holds a NUL byte", ErrInvalidInput, k)
		}
	}
	return nil
}

var varName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

// ValidateVars checks module variables for WithVars: what a job given them would refuse.
func ValidateVars(vars map[string]string) error {
	for k, v := range vars {
		switch {
		case !varName.MatchString(k):
			return fmt.Errorf("%w: variable name %q", ErrInvalidInput, truncate.String(k, 80))
		case strings.ContainsRune(v, 0):
			return fmt.Errorf("%w: variable %s holds a NUL byte", ErrInvalidInput, k)
		}
	}
	return nil
}

// secretEnvName reports whether a variable's value is masked in events.
func secretEnvName(k string) bool {
	u := strings.ToUpper(k)
	for _, w := range []string{"KEY", "SECRET", "TOKEN", "PASSWORD", "CREDENTIAL"} {
		if strings.Contains(u, w) {
			return true
		}
	}
	return false
}

// writeCLIConfig writes the tofu CLI configuration: the provider filesystem mirror when
// one is configured, else the shared plugin cache.
//
// With an unpacked mirror tofu symlinks each workdir's providers to the mirror itself,
// which nothing writes to: no copy per workdir and no shared mutable cache. A plugin
// cache next to it was seen to break concurrent jobs (an init replacing the cached
// package under another workdir's running apply: "could not read package directory").
func (e *runner) writeCLIConfig() error {
	var b strings.Builder
	if e.cfg.ProviderMirror == "" {
		fmt.Fprintf(&b, "plugin_cache_dir = %s\n", hclString(e.cfg.PluginCacheDir))
	}
	if e.cfg.ProviderMirror != "" {
		fmt.Fprintf(&b, "provider_installation {\n  filesystem_mirror {\n    path    = %s\n    include = [\"registry.opentofu.org/*/*\"]\n  }\n", hclString(e.cfg.ProviderMirror))
		if e.cfg.ProviderDirectFallback {
			b.WriteString("  direct {\n    exclude = [\"registry.opentofu.org/*/*\"]\n  }\n")
		}
		b.WriteString("}\n")
	}
	e.cliConfig = b.String()
	return writeFileAtomic(e.cliConfigPath, []byte(e.cliConfig), 0o600)
}

// hclString quotes s as an HCL string (JSON escaping is a valid subset for paths).
func hclString(s string) string {
	b, _ := json.Marshal(s)
	return strings.ReplaceAll(string(b), "${", "$${")
}

// backendOverride is the backend block the engine adds to every module, so templates
// need none and the state location is decided at run time.
func (e *runner) backendOverride(ref ServiceRef) ([]byte, error) {
	var backend map[string]any
	if s3 := e.cfg.Backend.S3; s3 != nil {
		cfg := map[string]any{
			"bucket":                      s3.Bucket,
			"key":                         StateKey(ref),
			"region":                      s3.region(),
			"use_lockfile":                true,
			"skip_credentials_validation": true,
			"skip_region_validation":      true,
			"skip_requesting_account_id":  true,
			"skip_metadata_api_check":     true,
			"use_path_style":              s3.PathStyle,
		}
		if s3.Endpoint != "" {
			cfg["endpoints"] = map[string]any{"s3": s3.Endpoint}
		}
		if s3.AccessKey != "" {
			cfg["profile"] = stateProfile
			cfg["shared_credentials_files"] = []string{e.s3CredsPath}
		}
		backend = map[string]any{"s3": cfg}
	} else {
		backend = map[string]any{"local": map[string]any{"path": e.localStatePath(ref)}}
	}
	return json.MarshalIndent(map[string]any{"terraform": map[string]any{"backend": backend}}, "", "  ")
}

// StateKey is where a service's OpenTofu state lives in the store (and in the S3 bucket).
func StateKey(ref ServiceRef) string {
	return storeKeys(ref).State()
}

func (e *runner) localStatePath(ref ServiceRef) string {
	return filepath.Join(e.cfg.Backend.LocalStateRoot, filepath.FromSlash(StateKey(ref)))
}

// sync makes the workdir hold exactly the service's files plus the engine's own, and
// reports whether `tofu init` must run (module files, backend or CLI config changed, or
// .terraform is gone).
func (ws *workspace) sync(files Files, backend []byte, cliConfig string) (needInit bool, initHash string, err error) {
	if err := files.Validate(); err != nil {
		return false, "", err
	}
	if _, ok := files[TfvarsFile]; !ok {
		return false, "", fmt.Errorf("%w: service %s has no %s", ErrInvalidInput, ws.ref, TfvarsFile)
	}
	// The workdir is a cache that may have been deleted since the last run.
	if err := os.MkdirAll(ws.dir, 0o700); err != nil {
		return false, "", fmt.Errorf("create workdir: %w", err)
	}
	want := map[string][]byte{backendOverrideFile: backend}
	for p, b := range files {
		want[filepath.FromSlash(p)] = b
	}
	// Remove what the source no longer has, keeping tofu's and the engine's own files.
	err = filepath.WalkDir(ws.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(ws.dir, p)
		if rel == "." {
			return nil
		}
		if d.IsDir() {
			if rel == ".terraform" {
				return filepath.SkipDir
			}
			return nil
		}
		if rel == ".terraform.lock.hcl" || rel == planFile || rel == driftPlanFile || rel == erroredStateFile {
			return nil
		}
		if _, ok := want[rel]; !ok {
			return os.Remove(p)
		}
		return nil
	})
	if err != nil {
		return false, "", fmt.Errorf("clean workdir: %w", err)
	}
	for rel, b := range want {
		p := filepath.Join(ws.dir, rel)
		if cur, err := os.ReadFile(p); err == nil && bytes.Equal(cur, b) {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return false, "", err
		}
		if err := writeFileAtomic(p, b, 0o600); err != nil {
			return false, "", err
		}
	}

	h := sha256.New()
	paths := make([]string, 0, len(want))
	for p := range want {
		if p != TfvarsFile {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	for _, p := range paths {
		fmt.Fprintf(h, "%s\x00%d\x00", p, len(want[p]))
		h.Write(want[p])
	}
	fmt.Fprintf(h, "cli\x00%s", cliConfig)
	initHash = hex.EncodeToString(h.Sum(nil))
	cur, err := os.ReadFile(filepath.Join(ws.dir, ".terraform", initHashFile))
	return err != nil || string(cur) != initHash, initHash, nil
}

func (ws *workspace) markInitialized(hash string) error {
	return writeFileAtomic(filepath.Join(ws.dir, ".terraform", initHashFile), []byte(hash), 0o600)
}

func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Chmod(tmp, perm); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

func (e *runner) init(ctx context.Context, j *Job, ws *workspace, hash string) error {
	j.emit(Event{Type: EventLog, Level: "info", Message: "initializing working directory (module or backend changed)"})
	w := e.outputWriter(j)
	defer w.Close()
	if e.cfg.ProviderMirror == "" {
		e.initMu.Lock()
		defer e.initMu.Unlock()
	}
	e.lockProviders(j, ws)
	err := e.runTofu(j, ws, tofu.Init(), w)
	if err != nil {
		return fmt.Errorf("tofu init: %w", err)
	}
	return ws.markInitialized(hash)
}

// removeSecrets removes the variables file (the service's secrets in clear) from the
// workdir once a job is done with it; the next job writes it again from the Source.
func (ws *workspace) removeSecrets() {
	_ = os.Remove(filepath.Join(ws.dir, TfvarsFile))
}

// lockProviders records the module's providers in the workdir's lock file from the
// provider mirror, when one is configured, before every init: left to itself, an init that
// installs from a mirror computes the checksums locally and warns, in the job's log,
// that the lock file is incomplete, which means nothing to the person who filled a
// form. tofu computes the same checksums here, quietly, so the init finds them
// recorded. When it cannot (a provider outside the mirror), the init does as before.
func (e *runner) lockProviders(j *Job, ws *workspace) {
	if e.cfg.ProviderMirror == "" {
		return
	}
	// Its output says what it recorded, nothing a user needs; a failure leaves the
	// lock file as it was, and the init says what is wrong, if anything is.
	_ = e.runTofu(j, ws, tofu.ProvidersLock(e.cfg.ProviderMirror, runtime.GOOS+"_"+runtime.GOARCH), io.Discard)
}
