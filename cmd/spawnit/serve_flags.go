//go:build linux

package main

// What spawnit serve's flags add to Go's flag package: the value of a secret read from
// a file named by <VAR>_FILE (Docker and Kubernetes secrets), help grouped by topic,
// and the log format.

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
)

// secretFlag reports whether a flag holds a secret: its value may then come from the
// file named by its variable with _FILE appended, and is never shown.
func secretFlag(name string) bool {
	return strings.Contains(name, "secret") || strings.HasSuffix(name, "-token") || strings.HasSuffix(name, "encryption-key")
}

// serveEnvValue is a flag's value from the environment: $VAR, or for a secret the
// content of the file $VAR_FILE names (one trailing newline dropped). Both set is a
// mistake.
func serveEnvValue(lookupEnv func(string) (string, bool), flagName string) (string, bool, error) {
	name := envName(flagName)
	v, ok := lookupEnv(name)
	if !secretFlag(flagName) {
		return v, ok, nil
	}
	path, fileOK := lookupEnv(name + "_FILE")
	if !fileOK {
		return v, ok, nil
	}
	if ok {
		return "", false, usageError{fmt.Sprintf("both %s and %s_FILE are set: keep one", name, name)}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", false, usageError{fmt.Sprintf("%s_FILE: %v", name, err)}
	}
	s := strings.TrimSuffix(strings.TrimSuffix(string(data), "\n"), "\r")
	if s == "" {
		return "", false, usageError{fmt.Sprintf("%s_FILE: %s is empty", name, path)}
	}
	return s, true, nil
}

// serveTopics groups the flags in serve -h, in this order; a flag is in the first
// topic with a prefix of its name, else in the last.
var serveTopics = []struct {
	title    string
	prefixes []string
}{
	{"Server", []string{"listen", "data-dir", "log-"}},
	{"Storage (S3; without an endpoint, files in the data directory)", []string{"s3-"}},
	{"Sign-in (OIDC; without an issuer, single-user on loopback)", []string{"oidc-", "session-"}},
	{"OpenTofu and targets", []string{"tofu", "provider-mirror", "targets", "target-env", "target-vars", "port-range", "publish-address", "public-host"}},
	{"Jobs and supervision", []string{"max-parallel", "job-", "kill-grace", "shutdown-grace", "drift-interval"}},
	{"Quotas per tenant (defaults; an operator may set a tenant's own)", []string{"quota-"}},
	{"Metrics", []string{"metrics-"}},
	{"Encryption at rest", []string{"encryption-", "previous-encryption-"}},
	{"Other", nil},
}

// serveUsage prints serve's flags by topic, each with its variable and default.
func serveUsage(fs *flag.FlagSet, w io.Writer) {
	fmt.Fprint(w, "Usage: spawnit serve [flags]\n\nRun the SpawnIt server: the API, the browser app, jobs and supervision. Every flag\n"+
		"can be set by its environment variable (a flag on the command line wins); a secret can\n"+
		"also be read from the file its variable with _FILE appended names.\n")
	groups := make([][]*flag.Flag, len(serveTopics))
	fs.VisitAll(func(f *flag.Flag) {
		i := len(serveTopics) - 1
	topics:
		for t, topic := range serveTopics {
			for _, p := range topic.prefixes {
				if strings.HasPrefix(f.Name, p) {
					i = t
					break topics
				}
			}
		}
		groups[i] = append(groups[i], f)
	})
	for i, flags := range groups {
		if len(flags) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s:\n", serveTopics[i].title)
		for _, f := range flags {
			arg, usage := flag.UnquoteUsage(f)
			line := "  --" + f.Name
			if arg != "" {
				line += " " + arg
			}
			fmt.Fprintf(w, "%s\n      %s", line, usage)
			if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && !secretFlag(f.Name) {
				fmt.Fprintf(w, " (default %s)", f.DefValue)
			}
			fmt.Fprintln(w)
		}
	}
}

// newServeLogger is the server's logger: JSON lines or text, on w.
func newServeLogger(format string, level slog.Level, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
