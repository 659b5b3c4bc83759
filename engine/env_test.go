package engine

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
)

// TestTargetEnv: a job's environment (WithEnv) reaches the provider, and the state
// bucket's credentials are kept apart from it both ways: the target's AWS_* variables
// do not replace the bucket's keys for the S3 backend, and the bucket's keys are never
// in tofu's environment, where a provider (the AWS target's) would take them.
func TestTargetEnv(t *testing.T) {
	h := newHarness(t, true, nil)
	ref := ServiceRef{Client: "acme", Service: "env"}
	h.echoService(ref)
	ctx := context.Background()

	// Another AWS identity in the job's environment: the state still works.
	j, err := h.e.Apply(ctx, ref, WithEnv(map[string]string{
		"AWS_ACCESS_KEY_ID": "AKIDTARGETONLY", "AWS_SECRET_ACCESS_KEY": "target-secret-value", "AWS_PROFILE": "target", "AWS_REGION": "eu-west-3",
	}))
	if err != nil {
		t.Fatal(err)
	}
	h.wait(j, StateSucceeded)
	env := h.e.runner.jobEnv(j)
	for k, v := range env {
		if v == h.s3.SecretKey || v == h.s3.AccessKey {
			t.Fatalf("the state bucket's keys are in tofu's environment (%s)", k)
		}
	}
	if env["AWS_SECRET_ACCESS_KEY"] != "target-secret-value" || env["AWS_REGION"] != "eu-west-3" {
		t.Fatalf("the job's environment did not reach tofu: %v", env["AWS_REGION"])
	}
	backend, _ := os.ReadFile(h.e.runner.s3CredsPath)
	if !strings.Contains(string(backend), h.s3.SecretKey) {
		t.Fatal("the bucket's keys are not in the engine's credentials file")
	}
	if fi, err := os.Stat(h.e.runner.s3CredsPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("credentials file: %v %v", fi.Mode(), err)
	}

	// The provider reads the job's environment: the Docker provider pointed elsewhere
	// fails to refresh what the apply created.
	j, err = h.e.Plan(ctx, ref, WithEnv(map[string]string{"DOCKER_HOST": "unix:///nonexistent/spawnit-test.sock"}))
	if err != nil {
		t.Fatal(err)
	}
	info := h.wait(j, StateFailed)
	if all := info.Error + eventText(j.Events(0)); !strings.Contains(all, "spawnit-test.sock") {
		t.Fatalf("the provider did not use the job's DOCKER_HOST: %s", all)
	}
	// The next job without it works: the environment is the job's, not the workdir's.
	h.run(h.e.Plan, ref, StateSucceeded)

	for _, bad := range []map[string]string{{"TF_LOG": "trace"}, {"TF_VAR_name": "x"}, {"BAD-NAME": "x"}, {"": "x"}, {"X": "a\x00b"}} {
		if _, err := h.e.Plan(ctx, ref, WithEnv(bad)); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("WithEnv(%q) accepted: %v", bad, err)
		}
	}
}

// TestTargetEnvSecretsMasked: values of secret-looking variables never show in events.
func TestTargetEnvSecretsMasked(t *testing.T) {
	e, _ := unitEngine(t, false)
	ref := ServiceRef{Client: "acme", Service: "mask"}
	j, err := e.Plan(context.Background(), ref, WithEnv(map[string]string{"ARM_CLIENT_SECRET": "s3cr3t-xyz-123", "AWS_REGION": "eu-west-3"}))
	if err != nil {
		t.Fatal(err)
	}
	<-j.Done()
	j.emit(Event{Type: EventLog, Level: "error", Message: "provider said: bad secret s3cr3t-xyz-123 in eu-west-3"})
	text := eventText(j.Events(0))
	if strings.Contains(text, "s3cr3t-xyz-123") {
		t.Fatalf("secret shown in events:\n%s", text)
	}
	if !strings.Contains(text, "eu-west-3") {
		t.Fatalf("a region is not a secret:\n%s", text)
	}
}

// TestWithVars: a target's variables reach tofu as TF_VAR_<name>, for the job given them
// only; names that are not identifiers are refused. (The e2e tests of the catalog's
// services show real tofu using them: the image map of the Docker target.)
func TestWithVars(t *testing.T) {
	e, _ := unitEngine(t, false)
	ref := ServiceRef{Client: "acme", Service: "vars"}
	ctx := context.Background()
	j, err := e.Plan(ctx, ref, WithVars(map[string]string{"docker_image_map": `{"a:1":"b:2"}`}))
	if err != nil {
		t.Fatal(err)
	}
	<-j.Done()
	env := e.runner.jobEnv(j)
	if env["TF_VAR_docker_image_map"] != `{"a:1":"b:2"}` {
		t.Fatalf("TF_VAR_docker_image_map = %q", env["TF_VAR_docker_image_map"])
	}
	j, err = e.Plan(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	<-j.Done()
	if v, ok := e.runner.jobEnv(j)["TF_VAR_docker_image_map"]; ok {
		t.Fatalf("another job got the variable: %q", v)
	}
	for _, bad := range []map[string]string{{"bad name": "x"}, {"": "x"}, {"x=y": "x"}, {"docker_x": "a\x00b"}} {
		if _, err := e.Plan(ctx, ref, WithVars(bad)); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("WithVars(%q) accepted: %v", bad, err)
		}
	}
}
