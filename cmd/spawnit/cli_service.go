package main

// service show, update and settings, and recover: one service's configuration.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spawnit/spawnit"
	"github.com/spawnit/spawnit/pkg/apiv1"
	"github.com/spawnit/spawnit/pkg/client"
	"github.com/spf13/cobra"
)

func (app *cliApp) serviceCmd() *cobra.Command {
	cmd := groupCmd(&cobra.Command{
		Use:   "service",
		Short: "show a service, change its inputs or its settings",
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "list your services and their status",
		Args:  cliArgs(0, 0),
		RunE:  app.listServices,
	}, app.serviceShowCmd(), app.serviceUpdateCmd(), app.serviceSettingsCmd(), app.serviceLogsCmd())
	cmd.AddCommand(app.historyCmds()...)
	return cmd
}

// serviceView is what service show prints under -o json/yaml: the service as the API
// returns it, with the outputs of its last successful apply.
type serviceView struct {
	*apiv1.Service
	Outputs map[string]apiv1.Output `json:"outputs,omitempty"`
	// OutputsJob is the apply job the outputs come from.
	OutputsJob string `json:"outputs_job,omitempty"`
}

func (app *cliApp) serviceShowCmd() *cobra.Command {
	var reveal, yes bool
	cmd := &cobra.Command{
		Use:   "show <service> [--reveal]",
		Short: "show a service's configuration, status and outputs",
		Long: "Show a service: its configuration (template, target, inputs, settings), its status and\n" +
			"the outputs of its last successful apply. Sensitive values stay hidden unless --reveal,\n" +
			"which asks first on a terminal (unless --yes); the server records who revealed them.",
		Args:              cliArgs(1, 1),
		ValidArgsFunction: app.completeServices,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			s, err := app.session(ctx)
			if err != nil {
				return err
			}
			svc, _, err := s.c.Service(ctx, args[0])
			if err != nil {
				return s.explain(err, nil)
			}
			if reveal && !yes && s.env.terminal {
				ok, err := s.askYesNo(fmt.Sprintf("Show the sensitive outputs of service %s? The server records that you saw them.", svc.ID))
				if err != nil {
					return err
				}
				if !ok {
					return errors.New("not revealed: answer y to show the sensitive values")
				}
			}
			view := serviceView{Service: svc}
			if job, err := s.lastApply(ctx, svc.ID, reveal); err != nil {
				return err
			} else if job != nil {
				view.Outputs, view.OutputsJob = job.Outputs, job.ID
			}
			if s.json {
				return s.printJSON(view)
			}
			s.serviceText(view)
			return nil
		},
	}
	cmd.Flags().BoolVar(&reveal, "reveal", false, "show sensitive output values (asks first on a terminal)")
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "with --reveal, do not ask")
	return cmd
}

// lastApply returns the service's latest successful apply, nil when it has none.
func (s *cliSession) lastApply(ctx context.Context, svc string, reveal bool) (*apiv1.Job, error) {
	jobs, err := s.c.Jobs(ctx, svc)
	if err != nil {
		return nil, s.explain(err, nil)
	}
	for _, j := range jobs {
		if j.Operation == spawnit.OpApply && j.State == spawnit.StateSucceeded {
			job, err := s.c.Job(ctx, svc, j.ID, reveal)
			if err != nil {
				return nil, s.explain(err, nil)
			}
			return job, nil
		}
	}
	return nil, nil
}

