//go:build linux

package main

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spawnit/spawnit/pkg/platform"
)

func TestTargetFlags(t *testing.T) {
	dir := t.TempDir()
	awsEnv := filepath.Join(dir, "aws.env")
	if err := os.WriteFile(awsEnv, []byte("# AWS target\nAWS_REGION=eu-west-3\nexport AWS_ACCESS_KEY_ID=AKIDEXAMPLE\nAWS_SECRET_ACCESS_KEY=\"quoted secret=with equals\"\n\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := parseServeFlags([]string{"--targets", "docker, aws", "--target-env", "aws=" + awsEnv}, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	targets, err := loadTargets(c.targetNames, c.targetEnv, c.targetVars)
	if err != nil {
		t.Fatal(err)
	}
	if len(targets) != 2 || len(targets["docker"].Env) != 0 {
		t.Fatalf("targets %v", targets)
	}
	got := targets["aws"].Env
	if got["AWS_REGION"] != "eu-west-3" || got["AWS_ACCESS_KEY_ID"] != "AKIDEXAMPLE" || got["AWS_SECRET_ACCESS_KEY"] != "quoted secret=with equals" || len(got) != 3 {
		t.Fatalf("aws environment: %d variables", len(got))
	}

	// From the environment, as a comma-separated list.
	c, err = parseServeFlags(nil, env(map[string]string{"SPAWNIT_TARGETS": "docker,aws", "SPAWNIT_TARGET_ENV": "aws=" + awsEnv}), io.Discard)
	if err != nil || c.targetEnv["aws"] != awsEnv {
		t.Fatalf("from the environment: %+v, %v", c, err)
	}

	// Default: docker alone.
	c, _ = parseServeFlags(nil, env(nil), io.Discard)
	if targets, _ := loadTargets(c.targetNames, c.targetEnv, c.targetVars); len(targets) != 1 || targets["docker"].Env != nil {
		t.Fatalf("default targets %v", targets)
	}

	var ue usageError
	for _, args := range [][]string{
		{"--target-env", "aws=" + awsEnv}, // aws not enabled
		{"--targets", "docker,../x"},
		{"--target-env", "aws"},
		{"--targets", "docker,"},
	} {
		if _, err := parseServeFlags(args, env(nil), io.Discard); !errors.As(err, &ue) {
			t.Errorf("%v: %v", args, err)
		}
	}

	bad := filepath.Join(dir, "bad.env")
	for content, want := range map[string]string{
		"AWS_REGION=x\nno equals sign\n":          "bad.env:2",
		"TF_LOG=trace\n":                          "bad.env:1",
		"AWS_SECRET_ACCESS_KEY=sekrit\nBAD-KEY=v": "bad.env:2",
	} {
		if err := os.WriteFile(bad, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := loadTargets([]string{"docker"}, targetEnvFlag{"docker": bad}, nil)
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "sekrit") {
			t.Errorf("%q: %v", content, err)
		}
	}
	if _, err := loadTargets([]string{"docker"}, targetEnvFlag{"docker": filepath.Join(dir, "missing.env")}, nil); err == nil {
		t.Error("a missing file accepted")
	}
}

// TestTargetVarsFlag: --target-vars reads a JSON object per target; strings stay as they
// are, other values become their JSON text (what tofu reads from TF_VAR_<name>).
func TestTargetVarsFlag(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "docker.json")
	if err := os.WriteFile(file, []byte(`{
  "docker_image_prefix": "registry.example:5000/hub",
  "docker_image_map": {"postgres:15-alpine": "registry.example:5000/debian/postgres:15-bookworm"},
  "docker_registry_auth": ["registry.example:5000"]
}`), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := parseServeFlags(nil, env(map[string]string{"SPAWNIT_TARGET_VARS": "docker=" + file}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	targets, err := loadTargets(c.targetNames, c.targetEnv, c.targetVars)
	if err != nil {
		t.Fatal(err)
	}
	got := targets["docker"].Vars
	want := map[string]string{
		"docker_image_prefix":  "registry.example:5000/hub",
		"docker_image_map":     `{"postgres:15-alpine":"registry.example:5000/debian/postgres:15-bookworm"}`,
		"docker_registry_auth": `["registry.example:5000"]`,
	}
	if len(got) != len(want) {
		t.Fatalf("vars %v", got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}

	var ue usageError
	if _, err := parseServeFlags([]string{"--target-vars", "aws=" + file}, env(nil), io.Discard); !errors.As(err, &ue) {
		t.Errorf("vars of a target not enabled: %v", err)
	}
	for content, want := range map[string]string{
		`["not an object"]`:  "want a JSON object",
		`{"docker_x": null}`: "docker_x: null",
	} {
		if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := loadTargets([]string{"docker"}, nil, targetEnvFlag{"docker": file}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v", content, err)
		}
	}
}

// TestTargetSettingsFlags: the port range, publish address and public host of a target,
// from flags or the environment, reach its platform.Target; bad values are usage errors.
func TestTargetSettingsFlags(t *testing.T) {
	c, err := parseServeFlags([]string{"--port-range", "docker=30000-30099", "--publish-address", "docker=127.0.0.2", "--public-host", "docker=spawnit.lan"}, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	targets, _ := loadTargets(c.targetNames, c.targetEnv, c.targetVars)
	addTargetSettings(targets, c)
	want := platform.Target{Ports: platform.PortRange{First: 30000, Last: 30099}, PublishAddress: "127.0.0.2", PublicHost: "spawnit.lan"}
	if got := targets["docker"]; got.Ports != want.Ports || got.PublishAddress != want.PublishAddress || got.PublicHost != want.PublicHost {
		t.Fatalf("docker target %+v", got)
	}
	c, err = parseServeFlags(nil, env(map[string]string{"SPAWNIT_PUBLISH_ADDRESS": "docker=0.0.0.0", "SPAWNIT_PORT_RANGE": "docker=40000-40009"}), io.Discard)
	if err != nil || c.publishAddress["docker"] != "0.0.0.0" || c.portRange["docker"] != "40000-40009" {
		t.Fatalf("from the environment: %+v, %v", c, err)
	}
	// Unset: the platform's defaults.
	c, _ = parseServeFlags(nil, env(nil), io.Discard)
	targets, _ = loadTargets(c.targetNames, c.targetEnv, c.targetVars)
	addTargetSettings(targets, c)
	if got := targets["docker"]; got.Ports != (platform.PortRange{}) || got.PublishAddress != "" || got.PublicHost != "" {
		t.Fatalf("default docker target %+v", got)
	}
	var ue usageError
	for _, args := range [][]string{
		{"--port-range", "docker=30000"},
		{"--port-range", "docker=2-1"},
		{"--port-range", "aws=1-2"}, // aws not enabled
		{"--publish-address", "docker=localhost"},
		{"--public-host", "aws=x"},
	} {
		if _, err := parseServeFlags(args, env(nil), io.Discard); !errors.As(err, &ue) {
			t.Errorf("%v: %v", args, err)
		}
	}
}
