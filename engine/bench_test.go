package engine

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/spawnit/spawnit/internal/testservers"
	"github.com/spawnit/spawnit/pkg/keyring"
)

// The benchmarks report ratios against baselines measured in the same run, on the same
// module, so they mean the same on any machine. Run them with `go -C tools tool task bench`.

const benchRounds = 5

// rawDir prepares a directory where plain tofu runs the same module, with the same CLI
// config and plugin cache as the engine: the "raw tofu" baseline.
func rawDir(b *testing.B, h *harness, vars map[string]any) (setGreeting func(string), run func(args ...string) time.Duration) {
	setGreeting, run, _ = rawDirAt(b, h, vars)
	return setGreeting, run
}

func rawDirAt(b *testing.B, h *harness, vars map[string]any) (setGreeting func(string), run func(args ...string) time.Duration, dir string) {
	b.Helper()
	dir = b.TempDir()
	// The same backend as the engine's, under another key.
	backend, err := h.e.runner.backendOverride(ServiceRef{Client: "raw", Service: "baseline"})
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "backend_override.tf.json"), backend, 0o644); err != nil {
		b.Fatal(err)
	}
	mainTF, _ := os.ReadFile(filepath.Join("..", "testdata", "modules", "httpecho", "main.tf"))
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), mainTF, 0o644); err != nil {
		b.Fatal(err)
	}
	writeVars := func(v map[string]any) {
		data := fmt.Sprintf(`{"name":%q,"port":%v,"greeting":%q}`, v["name"], v["port"], v["greeting"])
		if err := os.WriteFile(filepath.Join(dir, TfvarsFile), []byte(data), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	writeVars(vars)
	run = func(args ...string) time.Duration {
		cmd := exec.Command(h.e.cfg.TofuPath, args...)
		cmd.Dir = dir
		cmd.Env = os.Environ()
		for k, v := range h.e.runner.tofuEnv() {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		cmd.Env = append(cmd.Env, "TF_IN_AUTOMATION=1")
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("tofu %v: %v\n%s", args, err, out)
		}
		return time.Since(start)
	}
	run("init", "-input=false")
	setGreeting = func(g string) {
		v := maps.Clone(vars)
		v["greeting"] = g
		writeVars(v)
	}
	return setGreeting, run, dir
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func (h *harness) timed(op func(context.Context, ServiceRef, ...RunOption) (*Job, error), ref ServiceRef) time.Duration {
	start := time.Now()
	h.run(op, ref, StateSucceeded)
	return time.Since(start)
}

func (h *harness) setGreeting(ref ServiceRef, name string, port int, greeting string) {
	h.service(ref, "httpecho", map[string]any{"name": name, "port": port, "greeting": greeting})
}

// BenchmarkEngineVsRawTofu: an engine plan and apply (job queued, workdir synced from
// the source, tofu run with -json, events parsed) against `tofu plan` / `tofu apply` in
// a prepared directory. Target: ratio ≤ 1.10.
func BenchmarkEngineVsRawTofu(b *testing.B) {
	h := newHarness(b, false, nil)
	ref := ServiceRef{Client: "bench", Service: "eng"}
	name, port := h.echoService(ref)
	rawPort, _ := strconv.Atoi(testservers.FreePort(b))
	rawName := name + "-raw"
	rawGreeting, raw := rawDir(b, h, map[string]any{"name": rawName, "port": rawPort, "greeting": "a"})
	h.setGreeting(ref, name, port, "a")
	h.run(h.e.Apply, ref, StateSucceeded)
	raw("apply", "-input=false", "-auto-approve")
	b.Cleanup(func() { raw("destroy", "-input=false", "-auto-approve") })

	for b.Loop() {
		var engPlan, rawPlan, engApply, rawApply []time.Duration
		for i := range benchRounds {
			engPlan = append(engPlan, h.timed(h.e.Plan, ref))
			rawPlan = append(rawPlan, raw("plan", "-input=false", "-out=raw.tfplan"))
			// Each apply changes the container (greeting), so both replace it.
			g := fmt.Sprintf("round-%d", i)
			h.setGreeting(ref, name, port, g)
			engApply = append(engApply, h.timed(h.e.Apply, ref))
			rawGreeting(g)
			rawApply = append(rawApply, raw("apply", "-input=false", "-auto-approve"))
		}
		b.ReportMetric(float64(median(engPlan))/float64(median(rawPlan)), "plan-engine/raw")
		b.ReportMetric(float64(median(engApply))/float64(median(rawApply)), "apply-engine/raw")
		b.Logf("median plan: engine %s, raw %s; median apply: engine %s, raw %s",
			median(engPlan).Round(time.Millisecond), median(rawPlan).Round(time.Millisecond),
			median(engApply).Round(time.Millisecond), median(rawApply).Round(time.Millisecond))
	}
}

// BenchmarkRepeatedPlan: a plan of an unchanged service, as the server runs it (state
// in S3 on versitygw, encrypted; no init when the module and backend did not change; the
// job's providers started once and tofu attached to them) against init + plan every
// time in a prepared directory, as the original design ran (state in MinIO, no
// encryption). Target: ratio ≤ 0.6. It also measures what state encryption adds to the
// CPU of one tofu command that reads the state, under the pbkdf2 key provider the engine
// used before and under the raw key it gives tofu now.
func BenchmarkRepeatedPlan(b *testing.B) {
	ring := testRing(b, strings.Repeat("k", 32))
	h := newHarness(b, true, func(c *Config) { c.Encryption = ring })
	ref := ServiceRef{Client: "bench", Service: "rep"}
	name, port := h.echoService(ref)
	rawPort, _ := strconv.Atoi(testservers.FreePort(b))
	_, raw, rawWorkdir := rawDirAt(b, h, map[string]any{"name": name + "-raw", "port": rawPort, "greeting": "a"})
	h.setGreeting(ref, name, port, "a")
	h.run(h.e.Apply, ref, StateSucceeded)
	raw("apply", "-input=false", "-auto-approve")
	b.Cleanup(func() { raw("destroy", "-input=false", "-auto-approve") })
	encCPU := encryptionCPU(b, h.e.cfg.TofuPath, ring)
	for b.Loop() {
		var eng, initPlan, coldPlan []time.Duration
		for range benchRounds {
			eng = append(eng, h.timed(h.e.Plan, ref))
			initPlan = append(initPlan, raw("init", "-input=false", "-reconfigure")+raw("plan", "-input=false", "-out=raw.tfplan"))
			// Cold: the workdir's .terraform recreated every time (providers linked again
			// from the warm plugin cache; with registry downloads it would cost far more).
			if err := os.RemoveAll(filepath.Join(rawWorkdir, ".terraform")); err != nil {
				b.Fatal(err)
			}
			coldPlan = append(coldPlan, raw("init", "-input=false", "-reconfigure")+raw("plan", "-input=false", "-out=raw.tfplan"))
		}
		b.ReportMetric(float64(median(eng))/float64(median(initPlan)), "plan/init+plan")
		b.ReportMetric(float64(median(eng))/float64(median(coldPlan)), "plan/cold-init+plan")
		b.ReportMetric(float64(median(eng).Microseconds())/1000, "ms-repeated-plan")
		b.ReportMetric(float64(median(initPlan).Microseconds())/1000, "ms-init+plan")
		pbkdf2, rawKey := encCPU()
		b.ReportMetric(float64(pbkdf2.Microseconds())/1000, "ms-cpu-encryption-pbkdf2")
		b.ReportMetric(float64(rawKey.Microseconds())/1000, "ms-cpu-encryption-raw-key")
		b.Logf("median: engine plan %s, init+plan %s, cold init+plan %s; CPU that encryption adds to a tofu command reading the state: pbkdf2 %s, raw key %s",
			median(eng).Round(time.Millisecond), median(initPlan).Round(time.Millisecond), median(coldPlan).Round(time.Millisecond),
			pbkdf2.Round(time.Millisecond), rawKey.Round(time.Millisecond))
	}
}

// encryptionCPU prepares three directories with the same small state (no provider):
// unencrypted, under the pbkdf2 key provider (as the engine encrypted before) and under
// the raw key (as now). measure returns the median CPU (user + system) one `tofu output`
// takes with each encryption, minus that without.
func encryptionCPU(b *testing.B, tofuPath string, ring *keyring.Keyring) (measure func() (pbkdf2, rawKey time.Duration)) {
	ref := ServiceRef{Client: "bench", Service: "enc"}
	cliConfig := filepath.Join(b.TempDir(), "tofurc")
	if err := os.WriteFile(cliConfig, nil, 0o600); err != nil {
		b.Fatal(err)
	}
	prepare := func(enc string) func() time.Duration {
		dir := b.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(secretModule), 0o644); err != nil {
			b.Fatal(err)
		}
		run := func(args ...string) time.Duration {
			cmd := exec.Command(tofuPath, args...)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "TF_IN_AUTOMATION=1", "TF_CLI_CONFIG_FILE="+cliConfig, "TF_VAR_token=t", "TF_VAR_round=1")
			if enc != "" {
				cmd.Env = append(cmd.Env, "TF_ENCRYPTION="+enc)
			}
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("tofu %v: %v\n%s", args, err, out)
			}
			return cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		}
		run("init", "-input=false")
		run("apply", "-input=false", "-auto-approve")
		return func() time.Duration {
			var cpu []time.Duration
			for range benchRounds {
				cpu = append(cpu, run("output", "-json"))
			}
			return median(cpu)
		}
	}
	none := prepare("")
	pbkdf2 := prepare(passphraseEncryption(ring, ref))
	rawKey := prepare(tofuEncryption(ring, ref, readers{}))
	return func() (time.Duration, time.Duration) {
		base := none()
		return pbkdf2() - base, rawKey() - base
	}
}

