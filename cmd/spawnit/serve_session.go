//go:build linux

package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spawnit/spawnit/api/auth"
	"github.com/spawnit/spawnit/pkg/storekey"
)

// sessionSecretFileEnv names a file holding the session secret (a mounted Kubernetes
// or Docker secret), read when neither --session-secret nor its variable is set.
var sessionSecretFileEnv = envName("session-secret") + "_FILE"

// readSessionSecret completes c.sessionSecret from the file $SPAWNIT_SESSION_SECRET_FILE
// names and checks its length. Without any, auth keeps a drawn secret in the store, so
// that replicas and restarts still share sessions with nothing to configure (see
// auth.Config.SessionSecret for why that is acceptable, and why a secret of the
// operator's is better). Errors never quote the secret.
func readSessionSecret(c *oidcConfig, lookupEnv func(string) (string, bool)) error {
	if path, ok := lookupEnv(sessionSecretFileEnv); ok && path != "" {
		if _, set := lookupEnv(envName("session-secret")); set {
			return usageError{fmt.Sprintf("set %s or %s, not both", envName("session-secret"), sessionSecretFileEnv)}
		}
		if c.sessionSecret == "" { // --session-secret on the command line wins
			data, err := os.ReadFile(path)
			if err != nil {
				return usageError{fmt.Sprintf("%s: %v", sessionSecretFileEnv, err)}
			}
			c.sessionSecret = strings.TrimSpace(string(data))
			if c.sessionSecret == "" {
				return usageError{fmt.Sprintf("%s: %s is empty", sessionSecretFileEnv, path)}
			}
		}
	}
	if c.sessionSecret != "" && len(c.sessionSecret) < auth.MinSessionSecretLen {
		return usageError{fmt.Sprintf("the session secret must be at least %d characters (for example the output of `openssl rand -base64 32`)", auth.MinSessionSecretLen)}
	}
	return nil
}

// sweepSessions deletes ended browser sessions from the store every hour. One replica
// is enough: the one that owns the sessions' folder among the live replicas.
func (a *app) sweepSessions(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if !a.cluster.Owns(storekey.SessionsPrefix) {
				continue
			}
			if n, err := a.oidc.SweepSessions(ctx); err != nil {
				a.log.Warn("sweeping ended browser sessions", "err", err)
			} else if n > 0 {
				a.log.Info("ended browser sessions removed", "count", n)
			}
		}
	}
}
