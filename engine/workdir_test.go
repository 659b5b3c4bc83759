package engine

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func fakeEngine(t *testing.T, s3 *S3Backend) *Engine {
	t.Helper()
	tofu := filepath.Join(t.TempDir(), "tofu")
	if err := os.WriteFile(tofu, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	e, err := New(Config{TofuPath: tofu, DataDir: t.TempDir(), Source: DirSource(t.TempDir()),
		ProviderMirror: "/mirror/with \"quotes\" and ${x}", Backend: Backend{S3: s3}})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestBackendOverrideLocal(t *testing.T) {
	e := fakeEngine(t, nil)
	ref := ServiceRef{Client: "c1", Service: "s1"}
	b, err := e.runner.backendOverride(ref)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Terraform struct {
			Backend struct {
				Local struct{ Path string } `json:"local"`
			} `json:"backend"`
		} `json:"terraform"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	p := got.Terraform.Backend.Local.Path
	if !filepath.IsAbs(p) || !strings.HasSuffix(p, "clients/c1/s1/terraform.tfstate") || strings.HasPrefix(p, e.cfg.WorkDir) {
		t.Fatalf("local state must live outside the workdir at the service key: %s", p)
	}
}

func TestBackendOverrideS3KeepsCredentialsOut(t *testing.T) {
	e := fakeEngine(t, &S3Backend{Bucket: "b", Endpoint: "http://127.0.0.1:7070", PathStyle: true, AccessKey: "AKIDEXAMPLE", SecretKey: "very-secret-key"})
	ref := ServiceRef{Client: "c1", Service: "s1"}
	b, _ := e.runner.backendOverride(ref)
	s := string(b)
	for _, want := range []string{`"key": "clients/c1/s1/terraform.tfstate"`, `"use_lockfile": true`, `"use_path_style": true`, `"s3": "http://127.0.0.1:7070"`, `"region": "us-east-1"`} {
		if !strings.Contains(s, want) {
			t.Errorf("backend lacks %s:\n%s", want, s)
		}
	}
	if strings.Contains(s, "very-secret-key") || strings.Contains(s, "AKIDEXAMPLE") {
		t.Fatal("credentials written into the backend file")
	}
	// The backend reads them from the engine's credentials file, as an explicit profile
	// (which beats any AWS_* variable a target's environment sets).
	for _, want := range []string{`"profile": "spawnit-state"`, e.runner.s3CredsPath} {
		if !strings.Contains(s, want) {
			t.Errorf("backend lacks %s:\n%s", want, s)
		}
	}
	creds, err := os.ReadFile(e.runner.s3CredsPath)
	if err != nil || !strings.Contains(string(creds), "aws_secret_access_key = very-secret-key") || !strings.Contains(string(creds), "[spawnit-state]") {
		t.Fatalf("credentials file: %q, %v", creds, err)
	}
	for k, v := range e.runner.tofuEnv() {
		if strings.HasPrefix(k, "AWS_") || v == "very-secret-key" {
			t.Fatalf("%s in tofu's environment", k)
		}
	}
}

func TestTofuEnvDropsOverrides(t *testing.T) {
	t.Setenv("TF_VAR_name", "injected")
	t.Setenv("TF_CLI_ARGS_apply", "-destroy")
	t.Setenv("TF_LOG", "trace")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "from-server-env")
	e := fakeEngine(t, nil)
	env := e.runner.tofuEnv()
	for k := range env {
		if strings.HasPrefix(k, "TF_VAR_") || strings.HasPrefix(k, "TF_CLI_ARGS") || strings.HasPrefix(k, "TF_LOG") || strings.HasPrefix(k, "AWS_") {
			t.Errorf("%s passed to tofu", k)
		}
	}
	if env["TF_CLI_CONFIG_FILE"] != e.runner.cliConfigPath {
		t.Fatal("CLI config not set")
	}
	// The process environment says tofu runs unattended, and nothing else is inherited.
	list := envList(env)
	if !slices.Contains(list, "TF_IN_AUTOMATION=1") || !slices.Contains(list, "TF_CLI_CONFIG_FILE="+e.runner.cliConfigPath) || len(list) != len(env)+1 {
		t.Fatalf("process environment: %v", list)
	}
}

func TestCLIConfigQuotesPaths(t *testing.T) {
	e := fakeEngine(t, nil)
	b, err := os.ReadFile(e.runner.cliConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if !strings.Contains(s, `path    = "/mirror/with \"quotes\" and $${x}"`) || strings.Contains(s, "plugin_cache_dir") {
		t.Fatalf("CLI config:\n%s", s)
	}
}

func TestSyncRebuildsWorkdirAndHashesInit(t *testing.T) {
	e := fakeEngine(t, nil)
	dir := t.TempDir()
	ws := &workspace{ref: ServiceRef{Client: "c", Service: "s"}, dir: dir}
	files := Files{"main.tf": []byte("# v1"), TfvarsFile: []byte(`{"a":1}`)}
	backend, _ := e.runner.backendOverride(ws.ref)
	need, hash, err := ws.sync(files, backend, e.runner.cliConfig)
	if err != nil || !need {
		t.Fatalf("first sync: need=%v err=%v", need, err)
	}
	if err := os.MkdirAll(filepath.Join(dir, ".terraform"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := ws.markInitialized(hash); err != nil {
		t.Fatal(err)
	}
	// A stale file disappears; tfvars changes do not require init.
	os.WriteFile(filepath.Join(dir, "stale.tf"), []byte("x"), 0o600)
	files[TfvarsFile] = []byte(`{"a":2}`)
	need, _, err = ws.sync(files, backend, e.runner.cliConfig)
	if err != nil || need {
		t.Fatalf("tfvars-only change: need=%v err=%v", need, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "stale.tf")); !os.IsNotExist(err) {
		t.Fatal("stale file kept")
	}
	if b, _ := os.ReadFile(filepath.Join(dir, TfvarsFile)); string(b) != `{"a":2}` {
		t.Fatalf("tfvars not updated: %s", b)
	}
	// A module change requires init; so does a missing .terraform.
	files["main.tf"] = []byte("# v2")
	if need, _, _ = ws.sync(files, backend, e.runner.cliConfig); !need {
		t.Fatal("module change must re-init")
	}
	// Missing tfvars is an input error.
	delete(files, TfvarsFile)
	if _, _, err := ws.sync(files, backend, e.runner.cliConfig); err == nil {
		t.Fatal("sync without tfvars accepted")
	}
}
