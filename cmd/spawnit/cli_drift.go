package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spawnit/spawnit"
	"github.com/spawnit/spawnit/pkg/apiv1"
)

func runDrift(ctx context.Context, env *cliEnv, args []string) error {
	fs, g := env.flagSet("drift <service> [--check] [-o json]",
		"Show the service's last drift report: whether its infrastructure still matches what\n"+
			"SpawnIt deployed. --check runs a new check first and follows it like apply.")
	check := fs.Bool("check", false, "check now instead of showing the last report")
	pos, err := parseCLI(fs, g, args, 1, 1)
	if err != nil {
		return err
	}
	s, err := env.session(g)
	if err != nil {
		return err
	}
	svc := pos[0]
	if *check {
		job, err := s.c.CheckDrift(ctx, svc)
		if err != nil {
			return s.explain(err, nil)
		}
		return s.watch(ctx, svc, job, true)
	}
	report, err := s.c.Drift(ctx, svc)
	if err != nil {
		return s.explain(err, nil)
	}
	if s.json {
		return s.printJSON(report)
	}
	if report.Status == spawnit.DriftNotChecked || report.CheckedAt.IsZero() {
		s.printf("Service %s has not been checked for drift yet. Check it with: spawnit drift %s --check\n", svc, svc)
		return nil
	}
	s.driftReport(report)
	return nil
}

var driftMeaning = map[spawnit.DriftStatus]string{
	spawnit.DriftInSync:   "the infrastructure matches what SpawnIt deployed",
	spawnit.DriftDrifted:  "resources were changed outside SpawnIt",
	spawnit.DriftMissing:  "resources were deleted outside SpawnIt",
	spawnit.DriftOrphaned: "resources are left although the service was destroyed",
	spawnit.DriftPending:  "the configuration has changes that are not applied yet",
	spawnit.DriftUnknown:  "the check could not tell",
}

func (s *cliSession) driftReport(d *apiv1.Drift) {
	status := strings.ReplaceAll(string(d.Status), "_", " ")
	if m := driftMeaning[d.Status]; m != "" {
		status += ": " + m
	}
	s.printf("Drift: %s.\n", status)
	if !d.CheckedAt.IsZero() {
		s.printf("Checked %s", d.CheckedAt.In(s.env.location()).Format("2006-01-02 15:04:05 MST"))
		if d.Duration > 0 {
			s.printf(" in %s", cliSeconds(d.Duration))
		}
		s.printf(".\n")
	}
	if d.Error != "" {
		s.printf("The check failed: %s\n", cliCleanLines(d.Error))
	}
	var rows [][]string
	for _, r := range d.Resources {
		if r.Status == spawnit.ResourceInSync {
			continue
		}
		details := strings.Join(r.Paths, ", ")
		if r.Planned != "" {
			if details != "" {
				details += "; "
			}
			details += fmt.Sprintf("apply would %s it", r.Planned)
		}
		rows = append(rows, []string{r.Address, strings.ReplaceAll(string(r.Status), "_", " "), details})
	}
	if len(rows) > 0 {
		s.printf("\n")
		_ = s.table([]string{"RESOURCE", "STATUS", "DETAILS"}, rows)
	}
}
