package main

// Shared plumbing of the client commands (catalog, services, create, plan, apply,
// destroy, logs, cancel, drift, delete): global flags, the API client, output and the
// translation of errors into sentences. Each command is a function of a cliEnv so tests
// run it against a fake server and read what it printed.

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spawnit/spawnit/pkg/apiv1"
	"github.com/spawnit/spawnit/pkg/client"
)

const cliDefaultServer = "http://127.0.0.1:8080"

// cliEnv is what a command may touch outside its arguments.
type cliEnv struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	// loc is the time zone times are shown in (nil: the local one).
	loc *time.Location
	// clientOpts are added to every client (tests shorten retries with it).
	clientOpts []client.Option
}

func cliOSEnv() *cliEnv {
	return &cliEnv{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}
}

func (env *cliEnv) location() *time.Location {
	if env.loc == nil {
		return time.Local
	}
	return env.loc
}

type cliFunc func(ctx context.Context, env *cliEnv, args []string) error

// clientCommands lists the commands of this file family; "spawnit help" lists them
// with the others, by name.
var clientCommands = []struct {
	name, summary string
	run           cliFunc
}{
	{"catalog", "list the templates you can deploy", runCatalog},
	{"services", "list your services and their status", runServices},
	{"create", "create a service from a template (deploys nothing yet)", runCreate},
	{"plan", "show what applying a service would change", runPlan},
	{"apply", "deploy a service or bring it up to date", runApply},
	{"destroy", "remove a service's infrastructure (keeps its configuration)", runDestroy},
	{"logs", "show or follow a job's events", runLogs},
	{"cancel", "cancel a running or queued job", runCancel},
	{"drift", "show or check whether reality still matches a service", runDrift},
	{"delete", "delete a service's configuration", runDelete},
}

func init() {
	for _, c := range clientCommands {
		run := c.run
		register(&command{
			name:    c.name,
			summary: c.summary,
			run: func(ctx context.Context, args []string) error {
				return run(ctx, cliOSEnv(), args)
			},
		})
	}
}

// cliGlobals are accepted by every client command.
type cliGlobals struct {
	server, token, output string
}

