package engine

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/spawnit/spawnit/engine/internal/tofu"
)

// Providers held by a job. Left to itself, tofu starts each provider of a module up to
// three times per command (to read its schema, to validate, to plan), and checks the
// provider package against the lock file each time: most of what a plan of an
// unchanged service costs. A plan or drift job instead starts the workdir's providers
// once, after init, as tofu would start them, and runs its tofu commands attached to
// them (TF_REATTACH_PROVIDERS). Nothing else changes: the same binaries init installed
// and verified, configured by tofu on every command as before, the same refresh.
//
// A provider server belongs to one job and is stopped when the job ends (or is forced
// to stop): never shared between jobs, whose environment and configuration differ. It
// runs in the job's environment (without TF_ENCRYPTION: a provider needs no state key),
// in the workdir, its socket in a private directory. Applies and destroys keep tofu's
// own providers, in tofu's process group, where a forced cancel or a provider crash
// behaves as it always did. A provider that cannot be started this way (an old plugin
// protocol) is left to tofu.

// providerStartTimeout bounds how long a provider may take to say where it serves.
const providerStartTimeout = 30 * time.Second

// holdsProviders reports whether op's jobs run attached to providers they hold.
func holdsProviders(op Operation) bool {
	return op == OpPlan || op == OpDrift
}

// lockedProvider matches a provider entry of .terraform.lock.hcl as tofu writes it.
var lockedProvider = regexp.MustCompile(`(?m)^provider "([^"]+)" \{\s*\n\s*version\s*=\s*"([^"]+)"`)

// lockedProviders reads the providers (source address → version) the lock file selects.
func lockedProviders(lockFile []byte) map[string]string {
	out := map[string]string{}
	for _, m := range lockedProvider.FindAllSubmatch(lockFile, -1) {
		out[string(m[1])] = string(m[2])
	}
	return out
}

// providerBinary finds the executable init installed for provider addr at version in
// dir, "" if there is none.
func providerBinary(dir, addr, version string) string {
	pkg := filepath.Join(dir, ".terraform", "providers", filepath.FromSlash(addr), version, runtime.GOOS+"_"+runtime.GOARCH)
	ents, err := os.ReadDir(pkg)
	if err != nil {
		return ""
	}
	for _, ent := range ents {
		if strings.HasPrefix(ent.Name(), "terraform-provider-") && !ent.IsDir() {
			return filepath.Join(pkg, ent.Name())
		}
	}
	return ""
}

// holdProviders starts the providers of ws for j and attaches j's tofu commands to
// them. The returned function stops them; it is also called when j is forced to stop.
func (e *runner) holdProviders(j *Job, ws *workspace) (release func()) {
	lock, err := os.ReadFile(filepath.Join(ws.dir, ".terraform.lock.hcl"))
	if err != nil {
		return func() {}
	}
	socketDir, err := os.MkdirTemp("", "spawnit-providers-")
	if err != nil {
		return func() {}
	}
	servers := map[string]*tofu.ProviderServer{}
	stop := func() {
		for _, s := range servers {
			s.Stop()
		}
		_ = os.RemoveAll(socketDir)
	}
	providerEnv := envList(e.jobEnv(j))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for addr, version := range lockedProviders(lock) {
		bin := providerBinary(ws.dir, addr, version)
		if bin == "" {
			continue
		}
		wg.Go(func() {
			s, err := tofu.StartProvider(bin, ws.dir, providerEnv, socketDir, providerStartTimeout)
			if err != nil {
				if e.cfg.Logger != nil {
					e.cfg.Logger.Debug("provider left to tofu", "service", j.info.Service.String(), "provider", addr, "err", err)
				}
				return
			}
			mu.Lock()
			servers[addr] = s
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(servers) == 0 {
		stop()
		return func() {}
	}
	if e.onHold != nil {
		e.onHold(j, servers)
	}
	stopForced := context.AfterFunc(j.ctx, stop)
	jobEnv := ws.tf.Env
	ws.tf.Env = append(jobEnv[:len(jobEnv):len(jobEnv)], "TF_REATTACH_PROVIDERS="+tofu.ReattachProviders(servers))
	return func() {
		stopForced()
		stop()
		ws.tf.Env = jobEnv
	}
}