// BenchmarkParallelServices: 10 services applied at once against one after another.
func BenchmarkParallelServices(b *testing.B) {
	const n = 10
	h := newHarness(b, false, func(c *Config) { c.MaxParallel = n })
	var refs []ServiceRef
	type svc struct {
		name string
		port int
	}
	svcs := map[ServiceRef]svc{}
	for i := range n {
		ref := ServiceRef{Client: "bench", Service: fmt.Sprintf("par%d", i)}
		name, port := h.echoService(ref)
		svcs[ref] = svc{name, port}
		refs = append(refs, ref)
	}
	// Warm every workdir (init) so both runs measure applies only.
	for _, ref := range refs {
		h.run(h.e.Plan, ref, StateSucceeded)
	}
	applyAll := func(greeting string, parallel bool) time.Duration {
		for _, ref := range refs {
			h.setGreeting(ref, svcs[ref].name, svcs[ref].port, greeting)
		}
		start := time.Now()
		if !parallel {
			for _, ref := range refs {
				h.run(h.e.Apply, ref, StateSucceeded)
			}
			return time.Since(start)
		}
		var wg sync.WaitGroup
		for _, ref := range refs {
			j, err := h.e.Apply(context.Background(), ref)
			if err != nil {
				b.Fatal(err)
			}
			wg.Add(1)
			go func() { defer wg.Done(); h.wait(j, StateSucceeded) }()
		}
		wg.Wait()
		return time.Since(start)
	}
	for b.Loop() {
		seq := applyAll("sequential", false)
		par := applyAll("parallel", true)
		b.ReportMetric(float64(par)/float64(seq), "parallel/sequential")
		b.Logf("10 applies: sequential %s, parallel %s", seq.Round(time.Millisecond), par.Round(time.Millisecond))
	}
	for _, ref := range refs {
		h.run(h.e.Destroy, ref, StateSucceeded)
	}
}