// flagSet builds a command's flags: its own plus the global ones. usage is the synopsis
// after "spawnit ", about says what the command does.
func (env *cliEnv) flagSet(usage, about string) (*flag.FlagSet, *cliGlobals) {
	name, _, _ := strings.Cut(usage, " ")
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	// flag's own copy of a parse error is dropped: main prints the error once, after the
	// usage that Usage writes.
	fs.SetOutput(io.Discard)
	g := &cliGlobals{}
	// Defaults stay empty so that -h never prints the token taken from the environment.
	fs.StringVar(&g.server, "server", "", "SpawnIt server `URL` (default $SPAWNIT_SERVER, else "+cliDefaultServer+")")
	fs.StringVar(&g.token, "token", "", "bearer `token` (default $SPAWNIT_TOKEN, which is safer: a command line is visible to other users)")
	fs.StringVar(&g.output, "o", "text", "output `format`: text or json")
	fs.Usage = func() {
		fmt.Fprintf(env.stderr, "Usage: spawnit %s\n\n%s\n\nFlags:\n", usage, about)
		fs.SetOutput(env.stderr)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return fs, g
}

// parse parses flags wherever they are among the positional arguments ("create echo
// --name e" as well as "create --name e echo"; flag stops at the first positional),
// checks the positional count and the output format, and returns the positionals.
// A request for help returns flag.ErrHelp after the usage is printed.
func parseCLI(fs *flag.FlagSet, g *cliGlobals, args []string, minPos, maxPos int) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err.Error()}
		}
		rest := fs.Args()
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		if len(rest) == 0 {
			break
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
	if g.output != "text" && g.output != "json" {
		return nil, usageError{fmt.Sprintf("-o must be text or json, not %q", g.output)}
	}
	if len(pos) < minPos || len(pos) > maxPos {
		fs.Usage()
		return nil, usageError{fmt.Sprintf("%s takes %s", fs.Name(), cliArgCount(minPos, maxPos))}
	}
	return pos, nil
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

// session is a parsed command ready to call the server.
type cliSession struct {
	env    *cliEnv
	c      *client.Client
	json   bool
	server string
}

func (env *cliEnv) session(g *cliGlobals) (*cliSession, error) {
	server := cliFirstSet(g.server, env.getenv("SPAWNIT_SERVER"), cliDefaultServer)
	token := cliFirstSet(g.token, env.getenv("SPAWNIT_TOKEN"))
	opts := append([]client.Option{client.WithToken(token), client.WithUserAgent("spawnit-cli/1")}, env.clientOpts...)
	c, err := client.New(server, opts...)
	if err != nil {
		return nil, usageError{strings.TrimPrefix(err.Error(), "client: ")}
	}
	return &cliSession{env: env, c: c, json: g.output == "json", server: c.BaseURL()}, nil
}

func cliFirstSet(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// printJSON writes v indented, for -o json.
func (s *cliSession) printJSON(v any) error {
	enc := json.NewEncoder(s.env.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// printJSONLine writes v on one line, for streams under -o json (JSON Lines).
func (s *cliSession) printJSONLine(v any) error {
	return json.NewEncoder(s.env.stdout).Encode(v)
}

func (s *cliSession) printf(format string, args ...any) {
	fmt.Fprintf(s.env.stdout, format, args...)
}

// table writes aligned columns; cells are cleaned of control characters, which could
// break the alignment or, coming from the server, drive the terminal.
func (s *cliSession) table(header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(s.env.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, row := range rows {
		cells := make([]string, len(row))
		for i, c := range row {
			cells[i] = cliClean(c)
			if cells[i] == "" {
				cells[i] = "-"
			}
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

// cliClean replaces control characters (tabs and newlines included) so that text from the
// server stays on its line and cannot send escape sequences to the terminal.
func cliClean(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return ' '
		}
		return r
	}, s)
}

// explain turns an error from the client into a sentence with, where it helps, what to
// do next. hints maps API error codes to an extra line for this command.
func (s *cliSession) explain(err error, hints map[string]string) error {
	if err == nil || errors.Is(err, context.Canceled) {
		return err
	}
	var te *client.TransportError
	if errors.As(err, &te) {
		return fmt.Errorf("%s\nIs the server running? Set its address with --server or SPAWNIT_SERVER", cliClean(err.Error()))
	}
	ae, ok := client.AsAPIError(err)
	if !ok {
		return errors.New(cliClean(strings.TrimPrefix(err.Error(), "client: ")))
	}
	var b strings.Builder
	switch {
	case len(ae.Fields) > 1:
		b.WriteString(cliClean(cliFirstSet(ae.Message, fmt.Sprintf("%d values are invalid", len(ae.Fields)))) + ":")
		for _, f := range ae.Fields {
			b.WriteString("\n  " + cliClean(cliFieldText(f)))
		}
	default:
		b.WriteString(cliClean(ae.Error()))
	}
	hint := hints[ae.Code]
	if hint == "" {
		hint = cliHints[ae.Code]
	}
	if hint != "" {
		b.WriteString("\n" + hint)
	}
	return &cliAPIFailure{msg: b.String(), err: err}
}

func cliFieldText(f apiv1.FieldError) string {
	if f.Field == "" {
		return f.Reason
	}
	return f.Field + ": " + f.Reason
}

var cliHints = map[string]string{
	apiv1.CodeUnauthenticated: "Give a token with SPAWNIT_TOKEN (or --token).",
	apiv1.CodeNeedsRecovery:   "An operator must repair the service's state before it accepts another apply.",
	apiv1.CodeShuttingDown:    "The server is restarting; try again in a moment.",
	apiv1.CodeUnavailable:     "The server cannot reach its storage; try again in a moment.",
}

// cliAPIFailure keeps the client's error for errors.Is/As while printing the sentence.
type cliAPIFailure struct {
	msg string
	err error
}

func (e *cliAPIFailure) Error() string { return e.msg }
func (e *cliAPIFailure) Unwrap() error { return e.err }
