//go:build linux

package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spawnit/spawnit/api/auth"
	"github.com/spawnit/spawnit/pkg/storekey"
)

// checkSessionSecret checks the session secret's length. The flag, its variable and the
// file its _FILE variable names are read like every secret flag's (serveEnvValue).
// Without any, auth keeps a drawn secret in the store, so that replicas and restarts
// still share sessions with nothing to configure (see auth.Config.SessionSecret for why
// that is acceptable, and why a secret of the operator's is better). Errors never quote
// the secret.
func checkSessionSecret(c *oidcConfig) error {
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
