package deploy_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spawnit/spawnit/internal/testservers"
	"github.com/spawnit/spawnit/pkg/apiv1"
	"github.com/spawnit/spawnit/pkg/client"
)

// deployDir is this package's folder: deploy/ of the repository.
func deployDir() string { return filepath.Join(testservers.RepoRoot(), "deploy") }

// TestStacksFormattedAndValid checks every stack and module the way a reviewer would
// before applying anything: tofu fmt, then init (from the provider mirror, no backend)
// and validate in each stack.
func TestStacksFormattedAndValid(t *testing.T) {
	tofu := testservers.Tofu(t)
	mirror := testservers.ProviderMirror(t)
	if out, err := exec.Command(tofu, "fmt", "-check", "-recursive", "-diff", deployDir()).CombinedOutput(); err != nil {
		t.Fatalf("tofu fmt -check -recursive deploy: %v\n%s", err, out)
	}
	work := copyDeployment(t)
	env := tofuEnv(t, mirror)
	for _, stack := range []string{"volumes", "network", "instances", "configs"} {
		for _, args := range [][]string{{"init", "-backend=false", "-input=false", "-no-color"}, {"validate", "-no-color"}} {
			cmd := exec.Command(tofu, append([]string{"-chdir=" + filepath.Join(work, "stacks", stack)}, args...)...)
			cmd.Env = env
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("stacks/%s: tofu %s: %v\n%s", stack, args[0], err, out)
			}
		}
	}
}

// TestDeployment deploys the whole of SpawnIt with deploy.sh on the local Docker engine
// (images built by image/build.sh) as two replicas behind the load balancer, checks
// that a second deploy changes nothing, signs in through the deployed identity
// provider, checks that requests through the load balancer reach both replicas, deploys
// and destroys an httpecho service through it, then undeploys and checks that nothing
// of the deployment is left.
func TestDeployment(t *testing.T) {
	if testing.Short() {
		t.Skip("deploys containers: not in -short mode")
	}
	testservers.Docker(t)
	tofu := testservers.Tofu(t)
	mirror := testservers.ProviderMirror(t)
	testservers.Tool(t, "oidc-op")
	if _, err := exec.LookPath("curl"); err != nil {
		testservers.Missing(t, "curl not on PATH (the readiness checks use it)")
	}
	testservers.BuildTestImage(t)
	start := time.Now()
	buildImages(t)
	t.Logf("images built in %s", time.Since(start).Round(time.Second))

	d := newDeployment(t, tofu, mirror)

	start = time.Now()
	d.run(t, "deploy")
	t.Logf("deployed in %s", time.Since(start).Round(time.Second))
	first := d.containers(t)
	if len(first) != 5 {
		t.Fatalf("want 5 containers (s3, idp, server, server-2, lb), got %v", first)
	}

	// Idempotence: a second deploy replaces nothing and leaves every stack up to date.
	start = time.Now()
	d.run(t, "deploy")
	if again := d.containers(t); !maps.Equal(first, again) {
		t.Fatalf("second deploy replaced containers: before %v, after %v", first, again)
	}
	d.run(t, "check") // exits non-zero when a plan has changes
	t.Logf("second deploy and check in %s: no change", time.Since(start).Round(time.Second))

	d.signIn(t)
	c := d.throughBalancer(t)
	deployService(t, c)

	start = time.Now()
	d.run(t, "undeploy")
	t.Logf("undeployed in %s", time.Since(start).Round(time.Second))
	if left := d.leftovers(t); len(left) > 0 {
		t.Fatalf("undeploy left Docker objects behind: %v", left)
	}
}

// buildImages runs image/build.sh, the script behind `go -C tools tool task image`.
func buildImages(t *testing.T) {
	t.Helper()
	cmd := exec.Command("bash", filepath.Join(deployDir(), "image", "build.sh"))
	cmd.Env = append(os.Environ(), "SPAWNIT_TOOLS="+testservers.ToolsDir())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("image/build.sh: %v\n%s", err, out)
	}
}

// deployment is a copy of deploy/ with its own states and values: a name prefix and
// ports of its own, so that it never touches a deployment made from the repository.
type deployment struct {
	dir, prefix                 string
	env                         []string
	spawnitPort, s3Port, idPort string // spawnitPort: the load balancer
	replicaPorts                []string
	undeployed                  bool
}

