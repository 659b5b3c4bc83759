package catalog_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spawnit/spawnit/catalog"
	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/internal/testservers"
	"github.com/spawnit/spawnit/pkg/store"
	"github.com/spawnit/spawnit/pkg/store/s3store"
)

// TestEndToEndS3: seed the built-in catalog into a real S3 server, create a service from
// the httpecho test template, apply it through the engine with its state in the same
// bucket, reach the container on its 127.0.0.1 port, destroy it, and check every object
// sits where the store layout says.
func TestEndToEndS3(t *testing.T) {
	testservers.BuildTestImage(t)
	s3 := testservers.Versitygw(t)
	ctx := context.Background()
	st, err := s3store.New(ctx, s3store.Config{Endpoint: s3.Endpoint, Bucket: "spawnit", AccessKey: s3.AccessKey, SecretKey: s3.SecretKey, PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	cat := catalog.New(st, nil)
	if err := cat.Seed(ctx); err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Config{
		TofuPath:       testservers.Tofu(t),
		ProviderMirror: testservers.ProviderMirror(t),
		DataDir:        t.TempDir(),
		Source:         catalog.NewServiceSource(cat),
		Store:          st,
		Backend: engine.Backend{S3: &engine.S3Backend{Bucket: "spawnit", Endpoint: s3.URL(), PathStyle: true,
			AccessKey: s3.AccessKey, SecretKey: s3.SecretKey}},
	})
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(testservers.FreePort(t))
	// Values that must reach the container literally, never evaluated.
	greeting := "hi ${var.token} %{if true}x%{endif} \"quoted\"\n-leading"
	svc, err := cat.CreateService(ctx, "tenant-a", catalog.CreateRequest{
		Template: "httpecho", Name: "e2e", Inputs: map[string]any{"port": port, "greeting": greeting},
	})
	if err != nil {
		t.Fatal(err)
	}
	ref := svc.Ref()
	t.Cleanup(func() {
		_ = exec.Command("docker", "rm", "-f", fmt.Sprintf("spawnit-%s-%s", ref.Client, ref.Service)).Run()
		_ = exec.Command("docker", "volume", "rm", "-f", fmt.Sprintf("spawnit-%s-%s-data", ref.Client, ref.Service)).Run()
	})
	secrets := catalog.SecretValues(svc.Values, svc.Sensitive)
	if len(secrets) != 1 || len(secrets[0]) != 24 {
		t.Fatalf("generated token: %v", secrets)
	}

	wait := func(j *engine.Job, err error) engine.JobInfo {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		wctx, cancel := context.WithTimeout(ctx, 5*time.Minute) // init and apply on a loaded machine
		defer cancel()
		info, err := j.Wait(wctx)
		if err != nil || info.State != engine.StateSucceeded {
			t.Fatalf("%s: %s %v %s", info.Operation, info.State, err, info.Error)
		}
		for _, ev := range j.Events(0) {
			if strings.Contains(ev.Message, secrets[0]) {
				t.Fatalf("the generated secret reached an event: %q", ev.Message)
			}
		}
		return info
	}
	info := wait(eng.Apply(ctx, ref, engine.WithSecrets(secrets...)))
	var gotGreeting string
	if err := json.Unmarshal(info.Outputs["greeting"].Value, &gotGreeting); err != nil || gotGreeting != greeting {
		t.Fatalf("greeting output %s (%v), want it literal", info.Outputs["greeting"].Value, err)
	}
	// The container runs once the apply is done, but may take a moment to listen:
	// until then Docker's port forwarder accepts and drops connections.
	var body []byte
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
		if err == nil {
			body, err = io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil && resp.StatusCode == http.StatusOK {
				break
			}
			err = fmt.Errorf("status %d, %v", resp.StatusCode, err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the container does not answer: %v", err)
		}
	}
	if strings.TrimRight(string(body), "\n") != greeting {
		t.Fatalf("container answered %q, want the literal greeting %q", body, greeting)
	}
	prefix := "clients/" + ref.Client + "/" + ref.Service + "/"
	for _, key := range []string{"terraform.tfvars.json", "info.json", "terraform.tfstate", "intent.json", "jobs/" + info.ID + ".json"} {
		if _, err := st.Stat(ctx, prefix+key); err != nil {
			t.Errorf("%s%s: %v", prefix, key, err)
		}
	}
	if _, err := st.Stat(ctx, "templates/httpecho/template.json"); err != nil {
		t.Errorf("seeded template: %v", err)
	}
	wait(eng.Destroy(ctx, ref, engine.WithSecrets(secrets...)))
	if out, _ := exec.Command("docker", "ps", "-aq", "--filter", "name=spawnit-"+ref.Client+"-"+ref.Service).Output(); len(strings.TrimSpace(string(out))) > 0 {
		t.Fatal("container left after destroy")
	}
	// The state stays, now empty of resources, with the lockfile gone.
	if _, err := st.Stat(ctx, prefix+"terraform.tfstate.tflock"); err == nil {
		t.Fatal("S3 lockfile left behind")
	} else if !errors.Is(err, store.ErrNotFound) {
		t.Fatal(err)
	}
}
