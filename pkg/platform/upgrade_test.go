package platform

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spawnit/spawnit/catalog"
	"github.com/spawnit/spawnit/catalog/catalogtest"
	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/internal/testservers"
	"github.com/spawnit/spawnit/pkg/apiv1"
)

// httpechoVersion is the built-in httpecho republished as version: its container
// restarts "always", and it takes a new input, farewell, with a default.
func httpechoVersion(t *testing.T, version string) catalog.TemplateFiles {
	t.Helper()
	builtin := catalogtest.Files(t, catalog.Builtin(), "httpecho")
	files := catalog.TemplateFiles{}
	for _, p := range []string{"template.json", "modules/docker/main.tf", "modules/docker/variables.tf", "modules/docker/outputs.tf", "modules/docker/versions.tf"} {
		files[p] = builtin[p]
	}
	files["template.json"] = catalogtest.WithVersion(t, files["template.json"], version, "Restarts always; says farewell.")
	tpl := string(files["template.json"])
	tpl = strings.Replace(tpl, `"inputs": [`, `"inputs": [
    {"name": "farewell", "label": "Farewell", "type": "string", "max": 64, "default": "bye"},`, 1)
	files["template.json"] = []byte(tpl)
	main := string(files["modules/docker/main.tf"])
	main = strings.Replace(main, `restart = "unless-stopped"`, `restart = "always"`, 1)
	main = strings.Replace(main, `"TOKEN=${var.token}",`, `"TOKEN=${var.token}",
    "FAREWELL=${var.farewell}",`, 1)
	files["modules/docker/main.tf"] = []byte(main)
	files["modules/docker/variables.tf"] = append(files["modules/docker/variables.tf"], "\nvariable \"farewell\" {\n  type = string\n}\n"...)
	return files
}