func newDeployment(t *testing.T, tofu, mirror string) *deployment {
	t.Helper()
	d := &deployment{
		dir:         copyDeployment(t),
		prefix:      "spawnit-dt" + randomHex(t, 3),
		spawnitPort: testservers.FreePort(t),
		s3Port:      testservers.FreePort(t),
		idPort:      testservers.FreePort(t),
	}
	d.replicaPorts = []string{testservers.FreePort(t), testservers.FreePort(t)}
	vars := t.TempDir()
	writeJSON(t, filepath.Join(vars, "volumes.tfvars.json"), map[string]any{"name_prefix": d.prefix})
	writeJSON(t, filepath.Join(vars, "network.tfvars.json"), map[string]any{"name_prefix": d.prefix})
	writeJSON(t, filepath.Join(vars, "instances.tfvars.json"), map[string]any{
		"spawnit_port":              atoi(t, d.spawnitPort),
		"s3_port":                   atoi(t, d.s3Port),
		"idp_port":                  atoi(t, d.idPort),
		"spawnit_replicas":          len(d.replicaPorts),
		"spawnit_replica_ports":     []int{atoi(t, d.replicaPorts[0]), atoi(t, d.replicaPorts[1])},
		"readiness_timeout_seconds": 180, // containers starting on a loaded machine
	})
	d.env = append(os.Environ(),
		"SPAWNIT_TOFU="+tofu,
		"SPAWNIT_PROVIDER_MIRROR="+mirror,
		"SPAWNIT_DEPLOY_VARS="+vars,
	)
	t.Cleanup(func() { d.cleanup(t) })
	return d
}

// run runs deploy.sh with a command, failing the test on a non-zero exit.
func (d *deployment) run(t *testing.T, command string) {
	t.Helper()
	// Four stacks, each an init and an apply, and readiness waits: minutes on a loaded
	// machine.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(d.dir, "deploy.sh"), command)
	cmd.Env = d.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("deploy.sh %s: %v\n%s", command, err, tailString(out, 12000))
	}
	if command == "undeploy" {
		d.undeployed = true
	}
}

// cleanup undeploys what a failed test left, then removes by force anything still
// carrying the deployment's prefix, logging the server's output first.
func (d *deployment) cleanup(t *testing.T) {
	if t.Failed() {
		for _, name := range []string{"-server", "-server-2", "-lb"} {
			if out, err := exec.Command("docker", "logs", "--tail", "60", d.prefix+name).CombinedOutput(); err == nil {
				t.Logf("docker logs %s%s:\n%s", d.prefix, name, out)
			}
		}
	}
	if !d.undeployed {
		cmd := exec.Command("bash", filepath.Join(d.dir, "deploy.sh"), "undeploy")
		cmd.Env = d.env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Logf("cleanup: deploy.sh undeploy: %v\n%s", err, tailString(out, 4000))
		}
	}
	for _, obj := range d.leftovers(t) {
		kind, name, _ := strings.Cut(obj, " ")
		args := map[string][]string{"container": {"rm", "-f", name}, "network": {"network", "rm", name}, "volume": {"volume", "rm", "-f", name}}[kind]
		_ = exec.Command("docker", args...).Run()
	}
}

// containers maps the deployment's container names to their ids.
func (d *deployment) containers(t *testing.T) map[string]string {
	t.Helper()
	out, err := exec.Command("docker", "ps", "-a", "--no-trunc", "--format", "{{.Names}} {{.ID}}").Output()
	if err != nil {
		t.Fatalf("docker ps: %v", err)
	}
	m := map[string]string{}
	for line := range strings.Lines(string(out)) {
		name, id, _ := strings.Cut(strings.TrimSpace(line), " ")
		if strings.HasPrefix(name, d.prefix+"-") {
			m[name] = id
		}
	}
	return m
}

// leftovers lists the containers, networks and volumes named with the deployment's
// prefix, as "kind name".
func (d *deployment) leftovers(t *testing.T) []string {
	t.Helper()
	var left []string
	for _, kind := range []string{"container", "network", "volume"} {
		args := map[string][]string{
			"container": {"ps", "-a", "--format", "{{.Names}}"},
			"network":   {"network", "ls", "--format", "{{.Name}}"},
			"volume":    {"volume", "ls", "--format", "{{.Name}}"},
		}[kind]
		out, err := exec.Command("docker", args...).Output()
		if err != nil {
			t.Errorf("docker %s: %v", strings.Join(args, " "), err)
			continue
		}
		for name := range strings.Lines(string(out)) {
			if name = strings.TrimSpace(name); strings.HasPrefix(name, d.prefix+"-") {
				left = append(left, kind+" "+name)
			}
		}
	}
	return left
}

