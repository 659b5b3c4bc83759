package main

// The CLI's configuration file: named contexts (a server and, after spawnit login,
// the tokens to call it with), in os.UserConfigDir()/spawnit/config.json, readable by
// its owner only since it holds refresh tokens.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

type cliConfig struct {
	Current  string                 `json:"current,omitempty"`
	Contexts map[string]*cliContext `json:"contexts"`
}

// cliContext is one saved server.
type cliContext struct {
	Server string `json:"server"`
	// Issuer and ClientID are the server's OIDC sign-in (GET /api/v1/cli-login); empty
	// for a single-user server.
	Issuer   string `json:"issuer,omitempty"`
	ClientID string `json:"client_id,omitempty"`
	// Token is the bearer token (the ID token of the sign-in) and Expiry its expiry;
	// RefreshToken gets the next one.
	Token        string    `json:"token,omitempty"`
	Expiry       time.Time `json:"expiry,omitzero"`
	RefreshToken string    `json:"refresh_token,omitempty"`
	Subject      string    `json:"subject,omitempty"`
}

func (env *cliEnv) configPath() (string, error) {
	dir := env.configDir
	if dir == "" {
		base, err := os.UserConfigDir()
		if err != nil {
			return "", fmt.Errorf("no configuration directory: %w", err)
		}
		dir = filepath.Join(base, "spawnit")
	}
	return filepath.Join(dir, "config.json"), nil
}

// loadConfig reads the configuration; a missing file is an empty one.
func (env *cliEnv) loadConfig() (*cliConfig, error) {
	path, err := env.configPath()
	if err != nil {
		return nil, err
	}
	cfg := &cliConfig{Contexts: map[string]*cliContext{}}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return cfg, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if cfg.Contexts == nil {
		cfg.Contexts = map[string]*cliContext{}
	}
	return cfg, nil
}

// saveConfig writes the configuration whole, owner-only, through a temporary file
// renamed over the old one so that a crash never leaves half a file.
func (env *cliEnv) saveConfig(cfg *cliConfig) error {
	path, err := env.configPath()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	data, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".config-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// contextName is the context the command uses: --context, SPAWNIT_CONTEXT, then the
// current one.
func (app *cliApp) contextName(cfg *cliConfig) string {
	return cliFirstSet(app.context, app.env.getenv("SPAWNIT_CONTEXT"), cfg.Current)
}
