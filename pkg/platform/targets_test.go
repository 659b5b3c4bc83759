package platform

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spawnit/spawnit/catalog"
	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/internal/testservers"
	"github.com/spawnit/spawnit/pkg/apiv1"
	"github.com/spawnit/spawnit/pkg/store"
)

func targetsPlatform(t *testing.T, targets map[string]Target) *Platform {
	t.Helper()
	dir := t.TempDir()
	st, err := store.NewFS(filepath.Join(dir, "store"))
	if err != nil {
		t.Fatal(err)
	}
	cat := catalog.New(st, nil)
	if err := cat.Seed(context.Background()); err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Config{DataDir: dir, Store: st, TofuPath: testservers.Tofu(t),
		ProviderMirror: testservers.ProviderMirror(t), Source: catalog.NewServiceSource(cat)})
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(Config{Store: st, Catalog: cat, Engine: eng, Targets: targets})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = p.Shutdown(ctx)
		_ = eng.Shutdown(ctx)
	})
	return p
}

// TestTargets: users see and deploy to the enabled targets only (docker by default),
// and the operations of a target's services run with that target's environment.
func TestTargets(t *testing.T) {
	ctx := context.Background()
	a := Actor{Tenant: "acme", Subject: "alice"}

	p := targetsPlatform(t, nil)
	tpls, err := p.Templates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(tpls) == 0 {
		t.Fatal("no templates")
	}
	for _, tpl := range tpls {
		if !slices.Equal(tpl.Targets, []string{"docker"}) {
			t.Errorf("template %s offers %v with docker alone enabled", tpl.ID, tpl.Targets)
		}
	}
	_, err = p.CreateService(ctx, a, apiv1.CreateService{Template: "redis", Provider: "aws"})
	var ve *catalog.ValidationError
	if !errors.As(err, &ve) || len(ve.Fields) != 1 || ve.Fields[0].Field != "provider" || !strings.Contains(ve.Fields[0].Reason, "not enabled") {
		t.Fatalf("creating an aws service with aws disabled: %v", err)
	}

	p = targetsPlatform(t, map[string]Target{
		"docker": {Env: map[string]string{"DOCKER_HOST": "unix:///nonexistent/spawnit-target.sock"}},
		"aws":    {Env: map[string]string{"AWS_REGION": "eu-west-3"}},
	})
	redis, err := p.Template(ctx, "redis")
	if err != nil || !slices.Equal(redis.Targets, []string{"aws", "docker"}) {
		t.Fatalf("redis with aws and docker enabled: %v, %v", redis.Targets, err)
	}
	if _, err := p.CreateService(ctx, a, apiv1.CreateService{Template: "redis", Provider: "aws"}); err != nil {
		t.Fatalf("creating an aws service with aws enabled: %v", err)
	}
	svc, err := p.CreateService(ctx, a, apiv1.CreateService{Template: "redis"})
	if err != nil {
		t.Fatal(err)
	}
	// The docker target's environment points its provider at a socket that does not
	// exist: the plan fails there, which shows the environment reached the provider.
	job, err := p.Run(ctx, a, svc.ID, RunRequest{Operation: engine.OpApply})
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	j, ok := p.eng.Job(job.ID)
	if !ok {
		t.Fatal("job not found")
	}
	info, err := j.Wait(wctx)
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	for _, ev := range j.Events(0) {
		text.WriteString(ev.Message + "\n")
	}
	if info.State != engine.StateFailed || !strings.Contains(info.Error+text.String(), "spawnit-target.sock") {
		t.Fatalf("apply with the target's DOCKER_HOST ended %s: %s\n%s", info.State, info.Error, text.String())
	}

	if _, err := New(Config{Store: p.st, Catalog: p.cat, Engine: p.eng, Targets: map[string]Target{"aws": {Env: map[string]string{"TF_LOG": "trace"}}}}); err == nil {
		t.Fatal("a target environment setting TF_LOG accepted")
	}
	if _, err := New(Config{Store: p.st, Catalog: p.cat, Engine: p.eng, Targets: map[string]Target{"../x": {}}}); err == nil {
		t.Fatal("a bad target name accepted")
	}
}

// TestHealthAfterMissing: a drift check newer than the last health check that found
// the service's resources gone shows it unhealthy, whatever the health check said.
func TestHealthAfterMissing(t *testing.T) {
	p := targetsPlatform(t, nil)
	ctx := context.Background()
	a := Actor{Tenant: "acme", Subject: "alice"}
	svc, err := p.CreateService(ctx, a, apiv1.CreateService{Template: "redis"})
	if err != nil {
		t.Fatal(err)
	}
	ref := engine.ServiceRef{Client: "acme", Service: svc.ID}
	putJSON := func(key string, v any) {
		b, _ := json.Marshal(v)
		if _, err := p.st.Put(ctx, key, b, store.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now().UTC()
	putJSON("clients/acme/"+svc.ID+"/intent.json", engine.Intent{Kind: engine.IntentApplied, At: now.Add(-time.Hour)})
	putJSON(healthKey(ref), HealthRecord{Status: HealthHealthy, CheckedAt: now.Add(-time.Minute)})
	health := func() string {
		v, err := p.GetService(ctx, a, svc.ID)
		if err != nil {
			t.Fatal(err)
		}
		return v.Status.Health
	}
	putJSON(driftKey(ref), engine.DriftReport{Status: engine.StatusMissing, CheckedAt: now.Add(-2 * time.Minute)})
	if h := health(); h != HealthHealthy {
		t.Fatalf("health %q: an older drift report must not override a newer health check", h)
	}
	putJSON(driftKey(ref), engine.DriftReport{Status: engine.StatusMissing, CheckedAt: now})
	if h := health(); h != HealthUnhealthy {
		t.Fatalf("health %q after a drift check found the resources missing", h)
	}
	putJSON(driftKey(ref), engine.DriftReport{Status: engine.StatusInSync, CheckedAt: now.Add(time.Second)})
	if h := health(); h != HealthHealthy {
		t.Fatalf("health %q with the service in sync", h)
	}
}
