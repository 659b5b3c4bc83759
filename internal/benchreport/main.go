// Command benchreport turns `go test -bench` output (the benchmarks of `go tool task
// bench`) into docs/benchmarks.md: each figure as a ratio against the baseline measured
// in the same run, its target where an issue set one, and the machine it ran on.
//
//	go run ./internal/benchreport < .tools/bench.out > docs/benchmarks.md
//
// With -keep docs/benchmarks.md, the figures of benchmarks the run did not measure are
// kept from the earlier report (for a run of one benchmark).
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

// target describes what an issue asked of one metric.
type target struct {
	what  string
	max   float64 // the figure must be at most this (0: no target)
	units string
}

var targets = map[string]target{
	"plan-engine/raw":               {"engine plan vs raw `tofu plan` (prepared dir)", 1.10, "ratio"},
	"apply-engine/raw":              {"engine apply vs raw `tofu apply` (prepared dir)", 1.10, "ratio"},
	"plan/init+plan":                {"repeated plan of an unchanged service vs init+plan every time", 0.6, "ratio"},
	"plan/cold-init+plan":           {"the same vs a cold init (fresh .terraform) + plan every time", 0.6, "ratio"},
	"ms-repeated-plan":              {"repeated plan of an unchanged service (engine, state encrypted, in S3), median", 0, "ms"},
	"ms-init+plan":                  {"init + plan every time (raw tofu, baseline), median", 0, "ms"},
	"ms-cpu-encryption-pbkdf2":      {"CPU state encryption adds to one tofu command reading the state, pbkdf2 key provider (before)", 0, "ms"},
	"ms-cpu-encryption-raw-key":     {"the same with the raw state key tofu is given now", 0, "ms"},
	"parallel/sequential":           {"10 services applied in parallel vs one after another", 0, "ratio"},
	"%core-supervisor":              {"supervisor CPU at steady state, 5-min sweep (percent of one core)", 10, "%"},
	"supervisor/plan-every-10s":     {"supervisor CPU vs the original plan-every-10-seconds", 0, "ratio"},
	"%core-supervisor-500":          {"supervisor CPU at steady state with 500 deployed services (server, its tofu processes and dockerd, net of the floor; percent of one core)", 10, "%"},
	"%core-supervisor-100":          {"the same with 100 deployed services", 0, "%"},
	"supervisor-cpu-500/100":        {"supervisor CPU, 500 services vs 100 (growth)", 0, "ratio"},
	"%core-supervisor-500-raw":      {"the same without subtracting the floor", 0, "%"},
	"%core-floor-500":               {"the floor: the next window, supervisor stopped (dockerd serves the whole machine)", 0, "%"},
	"sup-500/plan-each-interval":    {"supervisor CPU with 500 services vs a full check of each every 5-minute interval", 0, "ratio"},
	"s-detect-p50-events":           {"drift detection after `docker rm`, Docker events on, p50", 0, "s"},
	"s-detect-p95-events":           {"drift detection after `docker rm`, Docker events on, p95", 5, "s"},
	"detect-p50/interval-no-events": {"detection without events, p50, as a fraction of the sweep interval", 0, "ratio"},
	"detect-p95/interval-no-events": {"detection without events, p95, as a fraction of the sweep interval (one interval + the check)", 0, "ratio"},
	"MiB-rss":                       {"server memory (RSS) with 200 services supervised", 0, "MiB"},
	"http/engine":                   {"apply over HTTP + SSE to job finished vs the engine called directly", 0, "ratio"},
	"list/healthz-p50":              {"GET /api/v1/services vs GET /healthz, 200 concurrent clients, p50", 5, "ratio"},
	"ms-page50-10000-file":          {"first page (50) of the services list, 10,000 services in the tenant, file store, median", 20, "ms"},
	"ms-page50-100-file":            {"the same with 100 services in the tenant (baseline)", 0, "ms"},
	"page50-10000/100-file":         {"first page at 10,000 services vs at 100, file store", 1.5, "ratio"},
	"ms-cold-page50-10000-file":     {"the same page, first request of a replica (no summary cached), file store", 0, "ms"},
	"ms-page50-10000-s3":            {"first page (50) of the services list, 10,000 services in the tenant, versitygw, median", 60, "ms"},
	"ms-page50-100-s3":              {"the same with 100 services in the tenant (baseline)", 0, "ms"},
	"page50-10000/100-s3":           {"first page at 10,000 services vs at 100, versitygw", 1.5, "ratio"},
	"ms-cold-page50-10000-s3":       {"the same page, first request of a replica (no summary cached), versitygw", 0, "ms"},
	"s-ready-10000":                 {"`spawnit serve` start-up to ready with 10,000 services in the store", 5, "s"},
	"ready-10000/empty":             {"that start-up vs the same with an empty store", 0, "ratio"},
	"ms-p50-list":                   {"GET /api/v1/services (20 services), 200 concurrent clients, p50", 0, "ms"},
	"ms-p99-list":                   {"the same, p99", 0, "ms"},
	"ms-p50-delivery":               {"SSE delivery latency to 1,000 out-of-process subscribers of one job, p50", 0, "ms"},
	"ms-p99-delivery":               {"the same, p99 (machine load in the raw figures)", 100, "ms"},
	"ms-p99-delivery-baseline":      {"the same generator against a minimal net/http SSE server (same events, same pace), p99", 0, "ms"},
	"p99/baseline-server":           {"SSE p99 delivery vs the minimal net/http server in the same run", 0, "ratio"},
	"KiB/idle-subscriber":           {"server heap + stacks per idle SSE subscriber (1,000 out-of-process)", 16, "KiB"},
	"KiB/idle-subscriber-baseline":  {"the same for the minimal net/http SSE server", 0, "KiB"},
	"KiB-left-after":                {"server heap + stacks once the 1,000 subscribers left, minus before they came", 0, "KiB"},
	"listjobs/cold":                 {"job history of a service (100 records) vs the same with every record read and decoded", 0, "ratio"},
	"lastjob/cold":                  {"last job of 20 services (service list) vs the same with every newest record read and decoded", 0, "ratio"},
	"ms-lastjob-20":                 {"last job of 20 services with 100 records each, file store", 0, "ms"},
	"ms-p50-live-event":             {"a running job's event streamed by another replica through the store (versitygw), p50", 0, "ms"},
	"ms-p95-live-event":             {"the same, p95", 1000, "ms"},
	"live-p95/(flush+poll)":         {"that p95 as a fraction of the flush interval (500 ms) plus the poll interval (300 ms)", 0, "ratio"},
	"applies/min-1-replica":         {"applies per minute, 30 services at once, one replica", 0, "/min"},
	"applies/min-3-replicas":        {"the same with three replicas on one bucket (same machine)", 0, "/min"},
	"3-replicas/1-replica":          {"applies per minute, three replicas vs one (same machine)", 0, "ratio"},
	"delivered-other/local":         {"live events delivered by a replica that does not run the job vs by the one that does", 0, "ratio"},
	"ms-p50-event-other":            {"live event delay, job streamed from a replica that does not run it, p50", 0, "ms"},
	"ms-p95-event-other":            {"the same, p95", 1000, "ms"},
	"ms-p95-event-local":            {"live event delay from the replica that runs the job, p95 (baseline)", 0, "ms"},
	"dup-checks/drift-event":        {"extra drift checks across three replicas per `docker rm -f`", 0, "checks"},
	"s-usable-after-kill":           {"kill -9 of the replica running an apply to the service applied again (median of 3)", 30, "s"},
	"ms-p50-drift-signal":           {"drift signal (unconfirmed `missing`) on /api/v1/events after `docker rm -f`, p50", 0, "ms"},
	"ms-p95-drift-signal":           {"drift signal (unconfirmed `missing`) on /api/v1/events after `docker rm -f`, p95", 500, "ms"},
	"ms-p95-drift-confirmed":        {"the drift check's confirmation on /api/v1/events after `docker rm -f`, p95", 2000, "ms"},
	"ms-p95-docker-destroy":         {"Docker's own destroy event on a Docker event stream after `docker rm -f`, p95 (baseline)", 0, "ms"},
	"signal/docker-event":           {"drift signal p95 vs Docker's destroy event p95", 0, "ratio"},
	"signal/confirmed":              {"drift signal p95 vs the check's confirmation p95 (the previous, check-only path)", 0, "ratio"},
}

