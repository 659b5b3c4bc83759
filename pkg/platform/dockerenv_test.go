package platform

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/internal/testservers"
	"github.com/spawnit/spawnit/pkg/apiv1"
	"github.com/spawnit/spawnit/pkg/store"
	"github.com/spawnit/spawnit/pkg/storekey"
)

// A test template whose container (HealthyImage) reports healthy, with a docker_health
// readiness check.
const (
	healthyTemplate = `{
  "id": "healthcheck",
  "name": "Healthcheck (test)",
  "description": "A container whose Docker healthcheck passes.",
  "category": "test",
  "version": "1.0.0",
  "inputs": [],
  "readiness": [{"type": "docker_health", "timeout": "60s"}]
}`
	healthyModule = `terraform {
  required_providers {
    docker = {
      source  = "kreuzwerker/docker"
      version = "4.6.0"
    }
  }
}

variable "spawnit_client_id" {
  type = string
}

variable "spawnit_service_id" {
  type = string
}

variable "spawnit_service_name" {
  type = string
}

resource "docker_image" "healthy" {
  name         = "` + testservers.HealthyImage + `"
  keep_locally = true
}

resource "docker_container" "healthy" {
  name  = "spawnit-${var.spawnit_client_id}-${var.spawnit_service_id}"
  image = docker_image.healthy.image_id

  labels {
    label = "spawnit.client"
    value = var.spawnit_client_id
  }
  labels {
    label = "spawnit.service"
    value = var.spawnit_service_id
  }
}

output "container" {
  value = docker_container.healthy.name
}
`
)

// TestDockerTargetEngine: the docker target's environment names its engine, over TCP
// with TLS and a client certificate, while the server's own DOCKER_HOST points nowhere.
// tofu deploys there, and the readiness check that ends the apply and a later health
// probe inspect the container there too.
func TestDockerTargetEngine(t *testing.T) {
	certs := testservers.NewDockerCerts(t)
	fwd := testservers.NewDockerForwarder(t, certs.Server)
	testservers.BuildHealthyImage(t)
	t.Setenv("DOCKER_HOST", "unix:///nonexistent/spawnit-process.sock")
	p := targetsPlatform(t, map[string]Target{"docker": {Env: map[string]string{
		"DOCKER_HOST": fwd.Host(), "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": certs.Dir}}})
	if p.Docker() == nil || p.Docker().Host() != fwd.Host() || !p.Docker().TLS() {
		t.Fatalf("the platform's engine: %+v, want %s over TLS", p.Docker(), fwd.Host())
	}
	ctx := context.Background()
	for key, body := range map[string]string{
		storekey.Template("healthcheck"):                             healthyTemplate,
		storekey.TemplateModule("healthcheck", "docker") + "main.tf": healthyModule,
	} {
		if _, err := p.st.Put(ctx, key, []byte(body), store.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	a := Actor{Tenant: "acme", Subject: "alice"}
	svc, err := p.CreateService(ctx, a, apiv1.CreateService{Template: "healthcheck"})
	if err != nil {
		t.Fatal(err)
	}
	ref := engine.ServiceRef{Client: a.Tenant, Service: svc.ID}
	container := containerName(ref)
	t.Cleanup(func() { _ = testservers.DockerCommand("rm", "-f", container).Run() })
	job, err := p.Run(ctx, a, svc.ID, RunRequest{Operation: engine.OpApply})
	if err != nil {
		t.Fatal(err)
	}
	j, ok := p.eng.Job(job.ID)
	if !ok {
		t.Fatal("job not found")
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	info, err := j.Wait(wctx)
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	for _, ev := range j.Events(0) {
		text.WriteString(ev.Message + "\n")
	}
	if info.State != engine.StateSucceeded || !strings.Contains(text.String(), "docker_health check passed: container "+container+" (healthy)") {
		t.Fatalf("apply ended %s: %s\n%s", info.State, info.Error, text.String())
	}
	// tofu's Docker provider (versioned paths) and the readiness check (unversioned)
	// both went through the target's engine.
	inspect := "GET /containers/" + container + "/json"
	if fwd.Requests("GET /v1.") == 0 || fwd.Requests(inspect) == 0 {
		t.Fatalf("through the target's engine: %d provider requests, %d readiness inspections", fwd.Requests("GET /v1."), fwd.Requests(inspect))
	}

	before := fwd.Requests(inspect)
	if err := p.ProbeHealth(ctx, ref); err != nil {
		t.Fatal(err)
	}
	v, err := p.GetService(ctx, a, svc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if v.Status.Health != HealthHealthy || fwd.Requests(inspect) <= before {
		t.Fatalf("health probe: %q, %d inspections through the target's engine (before: %d)", v.Status.Health, fwd.Requests(inspect), before)
	}
}

// TestDockerTargetEngineRefused: an engine the client cannot speak to stops New when
// docker is offered, with a message naming DOCKER_HOST; with docker not offered, the
// platform starts, and the probes of the docker services left say why they cannot run.
func TestDockerTargetEngineRefused(t *testing.T) {
	p := targetsPlatform(t, nil)
	base := Config{Store: p.st, Catalog: p.cat, Engine: p.eng}
	for env, want := range map[string]string{
		"DOCKER_HOST=ssh://me@engine.example":                  "ssh:// is not supported",
		"DOCKER_HOST=engine.example:2375":                      "want unix:///path/to/socket or tcp://host:port",
		"DOCKER_HOST=tcp://127.0.0.1:2376 DOCKER_TLS_VERIFY=1": "the engine's CA",
	} {
		vars := map[string]string{"DOCKER_CERT_PATH": t.TempDir()}
		for _, kv := range strings.Fields(env) {
			k, v, _ := strings.Cut(kv, "=")
			vars[k] = v
		}
		cfg := base
		cfg.Targets = map[string]Target{"docker": {Env: vars}}
		_, err := New(cfg)
		if err == nil || !strings.Contains(err.Error(), "target docker: DOCKER_HOST") || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error saying %q", env, err, want)
		}
	}

	t.Setenv("DOCKER_HOST", "ssh://me@engine.example")
	cfg := base
	cfg.Targets = map[string]Target{"aws": {}}
	q, err := New(cfg)
	if err != nil {
		t.Fatalf("docker not offered: %v", err)
	}
	if q.Docker() != nil {
		t.Fatalf("docker not offered: engine %s", q.Docker().Host())
	}
	if r := q.docker.tryHealth(context.Background(), "x"); !r.fatal || !r.unknown || !strings.Contains(r.detail, "ssh:// is not supported") {
		t.Fatalf("a probe without an engine: %+v", r)
	}
}
