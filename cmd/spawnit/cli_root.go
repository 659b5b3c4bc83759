package main

// The command tree: the root command with the global flags, help, completion and the
// translation of cobra's mistakes into usage errors. Each family of commands adds its
// own in its file (cli_services.go, cli_jobs.go, ...).

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// cliApp is one run of the command line: the environment and the global flags.
type cliApp struct {
	env *cliEnv
	// server, token, output and context are the global flags.
	server, token, output, context string
}

// cliResult is how a command line ended: the command that ran (for the error's
// prefix) and its error.
type cliResult struct {
	path string
	err  error
}

// executeCLI runs one command line in env.
func executeCLI(ctx context.Context, env *cliEnv, args []string) cliResult {
	app := &cliApp{env: env}
	root := app.rootCmd()
	root.SetArgs(goStyleFlags(root, args))
	root.SetIn(env.stdin)
	root.SetOut(env.stdout)
	root.SetErr(env.stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if cmd == nil {
		cmd = root
	}
	if errors.As(err, new(usageError)) {
		fmt.Fprint(env.stderr, cmd.UsageString())
		fmt.Fprintln(env.stderr)
	}
	return cliResult{path: cmd.CommandPath(), err: err}
}

const rootLong = `SpawnIt deploys services from a catalog of templates with OpenTofu. This command is
its client, and its server (spawnit serve).

Global flags go anywhere on the line. The server and the token are taken, in order,
from --server/--token, SPAWNIT_SERVER/SPAWNIT_TOKEN, then the current context saved by
"spawnit login" (see "spawnit context list").

Exit statuses:
  0  success (with --detailed-exitcode: no changes, no drift)
  1  an error: the server refused, a job failed or was cancelled, the server is unreachable
  2  a mistake on the command line (with --detailed-exitcode, such a mistake exits 1)
  2  with plan --detailed-exitcode: the plan has changes;
     with drift --check --detailed-exitcode: the service has drifted

Environment:
  SPAWNIT_SERVER   the server's URL (default ` + cliDefaultServer + `)
  SPAWNIT_TOKEN    a bearer token; wins over a saved login (for CI)
  SPAWNIT_CONTEXT  the saved context to use instead of the current one`

func (app *cliApp) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "spawnit",
		Short:         "SpawnIt's client and server",
		Long:          rootLong,
		Version:       fmt.Sprintf("%s (%s, %s/%s)", versionString(), runtime.Version(), runtime.GOOS, runtime.GOARCH),
		SilenceErrors: true,
		SilenceUsage:  true,
		Args:          subcommandArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			// A bare "spawnit" prints the help on stderr and exits 2, as a mistake.
			cmd.SetOut(app.env.stderr)
			_ = cmd.Help()
			return exitStatus(exitUsage)
		},
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			switch app.output {
			case "text", "json", "yaml":
				return nil
			}
			return usageError{fmt.Sprintf("-o must be text, json or yaml, not %q", app.output)}
		},
	}
	root.SetVersionTemplate("spawnit {{.Version}}\n")
	root.SetUsageTemplate(usageTemplate)
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error { return usageError{err.Error()} })
	pf := root.PersistentFlags()
	// Defaults stay empty so that -h never prints a token taken from the environment.
	pf.StringVar(&app.server, "server", "", "SpawnIt server `URL` (default $SPAWNIT_SERVER, the current context's, else "+cliDefaultServer+")")
	pf.StringVar(&app.token, "token", "", "bearer `token` (default $SPAWNIT_TOKEN, which is safer: a command line is visible to other users)")
	pf.StringVarP(&app.output, "output", "o", "text", "output `format`: text, json or yaml (json and yaml use the API's field names)")
	pf.StringVar(&app.context, "context", "", "saved `context` to use (default $SPAWNIT_CONTEXT, else the current one)")
	_ = root.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"text", "json", "yaml"}, cobra.ShellCompDirectiveNoFileComp))
	_ = root.RegisterFlagCompletionFunc("context", app.completeContexts)
	_ = root.RegisterFlagCompletionFunc("server", cobra.NoFileCompletions)
	_ = root.RegisterFlagCompletionFunc("token", cobra.NoFileCompletions)

	root.AddGroup(
		&cobra.Group{ID: "services", Title: "Services:"},
		&cobra.Group{ID: "jobs", Title: "Jobs:"},
		&cobra.Group{ID: "catalog", Title: "Catalog:"},
		&cobra.Group{ID: "account", Title: "Sign-in and contexts:"},
		&cobra.Group{ID: "other", Title: "Other commands:"},
	)
	root.SetHelpCommandGroupID("other")
	root.SetCompletionCommandGroupID("other")
	app.addCommands(root)
	for _, c := range commands {
		root.AddCommand(ownFlagsCmd(c))
	}
	return root
}

