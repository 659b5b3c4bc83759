package api_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/internal/testservers"
	"github.com/spawnit/spawnit/pkg/apiv1"
	"github.com/spawnit/spawnit/pkg/platform"
)

// The catalog's services deployed through the API with real tofu and Docker, used with
// their real clients. Their images come from the local registry (images/, built from
// Debian packages by `go tool task images`) through the Docker target's image map, as an
// operator's would come from a private registry: the templates are the built-in ones.

// TestPostgresWithPsql: psql connects with the connection_uri output, creates a table
// and a row; a change of port replaces the container, and the row is read back from the
// volume through the new connection_uri.
func TestPostgresWithPsql(t *testing.T) {
	t.Parallel()
	psql := clientTool(t, "psql")
	image := testservers.RegistryImage(t, "postgres")
	h := newHarness(t, harnessOptions{realTofu: true, targets: imageMap(t, map[string]string{"postgres:15-alpine": image})})
	port, _ := strconv.Atoi(testservers.FreePort(t))
	svc := h.createService("", "postgres", map[string]any{"port": port, "postgres_version": "15", "database": "shop", "username": "owner"})
	t.Cleanup(func() { removeContainer(svc) })

	uri := applyOutput(t, h, svc.ID, "connection_uri")
	checkImage(t, svc, image)
	sql := func(uri, query string) (string, error) {
		out, err := exec.Command(psql, "--no-psqlrc", "-v", "ON_ERROR_STOP=1", "-At", "-d", uri, "-c", query).CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	// The healthcheck (pg_isready on the socket) can pass while the first start's
	// set-up server runs, before the server listens on TCP.
	waitFor(t, "psql to connect", func() bool { _, err := sql(uri, "SELECT 1"); return err == nil })
	if out, err := sql(uri, "CREATE TABLE notes (id int PRIMARY KEY, body text); INSERT INTO notes VALUES (1, 'kept on the volume')"); err != nil {
		t.Fatalf("create and insert: %v: %s", err, out)
	}
	if out, _ := sql(uri, "SELECT current_user || '@' || current_database()"); out != "owner@shop" {
		t.Fatalf("connected as %q", out)
	}
	before := containerField(t, svc, "{{.Id}}")

	// Another port: Docker replaces the container; the volume stays.
	newPort, _ := strconv.Atoi(testservers.FreePort(t))
	h.must(200, req{method: "PUT", path: "/api/v1/services/" + svc.ID + "/inputs", headers: map[string]string{"If-Match": `"` + svc.ETag + `"`},
		body: map[string]any{"inputs": map[string]any{"port": newPort, "postgres_version": "15", "database": "shop", "username": "owner"}}})
	uri2 := applyOutput(t, h, svc.ID, "connection_uri")
	if uri2 == uri || !strings.Contains(uri2, ":"+strconv.Itoa(newPort)+"/") {
		t.Fatalf("connection_uri after the change names port %d? %q", newPort, strings.ReplaceAll(uri2, uriPassword(uri2), "***"))
	}
	if after := containerField(t, svc, "{{.Id}}"); after == before {
		t.Fatal("the container was not replaced")
	}
	var body string
	waitFor(t, "psql to read the row", func() bool {
		out, err := sql(uri2, "SELECT body FROM notes WHERE id = 1")
		body = out
		return err == nil
	})
	if body != "kept on the volume" {
		t.Fatalf("row read back: %q", body)
	}
	h.wait("", svc.ID, h.run("", svc.ID, "destroy", nil).ID, engine.StateSucceeded)
}

// TestRedisWithRedisCLI: redis-cli with the generated password sets and gets a key;
// without it, or with another, the server refuses.
func TestRedisWithRedisCLI(t *testing.T) {
	t.Parallel()
	cli := clientTool(t, "redis-cli")
	image := testservers.RegistryImage(t, "redis")
	h := newHarness(t, harnessOptions{realTofu: true, targets: imageMap(t, map[string]string{"redis:7-alpine": image})})
	port := testservers.FreePort(t)
	portNum, _ := strconv.Atoi(port)
	svc := h.createService("", "redis", map[string]any{"port": portNum})
	t.Cleanup(func() { removeContainer(svc) })

	password := applyOutput(t, h, svc.ID, "password")
	if len(password) < 12 {
		t.Fatalf("generated password of %d characters", len(password))
	}
	checkImage(t, svc, image)
	// The password goes in REDISCLI_AUTH, not on the command line.
	redis := func(auth string, args ...string) string {
		cmd := exec.Command(cli, append([]string{"-h", "127.0.0.1", "-p", port}, args...)...)
		cmd.Env = os.Environ()
		if auth != "" {
			cmd.Env = append(cmd.Env, "REDISCLI_AUTH="+auth)
		}
		out, _ := cmd.CombinedOutput()
		return strings.TrimSpace(string(out))
	}
	if out := redis(password, "SET", "greeting", "hello from redis-cli"); out != "OK" {
		t.Fatalf("SET: %q", out)
	}
	if out := redis(password, "GET", "greeting"); out != "hello from redis-cli" {
		t.Fatalf("GET: %q", out)
	}
	if out := redis("", "GET", "greeting"); !strings.Contains(out, "NOAUTH") {
		t.Fatalf("GET without the password: %q", out)
	}
	if out := redis("", "AUTH", "not-the-password"); !strings.Contains(out, "WRONGPASS") {
		t.Fatalf("AUTH with another password: %q", out)
	}
	h.wait("", svc.ID, h.run("", svc.ID, "destroy", nil).ID, engine.StateSucceeded)
}

// clientTool is a service's client from Debian (postgresql-client, redis-tools: `go tool
// task images:apt`): a failure in CI when missing, a skip elsewhere.
func clientTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		testservers.Missing(t, "%s not on PATH (go tool task images:apt)", name)
	}
	return p
}