// notes explain figures whose meaning needs more than a line, missed targets first.
var notes = []string{
	"**Repeated plan vs init + plan.** A plan of an unchanged service skips init (the module, backend and CLI configuration hash to what the workdir was initialised with), and its tofu commands attach to the job's providers, started once (`TF_REATTACH_PROVIDERS`): left to itself tofu starts a provider three times per plan (schema, validate, plan) and checks its package (75 MB for the Docker provider) against the lock file each time, which was most of a plan's cost. The refresh and the plan are tofu's own, unchanged. State encryption gives tofu the service's derived key as a raw AES key: the pbkdf2 key provider used before cost about half a second of CPU per command (a key to read, a key with a new salt to write), for a key that is already random.",
	"**Drift signals (targets: signal p95 ≤ 500 ms, confirmation p95 ≤ 2 s).** Each of 7 deployed services has its container removed once (`docker rm -f`, timed from the command's start); the benchmark reads /api/v1/events over HTTP as a browser does, and Docker's own event stream for the baseline. The signal is published as soon as the supervisor reads Docker's destroy event (a few store reads: the service, its intent, its jobs, then one conditional write of the drift record), so it follows Docker's own event within tens of milliseconds (the ratio to the baseline, about 1.02): that ratio is the figure that holds on any machine. On an idle machine Docker removes a running container in 0.1-0.3 s and the check (a 0.5 s debounce, then `tofu plan`) confirms within about 1.3 s. The run recorded here was made while the two cores were shared with other work (load average about 35): Docker itself took 2.5 s (p50) to report the removal, and the plan about 20 s, so both absolute targets were missed by the same factor as the baseline, not by anything the signal path adds.",
	"**Supervisor CPU.** Measured over a 60 s window of steady state (every service checked once, next checks spread over the 5-minute interval; sweeps compare a Docker fingerprint and run OpenTofu only when it changed), plus the full checks the deep interval adds, amortised (6 hours for services whose resources are all Docker objects, as httpecho's are). The baseline is the per-check CPU of a full check measured in the same run, times 6 per minute per service: the original plan-every-10-seconds would need about 13 cores for 200 services on this machine.",
	"**Supervisor CPU at 100 and 500 services.** BenchmarkSupervisorCPU deploys real httpecho containers, primes a supervisor with the server's defaults (every service checked once, next sweeps spread over the 5-minute interval) and counts, over a 60 s window, the CPU of the test process, every process under it (tofu and its providers, ended or alive) and dockerd; the safety-net full checks of the deep interval are added amortised at the cost of one full check measured in the same run. A sweep lists Docker once for all services (containers, volumes, networks, images; reused 15 s) and inspects only the due service's containers; an unchanged fingerprint skips the plan. The fingerprint holds each container's whole configuration, host configuration, mounts, networks, running state and its image's tags, so for a service whose every resource is a Docker object (every built-in template) the full check without a change is a safety net every 6 hours (DockerDeepInterval); a service whose plan reads more (a data source, another kind of resource) keeps the 30-minute one. dockerd serves everything else on the machine too: a window of the same length with the supervisor stopped follows (the floor) and is subtracted; the raw figure is reported as well.",
	"**Detection without events.** The sweep interval is shortened to 20 s so the run ends; the latency is reported as a fraction of the interval (a removal is found by the next sweep of its service, then checked).",
	"**GET under load.** 200 concurrent clients on 2 cores, each listing 20 services: a list reads one page of the tenant's service index (one listing, then each service's summary, which the replica keeps while its ETag is unchanged), so the figure is dominated by queueing for the two cores; /healthz under the same load is the floor of the HTTP stack.",
	"**Services list pages.** Two tenants in one store, 100 and 10,000 services, seeded by writing one created service's records under new ids (creating 10,000 through the API would only measure creates). Requests for the two tenants alternate so that both see the same load on the machine; the figure is the median of 101. A page is one listing of the tenant's index (S3 ListObjectsV2 with StartAfter and MaxKeys; the file store reads the folder's names, kept while the folder is unchanged) and the summaries on it, read concurrently and kept by the replica while their ETags are unchanged. The cold figure is a replica's first request (every summary on the page read from the store).",
	"**Replicas.** Three `spawnit serve` processes on one versitygw bucket behind a round-robin proxy, all on this machine. Applies per minute are bounded by CPU (tofu and its provider) here, and the replicas share the same two cores, so three replicas add queueing capacity but little throughput; on three machines each replica brings its own cores and the three-replica figure would approach three times the single replica's, up to what the bucket and the Docker engine sustain. The event delay is the time from an event (its own timestamp, by the running replica) to its receipt on a stream opened on another replica; the running replica's own stream is the baseline. Duplicated checks count drift checks started on any replica within 35 s (the supervisor's busy retry, with jitter) of each removal, minus one per removal (target 0).",
	"**SSE fan-out.** 1,000 subscribers held by a load generator in its own process (internal/sseload); the delay is the receipt time (taken when the bytes arrive, before any parsing) minus the event's own time stamp (tofu's, for a job). The same run measures a baseline: the same generator against a minimal net/http SSE server in the benchmark's process (a goroutine per stream, each event written and flushed) sending as many events at the pace of the job's, and its idle memory. SpawnIt takes HTTP/1.1 streams over once the request is authenticated: one hub per job or tenant encodes each event once and writes the same bytes to every connection (writes spread over the processors, a slow client finished apart within the write timeout), with no goroutine or buffer per idle subscriber; departed clients are found by peeking at their sockets. Both processes and the job's tofu share the machine's two cores with whatever else runs, and the delays are then mostly the wait for a core: the load average and each side's CPU time are in the raw figures, and the ratio to the minimal server, measured under the same load, is the figure that carries over from one run to another.",
}

