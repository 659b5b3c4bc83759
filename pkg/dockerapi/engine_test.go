package dockerapi_test

import (
	"context"
	"errors"
	"testing"

	"github.com/spawnit/spawnit/internal/testservers"
	"github.com/spawnit/spawnit/pkg/dockerapi"
)

// TestEngineOverTCP reaches the real engine at the address an environment names, over
// TCP and over TLS with a client certificate, while the process's own DOCKER_HOST
// points nowhere.
func TestEngineOverTCP(t *testing.T) {
	certs := testservers.NewDockerCerts(t)
	plain := testservers.NewDockerForwarder(t, nil)
	secure := testservers.NewDockerForwarder(t, certs.Server)
	t.Setenv("DOCKER_HOST", "unix:///nonexistent/spawnit-process.sock")
	t.Setenv("DOCKER_TLS_VERIFY", "")
	t.Setenv("DOCKER_CERT_PATH", "")
	ctx := context.Background()

	for _, c := range []struct {
		name string
		fwd  *testservers.DockerForwarder
		env  map[string]string
	}{
		{"tcp", plain, map[string]string{"DOCKER_HOST": plain.Host()}},
		{"tls", secure, map[string]string{"DOCKER_HOST": secure.Host(), "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": certs.Dir}},
	} {
		t.Run(c.name, func(t *testing.T) {
			api, err := dockerapi.FromEnv(dockerapi.Overlay(c.env))
			if err != nil {
				t.Fatal(err)
			}
			var v struct{ Version, APIVersion string }
			if err := api.Get(ctx, "/version", nil, &v); err != nil {
				t.Fatalf("version through %s: %v", api.Host(), err)
			}
			if v.Version == "" || v.APIVersion == "" {
				t.Fatalf("version: %+v", v)
			}
			err = api.Get(ctx, "/containers/spawnit-no-such-container/json", nil, &struct{}{})
			if !errors.Is(err, dockerapi.ErrNotFound) {
				t.Fatalf("inspecting a container that does not exist: %v, want ErrNotFound", err)
			}
			if n := c.fwd.Requests("GET /version"); n != 1 {
				t.Fatalf("the forwarder saw %d version requests, want 1", n)
			}
		})
	}

	// The process's own environment names an engine that is not there.
	api, err := dockerapi.New()
	if err != nil {
		t.Fatal(err)
	}
	if err := api.Get(ctx, "/version", nil, &struct{}{}); err == nil {
		t.Fatalf("the process's DOCKER_HOST (%s) answered", api.Host())
	}
	if _, err := dockerapi.FromEnv(dockerapi.Overlay(map[string]string{"DOCKER_HOST": secure.Host(), "DOCKER_CERT_PATH": t.TempDir()})); err == nil {
		t.Fatal("TLS without certificates accepted")
	}
}
