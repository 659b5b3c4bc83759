// Command spawnit is SpawnIt's server (spawnit serve) and its command-line client.
// The client commands are a cobra tree built by newRootCmd (cli_root.go), one file per
// family of commands; commands that parse their own flags (serve) register themselves
// with register in init().
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"syscall"
)

// command is a subcommand that parses its own arguments (serve). run receives the
// arguments after the subcommand's name and a context cancelled on SIGINT or SIGTERM;
// it returns flag.ErrHelp after printing its help.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string) error
}

// commands holds the self-parsing subcommands by name; files add theirs with register.
var commands = map[string]*command{}

func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("spawnit: command registered twice: " + c.name)
	}
	commands[c.name] = c
}

// usageError is a mistake on the command line: main prints it with the command's usage
// and exits 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// exitStatus ends a command with a status and nothing more to say: what there was to
// say is printed already (plan --detailed-exitcode exits 2 when there are changes).
type exitStatus int

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// Exit statuses, documented in "spawnit help".
const (
	exitOK      = 0
	exitError   = 1
	exitUsage   = 2
	exitChanges = 2 // with --detailed-exitcode: changes to apply, or drift
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stderr)
	stop()
	os.Exit(code)
}

// run runs the command line and returns the exit status.
func run(ctx context.Context, args []string, stderr io.Writer) int {
	env := cliOSEnv()
	env.stderr = stderr
	return exitCode(executeCLI(ctx, env, args), args, stderr)
}

// exitCode prints err (when there is something to print) and maps it to an exit status.
// A usage mistake on a line asking for --detailed-exitcode exits 1, so that a script
// never reads it as "there are changes".
func exitCode(res cliResult, args []string, stderr io.Writer) int {
	err := res.err
	var ue usageError
	var st exitStatus
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &st):
		return int(st)
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "%s: %v\n", res.path, err)
		if slices.Contains(args, "--detailed-exitcode") {
			return exitError
		}
		return exitUsage
	case errors.Is(err, context.Canceled):
		return exitError
	default:
		fmt.Fprintf(stderr, "%s: %v\n", res.path, err)
		return exitError
	}
}
