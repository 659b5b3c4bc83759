//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spawnit/spawnit/internal/testservers"
	"github.com/spawnit/spawnit/pkg/apiv1"
	"github.com/spawnit/spawnit/pkg/client"
	"go.yaml.in/yaml/v3"
)

// startServe runs a real spawnit serve (local store, the pinned tofu, the provider-less
// bulk template) on a loopback port and returns its URL. extra are more serve flags.
func startServe(t *testing.T, extra ...string) (string, *app) {
	t.Helper()
	tofu := testservers.Tofu(t)
	dir := t.TempDir()
	args := append([]string{"--listen", "127.0.0.1:0", "--data-dir", dir, "--tofu", tofu, "--drift-interval", "0", "--shutdown-grace", "5s"}, extra...)
	cfg, err := parseServeFlags(args, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	a, err := newApp(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	installBulk(t, a)
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- a.serve(ctx) }()
	t.Cleanup(func() { stop(); <-served })
	return "http://" + a.listener.Addr().String(), a
}

// cliRun is one command line run in-process against a server.
type cliRun struct {
	t      *testing.T
	server string
	// stdin and terminal are given to the next runs.
	stdin    string
	terminal bool
	vars     map[string]string
	config   string
	// openBrowser receives login's URL.
	openBrowser func(string) error
}

func newCLIRun(t *testing.T, server string) *cliRun {
	return &cliRun{t: t, server: server, vars: map[string]string{}, config: t.TempDir()}
}

// run runs args and returns stdout, stderr and the exit status main would exit with.
func (r *cliRun) run(args ...string) (string, string, int) {
	r.t.Helper()
	var out, errOut bytes.Buffer
	env := &cliEnv{
		stdin: strings.NewReader(r.stdin), stdout: &out, stderr: &errOut,
		getenv: func(k string) string {
			if k == "SPAWNIT_SERVER" && r.server != "" {
				return r.server
			}
			return r.vars[k]
		},
		loc:         time.UTC,
		terminal:    r.terminal,
		configDir:   r.config,
		openBrowser: r.openBrowser,
		clientOpts:  []client.Option{client.WithRetry(2, 10*time.Millisecond)},
	}
	res := executeCLI(r.t.Context(), env, args)
	code := exitCode(res, args, &errOut)
	return out.String(), errOut.String(), code
}

// ok runs args, fails the test unless they exit 0, and returns stdout.
func (r *cliRun) ok(args ...string) string {
	r.t.Helper()
	out, errOut, code := r.run(args...)
	if code != 0 {
		r.t.Fatalf("spawnit %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

func (r *cliRun) json(v any, args ...string) {
	r.t.Helper()
	out := r.ok(append(args, "-o", "json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		r.t.Fatalf("spawnit %s -o json: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// TestCLIAgainstServe runs every client command against a real spawnit serve.
func TestCLIAgainstServe(t *testing.T) {
	base, _ := startServe(t)
	cli := newCLIRun(t, base)

	if out := cli.ok("--version"); !strings.HasPrefix(out, "spawnit ") || cli.ok("version") != out {
		t.Fatalf("--version: %q", out)
	}
	// A typo gets a suggestion.
	if _, errOut, code := cli.run("servcies"); code != 2 || !strings.Contains(errOut, "did you mean services?") {
		t.Fatalf("typo: exit %d\n%s", code, errOut)
	}
	// help <command> is the command's help.
	if out := cli.ok("help", "apply"); !strings.Contains(out, "Usage: spawnit apply <service>") {
		t.Fatalf("help apply:\n%s", out)
	}

	// Catalog and templates.
	if out := cli.ok("catalog"); !strings.Contains(out, "bulk") {
		t.Fatalf("catalog:\n%s", out)
	}
	var tpl apiv1.Template
	cli.json(&tpl, "template", "show", "bulk")
	if tpl.ID != "bulk" || len(tpl.Inputs) != 3 {
		t.Fatalf("template show: %+v", tpl)
	}
	if out := cli.ok("template", "show", "bulk"); !strings.Contains(out, "items") || !strings.Contains(out, "integer") {
		t.Fatalf("template show:\n%s", out)
	}
	var list apiv1.TemplateList
	out := cli.ok("template", "list", "-o", "yaml")
	if err := yaml.Unmarshal([]byte(out), &struct{}{}); err != nil || !strings.Contains(out, "templates:\n  - id: ") {
		t.Fatalf("template list -o yaml: %v\n%s", err, out)
	}
	cli.json(&list, "template", "list")

	// whoami on a single-user server.
	var me apiv1.Me
	cli.json(&me, "whoami")
	if !me.SingleUser || me.Tenant != "local" || me.CSRFToken != "" {
		t.Fatalf("whoami: %+v", me)
	}

	// Create; global flags before the command work.
	var svc apiv1.Service
	cli.json(&svc, "-o", "json", "create", "bulk", "--name", "CI bulk", "--set", "items=2", "--set", "token=abcdefghijkl-secret")
	id := svc.ID
	if svc.Inputs["items"] != float64(2) {
		t.Fatalf("created %+v", svc)
	}

	// plan --detailed-exitcode: 2 with changes.
	if out, errOut, code := cli.run("plan", id, "--detailed-exitcode"); code != 2 || !strings.Contains(out, "Plan: 2 to add") {
		t.Fatalf("plan with changes: exit %d\n%s\n%s", code, out, errOut)
	}
	out = cli.ok("apply", id)
	if !strings.Contains(out, "Apply succeeded in ") || !strings.Contains(out, "token = (sensitive)") {
		t.Fatalf("apply:\n%s", out)
	}
	if out, errOut, code := cli.run("plan", id, "--detailed-exitcode"); code != 0 || !strings.Contains(out, "No changes") {
		t.Fatalf("plan without changes: exit %d\n%s\n%s", code, out, errOut)
	}

	// service show: text, json with the API's names and the outputs, yaml, --reveal.
	out = cli.ok("service", "show", id)
	for _, want := range []string{"Service " + id + " (CI bulk)", "Status:          deployed", "items", "token = (sensitive)", "Outputs (apply "} {
		if !strings.Contains(out, want) {
			t.Errorf("service show lacks %q:\n%s", want, out)
		}
	}
	var view struct {
		apiv1.Service
		Outputs map[string]apiv1.Output `json:"outputs"`
	}
	cli.json(&view, "service", "show", id)
	if view.ID != id || view.Status.Intent != "applied" || string(view.Outputs["note"].Value) != `"note"` || len(view.Outputs["token"].Value) != 0 {
		t.Fatalf("service show -o json: %+v", view)
	}
	out = cli.ok("service", "show", id, "-o", "yaml")
	if !strings.Contains(out, "id: "+id+"\n") || !strings.Contains(out, "auto_remediate: false\n") {
		t.Fatalf("service show -o yaml:\n%s", out)
	}
	// --reveal asks on a terminal: "n" reveals nothing, "y" does.
	cli.terminal, cli.stdin = true, "n\n"
	if out, errOut, code := cli.run("service", "show", id, "--reveal"); code != 1 || strings.Contains(out, "abcdefghijkl-secret") || !strings.Contains(errOut, "[y/N]") {
		t.Fatalf("reveal refused: exit %d\n%s\n%s", code, out, errOut)
	}
	cli.stdin = "y\n"
	if out := cli.ok("service", "show", id, "--reveal"); !strings.Contains(out, `"abcdefghijkl-secret"`) {
		t.Fatalf("reveal:\n%s", out)
	}
	cli.terminal, cli.stdin = false, ""

	// update inputs (the ETag is the CLI's business), then plan shows the change.
	cli.ok("service", "update", id, "--set", "items=3")
	cli.json(&svc, "service", "show", id)
	if svc.Inputs["items"] != float64(3) || svc.Inputs["note"] != "note" {
		t.Fatalf("after update: %v", svc.Inputs)
	}
	if _, _, code := cli.run("plan", id, "--detailed-exitcode"); code != 2 {
		t.Fatalf("plan after update: exit %d", code)
	}
	if out, errOut, code := cli.run("service", "update", id); code != 2 || !strings.Contains(errOut, "update needs --set") {
		t.Fatalf("update without inputs: %d %s %s", code, out, errOut)
	}

	// settings.
	out = cli.ok("service", "settings", id, "--expires-in", "2h", "--auto-remediate=true")
	if !strings.Contains(out, "Auto-remediate:  on") || strings.Contains(out, "Expires:         never") {
		t.Fatalf("settings:\n%s", out)
	}
	var settings struct {
		ExpiresAt     *time.Time `json:"expires_at"`
		AutoRemediate bool       `json:"auto_remediate"`
	}
	cli.json(&settings, "service", "settings", id, "--no-expiry", "--auto-remediate=false")
	if settings.ExpiresAt != nil || settings.AutoRemediate {
		t.Fatalf("settings: %+v", settings)
	}

	// jobs list and show, logs.
	var jobs apiv1.JobList
	cli.json(&jobs, "jobs", "list", id)
	if len(jobs.Jobs) < 4 || jobs.Jobs[0].Operation != "plan" {
		t.Fatalf("jobs: %+v", jobs)
	}
	out = cli.ok("jobs", "list", id)
	if !strings.HasPrefix(out, "JOB ") || strings.Count(out, "\n") != len(jobs.Jobs)+1 {
		t.Fatalf("jobs list:\n%s", out)
	}
	var applyJob string
	for _, j := range jobs.Jobs {
		if j.Operation == "apply" {
			applyJob = j.ID
		}
	}
	if out := cli.ok("jobs", "show", id, applyJob); !strings.Contains(out, "State:    succeeded") || !strings.Contains(out, "Changes:  2 added") {
		t.Fatalf("jobs show:\n%s", out)
	}
	if out := cli.ok("logs", id, applyJob); !strings.Contains(out, "job succeeded") {
		t.Fatalf("logs:\n%s", out)
	}

	// Apply the update, then drift: in sync exits 0 with --detailed-exitcode.
	cli.ok("apply", id)
	if out, errOut, code := cli.run("drift", id, "--check", "--detailed-exitcode"); code != 0 || !strings.Contains(out, "Drift: in sync") {
		t.Fatalf("drift check: exit %d\n%s\n%s", code, out, errOut)
	}
	// The server records the check's report as the service's last one once the job
	// has ended: wait for it.
	for deadline := time.Now().Add(30 * time.Second); ; {
		var d apiv1.Drift
		if cli.json(&d, "drift", id); d.Status != "not_checked" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the drift report was not recorded")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if out := cli.ok("drift", id); !strings.Contains(out, "Drift: in sync") {
		t.Fatalf("drift:\n%s", out)
	}
	// remediate and accept are jobs like apply.
	if out := cli.ok("remediate", id); !strings.Contains(out, "succeeded") {
		t.Fatalf("remediate:\n%s", out)
	}
	if out, errOut, code := cli.run("accept", id); code != 0 && !strings.Contains(errOut, "accept") {
		t.Fatalf("accept: exit %d\n%s\n%s", code, out, errOut)
	}
	// recover on a service that does not need it: the server's answer, as a sentence.
	if out, errOut, code := cli.run("recover", id); code != 0 && (code != 1 || errOut == "") {
		t.Fatalf("recover: exit %d\n%s\n%s", code, out, errOut)
	}

	// A job started without following, then cancel on a finished job.
	var started apiv1.Job
	cli.json(&started, "plan", id, "--no-follow")
	if out := cli.ok("logs", id, started.ID, "-f"); !strings.Contains(out, "Plan succeeded") {
		t.Fatalf("logs -f:\n%s", out)
	}
	if _, errOut, code := cli.run("cancel", id, started.ID); code != 1 || errOut == "" {
		t.Fatalf("cancel of a finished job: exit %d %s", code, errOut)
	}

	// destroy asks for the name on a terminal: a wrong name does nothing.
	cli.terminal, cli.stdin = true, "wrong\n"
	if _, errOut, code := cli.run("destroy", id); code != 1 || !strings.Contains(errOut, "Type the service's name") || !strings.Contains(errOut, "nothing was done") {
		t.Fatalf("destroy with a wrong name: exit %d\n%s", code, errOut)
	}
	cli.stdin = "CI bulk\n"
	if out := cli.ok("destroy", id); !strings.Contains(out, "Destroy succeeded") {
		t.Fatalf("destroy:\n%s", out)
	}
	cli.terminal, cli.stdin = false, ""
	if out := cli.ok("delete", id, "--yes"); out != "Deleted service "+id+".\n" {
		t.Fatalf("delete:\n%s", out)
	}
	if out := cli.ok("service", "list"); !strings.HasPrefix(out, "No services yet") {
		t.Fatalf("service list:\n%s", out)
	}
	if out := cli.ok("services"); !strings.HasPrefix(out, "No services yet") {
		t.Fatalf("services:\n%s", out)
	}
}

// testBinary writes a "spawnit" command into a new directory that runs this test
// binary's main, and returns the directory (for PATH).
func testBinary(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	script := "#!/bin/sh\n" + runMainEnv + "=1 exec " + shellQuote(os.Args[0]) + " \"$@\"\n"
	if err := os.WriteFile(filepath.Join(dir, "spawnit"), []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// TestCIScriptGatesApplyOnPlan is what a pipeline does: apply only when the plan has
// changes, fail on an error.
func TestCIScriptGatesApplyOnPlan(t *testing.T) {
	base, _ := startServe(t)
	bin := testBinary(t)
	cli := newCLIRun(t, base)
	var svc apiv1.Service
	cli.json(&svc, "create", "bulk", "--name", "gated", "--set", "items=1")

	const script = `set -u
spawnit plan "$1" --detailed-exitcode >/dev/null
case $? in
0) echo "up to date" ;;
2) spawnit apply "$1" >/dev/null || exit 1; echo "applied" ;;
*) echo "plan failed" >&2; exit 1 ;;
esac
`
	gate := func(svc string) (string, int) {
		cmd := exec.Command("bash", "-c", script, "gate", svc)
		cmd.Env = append(cleanEnv(t), "PATH="+bin+":"+os.Getenv("PATH"), "SPAWNIT_SERVER="+base)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		if err != nil && cmd.ProcessState == nil {
			t.Fatal(err)
		}
		return out.String(), cmd.ProcessState.ExitCode()
	}
	if out, code := gate(svc.ID); code != 0 || out != "applied\n" {
		t.Fatalf("first run: exit %d %q", code, out)
	}
	if out, code := gate(svc.ID); code != 0 || out != "up to date\n" {
		t.Fatalf("second run: exit %d %q", code, out)
	}
	if out, code := gate("no-such-service"); code != 1 || !strings.Contains(out, "plan failed") {
		t.Fatalf("unknown service: exit %d %q", code, out)
	}
	// A mistake on the line is not read as "changes".
	cmd := exec.Command(filepath.Join(bin, "spawnit"), "plan", "--detailed-exitcode", "--no-such-flag", svc.ID)
	cmd.Env = append(cleanEnv(t), "SPAWNIT_SERVER="+base)
	_ = cmd.Run()
	if code := cmd.ProcessState.ExitCode(); code != 1 {
		t.Fatalf("usage mistake with --detailed-exitcode: exit %d", code)
	}
}

// cleanEnv is the test's environment without SPAWNIT_ variables, with an empty
// configuration directory.
func cleanEnv(t *testing.T) []string {
	env := []string{"XDG_CONFIG_HOME=" + t.TempDir(), "HOME=" + t.TempDir()}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SPAWNIT_") && !strings.HasPrefix(kv, "XDG_CONFIG_HOME=") && !strings.HasPrefix(kv, "HOME=") {
			env = append(env, kv)
		}
	}
	return env
}

// TestCompletionAsksTheServer: cobra's __complete and a real bash with the generated
// script both complete a service id from the server.
func TestCompletionAsksTheServer(t *testing.T) {
	base, _ := startServe(t)
	cli := newCLIRun(t, base)
	var svc apiv1.Service
	cli.json(&svc, "create", "bulk", "--name", "completed", "--set", "items=1")

	out := cli.ok("__complete", "logs", "")
	if !strings.Contains(out, svc.ID+"\tcompleted\n") {
		t.Fatalf("__complete logs:\n%s", out)
	}
	if out := cli.ok("__complete", "create", ""); !strings.Contains(out, "bulk\tBulk (test)\n") {
		t.Fatalf("__complete create:\n%s", out)
	}
	if out := cli.ok("__complete", "create", "bulk", "--set", "it"); !strings.Contains(out, "items=\tItems\n") {
		t.Fatalf("__complete --set:\n%s", out)
	}
	if out := cli.ok("__complete", "-o", ""); !strings.Contains(out, "yaml\n") {
		t.Fatalf("__complete -o:\n%s", out)
	}
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		if out := cli.ok("completion", shell); len(out) < 1000 {
			t.Fatalf("completion %s:\n%s", shell, out)
		}
	}

	// A real bash: source the script, complete "spawnit logs <TAB>" with the prefix of
	// the service id.
	bin := testBinary(t)
	scriptFile := filepath.Join(t.TempDir(), "spawnit.bash")
	if err := os.WriteFile(scriptFile, []byte(cli.ok("completion", "bash")), 0o600); err != nil {
		t.Fatal(err)
	}
	prefix := svc.ID[:3]
	line := "spawnit logs " + prefix
	// Cobra's script uses _get_comp_words_by_ref from the bash-completion package, which a
	// machine with bash completion has; without the package, a minimal one stands in.
	bashScript := `for f in /usr/share/bash-completion/bash_completion /etc/bash_completion; do
  [ -r "$f" ] && source "$f" && break
done
if ! declare -F _get_comp_words_by_ref >/dev/null; then
  _get_comp_words_by_ref() {
    while [ "$1" = -n ]; do shift 2; done
    printf -v "$1" %s "${COMP_WORDS[COMP_CWORD]}"
    printf -v "$2" %s "${COMP_WORDS[COMP_CWORD-1]}"
    eval "$3"='("${COMP_WORDS[@]}")'
    printf -v "$4" %s "$COMP_CWORD"
  }
fi
source "$1"
COMP_WORDS=(spawnit logs "$2"); COMP_CWORD=2; COMP_LINE="$3"; COMP_POINT=${#COMP_LINE}
__start_spawnit spawnit "$2" logs
printf '%s\n' "${COMPREPLY[@]}"
`
	cmd := exec.Command("bash", "--norc", "--noprofile", "-i", "-c", bashScript, "bash", scriptFile, prefix, line)
	cmd.Env = append(cleanEnv(t), "PATH="+bin+":"+os.Getenv("PATH"), "SPAWNIT_SERVER="+base)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("bash: %v\n%s\n%s", err, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), svc.ID) {
		t.Fatalf("bash completed %q, want %s\nstderr:\n%s", stdout.String(), svc.ID, stderr.String())
	}
}