// BenchmarkJobRecords: what a service list and a job history cost in store reads, from
// a file store holding 20 services with 100 finished jobs each (50 events per record).
// The baseline is the same reads with the record cache emptied before each round, as
// every read was before the cache (a listing, then a read and decode of each record).
func BenchmarkJobRecords(b *testing.B) {
	e, st := unitEngine(b, false)
	var refs []ServiceRef
	for s := range 20 {
		ref := ServiceRef{Client: "bench", Service: fmt.Sprintf("svc%d", s)}
		refs = append(refs, ref)
		for range DefaultJobHistory {
			info := JobInfo{ID: uuid.NewString(), Operation: OpApply, Service: ref, State: StateSucceeded, CreatedAt: timeNow()}
			rec := jobRecord{JobInfo: info}
			for i := range 50 {
				rec.Events = append(rec.Events, Event{Seq: int64(i + 1), Type: EventLog, Level: "info", Message: fmt.Sprintf("docker_container.app: Still creating... [%ds elapsed]", i)})
			}
			putJSON(b, st, recordKey(info), rec)
		}
	}
	ctx := context.Background()
	timed := func(cold bool, f func()) time.Duration {
		const rounds = 50
		var total time.Duration
		for range rounds {
			if cold {
				e.ledger.records.mu.Lock()
				clear(e.ledger.records.m)
				e.ledger.records.mu.Unlock()
			}
			start := time.Now()
			f()
			total += time.Since(start)
		}
		return total / rounds
	}
	lastJobs := func() {
		for _, ref := range refs {
			if _, err := e.LastJob(ctx, ref); err != nil {
				b.Fatal(err)
			}
		}
	}
	history := func() {
		if jobs, err := e.ListJobs(ctx, refs[0]); err != nil || len(jobs) != DefaultJobHistory {
			b.Fatalf("%d jobs, %v", len(jobs), err)
		}
	}
	lastJobs() // fill the cache
	history()
	for b.Loop() {
		last, lastCold := timed(false, lastJobs), timed(true, lastJobs)
		list, listCold := timed(false, history), timed(true, history)
		b.ReportMetric(float64(list)/float64(listCold), "listjobs/cold")
		b.ReportMetric(float64(last)/float64(lastCold), "lastjob/cold")
		b.ReportMetric(float64(last.Microseconds())/1000, "ms-lastjob-20")
		b.Logf("last job of 20 services: %s (cold %s); history of 100 jobs: %s (cold %s)",
			last.Round(time.Microsecond), lastCold.Round(time.Microsecond), list.Round(time.Microsecond), listCold.Round(time.Microsecond))
	}
}