// imageMap is the Docker target of an operator whose images are in a private registry.
func imageMap(t *testing.T, m map[string]string) map[string]platform.Target {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]platform.Target{"docker": {Vars: map[string]string{"docker_image_map": string(b)}}}
}

// applyOutput applies the service, waits for success and returns one output's value
// (revealed when sensitive) as a string.
func applyOutput(t *testing.T, h *harness, service, output string) string {
	t.Helper()
	job := h.run("", service, "apply", nil)
	h.wait("", service, job.ID, engine.StateSucceeded)
	var j apiv1.Job
	h.must(200, req{method: "GET", path: "/api/v1/services/" + service + "/jobs/" + job.ID + "?reveal=true"}).decode(t, &j)
	var v string
	if err := json.Unmarshal(j.Outputs[output].Value, &v); err != nil {
		t.Fatalf("output %s: %v", output, err)
	}
	return v
}

// containerField is docker inspect's format of the service's container.
func containerField(t *testing.T, svc apiv1.Service, format string) string {
	t.Helper()
	out, err := exec.Command("docker", "inspect", "-f", format, "spawnit-tenant-a-"+svc.ID).Output()
	if err != nil {
		t.Fatalf("docker inspect: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// checkImage: the service's container runs image (the one the image map names, pulled
// from the registry).
func checkImage(t *testing.T, svc apiv1.Service, image string) {
	t.Helper()
	id := containerField(t, svc, "{{.Image}}")
	out, err := exec.Command("docker", "image", "inspect", "-f", "{{range .RepoTags}}{{println .}}{{end}}", id).Output()
	if err != nil {
		t.Fatalf("docker image inspect: %v", err)
	}
	if !slices.Contains(strings.Fields(string(out)), image) {
		t.Fatalf("the container's image is %s (%s), not %s (the image map)", id, strings.Fields(string(out)), image)
	}
}

// uriPassword is the password of a postgresql:// URI, to keep it out of messages.
func uriPassword(uri string) string {
	rest, _ := strings.CutPrefix(uri, "postgresql://")
	userinfo, _, _ := strings.Cut(rest, "@")
	_, pw, _ := strings.Cut(userinfo, ":")
	if pw == "" {
		return fmt.Sprint("\x00")
	}
	return pw
}

// TestPrivateRegistryLogin: the Docker target's docker_image_prefix sends every image to
// a registry that wants a login, and docker_registry_auth logs in to it with the
// credentials of the target's environment: refused with a wrong password, deployed with
// the right one.
func TestPrivateRegistryLogin(t *testing.T) {
	t.Parallel()
	const user = "spawnit-operator"
	password := "registry-pass-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	registry := testservers.PrivateRegistry(t, user, password)
	upstream := testservers.BuildTestImage(t)
	mirrored := registry + "/mirror/" + upstream
	testservers.PushImage(t, upstream, mirrored, user, password)
	t.Cleanup(func() { _ = exec.Command("docker", "image", "rm", mirrored).Run() })

	target := func(pass string) map[string]platform.Target {
		return map[string]platform.Target{"docker": {
			Env: map[string]string{"DOCKER_REGISTRY_USER": user, "DOCKER_REGISTRY_PASS": pass},
			Vars: map[string]string{
				"docker_image_prefix":  registry + "/mirror",
				"docker_registry_auth": `["` + registry + `"]`,
			},
		}}
	}

	// A wrong password: the pull is refused, nothing runs.
	h := newHarness(t, harnessOptions{realTofu: true, targets: target("not-" + password)})
	port, _ := strconv.Atoi(testservers.FreePort(t))
	svc := h.createService("", "httpecho", map[string]any{"port": port, "greeting": "from a private registry"})
	t.Cleanup(func() { removeContainer(svc) })
	failed := h.wait("", svc.ID, h.run("", svc.ID, "apply", nil).ID, engine.StateFailed)
	if strings.Contains(failed.Error, password) {
		t.Fatal("the job's error shows the password")
	}
	var evs apiv1.EventList
	h.must(200, req{method: "GET", path: "/api/v1/services/" + svc.ID + "/jobs/" + failed.ID + "/events",
		headers: map[string]string{"Accept": "application/json"}}).decode(t, &evs)
	var log strings.Builder
	for _, ev := range evs.Events {
		log.WriteString(ev.Message + "\n")
	}
	if all := failed.Error + "\n" + log.String(); !strings.Contains(strings.ToLower(all), "unauthorized") {
		t.Fatalf("the apply failed, but not for the login: %s", all)
	}

	h = newHarness(t, harnessOptions{realTofu: true, targets: target(password)})
	svc = h.createService("", "httpecho", map[string]any{"port": port, "greeting": "from a private registry"})
	t.Cleanup(func() { removeContainer(svc) })
	endpoint := applyOutput(t, h, svc.ID, "endpoint")
	checkImage(t, svc, mirrored)
	var body string
	waitFor(t, "the container to answer", func() bool {
		res, err := http.Get("http://" + strings.TrimPrefix(endpoint, "http://") + "/")
		if err != nil {
			return false
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		body = string(b)
		return res.StatusCode == http.StatusOK
	})
	if !strings.Contains(body, "from a private registry") {
		t.Fatalf("the container answered %q", body)
	}
	h.wait("", svc.ID, h.run("", svc.ID, "destroy", nil).ID, engine.StateSucceeded)
}
