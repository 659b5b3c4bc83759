package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spawnit/spawnit/pkg/apiv1"
	"github.com/spawnit/spawnit/pkg/client"
	"github.com/spf13/cobra"
)

func (app *cliApp) upgradeCmd() *cobra.Command {
	var to string
	var apply bool
	var sets setFlags
	cmd := &cobra.Command{
		Use:   "upgrade <service> [--to <version>] [--set key=value ...] [--apply]",
		Short: "plan, then with --apply make, a service's move to another version of its template",
		Long: "Plan the service's move to another version of its template (--to; the latest when\n" +
			"absent, a lower one is a downgrade): the new version's module with the service's inputs\n" +
			"carried over (new inputs take their defaults unless --set; inputs the version no longer\n" +
			"has are dropped). It shows what would change, replaced resources included. With --apply\n" +
			"it then applies the move; the service keeps its version if the apply fails.",
		Args:              cliArgs(1, 1),
		ValidArgsFunction: app.completeServices,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			s, err := app.session(ctx)
			if err != nil {
				return err
			}
			svc := args[0]
			req := apiv1.UpgradeRequest{Version: to}
			if len(sets) > 0 {
				cur, _, err := s.c.Service(ctx, svc)
				if err != nil {
					return s.explain(err, nil)
				}
				if req.Inputs, err = s.inputs(ctx, cur.Template, "", sets, map[string]any{}); err != nil {
					return err
				}
			}
			u, err := s.c.PlanUpgrade(ctx, svc, req)
			if err != nil {
				return s.explain(err, nil)
			}
			if !s.json {
				s.upgradeText(u)
			}
			if _, err := s.watch(ctx, svc, u.Job, true); err != nil {
				return err
			}
			if !apply {
				if !s.json {
					s.printf("Nothing changed yet. Apply the move with: spawnit upgrade %s --to %s --apply\n", svc, u.To)
				}
				return nil
			}
			req.Version = u.To
			u, err = s.c.Upgrade(ctx, svc, req)
			if err != nil {
				return s.explain(err, nil)
			}
			if _, err := s.watch(ctx, svc, u.Job, true); err != nil {
				return err
			}
			if !s.json {
				s.printf("Service %s moved from version %s to %s.\n", svc, u.From, u.To)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&to, "to", "", "the `version` to move to (default: the template's latest)")
	f.BoolVar(&apply, "apply", false, "apply the move after showing its plan")
	f.Var(&sets, "set", "set the input `key=value` for the new version (repeat for several inputs)")
	return cmd
}

func (s *cliSession) upgradeText(u *apiv1.Upgrade) {
	s.printf("Service %s: version %s → %s.\n", u.Service, u.From, u.To)
	if u.ReleaseNotes != "" {
		s.printf("Release notes:\n  %s\n", strings.ReplaceAll(cliCleanLines(u.ReleaseNotes), "\n", "\n  "))
	}
	if len(u.AddedInputs) > 0 {
		s.printf("New inputs (their defaults unless set): %s\n", strings.Join(u.AddedInputs, ", "))
	}
	if len(u.RemovedInputs) > 0 {
		s.printf("Inputs dropped: %s\n", strings.Join(u.RemovedInputs, ", "))
	}
}

func (app *cliApp) versionsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "versions <template>",
		Short: "list a template's published versions",
		Args:  cliArgs(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return callAndPrint(app, cmd, nil, func(ctx context.Context, c *client.Client) (apiv1.TemplateVersionList, error) {
				vs, err := c.TemplateVersions(ctx, args[0])
				return apiv1.TemplateVersionList{Template: args[0], Versions: vs}, err
			}, func(s *cliSession, l apiv1.TemplateVersionList) error {
				rows := make([][]string, 0, len(l.Versions))
				for _, v := range l.Versions {
					mark := ""
					switch {
					case v.Latest:
						mark = "latest"
					case v.Retired:
						mark = "retired"
					}
					notes, _, _ := strings.Cut(cliCleanLines(v.ReleaseNotes), "\n")
					rows = append(rows, []string{v.Version, mark, v.PublishedAt.In(s.env.location()).Format("2006-01-02 15:04"), cliClean(v.PublishedBy), notes})
				}
				return s.table([]string{"VERSION", "", "PUBLISHED", "BY", "RELEASE NOTES"}, rows)
			})
		},
	}
}

func (app *cliApp) upgradeAllCmd() *cobra.Command {
	var req apiv1.BulkUpgradeRequest
	cmd := &cobra.Command{
		Use:   "upgrade-all <template> [--to <version>] [--from <version>] [--dry-run]",
		Short: "move every service of a template to one version (operators)",
		Long: "Move every service of the template, of every tenant, to one version (--to; the latest\n" +
			"when absent). --dry-run plans each move and lists the plans; nothing changes. Without\n" +
			"it, each move is applied as its own job. Operators only.",
		Args: cliArgs(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return callAndPrint(app, cmd, nil, func(ctx context.Context, c *client.Client) (*apiv1.BulkUpgrade, error) {
				return c.UpgradeAll(ctx, args[0], req)
			}, func(s *cliSession, out *apiv1.BulkUpgrade) error {
				verb := "Upgrading"
				if out.DryRun {
					verb = "Planned the upgrade of"
				}
				s.printf("%s %d services of %s to %s.\n", verb, len(out.Services), out.Template, out.To)
				rows := make([][]string, 0, len(out.Services))
				for _, u := range out.Services {
					rows = append(rows, []string{u.Tenant, u.Service, u.From, upgradeResult(u)})
				}
				return s.table([]string{"TENANT", "SERVICE", "FROM", "RESULT"}, rows)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.To, "to", "", "the `version` to move to (default: the template's latest)")
	f.StringVar(&req.From, "from", "", "only the services on this `version`")
	f.BoolVar(&req.DryRun, "dry-run", false, "plan each move and list the plans; change nothing")
	return cmd
}

// upgradeResult says in a few words what a bulk upgrade did with one service.
func upgradeResult(u apiv1.Upgrade) string {
	switch {
	case u.Error != nil:
		return "not moved: " + cliClean(u.Error.Message)
	case u.Job == nil:
		return ""
	case u.Job.Plan != nil:
		p := u.Job.Plan
		var replaced []string
		for _, r := range p.Resources {
			if r.Action == "replace" {
				replaced = append(replaced, r.Address)
			}
		}
		text := fmt.Sprintf("plan: %d to add, %d to change, %d to destroy", p.Add, p.Change, p.Destroy)
		if len(replaced) > 0 {
			text += "; replaces " + strings.Join(replaced, ", ")
		}
		return text
	case u.Job.State == "failed":
		return "plan failed: " + cliClean(u.Job.Error)
	}
	return fmt.Sprintf("%s job %s (%s)", u.Job.Operation, u.Job.ID, u.Job.State)
}