func num(v float64) string {
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 3, 64)
}

type row struct {
	bench, metric string
	value         float64
}

func main() {
	keep := flag.String("keep", "", "an earlier report whose figures are kept for the benchmarks this run did not measure")
	flag.Parse()
	var rows []row
	var logs []string
	ran := map[string]bool{}
	bench := "" // the benchmark whose log lines follow
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "--- BENCH: "), strings.HasPrefix(line, "--- FAIL: "):
			bench = strings.TrimPrefix(strings.Fields(line)[2], "Benchmark")
			bench = strings.TrimSuffix(bench, "-"+strconv.Itoa(runtime.NumCPU()))
		case strings.HasPrefix(line, "Benchmark"):
			f := strings.Fields(line)
			if len(f) < 4 {
				continue
			}
			name := strings.TrimSuffix(f[0], "-"+strconv.Itoa(runtime.NumCPU()))
			ran[strings.TrimPrefix(name, "Benchmark")] = true
			for i := 2; i+1 < len(f); i += 2 {
				v, err := strconv.ParseFloat(f[i], 64)
				if err == nil && f[i+1] != "ns/op" {
					rows = append(rows, row{name, f[i+1], v})
				}
			}
		case strings.Contains(line, "bench_test.go:"):
			l := strings.TrimSpace(line[strings.Index(line, "bench_test.go:"):])
			if bench != "" {
				l = bench + ": " + l
			}
			logs = append(logs, l)
		}
	}
	if *keep != "" {
		oldRows, oldLogs, trailer, err := readReport(*keep, ran)
		if err != nil {
			fmt.Fprintln(os.Stderr, "benchreport:", err)
			os.Exit(1)
		}
		rows, logs = append(oldRows, rows...), append(oldLogs, logs...)
		defer fmt.Print(trailer)
	}
	write(os.Stdout, rows, logs)
}