// signIn plays a browser: SpawnIt's /auth/login sends it to the deployed identity
// provider, whose login form it fills in; the provider sends it back to SpawnIt's
// callback, where SpawnIt (inside its container) redeems the code at the same issuer
// URL. The browser talks to the first replica directly: the sign-in's state and the
// session it opens are checked where they were made.
func (d *deployment) signIn(t *testing.T) {
	t.Helper()
	public := "http://127.0.0.1:" + d.spawnitPort // the callback registered with the provider
	base := "http://127.0.0.1:" + d.replicaPorts[0]
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 20 * time.Second}
	back := d.op().SignIn(t, browser, base+"/auth/login", testservers.OPUser, testservers.OPPassword)
	if !strings.HasPrefix(back.String(), public+"/auth/callback?") {
		t.Fatalf("the identity provider sent the browser to %s://%s%s, not SpawnIt's callback", back.Scheme, back.Host, back.Path)
	}
	noFollow := *browser
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := noFollow.Get(base + "/auth/callback?" + back.RawQuery)
	if err != nil {
		t.Fatalf("callback: %v", err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	if resp.StatusCode/100 != 3 {
		t.Fatalf("callback answered %s: %s", resp.Status, body)
	}

	resp, err = browser.Get(base + "/api/v1/me")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	var me apiv1.Me
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &me) != nil {
		t.Fatalf("GET /api/v1/me with the session: %s: %s", resp.Status, body)
	}
	if me.Subject != testservers.OPUserSubject || me.SingleUser || me.CSRFToken == "" {
		t.Fatalf("signed in as %+v, want subject %s with a CSRF token", me, testservers.OPUserSubject)
	}
	t.Logf("signed in through the deployed identity provider as %s (tenant %s)", me.Subject, me.Tenant)
}

func (d *deployment) op() *testservers.OP {
	return &testservers.OP{Issuer: "http://localhost:" + d.idPort + "/", Port: d.idPort}
}

