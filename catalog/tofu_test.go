package catalog

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spawnit/spawnit/internal/testservers"
)

// tofuSlots caps concurrent tofu processes: the machine has 2 cores and each init or
// validate starts a provider plugin too.
var tofuSlots = make(chan struct{}, 2)

// pluginCache is shared by every tofu run of this test process so the provider is
// installed once, not per test. Concurrent inits are safe only once the cache holds the
// provider: with OpenTofu 1.12.6, two inits filling an empty cache at once fail now and
// then ("after installing ... it is still not detected", "failed to compute a
// checksum"), so the first init with providers runs alone (warmCache).
var (
	pluginCache string
	warmCache   struct {
		sync.Mutex
		done bool
	}
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "spawnit-catalog-plugins-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	pluginCache = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type tofu struct {
	bin string
	env []string
}

// newTofu finds tofu (and, if mirror is set, the provider mirror) and writes a CLI
// config that installs providers only from the mirror: nothing is downloaded.
func newTofu(t *testing.T, withProviders bool) *tofu {
	t.Helper()
	bin := testservers.Tofu(t)
	cfg := fmt.Sprintf("plugin_cache_dir = %q\n", pluginCache)
	if withProviders {
		mirror := testservers.ProviderMirror(t)
		cfg += fmt.Sprintf("provider_installation {\n  filesystem_mirror {\n    path    = %q\n    include = [\"registry.opentofu.org/*/*\"]\n  }\n}\n", mirror)
	}
	cfgFile := filepath.Join(t.TempDir(), "tofu.tfrc")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, kv := range os.Environ() {
		// The developer's own TF_* settings (TF_CLI_ARGS, TF_VAR_*) must not change what
		// these tests see.
		if !strings.HasPrefix(kv, "TF_") {
			env = append(env, kv)
		}
	}
	env = append(env, "TF_CLI_CONFIG_FILE="+cfgFile, "TF_IN_AUTOMATION=1", "TF_INPUT=0", "CHECKPOINT_DISABLE=1")
	tf := &tofu{bin: bin, env: env}
	if withProviders {
		warmCache.Lock()
		defer warmCache.Unlock()
		if !warmCache.done {
			dir := t.TempDir()
			writeFiles(t, dir, map[string][]byte{"versions.tf": builtinModuleFiles(t, "httpecho", "docker")["versions.tf"]})
			tf.run(t, dir, "init", "-input=false", "-no-color")
			warmCache.done = true
		}
	}
	return tf
}

func (tf *tofu) run(t *testing.T, dir string, args ...string) []byte {
	t.Helper()
	out, err := tf.try(dir, args...)
	if err != nil {
		t.Fatalf("tofu %s: %v", strings.Join(args, " "), err)
	}
	return out
}

// initMu lets an init run alone: even with a warm cache, an init was seen to replace the
// cached provider under a concurrent validate ("fork/exec ... no such file").
var initMu sync.RWMutex

func (tf *tofu) try(dir string, args ...string) ([]byte, error) {
	if len(args) > 0 && args[0] == "init" {
		initMu.Lock()
		defer initMu.Unlock()
	} else {
		initMu.RLock()
		defer initMu.RUnlock()
	}
	tofuSlots <- struct{}{}
	defer func() { <-tofuSlots }()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, tf.bin, args...)
	cmd.Dir = dir
	cmd.Env = tf.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("%v\nstdout:\n%s\nstderr:\n%s", err, stdout.Bytes(), stderr.Bytes())
	}
	return stdout.Bytes(), nil
}

type tofuOutput struct {
	Sensitive bool            `json:"sensitive"`
	Value     json.RawMessage `json:"value"`
}

func (tf *tofu) outputs(t *testing.T, dir string) map[string]tofuOutput {
	t.Helper()
	var outs map[string]tofuOutput
	if err := json.Unmarshal(tf.run(t, dir, "output", "-json", "-no-color"), &outs); err != nil {
		t.Fatal(err)
	}
	return outs
}

