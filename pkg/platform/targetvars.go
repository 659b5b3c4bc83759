package platform

import (
	"fmt"
	"strings"

	"github.com/spawnit/spawnit/engine"
)

// validateTargetVars checks a target's variables against docs/targets.md's rule 2: each
// is named <target>_... and none looks like a credential (credentials reach the provider
// through the target's environment, never through variables, which tofu keeps in plans).
func validateTargetVars(target string, vars map[string]string) error {
	if err := engine.ValidateVars(vars); err != nil {
		return err
	}
	for name := range vars {
		if !strings.HasPrefix(name, target+"_") {
			return fmt.Errorf("%w: variable %s: a target's variables are named %s_...", engine.ErrInvalidInput, name, target)
		}
		if credentialName(name) {
			return fmt.Errorf("%w: variable %s looks like a credential: give credentials in the target's environment", engine.ErrInvalidInput, name)
		}
	}
	return nil
}

// credentialName is rule 2's list of names a target variable must not have.
func credentialName(name string) bool {
	n := strings.ToLower(name)
	for _, w := range []string{"secret", "token", "password", "credential", "kubeconfig", "access_key", "private_key"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}
