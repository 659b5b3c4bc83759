//go:build linux

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/spawnit/spawnit"
	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/pkg/platform"
)

// targetEnvFlag is --target-env: target=file pairs, repeated or comma-separated.
type targetEnvFlag map[string]string

func (f targetEnvFlag) String() string {
	names := make([]string, 0, len(f))
	for n, path := range f {
		names = append(names, n+"="+path)
	}
	sort.Strings(names)
	return strings.Join(names, ",")
}

func (f targetEnvFlag) Set(v string) error {
	for _, pair := range strings.Split(v, ",") {
		name, path, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if !ok || name == "" || path == "" {
			return fmt.Errorf("want target=file, got %q", pair)
		}
		if err := spawnit.ValidateID(name); err != nil {
			return fmt.Errorf("target %q: not a target name", name)
		}
		f[name] = path
	}
	return nil
}

// loadTargets builds the platform's targets: the enabled names, each with the
// environment read from its --target-env file and the variables from its --target-vars
// file.
func loadTargets(names []string, envFiles, varFiles targetEnvFlag) (map[string]platform.Target, error) {
	out := map[string]platform.Target{}
	for _, name := range names {
		out[name] = platform.Target{}
	}
	for name, path := range envFiles {
		env, err := readEnvFile(path)
		if err != nil {
			return nil, fmt.Errorf("--target-env %s: %w", name, err)
		}
		t := out[name]
		t.Env = env
		out[name] = t
	}
	for name, path := range varFiles {
		vars, err := readVarsFile(path)
		if err != nil {
			return nil, fmt.Errorf("--target-vars %s: %w", name, err)
		}
		t := out[name]
		t.Vars = vars
		out[name] = t
	}
	return out, nil
}

// readVarsFile reads a JSON object of module variables: a string value is kept as it is,
// any other value as its JSON text (which tofu reads as a map, list, number or bool).
func readVarsFile(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("%s: want a JSON object of variables: %w", path, err)
	}
	vars := make(map[string]string, len(raw))
	for k, v := range raw {
		if string(bytes.TrimSpace(v)) == "null" {
			return nil, fmt.Errorf("%s: %s: null is not a value (leave the variable out for its default)", path, k)
		}
		var s string
		if json.Unmarshal(v, &s) == nil {
			vars[k] = s
			continue
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, v); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", path, k, err)
		}
		vars[k] = buf.String()
	}
	return vars, nil
}

// addTargetSettings gives targets the operator's settings: --port-range,
// --publish-address and --public-host (checked by parseServeFlags).
func addTargetSettings(targets map[string]platform.Target, c *serveConfig) {
	for name, t := range targets {
		if v, ok := c.portRange[name]; ok {
			t.Ports, _ = platform.ParsePortRange(v)
		}
		t.PublishAddress, t.PublicHost = c.publishAddress[name], c.publicHost[name]
		targets[name] = t
	}
}

// readEnvFile reads KEY=VALUE lines; blank lines and lines starting with # are skipped,
// and a value may be wrapped in double or single quotes. Errors name the line, never a
// value (the file holds credentials).
func readEnvFile(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	env := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("%s:%d: want KEY=VALUE", path, n)
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' && v[len(v)-1] == '"' || v[0] == '\'' && v[len(v)-1] == '\'') {
			v = v[1 : len(v)-1]
		}
		env[k] = v
		if err := engine.ValidateEnv(map[string]string{k: v}); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return env, nil
}