// TestUpgradeAndDowngrade: a deployed service stays in sync and pinned to its version
// when a new one is published; it is offered the upgrade, whose plan names the change;
// the upgrade applied moves it (the new input at its default); a downgrade moves it
// back; an upgrade that fails leaves it on its version.
func TestUpgradeAndDowngrade(t *testing.T) {
	testservers.BuildTestImage(t)
	ctx := context.Background()
	p := targetsPlatform(t, nil)
	a := Actor{Tenant: "upg", Subject: "alice"}
	port, _ := strconv.Atoi(testservers.FreePort(t))
	created, err := p.CreateService(ctx, a, apiv1.CreateService{Template: "httpecho", Inputs: map[string]any{"port": port}})
	if err != nil {
		t.Fatal(err)
	}
	id := created.ID
	t.Cleanup(func() { removeLabelled(t, []string{"spawnit.client=" + a.Tenant, "spawnit.service=" + id}) })
	runToEnd(t, p, a, id, engine.OpApply, engine.StateSucceeded)

	// The versions published derive from the one the template ships with.
	from := catalogtest.Version(t, catalogtest.Files(t, catalog.Builtin(), "httpecho")["template.json"])
	to := catalogtest.NextMinor(t, from)
	brokenVersion := catalogtest.NextMinor(t, to)
	if _, _, err := p.cat.Publish(ctx, httpechoVersion(t, to), "alice"); err != nil {
		t.Fatal(err)
	}
	svc := checkDrift(t, p, a, id)
	if svc.Status.Drift != engine.StatusInSync || svc.TemplateVersion != from {
		t.Fatalf("after publishing %s: drift %s, version %s; want in_sync on %s", to, svc.Status.Drift, svc.TemplateVersion, from)
	}
	if svc.Upgrade == nil || svc.Upgrade.From != from || svc.Upgrade.To != to || !strings.Contains(svc.Upgrade.ReleaseNotes, "farewell") {
		t.Fatalf("upgrade offer: %+v", svc.Upgrade)
	}

	t.Run("plan", func(t *testing.T) {
		u, err := p.PlanUpgrade(ctx, a, id, UpgradeRequest{})
		if err != nil {
			t.Fatal(err)
		}
		info := waitFor(t, p, u.Job.ID)
		if info.State != engine.StateSucceeded || info.Plan == nil {
			t.Fatalf("plan ended %s: %s", info.State, info.Error)
		}
		if !slices.Equal(u.Added, []string{"farewell"}) || len(u.Removed) != 0 || u.To != to {
			t.Fatalf("migration: %+v", u)
		}
		if !planChanges(info.Plan, "docker_container.httpecho") {
			t.Fatalf("the plan does not name the container: %+v", info.Plan.Resources)
		}
		if v, _ := p.GetService(ctx, a, id); v.TemplateVersion != from {
			t.Fatalf("a plan moved the service to %s", v.TemplateVersion)
		}
	})

	t.Run("invalid input", func(t *testing.T) {
		_, err := p.PlanUpgrade(ctx, a, id, UpgradeRequest{Inputs: map[string]any{"farewell": strings.Repeat("x", 100)}})
		var ve *catalog.ValidationError
		if !errors.As(err, &ve) || len(ve.Fields) != 1 || ve.Fields[0].Field != "inputs.farewell" {
			t.Fatalf("an invalid value for the new version: %v", err)
		}
	})

	t.Run("apply", func(t *testing.T) {
		u, err := p.ApplyUpgrade(ctx, a, id, UpgradeRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if info := waitFor(t, p, u.Job.ID); info.State != engine.StateSucceeded {
			t.Fatalf("upgrade ended %s: %s", info.State, info.Error)
		}
		svc := waitVersion(t, p, a, id, to)
		if svc.Inputs["farewell"] != "bye" || svc.Upgrade != nil {
			t.Fatalf("after the upgrade: inputs %v, offer %+v", svc.Inputs, svc.Upgrade)
		}
		if svc := checkDrift(t, p, a, id); svc.Status.Drift != engine.StatusInSync {
			t.Fatalf("after the upgrade: drift %s", svc.Status.Drift)
		}
	})

	t.Run("failed upgrade keeps the version", func(t *testing.T) {
		broken := httpechoVersion(t, brokenVersion)
		broken["modules/docker/main.tf"] = append(broken["modules/docker/main.tf"], "\nresource \"docker_network\" \"bad\" {\n  name = \"spawnit-bad-${var.spawnit_service_id}\"\n  driver = \"no-such-driver\"\n}\n"...)
		if _, _, err := p.cat.Publish(ctx, broken, "alice"); err != nil {
			t.Fatal(err)
		}
		u, err := p.ApplyUpgrade(ctx, a, id, UpgradeRequest{Version: brokenVersion})
		if err != nil {
			t.Fatal(err)
		}
		if info := waitFor(t, p, u.Job.ID); info.State != engine.StateFailed {
			t.Fatalf("broken upgrade ended %s", info.State)
		}
		// The commit runs after the job's end, on success only: wait until the
		// platform is done with the job, then look.
		p.watches.Wait()
		if svc, _ := p.GetService(ctx, a, id); svc.TemplateVersion != to {
			t.Fatalf("a failed upgrade moved the service to %s", svc.TemplateVersion)
		}
	})

	t.Run("downgrade", func(t *testing.T) {
		u, err := p.ApplyUpgrade(ctx, a, id, UpgradeRequest{Version: from})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(u.Removed, []string{"farewell"}) {
			t.Fatalf("downgrade removes %v", u.Removed)
		}
		if info := waitFor(t, p, u.Job.ID); info.State != engine.StateSucceeded {
			t.Fatalf("downgrade ended %s: %s", info.State, info.Error)
		}
		svc := waitVersion(t, p, a, id, from)
		if _, ok := svc.Inputs["farewell"]; ok || svc.Upgrade == nil || svc.Upgrade.To != brokenVersion {
			t.Fatalf("after the downgrade: inputs %v, offer %+v", svc.Inputs, svc.Upgrade)
		}
	})

	t.Run("bulk dry run", func(t *testing.T) {
		got, ups, err := p.BulkUpgrade(ctx, a, "httpecho", BulkUpgradeRequest{To: to, DryRun: true})
		if err != nil || got != to || len(ups) != 1 || ups[0].Job == nil || ups[0].Job.Plan == nil {
			t.Fatalf("bulk dry run: %s %+v %v", got, ups, err)
		}
		if !planChanges(ups[0].Job.Plan, "docker_container.httpecho") {
			t.Fatalf("bulk plan: %+v", ups[0].Job.Plan)
		}
		if svc, _ := p.GetService(ctx, a, id); svc.TemplateVersion != from {
			t.Fatalf("a dry run moved the service to %s", svc.TemplateVersion)
		}
	})
	runToEnd(t, p, a, id, engine.OpDestroy, engine.StateSucceeded)
}

func planChanges(plan *engine.PlanSummary, address string) bool {
	for _, r := range plan.Resources {
		if r.Address == address && r.Action != "no-op" {
			return true
		}
	}
	return false
}

func waitFor(t *testing.T, p *Platform, id string) engine.JobInfo {
	t.Helper()
	j, ok := p.eng.Job(id)
	if !ok {
		t.Fatalf("job %s unknown", id)
	}
	return waitJob(t, j, 0)
}

// waitVersion waits until the service is recorded on version (the record follows the
// job's end).
func waitVersion(t *testing.T, p *Platform, a Actor, id, version string) apiv1.Service {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		svc, err := p.GetService(context.Background(), a, id)
		if err != nil {
			t.Fatal(err)
		}
		if svc.TemplateVersion == version {
			return svc
		}
		if time.Now().After(deadline) {
			t.Fatalf("service still on %s, want %s", svc.TemplateVersion, version)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkDrift runs a drift check and returns the service once its report is recorded
// (the platform records it after the job's end).
func checkDrift(t *testing.T, p *Platform, a Actor, id string) apiv1.Service {
	t.Helper()
	before, err := p.GetService(context.Background(), a, id)
	if err != nil {
		t.Fatal(err)
	}
	runToEnd(t, p, a, id, engine.OpDrift, engine.StateSucceeded)
	deadline := time.Now().Add(time.Minute)
	for {
		svc, err := p.GetService(context.Background(), a, id)
		if err != nil {
			t.Fatal(err)
		}
		if svc.Status.DriftAt != nil && (before.Status.DriftAt == nil || svc.Status.DriftAt.After(*before.Status.DriftAt)) {
			return svc
		}
		if time.Now().After(deadline) {
			t.Fatal("the drift check's report was not recorded")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
