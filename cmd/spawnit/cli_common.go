package main

// Shared plumbing of the client commands: the API client, output (text, JSON, YAML),
// questions asked on a terminal and the translation of errors into sentences. Commands
// run in a cliEnv so tests run them against a server and read what they printed.

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
	"github.com/spf13/cobra"
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
	// terminal: a person answers on stdin (destroy asks for confirmation, --reveal
	// asks first).
	terminal bool
	// configDir holds config.json, the saved logins ("": os.UserConfigDir()/spawnit).
	configDir string
	// openBrowser opens the sign-in page (nil: the desktop's browser).
	openBrowser func(url string) error
	// heartbeat: a followed job silent this long gets a line with the elapsed time
	// (0: none; set when stdout is a terminal).
	heartbeat time.Duration
}

func cliOSEnv() *cliEnv {
	env := &cliEnv{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv,
		terminal: isTerminal(os.Stdin) && isTerminal(os.Stderr)}
	if isTerminal(os.Stdout) {
		env.heartbeat = 15 * time.Second
	}
	return env
}

// isTerminal reports whether f is a character device: a terminal, on every platform
// this command builds for (a pipe or a file is not one).
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// isHelp reports whether a command stopped after printing its help.
func isHelp(err error) bool { return errors.Is(err, flag.ErrHelp) }

func (env *cliEnv) location() *time.Location {
	if env.loc == nil {
		return time.Local
	}
	return env.loc
}

// cliSession is a command ready to call the server.
type cliSession struct {
	env *cliEnv
	c   *client.Client
	// json: a machine format was asked for (-o json or -o yaml); format says which.
	json   bool
	format string
	server string
}

// session connects the command to its server: the flags win, then the environment,
// then the saved context.
func (app *cliApp) session(ctx context.Context) (*cliSession, error) {
	env := app.env
	server, token, err := app.credentials(ctx)
	if err != nil {
		return nil, err
	}
	opts := append([]client.Option{client.WithToken(token), client.WithUserAgent("spawnit-cli/1")}, env.clientOpts...)
	c, err := client.New(server, opts...)
	if err != nil {
		return nil, usageError{strings.TrimPrefix(err.Error(), "client: ")}
	}
	return &cliSession{env: env, c: c, json: app.output != "text", format: app.output, server: c.BaseURL()}, nil
}

// callAndPrint is the shape of most client commands: connect, make one call, then print
// its answer, as it is under -o json/yaml, else as text writes it. An error of the call
// is explained (hints: extra lines for this command's API error codes, as explain).
func callAndPrint[T any](app *cliApp, cmd *cobra.Command, hints map[string]string,
	call func(ctx context.Context, c *client.Client) (T, error), text func(s *cliSession, v T) error) error {
	ctx := cmd.Context()
	s, err := app.session(ctx)
	if err != nil {
		return err
	}
	v, err := call(ctx, s.c)
	if err != nil {
		return s.explain(err, hints)
	}
	if s.json {
		return s.printJSON(v)
	}
	return text(s, v)
}

func cliFirstSet(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// printJSON writes v as -o asks: indented JSON, or YAML with the same field names.
func (s *cliSession) printJSON(v any) error {
	if s.format == "yaml" {
		return writeYAML(s.env.stdout, v)
	}
	enc := json.NewEncoder(s.env.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// printJSONLine writes one item of a stream: a JSON line (JSON Lines) under -o json,
// a YAML document under -o yaml.
func (s *cliSession) printJSONLine(v any) error {
	if s.format == "yaml" {
		fmt.Fprintln(s.env.stdout, "---")
		return writeYAML(s.env.stdout, v)
	}
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
	apiv1.CodeUnauthenticated: "Sign in with: spawnit login <server> (or give a token with SPAWNIT_TOKEN).",
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

// mustJSON encodes a value decoded from JSON (it cannot fail).
func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage(`null`)
	}
	return b
}