func (s *cliSession) serviceText(v serviceView) {
	svc := v.Service
	loc := s.env.location()
	s.printf("Service %s (%s)\n", svc.ID, cliClean(svc.Name))
	tpl := svc.Template
	if svc.TemplateVersion != "" {
		tpl += " " + svc.TemplateVersion
	}
	s.printf("  Template:        %s\n", cliClean(tpl))
	if u := svc.Upgrade; u != nil {
		s.printf("  Upgrade:         available %s → %s (spawnit upgrade %s)\n", cliClean(u.From), cliClean(u.To), svc.ID)
	}
	s.printf("  Target:          %s\n", cliClean(cliFirstSet(svc.Target, svc.Provider)))
	s.printf("  Status:          %s\n", deploymentWord(svc.Status))
	drift := strings.ReplaceAll(string(svc.Status.Drift), "_", " ")
	if svc.Status.DriftUnconfirmed {
		drift += " (unconfirmed, awaiting the drift check: " + cliClean(svc.Status.DriftSignal) + ")"
	} else if svc.Status.DriftAt != nil {
		drift += " (checked " + svc.Status.DriftAt.In(loc).Format("2006-01-02 15:04:05 MST") + ")"
	}
	s.printf("  Drift:           %s\n", drift)
	if svc.Status.Health != "" {
		h := svc.Status.Health
		if svc.Status.HealthMessage != "" {
			h += ": " + svc.Status.HealthMessage
		}
		s.printf("  Health:          %s\n", cliClean(h))
	}
	if j := svc.Status.LastJob; j != nil {
		s.printf("  Last job:        %s %s (%s)\n", j.Operation, j.State, j.ID)
	}
	if svc.Status.Stopped && svc.Status.StoppedAt != nil {
		s.printf("  Stopped:         since %s (start it with: spawnit start %s)\n", svc.Status.StoppedAt.In(loc).Format("2006-01-02 15:04:05 MST"), svc.ID)
	}
	if svc.Status.NeedsRecovery {
		s.printf("  Needs recovery:  %s\n", cliClean(svc.Status.RecoveryNote))
	}
	expiry := "never"
	if svc.ExpiresAt != nil {
		expiry = svc.ExpiresAt.In(loc).Format("2006-01-02 15:04:05 MST")
		if svc.Status.Expired {
			expiry += " (expired)"
		}
	}
	s.printf("  Expires:         %s\n", expiry)
	s.printf("  Auto-remediate:  %s\n", onOff(svc.AutoRemediate))
	s.printf("  Created:         %s\n", svc.CreatedAt.In(loc).Format("2006-01-02 15:04:05 MST"))
	if len(svc.Inputs) > 0 {
		s.printf("\nInputs:\n")
		outs := make(map[string]apiv1.Output, len(svc.Inputs))
		for k, val := range svc.Inputs {
			outs[k] = apiv1.Output{Value: mustJSON(val)}
		}
		writeJobOutputs(s.env.stdout, outs, "  ")
	}
	if len(v.Outputs) > 0 {
		s.printf("\nOutputs (apply %s):\n", v.OutputsJob)
		writeJobOutputs(s.env.stdout, v.Outputs, "  ")
	}
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func (app *cliApp) serviceUpdateCmd() *cobra.Command {
	var sets setFlags
	var inputsFile string
	var replace bool
	cmd := &cobra.Command{
		Use:   "update <service> [--set key=value ...] [--inputs-file <file>] [--replace]",
		Short: "change a service's inputs (apply deploys them)",
		Long: "Change a service's inputs: the inputs given replace those of the same name, the others\n" +
			"stay (--replace sends only the inputs given). Deploy the change with apply. If the service\n" +
			"changes on the server meanwhile, the change is redone on the new version.",
		Args:              cliArgs(1, 1),
		ValidArgsFunction: app.completeServices,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(sets) == 0 && inputsFile == "" {
				return usageError{"update needs --set or --inputs-file"}
			}
			ctx := cmd.Context()
			s, err := app.session(ctx)
			if err != nil {
				return err
			}
			svc, err := s.updateInputs(ctx, args[0], func(cur *apiv1.Service) (map[string]any, error) {
				base := map[string]any{}
				if !replace {
					for k, v := range cur.Inputs {
						base[k] = v
					}
				}
				return s.inputs(ctx, cur.Template, inputsFile, sets, base)
			})
			if err != nil {
				return err
			}
			if s.json {
				return s.printJSON(svc)
			}
			s.printf("Updated the inputs of service %s.\nDeploy them with: spawnit apply %s\n", svc.ID, svc.ID)
			return nil
		},
	}
	f := cmd.Flags()
	f.Var(&sets, "set", "set the input `key=value` (repeat for several inputs; wins over --inputs-file)")
	f.StringVar(&inputsFile, "inputs-file", "", "read inputs from the JSON object in `file` (- for standard input)")
	f.BoolVar(&replace, "replace", false, "send only the inputs given (the others take their defaults)")
	_ = cmd.RegisterFlagCompletionFunc("set", app.completeSetFlag)
	return cmd
}

// updateInputs reads the service, computes its new inputs and writes them with the
// ETag read. When someone else changed the service in between (412), it starts over
// from the new version, a few times.
func (s *cliSession) updateInputs(ctx context.Context, id string, change func(*apiv1.Service) (map[string]any, error)) (*apiv1.Service, error) {
	const attempts = 3
	for i := 1; ; i++ {
		cur, etag, err := s.c.Service(ctx, id)
		if err != nil {
			return nil, s.explain(err, nil)
		}
		inputs, err := change(cur)
		if err != nil {
			return nil, err
		}
		svc, _, err := s.c.UpdateInputs(ctx, id, inputs, etag)
		switch {
		case err == nil:
			return svc, nil
		case client.IsPreconditionFailed(err) && i < attempts:
			continue
		case client.IsPreconditionFailed(err), client.HasCode(err, apiv1.CodeConflict):
			return nil, s.explain(err, map[string]string{
				apiv1.CodePreconditionFailed: "The service kept changing on the server while the CLI updated it: run the command again.",
				apiv1.CodeConflict:           "Another change to the service was written at the same moment: run the command again.",
			})
		default:
			return nil, s.explain(err, map[string]string{
				apiv1.CodeBusy: fmt.Sprintf("A job is running on it: wait for it (spawnit logs %s -f), then try again.", id),
			})
		}
	}
}

// serviceSettings is what service settings prints under -o json/yaml.
type serviceSettings struct {
	Service       string     `json:"service"`
	ExpiresAt     *time.Time `json:"expires_at"`
	AutoRemediate bool       `json:"auto_remediate"`
}