// throughBalancer checks that requests made through the load balancer reach every
// replica and are answered there, and returns an API client going through it. The
// client carries an access token from the deployed provider (SpawnIt's own client,
// as a script would get one): every replica checks a token by itself.
func (d *deployment) throughBalancer(t *testing.T) *client.Client {
	t.Helper()
	base := "http://127.0.0.1:" + d.spawnitPort
	tok := d.op().CodeFlowTokens(t, testservers.OPWebClient, testservers.OPClientSecret, base+"/auth/callback", testservers.OPUser, testservers.OPPassword)
	answered := map[string]int{}
	for range 2 * len(d.replicaPorts) {
		req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/me", nil)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("through the load balancer: %v", err)
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		resp.Body.Close()
		var me apiv1.Me
		if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &me) != nil || me.Subject != testservers.OPUserSubject {
			t.Fatalf("GET /api/v1/me through the load balancer (answered by %q): %s: %s", resp.Header.Get("X-Spawnit-Backend"), resp.Status, body)
		}
		answered[resp.Header.Get("X-Spawnit-Backend")]++
	}
	for _, port := range d.replicaPorts {
		if answered["127.0.0.1:"+port] == 0 {
			t.Fatalf("no request through the load balancer reached the replica on port %s: answers by backend %v", port, answered)
		}
	}
	t.Logf("requests through the load balancer answered by %v", answered)
	c, err := client.New(base, client.WithToken(tok.AccessToken), client.WithHTTPClient(&http.Client{Timeout: 30 * time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// deployService creates an httpecho service through the deployed SpawnIt, applies it,
// reaches it on the host's loopback, destroys it and deletes it.
func deployService(t *testing.T, c *client.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	templates, err := c.Catalog(ctx)
	if err != nil {
		t.Fatalf("catalog: %v", err)
	}
	if !slices.ContainsFunc(templates, func(tp apiv1.Template) bool { return tp.ID == "httpecho" }) {
		t.Fatalf("the deployed catalog has no httpecho template")
	}

	port := atoi(t, testservers.FreePort(t))
	greeting := "hello from the deployed spawnit " + randomHex(t, 4)
	svc, _, err := c.CreateService(ctx, apiv1.CreateService{
		Template: "httpecho",
		Name:     "deploy-test",
		Inputs:   map[string]any{"port": port, "greeting": greeting},
	})
	if err != nil {
		t.Fatalf("create service: %v", err)
	}
	t.Cleanup(func() { removeServiceContainers(svc.ID) })

	start := time.Now()
	job, err := c.Apply(ctx, svc.ID)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	waitJob(ctx, t, c, svc.ID, job.ID)
	t.Logf("service applied by the deployed SpawnIt in %s", time.Since(start).Round(100*time.Millisecond))

	endpoint := "http://127.0.0.1:" + strconv.Itoa(port) + "/"
	var got string
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, err := http.Get(endpoint)
		if err == nil {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			if got = string(b); resp.StatusCode == http.StatusOK && strings.Contains(got, greeting) {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the service never answered %q at %s (last: %v %q)", greeting, endpoint, err, got)
		}
		time.Sleep(200 * time.Millisecond)
	}

	job, err = c.Destroy(ctx, svc.ID)
	if err != nil {
		t.Fatalf("destroy: %v", err)
	}
	waitJob(ctx, t, c, svc.ID, job.ID)
	if resp, err := http.Get(endpoint); err == nil {
		resp.Body.Close()
		t.Fatalf("the service still answers at %s after destroy", endpoint)
	}
	if _, err := c.DeleteService(ctx, svc.ID, false); err != nil {
		t.Fatalf("delete service: %v", err)
	}
}

// waitJob polls a job until it ends, failing the test unless it succeeded.
func waitJob(ctx context.Context, t *testing.T, c *client.Client, svc, id string) {
	t.Helper()
	for {
		job, err := c.Job(ctx, svc, id, false)
		if err != nil {
			t.Fatalf("job %s: %v", id, err)
		}
		if job.State.Final() {
			if job.State != "succeeded" {
				var log bytes.Buffer
				if evs, err := c.JobEvents(ctx, svc, id, 0); err == nil {
					for _, ev := range evs {
						fmt.Fprintf(&log, "%s %s %s\n", ev.Type, ev.Level, ev.Message)
					}
				}
				t.Fatalf("%s job ended %s: %s\n%s", job.Operation, job.State, job.Error, tailString(log.Bytes(), 6000))
			}
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("job %s did not end: %v", id, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// removeServiceContainers removes what a failed test left of a service (its container
// and volume carry the label spawnit.service=<id>).
func removeServiceContainers(svc string) {
	filter := "label=spawnit.service=" + svc
	if out, err := exec.Command("docker", "ps", "-aq", "--filter", filter).Output(); err == nil {
		for _, id := range strings.Fields(string(out)) {
			_ = exec.Command("docker", "rm", "-f", id).Run()
		}
	}
	if out, err := exec.Command("docker", "volume", "ls", "-q", "--filter", filter).Output(); err == nil {
		for _, name := range strings.Fields(string(out)) {
			_ = exec.Command("docker", "volume", "rm", "-f", name).Run()
		}
	}
}

// copyDeployment copies deploy.sh, modules/ and stacks/ into a temporary folder,
// leaving out whatever tofu wrote in the repository's copy (working data, states, lock
// files).
func copyDeployment(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	src := deployDir()
	for _, top := range []string{"deploy.sh", "modules", "stacks"} {
		err := filepath.WalkDir(filepath.Join(src, top), func(path string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			name := e.Name()
			if e.IsDir() && name == ".terraform" {
				return filepath.SkipDir
			}
			if strings.HasPrefix(name, "terraform.tfstate") || name == ".terraform.lock.hcl" {
				return nil
			}
			rel, _ := filepath.Rel(src, path)
			target := filepath.Join(dst, rel)
			if e.IsDir() {
				return os.MkdirAll(target, 0o755)
			}
			info, err := e.Info()
			if err != nil {
				return err
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			return os.WriteFile(target, data, info.Mode().Perm())
		})
		if err != nil {
			t.Fatalf("copy %s: %v", top, err)
		}
	}
	return dst
}

// tofuEnv is the environment of a tofu run using only the provider mirror.
func tofuEnv(t *testing.T, mirror string) []string {
	t.Helper()
	rc := filepath.Join(t.TempDir(), "tofurc")
	cfg := fmt.Sprintf("provider_installation {\n  filesystem_mirror {\n    path    = %q\n    include = [\"registry.opentofu.org/*/*\"]\n  }\n}\n", mirror)
	if err := os.WriteFile(rc, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return append(os.Environ(), "TF_CLI_CONFIG_FILE="+rc, "TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1")
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// tailString is the end of a command's output, which is where its error is.
func tailString(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
