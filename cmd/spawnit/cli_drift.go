package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spawnit/spawnit"
	"github.com/spawnit/spawnit/pkg/apiv1"
	"github.com/spf13/cobra"
)

func (app *cliApp) driftCmd() *cobra.Command {
	var check, detailed bool
	cmd := &cobra.Command{
		Use:   "drift <service> [--check [--detailed-exitcode]] [-o json]",
		Short: "show or check whether reality still matches a service",
		Long: "Show the service's last drift report: whether its infrastructure still matches what\n" +
			"SpawnIt deployed. --check runs a new check first and follows it like apply; with\n" +
			"--detailed-exitcode it then exits 2 when the service has drifted (resources changed,\n" +
			"missing or orphaned), 1 on an error or when the check could not tell, 0 otherwise.",
		Args:              cliArgs(1, 1),
		ValidArgsFunction: app.completeServices,
		RunE: func(cmd *cobra.Command, args []string) error {
			if detailed && !check {
				return usageError{"--detailed-exitcode goes with --check"}
			}
			ctx := cmd.Context()
			s, err := app.session(ctx)
			if err != nil {
				return err
			}
			svc := args[0]
			if check {
				job, err := s.c.CheckDrift(ctx, svc)
				if err != nil {
					return s.explain(err, nil)
				}
				final, err := s.watch(ctx, svc, job, true)
				if err != nil || !detailed {
					return err
				}
				return driftExit(final.Drift)
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
		},
	}
	cmd.Flags().BoolVar(&check, "check", false, "check now instead of showing the last report")
	cmd.Flags().BoolVar(&detailed, "detailed-exitcode", false, "with --check: exit 2 on drift, 1 on an error, 0 otherwise")
	return cmd
}

// driftExit is drift --check --detailed-exitcode's status for a report.
func driftExit(d *apiv1.Drift) error {
	if d == nil {
		return errors.New("the check ended without a drift report")
	}
	switch d.Status {
	case spawnit.DriftDrifted, spawnit.DriftMissing, spawnit.DriftOrphaned:
		return exitStatus(exitChanges)
	case spawnit.DriftUnknown:
		return errors.New("the drift check could not tell whether the service drifted")
	}
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