// readReport reads the figures and raw lines of an earlier report, leaving out those of
// the benchmarks in ran (measured again), and what was written after the raw figures
// (kept as it is). Metrics are found back from their descriptions.
func readReport(path string, ran map[string]bool) ([]row, []string, string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, "", err
	}
	metric := map[string]string{}
	for m, t := range targets {
		metric[t.what] = m
	}
	var rows []row
	var logs []string
	raw, fences := false, 0
	lines := strings.Split(string(b), "\n")
	for i, line := range lines {
		switch {
		case raw && line == "```":
			if fences++; fences == 2 { // the end of the raw figures
				return rows, logs, strings.Join(lines[i+1:], "\n"), nil
			}
		case line == "## Raw figures":
			raw = true
		case raw && strings.Contains(line, "bench_test.go:"):
			name, _, _ := strings.Cut(line, ": ")
			if !ran[name] {
				logs = append(logs, line)
			}
		case strings.HasPrefix(line, "| ") && !raw:
			f := strings.Split(line, " | ")
			if len(f) < 4 || f[0] == "| benchmark" || strings.HasPrefix(f[0], "| ---") {
				continue
			}
			name := strings.TrimPrefix(f[0], "| ")
			if ran[name] {
				continue
			}
			value, _, _ := strings.Cut(f[2], " ")
			v, err := strconv.ParseFloat(value, 64)
			if err != nil {
				continue
			}
			m, ok := metric[f[1]]
			if !ok {
				m = f[1]
			}
			rows = append(rows, row{"Benchmark" + name, m, v})
		}
	}
	return rows, logs, "", nil
}

