//go:build linux

package main

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spawnit/spawnit/api/auth"
	"github.com/spawnit/spawnit/pkg/platform"
)

func TestServeRoleQuotaAndMetricsFlags(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "metrics-token")
	if err := os.WriteFile(tokenFile, []byte("scrape-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := parseServeFlags([]string{"--oidc-role-claim", "groups", "--quota-services", "5", "--quota-running-jobs", "2"},
		env(map[string]string{
			"SPAWNIT_OIDC_ROLE_MAP":      "spawnit-admins=operator, devs=deployer",
			"SPAWNIT_OIDC_DEFAULT_ROLE":  "viewer",
			"SPAWNIT_METRICS_TOKEN_FILE": tokenFile,
			"SPAWNIT_METRICS_LISTEN":     "127.0.0.1:0",
			"SPAWNIT_QUOTA_DEPLOYED":     "3",
		}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := auth.RoleMapping{Claim: "groups", Default: auth.RoleViewer,
		Values: map[string]auth.Role{"spawnit-admins": auth.RoleOperator, "devs": auth.RoleDeployer}}
	if cfg.oidc.roles.Claim != want.Claim || cfg.oidc.roles.Default != want.Default || len(cfg.oidc.roles.Values) != 2 ||
		cfg.oidc.roles.Values["devs"] != auth.RoleDeployer || cfg.oidc.roles.Values["spawnit-admins"] != auth.RoleOperator {
		t.Errorf("roles %+v", cfg.oidc.roles)
	}
	if cfg.metricsToken != "scrape-token" || cfg.metricsListen != "127.0.0.1:0" {
		t.Errorf("metrics %q %q", cfg.metricsToken, cfg.metricsListen)
	}
	if cfg.quotas != (platform.Quota{Services: 5, Deployed: 3, RunningJobs: 2}) {
		t.Errorf("quotas %+v", cfg.quotas)
	}
	for _, args := range [][]string{
		{"--oidc-role-map", "ops=operator"}, // no claim
		{"--oidc-role-claim", "groups", "--oidc-role-map", "ops=admin"},
		{"--oidc-role-claim", "groups", "--oidc-default-role", "root"},
		{"--quota-services", "-1"},
	} {
		if _, err := parseServeFlags(args, env(nil), io.Discard); !errors.As(err, new(usageError)) {
			t.Errorf("%q: %v, want a usage error", args, err)
		}
	}
	// The metrics token is a secret: its _FILE works and help never shows it.
	var help strings.Builder
	_, _ = parseServeFlags([]string{"-h"}, env(map[string]string{"SPAWNIT_METRICS_TOKEN": "shh-secret"}), &help)
	if !strings.Contains(help.String(), "$SPAWNIT_METRICS_TOKEN_FILE") || strings.Contains(help.String(), "shh-secret") {
		t.Errorf("help:\n%s", help.String())
	}
}
