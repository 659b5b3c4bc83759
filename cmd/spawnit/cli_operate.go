package main

// stop, start and restart a service's containers, and service logs: operating a
// running service (Docker target).

import (
	"context"
	"fmt"
	"slices"

	"github.com/spawnit/spawnit/pkg/apiv1"
	"github.com/spawnit/spawnit/pkg/client"
	"github.com/spf13/cobra"
)

// containerCmd is stop, start or restart.
func (app *cliApp) containerCmd(action string) *cobra.Command {
	var short, long, done string
	switch action {
	case "stop":
		short = "stop a deployed service's containers (shown as stopped, not drifted)"
		long = "Stop the containers of a deployed service (Docker target). The service is then shown as\n" +
			"stopped, not as drifted: drift and health are not checked and nothing remediates it until\n" +
			"you start, restart or apply it again."
		done = "Service %s stopped.\n"
	case "start":
		short = "start a stopped service's containers"
		long = "Start the containers of a deployed service (Docker target) that were stopped."
		done = "Service %s started.\n"
	default:
		short = "restart a deployed service's containers"
		long = "Restart the containers of a deployed service (Docker target); a stopped one starts."
		done = "Service %s restarted.\n"
	}
	return &cobra.Command{
		Use:               action + " <service>",
		Short:             short,
		Long:              long,
		Args:              cliArgs(1, 1),
		ValidArgsFunction: app.completeServices,
		RunE: func(cmd *cobra.Command, args []string) error {
			return callAndPrint(app, cmd, nil, func(ctx context.Context, c *client.Client) (*apiv1.Service, error) {
				switch action {
				case "stop":
					return c.Stop(ctx, args[0])
				case "start":
					return c.Start(ctx, args[0])
				}
				return c.Restart(ctx, args[0])
			}, func(s *cliSession, svc *apiv1.Service) error {
				s.printf(done, svc.ID)
				return nil
			})
		},
	}
}

func (app *cliApp) serviceLogsCmd() *cobra.Command {
	var follow bool
	var tail int
	cmd := &cobra.Command{
		Use:   "logs <service> [--tail N] [-f] [-o json]",
		Short: "show or follow a deployed service's container logs",
		Long: "Show the last lines of the logs of a deployed service's containers (Docker target). With\n" +
			"-f, keep printing what they write until they stop or you interrupt it. A service with\n" +
			"several containers prefixes each line with the container's name. (The events of a\n" +
			"job are `spawnit logs`.)",
		Args:              cliArgs(1, 1),
		ValidArgsFunction: app.completeServices,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			s, err := app.session(ctx)
			if err != nil {
				return err
			}
			var lines []apiv1.LogLine
			print := func(l apiv1.LogLine) error {
				if s.json {
					return s.printJSONLine(l)
				}
				s.printf("%s\n", logText(l, lines))
				return nil
			}
			if !follow {
				if lines, err = s.c.Logs(ctx, args[0], tail); err != nil {
					return s.explain(err, nil)
				}
				for _, l := range lines {
					if err := print(l); err != nil {
						return err
					}
				}
				return nil
			}
			for l, err := range s.c.FollowLogs(ctx, args[0], tail) {
				if err != nil {
					if ctx.Err() != nil {
						return nil // interrupted
					}
					return s.explain(err, nil)
				}
				if !slices.ContainsFunc(lines, func(o apiv1.LogLine) bool { return o.Container == l.Container }) {
					lines = append(lines, l) // one per container: enough for logText
				}
				if err := print(l); err != nil {
					return err
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&follow, "follow", "f", false, "keep printing new lines")
	f.IntVarP(&tail, "tail", "n", 100, "how many of each container's last lines to show first")
	return cmd
}

// logText is a log line as printed: its text, control characters made visible (a log
// may hold anything), prefixed with the container's name when lines of several
// containers are shown (all of lines, or, when following, any line so far).
func logText(l apiv1.LogLine, lines []apiv1.LogLine) string {
	several := false
	for _, o := range lines {
		if o.Container != l.Container {
			several = true
			break
		}
	}
	if several {
		return fmt.Sprintf("%s | %s", cliClean(l.Container), cliClean(l.Text))
	}
	return cliClean(l.Text)
}