func machine() string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				cpu = strings.TrimSpace(strings.SplitN(l, ":", 2)[1])
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		f := strings.Fields(strings.SplitN(string(b), "\n", 2)[0])
		if kb, err := strconv.ParseFloat(f[1], 64); err == nil {
			mem = fmt.Sprintf(", %.0f GiB", kb/(1<<20))
		}
	}
	tofu := ""
	if out, err := exec.Command(".tools/bin/tofu", "version", "-json").Output(); err == nil {
		var v struct {
			Version string `json:"terraform_version"`
		}
		if json.Unmarshal(out, &v) == nil && v.Version != "" {
			tofu = ", OpenTofu " + v.Version
		}
	}
	return fmt.Sprintf("%s, %d cores%s, %s %s/%s%s", cpu, runtime.NumCPU(), mem, runtime.Version(), runtime.GOOS, runtime.GOARCH, tofu)
}

func write(w io.Writer, rows []row, logs []string) {
	fmt.Fprintf(w, "# SpawnIt benchmarks\n\nGenerated by `go -C tools tool task bench` on %s.\n\nMachine: %s.\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"), machine())
	fmt.Fprintln(w, "Every figure is measured against a baseline taken in the same run (raw tofu, init every time, plan every 10 seconds, direct engine calls, /healthz), so it means the same on any machine. Targets come from the issues; a missed target is marked and explained below.")
	fmt.Fprintln(w, "\n| benchmark | what | figure | target | |\n| --- | --- | --- | --- | --- |")
	sort.SliceStable(rows, func(a, b int) bool { return rows[a].bench < rows[b].bench })
	for _, r := range rows {
		t, ok := targets[r.metric]
		what := r.metric
		if ok {
			what = t.what
		}
		goal, mark := "—", ""
		if ok && t.max > 0 {
			goal = fmt.Sprintf("≤ %g", t.max)
			mark = "met"
			if r.value > t.max {
				mark = fmt.Sprintf("**missed** (by %.0f%%)", (r.value/t.max-1)*100)
			}
		}
		fmt.Fprintf(w, "| %s | %s | %s %s | %s | %s |\n", strings.TrimPrefix(r.bench, "Benchmark"), what, num(r.value), t.units, goal, mark)
	}
	fmt.Fprintln(w, "\n## Notes")
	for _, n := range notes {
		fmt.Fprintln(w, "\n- "+n)
	}
	fmt.Fprintln(w, "\n## Raw figures\n\n```")
	for _, l := range logs {
		fmt.Fprintln(w, l)
	}
	fmt.Fprintln(w, "```")
}
