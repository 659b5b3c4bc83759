package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"strings"

	"github.com/spawnit/spawnit/engine"
)

// Deploy a service whose module and terraform.tfvars.json sit in
// /srv/services/acme/web/, follow its events, then check it for drift.
func Example() {
	eng, err := engine.New(engine.Config{
		TofuPath:    "/usr/local/bin/tofu",
		DataDir:     "/var/lib/spawnit",
		Source:      engine.DirSource("/srv/services"),
		MaxParallel: 4,
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	ref := engine.ServiceRef{Client: "acme", Service: "web"}

	job, err := eng.Apply(ctx, ref)
	if err != nil {
		log.Fatal(err)
	}
	for ev := range job.Follow(ctx, 0) {
		if ev.Resource != nil {
			fmt.Println(ev.Type, ev.Resource.Address)
		}
	}
	info, _ := job.Wait(ctx)
	fmt.Println(info.State, info.Outputs["endpoint"].Value)

	check, _ := eng.CheckDrift(ctx, ref)
	info, _ = check.Wait(ctx)
	fmt.Println(info.Drift.Status)
}

// Queue behind a running job, or fail fast.
func ExampleFailIfLocked() {
	var eng *engine.Engine // from engine.New
	_, err := eng.Apply(context.Background(), engine.ServiceRef{Client: "acme", Service: "web"}, engine.FailIfLocked())
	if err != nil {
		fmt.Println(err)
	}
}

// Classify a refresh-aware plan (tofu show -json) against the service's intent. This
// plan was recorded after `docker rm -f` of an applied service's container.
func ExampleClassify() {
	raw, err := os.ReadFile("../testdata/drift/missing_container.golden.json")
	if err != nil {
		log.Fatal(err)
	}
	var golden struct {
		Plan json.RawMessage `json:"plan"`
	}
	if err := json.Unmarshal(raw, &golden); err != nil {
		log.Fatal(err)
	}
	report, err := engine.Classify(golden.Plan, engine.IntentApplied, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(report.Status)
	for _, r := range report.Resources {
		fmt.Println(strings.TrimSpace(fmt.Sprint(r.Address, " ", r.Status, " ", r.Planned)))
	}
	// Output:
	// missing
	// docker_container.app deleted create
	// docker_image.app in_sync
	// docker_volume.data in_sync
}

// Ids are checked against one allow-list before they reach a path, a key or a command.
func ExampleValidateID() {
	for _, id := range []string{"web-1", "../etc", "Web"} {
		fmt.Println(id, engine.ValidateID(id) == nil)
	}
	// Output:
	// web-1 true
	// ../etc false
	// Web false
}