func (app *cliApp) serviceSettingsCmd() *cobra.Command {
	var expiresIn time.Duration
	var expiresAt string
	var noExpiry, autoRemediate bool
	cmd := &cobra.Command{
		Use:   "settings <service> [--expires-in <duration> | --expires-at <time> | --no-expiry] [--auto-remediate=true|false]",
		Short: "show or change a service's expiry and automatic remediation",
		Long: "Show a service's settings, or change them: the expiry (SpawnIt destroys the service when\n" +
			"it passes) and automatic remediation (drift is undone by an apply as soon as it is found).",
		Args:              cliArgs(1, 1),
		ValidArgsFunction: app.completeServices,
		RunE: func(cmd *cobra.Command, args []string) error {
			var u apiv1.UpdateService
			changed := false
			switch {
			case cmd.Flags().Changed("expires-in"):
				if expiresIn <= 0 {
					return usageError{"--expires-in must be positive"}
				}
				t := time.Now().Add(expiresIn).UTC().Truncate(time.Second)
				u.ExpiresAt, changed = &t, true
			case expiresAt != "":
				t, err := time.Parse(time.RFC3339, expiresAt)
				if err != nil {
					return usageError{fmt.Sprintf("--expires-at %q: want a time like 2026-12-31T18:00:00Z", expiresAt)}
				}
				u.ExpiresAt, changed = &t, true
			case noExpiry:
				u.RemoveExpiry, changed = true, true
			}
			if cmd.Flags().Changed("auto-remediate") {
				u.AutoRemediate, changed = &autoRemediate, true
			}
			return callAndPrint(app, cmd, nil, func(ctx context.Context, c *client.Client) (serviceSettings, error) {
				var svc *apiv1.Service
				var err error
				if changed {
					svc, _, err = c.UpdateService(ctx, args[0], u)
				} else {
					svc, _, err = c.Service(ctx, args[0])
				}
				if err != nil {
					return serviceSettings{}, err
				}
				return serviceSettings{svc.ID, svc.ExpiresAt, svc.AutoRemediate}, nil
			}, func(s *cliSession, set serviceSettings) error {
				expiry := "never"
				if set.ExpiresAt != nil {
					expiry = set.ExpiresAt.In(s.env.location()).Format("2006-01-02 15:04:05 MST")
				}
				if changed {
					s.printf("Updated the settings of service %s.\n", set.Service)
				}
				s.printf("Expires:         %s\nAuto-remediate:  %s\n", expiry, onOff(set.AutoRemediate))
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.DurationVar(&expiresIn, "expires-in", 0, "expire the service after this `duration` from now (e.g. 8h)")
	f.StringVar(&expiresAt, "expires-at", "", "expire the service at this `time` (RFC 3339)")
	f.BoolVar(&noExpiry, "no-expiry", false, "remove the expiry")
	f.BoolVar(&autoRemediate, "auto-remediate", false, "undo drift automatically (true or false)")
	cmd.MarkFlagsMutuallyExclusive("expires-in", "expires-at", "no-expiry")
	return cmd
}

func (app *cliApp) recoverCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "recover <service>",
		Short: "clear a service's needs-recovery mark once its state is repaired",
		Long: "Clear the needs-recovery mark SpawnIt puts on a service whose state it could not trust\n" +
			"(an apply interrupted in a way it cannot resume). Repair the state first.",
		Args:              cliArgs(1, 1),
		ValidArgsFunction: app.completeServices,
		RunE: func(cmd *cobra.Command, args []string) error {
			return callAndPrint(app, cmd, nil, func(ctx context.Context, c *client.Client) (*apiv1.Service, error) {
				return c.Recover(ctx, args[0])
			}, func(s *cliSession, svc *apiv1.Service) error {
				s.printf("Service %s no longer needs recovery.\n", svc.ID)
				return nil
			})
		},
	}
}

// confirmService asks, on a terminal and without --yes, for the service's name (or
// id) to be typed back before a destructive operation.
func (s *cliSession) confirmService(ctx context.Context, id, what string, yes bool) error {
	if yes || !s.env.terminal {
		return nil
	}
	svc, _, err := s.c.Service(ctx, id)
	if err != nil {
		return s.explain(err, nil)
	}
	fmt.Fprintf(s.env.stderr, "This %s service %s (%s).\nType the service's name to confirm: ", what, svc.ID, cliClean(svc.Name))
	answer, err := s.readLine()
	if err != nil {
		return err
	}
	if answer != svc.Name && answer != svc.ID {
		return fmt.Errorf("%q is not the service's name: nothing was done", answer)
	}
	return nil
}

// askYesNo asks a question on the terminal; only y or yes is a yes.
func (s *cliSession) askYesNo(question string) (bool, error) {
	fmt.Fprintf(s.env.stderr, "%s [y/N] ", question)
	answer, err := s.readLine()
	if err != nil {
		return false, err
	}
	a := strings.ToLower(answer)
	return a == "y" || a == "yes", nil
}

func (s *cliSession) readLine() (string, error) {
	line, err := bufio.NewReader(s.env.stdin).ReadString('\n')
	if err != nil && line == "" {
		return "", errors.New("no answer: nothing was done")
	}
	return strings.TrimSpace(line), nil
}
