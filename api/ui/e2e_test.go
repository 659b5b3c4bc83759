package ui_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/spawnit/spawnit/api/ui"
	"github.com/spawnit/spawnit/catalog"
	"github.com/spawnit/spawnit/catalog/catalogtest"
	"github.com/spawnit/spawnit/internal/testservers"
)

// TestBrowserE2E runs the browser flow (web/e2e/run.mjs: sign in, catalog, form with a
// validation error, plan, apply with live log, the services list in pages with a search
// the server answers, drift after the container is removed, reveal, an upgrade to a
// version of httpecho published by hand (offer with release notes, plan, apply), the
// live container log with stop and start, recovery after the stored state was changed
// outside, destroy, delete) with Debian's Chromium against a
// real `spawnit serve`, once single-user and once signed in through the test OpenID
// Provider. In single-user mode it also deploys PostgreSQL (the Debian-built image of
// the local registry) to its connection details and opens its live container log.
//
// It runs when the UI is built into this package (`go -C tools tool task ui`); then a
// missing prerequisite (node, web/node_modules, /usr/bin/chromium, Docker, tofu) fails it in CI
// and skips it elsewhere. SPAWNIT_UI_E2E=skip skips it. The screenshots of the main
// screens are kept as artifacts in web/e2e/screenshots/<mode>/ (or under
// $SPAWNIT_SCREENSHOTS/<mode>/), replaced by each run.
func TestBrowserE2E(t *testing.T) {
	if os.Getenv("SPAWNIT_UI_E2E") == "skip" {
		t.Skip("SPAWNIT_UI_E2E=skip")
	}
	if !ui.Built() {
		t.Skip("the UI is not built into this binary: run `go -C tools tool task ui` first")
	}
	if testing.Short() {
		t.Skip("-short: the browser test deploys containers")
	}
	root := testservers.RepoRoot()
	web := filepath.Join(root, "api", "ui", "web")
	node, err := exec.LookPath("node")
	if err != nil {
		testservers.Missing(t, "node not on PATH")
	}
	if _, err := os.Stat(filepath.Join(web, "node_modules", "playwright-core")); err != nil {
		testservers.Missing(t, "api/ui/web/node_modules missing: run `cd api/ui/web && npm ci`")
	}
	chromium := os.Getenv("CHROMIUM_PATH")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		testservers.Missing(t, "%s missing: apt-get install -y chromium", chromium)
	}
	testservers.BuildTestImage(t)
	tofu := testservers.Tofu(t)
	mirror := testservers.ProviderMirror(t)

	bin := filepath.Join(t.TempDir(), "spawnit")
	build := exec.Command("go", "build", "-o", bin, "./cmd/spawnit")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/spawnit: %v\n%s", err, out)
	}

	for _, mode := range []string{"single-user", "oidc"} {
		t.Run(mode, func(t *testing.T) {
			port := testservers.FreePort(t)
			base := "http://127.0.0.1:" + port
			dataDir := t.TempDir()
			args := []string{"serve", "--listen", "127.0.0.1:" + port, "--data-dir", dataDir,
				"--drift-interval", "0", "--tofu", tofu, "--provider-mirror", mirror}
			env := []string{}
			// The recovery step changes the stored state's lineage behind the server's back
			// (local state lives in the data directory, laid out as in a bucket), then puts
			// the good state back before marking the service recovered: the state is
			// encrypted, and one whose clear lineage no longer matches its encrypted one is
			// a state tofu refuses to read.
			state := filepath.Join(dataDir, "store", "clients", "{tenant}", "{service}", "terraform.tfstate")
			good := filepath.Join(t.TempDir(), "good.tfstate")
			tamper := `cp ` + state + ` ` + good + ` && sed -i 's/"lineage": *"[^"]*"/"lineage": "changed-by-the-browser-test"/' ` + state
			repair := `cp ` + good + ` ` + state
			// The upgrade step publishes the version after the one httpecho ships with as an
			// operator would by hand: a changed module, then template.json with the new
			// version and its release notes.
			tpl := filepath.Join(dataDir, "store", "templates", "httpecho")
			from := catalogtest.Version(t, catalogtest.Files(t, catalog.Builtin(), "httpecho")["template.json"])
			to := catalogtest.NextMinor(t, from)
			publish := `sed -i 's/restart = "unless-stopped"/restart = "always"/' ` + filepath.Join(tpl, "modules", "docker", "main.tf") +
				` && sed -i 's/"version": "` + from + `"/"version": "` + to + `", "release_notes": "Restarts always."/' ` + filepath.Join(tpl, "template.json")
			flowEnv := []string{"SPAWNIT_URL=" + base, "SPAWNIT_E2E_TAMPER_CMD=" + tamper, "SPAWNIT_E2E_REPAIR_CMD=" + repair,
				"SPAWNIT_E2E_PUBLISH_CMD=" + publish, "SPAWNIT_E2E_PUBLISH_FROM=" + from, "SPAWNIT_E2E_PUBLISH_TO=" + to}
			if mode == "oidc" {
				op := testservers.OIDCProvider(t, base+"/auth/callback")
				args = append(args, "--oidc-issuer", op.Issuer, "--oidc-client-id", testservers.OPWebClient,
					"--oidc-redirect-url", base+"/auth/callback")
				env = append(env, "SPAWNIT_OIDC_CLIENT_SECRET="+testservers.OPClientSecret)
				flowEnv = append(flowEnv, "SPAWNIT_E2E_USER="+testservers.OPUser, "SPAWNIT_E2E_PASSWORD="+testservers.OPPassword)
			}
			if mode == "single-user" {
				// PostgreSQL from the Debian-built image in the local registry: deployed to its
				// connection details, with its live container log (e2e/flow.mjs postgresFlow).
				if image := postgresImage(t); image != "" {
					vars := filepath.Join(t.TempDir(), "docker-vars.json")
					if err := os.WriteFile(vars, []byte(`{"docker_image_map": {"postgres:15-alpine": "`+image+`"}}`), 0o600); err != nil {
						t.Fatal(err)
					}
					args = append(args, "--target-vars", "docker="+vars)
					flowEnv = append(flowEnv, "SPAWNIT_E2E_POSTGRES=1")
				}
			}
			startServer(t, bin, args, env, base)

			// Kept after the run as the test's artifacts (ignored by git).
			shots := filepath.Join(web, "e2e", "screenshots", mode)
			if d := os.Getenv("SPAWNIT_SCREENSHOTS"); d != "" {
				shots = filepath.Join(d, mode)
			}
			if err := os.RemoveAll(shots); err != nil {
				t.Fatal(err)
			}
			flowEnv = append(flowEnv, "SPAWNIT_SCREENSHOTS="+shots, "CHROMIUM_PATH="+chromium)

			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, node, filepath.Join("e2e", "run.mjs"))
			cmd.Dir = web
			cmd.Env = append(withoutVars(os.Environ(), "SPAWNIT_URL", "SPAWNIT_E2E_USER", "SPAWNIT_E2E_PASSWORD", "MOCK_AUTH"), flowEnv...)
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			cmd.Stderr = cmd.Stdout
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			serviceLine := regexp.MustCompile(`^\s*service ([a-z0-9-]+)/([a-z0-9-]+)$`)
			sc := bufio.NewScanner(out)
			sc.Buffer(make([]byte, 64<<10), 4<<20)
			for sc.Scan() {
				line := sc.Text()
				t.Log(line)
				if m := serviceLine.FindStringSubmatch(line); m != nil {
					// Whatever happens next, leave no container or volume behind.
					name := "spawnit-" + m[1] + "-" + m[2]
					t.Cleanup(func() {
						_ = exec.Command("docker", "rm", "-f", name).Run()
						_ = exec.Command("docker", "volume", "rm", "-f", name+"-data").Run()
					})
				}
			}
			if err := cmd.Wait(); err != nil {
				t.Fatalf("browser flow failed (%v); screenshots in %s", err, shots)
			}
		})
	}
}