func writeFiles(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func builtinModuleFiles(t *testing.T, id, provider string) map[string][]byte {
	t.Helper()
	root := path.Join(id, modulesDir, provider)
	files := map[string][]byte{}
	err := fs.WalkDir(Builtin(), root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(Builtin(), p)
		files[strings.TrimPrefix(p, root+"/")] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestBuiltinModulesPassTofu runs the real tofu on every built-in module: fmt -check,
// then init against the provider mirror and validate (errors and warnings both fail).
func TestBuiltinModulesPassTofu(t *testing.T) {
	tf := newTofu(t, true)
	for _, id := range builtinIDs {
		for _, provider := range builtinProviders(t, id) {
			t.Run(id+"/"+provider, func(t *testing.T) {
				t.Parallel()
				dir := t.TempDir()
				writeFiles(t, dir, builtinModuleFiles(t, id, provider))
				tf.run(t, dir, "fmt", "-check", "-diff", "-recursive", "-no-color")
				if provider != "docker" {
					// Only the Docker provider can be built on this machine; other modules
					// are checked by fmt and TestBuiltinModuleInterface.
					return
				}
				tf.run(t, dir, "init", "-input=false", "-no-color")
				var res struct {
					Valid        bool `json:"valid"`
					WarningCount int  `json:"warning_count"`
					Diagnostics  []struct {
						Severity, Summary, Detail string
					} `json:"diagnostics"`
				}
				out, _ := tf.try(dir, "validate", "-json", "-no-color")
				if err := json.Unmarshal(out, &res); err != nil {
					t.Fatalf("validate -json: %v\n%s", err, out)
				}
				if !res.Valid || res.WarningCount != 0 {
					t.Fatalf("tofu validate: %+v", res.Diagnostics)
				}
			})
		}
	}
}

// TestRenderedValuesReachTofuLiterally renders hostile values with Render and has a real
// tofu apply them through a module that only echoes its variables: each output must
// equal its input byte for byte (nothing interpolated, unescaped or cut).
func TestRenderedValuesReachTofuLiterally(t *testing.T) {
	tf := newTofu(t, false)
	tpl := hostileTemplate(t)
	values, err := tpl.Validate(hostileInputs())
	if err != nil {
		t.Fatal(err)
	}
	server := ServerValues{TenantID: "acme", ServiceID: "svc-abcdefgh", ServiceName: `Name "with" ${quotes} %{x} -v`}
	tfvars, err := tpl.Render(values, server)
	if err != nil {
		t.Fatal(err)
	}
	var main strings.Builder
	want := map[string]string{VarTenantID: server.TenantID, VarServiceID: server.ServiceID, VarServiceName: server.ServiceName}
	for k, v := range values {
		want[k] = v.(string)
	}
	for name := range want {
		f, _ := tpl.Field(name)
		sensitive := f != nil && f.IsSensitive()
		fmt.Fprintf(&main, "variable %q {\n  type      = string\n  sensitive = %v\n}\n\noutput %q {\n  value     = var.%s\n  sensitive = %v\n}\n\n", name, sensitive, name, name, sensitive)
	}
	dir := t.TempDir()
	writeFiles(t, dir, map[string][]byte{"main.tf": []byte(main.String()), "terraform.tfvars.json": tfvars})
	tf.run(t, dir, "init", "-input=false", "-no-color")
	tf.run(t, dir, "apply", "-auto-approve", "-input=false", "-no-color")
	outs := tf.outputs(t, dir)
	if len(outs) != len(want) {
		t.Fatalf("%d outputs, want %d", len(outs), len(want))
	}
	for name, w := range want {
		var got string
		if err := json.Unmarshal(outs[name].Value, &got); err != nil {
			t.Fatalf("%s: %v (%s)", name, err, outs[name].Value)
		}
		if got != w {
			t.Errorf("%s: tofu has %q, the user typed %q", name, got, w)
		}
	}
	if !outs["s_secret"].Sensitive {
		t.Error("the secret's output is not sensitive")
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func docker(t *testing.T, args ...string) []byte {
	t.Helper()
	out, err := exec.Command("docker", args...).Output()
	if err != nil {
		t.Fatalf("docker %s: %v", strings.Join(args, " "), err)
	}
	return out
}

// TestHTTPEchoDeploysWithTofu goes from a catalog request to a running container: seed,
// CreateService, ServiceSource.Files, tofu apply with the Docker provider, then checks
// the answer, the labels, the loopback-only port and the outputs, and destroys.
func TestHTTPEchoDeploysWithTofu(t *testing.T) {
	testservers.Docker(t)
	testservers.BuildTestImage(t)
	tf := newTofu(t, true)

	c, _ := seeded(t)
	ctx := context.Background()
	client := "test-" + strings.ToLower(rand.Text()[:8])
	port := freePort(t)
	greeting := `hello ${not.evaluated} %{ if x } "quoted" -dash`
	svc, err := c.CreateService(ctx, client, CreateRequest{
		Template: "httpecho",
		Inputs:   map[string]any{"port": json.Number(strconv.Itoa(port)), "greeting": greeting},
	})
	if err != nil {
		t.Fatal(err)
	}
	files, err := NewServiceSource(c).Files(ctx, svc.Ref())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeFiles(t, dir, files)
	name := "spawnit-" + client + "-" + svc.Service
	destroyed := false
	t.Cleanup(func() {
		if destroyed {
			return
		}
		if _, err := tf.try(dir, "destroy", "-auto-approve", "-input=false", "-no-color"); err != nil {
			t.Errorf("cleanup destroy: %v", err)
			// Only the objects this test created, by their exact names.
			exec.Command("docker", "rm", "-f", name).Run()
			exec.Command("docker", "volume", "rm", "-f", name+"-data").Run()
		}
	})
	tf.run(t, dir, "init", "-input=false", "-no-color")
	tf.run(t, dir, "apply", "-auto-approve", "-input=false", "-no-color")

	body := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", port))
	if body != greeting+"\n" {
		t.Fatalf("container answered %q, want %q", body, greeting)
	}

	wantLabels := map[string]string{"spawnit.client": client, "spawnit.service": svc.Service, "spawnit.template": "httpecho"}
	for what, args := range map[string][]string{
		"container": {"inspect", "--format", "{{json .Config.Labels}}", name},
		"volume":    {"volume", "inspect", "--format", "{{json .Labels}}", name + "-data"},
	} {
		var labels map[string]string
		if err := json.Unmarshal(docker(t, args...), &labels); err != nil {
			t.Fatal(err)
		}
		for k, v := range wantLabels {
			if labels[k] != v {
				t.Errorf("%s label %s = %q, want %q", what, k, labels[k], v)
			}
		}
	}
	var bindings map[string][]struct{ HostIp, HostPort string }
	if err := json.Unmarshal(docker(t, "inspect", "--format", "{{json .HostConfig.PortBindings}}", name), &bindings); err != nil {
		t.Fatal(err)
	}
	want := map[string][]struct{ HostIp, HostPort string }{"8080/tcp": {{"127.0.0.1", strconv.Itoa(port)}}}
	if !reflect.DeepEqual(bindings, want) {
		t.Errorf("port bindings = %+v, want %+v", bindings, want)
	}

	outs := tf.outputs(t, dir)
	var endpoint, token string
	json.Unmarshal(outs["endpoint"].Value, &endpoint)
	json.Unmarshal(outs["token"].Value, &token)
	if endpoint != fmt.Sprintf("http://127.0.0.1:%d/", port) || outs["endpoint"].Sensitive {
		t.Errorf("endpoint output = %q (sensitive %v)", endpoint, outs["endpoint"].Sensitive)
	}
	if token != svc.Values["token"] || !outs["token"].Sensitive {
		t.Errorf("token output sensitive=%v, equal to the generated one: %v", outs["token"].Sensitive, token == svc.Values["token"])
	}

	tf.run(t, dir, "destroy", "-auto-approve", "-input=false", "-no-color")
	destroyed = true
	if err := exec.Command("docker", "inspect", name).Run(); err == nil {
		t.Error("container still exists after destroy")
	}
	if err := exec.Command("docker", "volume", "inspect", name+"-data").Run(); err == nil {
		t.Error("volume still exists after destroy")
	}
}

// httpGet retries: the container may take a moment to listen (longer on a loaded
// machine).
func httpGet(t *testing.T, url string) string {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := http.Get(url)
		if err == nil {
			b, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			if rerr == nil && resp.StatusCode == http.StatusOK {
				return string(b)
			}
			err = fmt.Errorf("status %d, %v", resp.StatusCode, rerr)
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v", url, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