// addCommands adds the client's commands, grouped as "spawnit help" lists them.
func (app *cliApp) addCommands(root *cobra.Command) {
	add := func(group string, cmds ...*cobra.Command) {
		for _, c := range cmds {
			c.GroupID = group
			root.AddCommand(c)
		}
	}
	add("services", app.servicesCmd(), app.serviceCmd(), app.createCmd(), app.deleteCmd(), app.driftCmd(),
		app.recoverCmd(), app.containerCmd("stop"), app.containerCmd("start"), app.containerCmd("restart"), app.upgradeCmd())
	add("jobs", app.operationCmd(opPlan), app.operationCmd(opApply), app.operationCmd(opDestroy),
		app.operationCmd(opAccept), app.operationCmd(opRemediate), app.jobsCmd(), app.logsCmd(), app.cancelCmd())
	add("catalog", app.catalogCmd(), app.templateCmd(), app.versionsCmd(), app.upgradeAllCmd())
	add("account", app.loginCmd(), app.logoutCmd(), app.contextCmd(), app.whoamiCmd(), app.tenantsCmd())
	add("other", app.versionCmd())
}

// ownFlagsCmd wraps a command that parses its own flags (serve): cobra passes it the
// line untouched, -h included.
func ownFlagsCmd(c *command) *cobra.Command {
	return &cobra.Command{
		Use:                c.name,
		Short:              c.summary,
		GroupID:            "other",
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			err := c.run(cmd.Context(), args)
			if isHelp(err) {
				return nil
			}
			return err
		},
	}
}

func (app *cliApp) versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "print the version",
		Args:  cliArgs(0, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := fmt.Fprintf(app.env.stdout, "spawnit %s\n", cmd.Root().Version)
			return err
		},
	}
}

// goStyleFlags accepts the single-dash long flags of Go's flag package, which the
// commands parsed before they were cobra's ("-no-follow", "-server=URL"): a "-name"
// whose name is a long flag of the tree becomes "--name". Values of flags and what
// follows "--" are left alone, as are shorthand flags ("-o json", "-f").
func goStyleFlags(root *cobra.Command, args []string) []string {
	long := map[string]bool{} // name → takes a value
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, fs := range []*pflag.FlagSet{c.LocalFlags(), c.PersistentFlags()} {
			fs.VisitAll(func(f *pflag.Flag) { long[f.Name] = f.NoOptDefVal == "" })
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	out := make([]string, len(args))
	copy(out, args)
	valueNext := false
	for i, a := range out {
		if a == "--" {
			break
		}
		if valueNext {
			valueNext = false
			continue
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		takesValue, known := long[name]
		switch {
		case !known || len(name) < 2 || !strings.HasPrefix(a, "-"):
		case !strings.HasPrefix(a, "--"):
			out[i] = "-" + a
			valueNext = takesValue && !hasValue
		default:
			valueNext = takesValue && !hasValue
		}
	}
	return out
}

// subcommandArgs refuses an unknown subcommand with cobra's suggestions ("did you mean").
func subcommandArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2
	}
	msg := fmt.Sprintf("unknown command %q", args[0])
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += "; did you mean " + strings.Join(s, " or ") + "?"
	}
	return usageError{msg}
}

// groupCmd makes cmd a group of subcommands: run alone it prints its help.
func groupCmd(cmd *cobra.Command) *cobra.Command {
	cmd.Args = subcommandArgs
	cmd.RunE = func(c *cobra.Command, args []string) error {
		return c.Help()
	}
	return cmd
}

// cliArgs checks the number of positional arguments.
func cliArgs(lo, hi int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < lo || len(args) > hi {
			return usageError{fmt.Sprintf("%s takes %s", cmd.Name(), cliArgCount(lo, hi))}
		}
		return nil
	}
}

func cliArgCount(lo, hi int) string {
	plural := func(n int) string {
		if n == 1 {
			return "1 argument"
		}
		return fmt.Sprintf("%d arguments", n)
	}
	switch {
	case lo == hi:
		return plural(lo)
	case hi == lo+1:
		return fmt.Sprintf("%d or %s", lo, plural(hi))
	}
	return fmt.Sprintf("%d to %s", lo, plural(hi))
}

// usageTemplate is cobra's, with the synopsis on the first line ("Usage: spawnit apply
// <service> [flags]") and the subcommands by group.
const usageTemplate = `Usage:{{if .HasAvailableSubCommands}} {{.CommandPath}} <command> [flags]{{else if .Runnable}} {{.UseLine}}{{end}}{{if gt (len .Aliases) 0}}

Aliases:
  {{.NameAndAliases}}{{end}}{{if .HasExample}}

Examples:
{{.Example}}{{end}}{{if .HasAvailableSubCommands}}{{$cmds := .Commands}}{{if eq (len .Groups) 0}}

Commands:{{range $cmds}}{{if (or .IsAvailableCommand (eq .Name "help"))}}
  {{rpad .Name .NamePadding }} {{.Short}}{{end}}{{end}}{{else}}{{range $group := .Groups}}

{{.Title}}{{range $cmds}}{{if (and (eq .GroupID $group.ID) (or .IsAvailableCommand (eq .Name "help")))}}
  {{rpad .Name .NamePadding }} {{.Short}}{{end}}{{end}}{{end}}{{end}}{{end}}{{if .HasAvailableLocalFlags}}

Flags:
{{.LocalFlags.FlagUsages | trimTrailingWhitespaces}}{{end}}{{if .HasAvailableInheritedFlags}}

Global flags:
{{.InheritedFlags.FlagUsages | trimTrailingWhitespaces}}{{end}}{{if .HasAvailableSubCommands}}

Run "{{.CommandPath}} <command> -h" for a command's details.{{end}}
`