// startServer runs `spawnit serve` until the test ends and waits for /healthz.
func startServer(t *testing.T, bin string, args, env []string, base string) {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), "spawnit.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = t.TempDir()
	cmd.Env = append(withoutVars(os.Environ(), "SPAWNIT_LISTEN", "SPAWNIT_DATA_DIR", "SPAWNIT_OIDC_ISSUER",
		"SPAWNIT_OIDC_CLIENT_ID", "SPAWNIT_OIDC_CLIENT_SECRET", "SPAWNIT_OIDC_REDIRECT_URL", "SPAWNIT_S3_ENDPOINT"), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		once.Do(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(45 * time.Second):
				_ = cmd.Process.Kill()
				<-exited
			}
			logf.Close()
			if t.Failed() {
				t.Logf("spawnit log (%s):\n%s", logPath, tailFile(logPath, 6000))
			}
		})
	})
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			t.Fatalf("spawnit serve exited early:\n%s", tailFile(logPath, 4000))
		default:
		}
		if resp, err := client.Get(base + "/healthz"); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("spawnit serve did not answer %s/healthz within 60 s:\n%s", base, tailFile(logPath, 4000))
}

func withoutVars(env []string, names ...string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		drop := false
		for _, n := range names {
			if k == n {
				drop = true
				break
			}
		}
		if !drop {
			out = append(out, kv)
		}
	}
	return out
}

func tailFile(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > n {
		_, _ = f.Seek(st.Size()-n, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	return string(b)
}

// postgresImage is the PostgreSQL image of the local registry (images/postgres), or ""
// when no registry answers outside CI (the rest of the flow still runs); in CI a missing
// registry or image fails the test.
func postgresImage(t *testing.T) string {
	t.Helper()
	if os.Getenv("CI") == "" {
		c := &http.Client{Timeout: 2 * time.Second}
		res, err := c.Get("http://" + testservers.Registry() + "/v2/")
		if err != nil {
			t.Logf("no registry at %s: the PostgreSQL part of the browser flow is left out", testservers.Registry())
			return ""
		}
		res.Body.Close()
	}
	return testservers.RegistryImage(t, "postgres")
}
