package catalog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spawnit/spawnit/pkg/truncate"
)

// TofuCheck says how ValidateWithTofu runs tofu.
type TofuCheck struct {
	// Tofu is the tofu binary ("tofu": found on PATH).
	Tofu string
	// ProviderMirror, when set, is a provider filesystem mirror tofu installs from
	// (as `spawnit serve --provider-mirror`); otherwise tofu downloads the providers.
	ProviderMirror string
	// Targets limits the modules checked (all when empty): a machine may have the
	// providers of some targets only.
	Targets []string
}

// maxInitOutput bounds how much of a failed `tofu init`'s output a problem quotes.
const maxInitOutput = 2000

// ValidateWithTofu runs `tofu init -backend=false` and `tofu validate -json` on each
// module of files (a temporary copy, with its own data and CLI configuration) and
// returns every error tofu reports, as one *ValidationError whose fields are
// "modules/<target>/<file>:<line>". Warnings are not problems.
func ValidateWithTofu(ctx context.Context, files TemplateFiles, opt TofuCheck) error {
	if opt.Tofu == "" {
		opt.Tofu = "tofu"
	}
	bin, err := exec.LookPath(opt.Tofu)
	if err != nil {
		return fmt.Errorf("tofu validate: %w (install OpenTofu, or give its path)", err)
	}
	byTarget := map[string]TemplateFiles{}
	for p, data := range files {
		rest, ok := strings.CutPrefix(p, modulesDir+"/")
		target, rel, ok2 := strings.Cut(rest, "/")
		if !ok || !ok2 || rel == "" || data == nil || disallowedModuleFile(rel) != "" {
			continue
		}
		if len(opt.Targets) > 0 && !slices.Contains(opt.Targets, target) {
			continue
		}
		if byTarget[target] == nil {
			byTarget[target] = TemplateFiles{}
		}
		byTarget[target][rel] = data
	}
	for _, t := range opt.Targets {
		if byTarget[t] == nil {
			return fmt.Errorf("tofu validate: the template has no %s module", t)
		}
	}
	targets := make([]string, 0, len(byTarget))
	for t := range byTarget {
		targets = append(targets, t)
	}
	slices.Sort(targets)
	var bad errs
	for _, target := range targets {
		if err := validateModule(ctx, bin, opt.ProviderMirror, target, byTarget[target], &bad); err != nil {
			return err
		}
	}
	return bad.err()
}

func validateModule(ctx context.Context, bin, mirror, target string, files TemplateFiles, bad *errs) error {
	root, err := os.MkdirTemp("", "spawnit-validate-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)
	dir := filepath.Join(root, "module")
	if err := writeModule(dir, files); err != nil {
		return err
	}
	env := append(os.Environ(), "TF_IN_AUTOMATION=1", "TF_INPUT=0", "CHECKPOINT_DISABLE=1",
		"TF_DATA_DIR="+filepath.Join(root, "data"))
	if mirror != "" {
		abs, err := filepath.Abs(mirror)
		if err != nil {
			return err
		}
		quoted, _ := json.Marshal(abs)
		conf := fmt.Sprintf("provider_installation {\n  filesystem_mirror {\n    path    = %s\n    include = [\"*/*/*\"]\n  }\n}\n", strings.ReplaceAll(string(quoted), "${", "$${"))
		cfg := filepath.Join(root, "tofu.rc")
		if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
			return err
		}
		env = append(env, "TF_CLI_CONFIG_FILE="+cfg)
	}
	field := modulesDir + "/" + target
	run := func(args ...string) ([]byte, []byte, error) {
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Dir, cmd.Env = dir, env
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		return stdout.Bytes(), stderr.Bytes(), err
	}
	// A failed init leaves nothing to validate: its own message (providers not found,
	// a syntax error) is the problem, shown as tofu wrote it.
	if out, errOut, err := run("init", "-backend=false", "-input=false", "-no-color"); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		msg := strings.TrimSpace(string(errOut))
		if msg == "" {
			msg = strings.TrimSpace(string(out))
		}
		bad.add(field, CodeInvalid, "tofu init failed: %s", truncate.String(msg, maxInitOutput))
		return nil
	}
	out, _, err := run("validate", "-json", "-no-color")
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		return fmt.Errorf("tofu validate: %w", err)
	}
	var res struct {
		Valid       bool `json:"valid"`
		Diagnostics []struct {
			Severity string `json:"severity"`
			Summary  string `json:"summary"`
			Detail   string `json:"detail"`
			Range    *struct {
				Filename string `json:"filename"`
				Start    struct {
					Line int `json:"line"`
				} `json:"start"`
			} `json:"range"`
		} `json:"diagnostics"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		return fmt.Errorf("tofu validate -json: unreadable output: %w", err)
	}
	for _, d := range res.Diagnostics {
		if d.Severity != "error" {
			continue
		}
		f := field
		if d.Range != nil && d.Range.Filename != "" {
			f += "/" + filepath.ToSlash(d.Range.Filename)
			if d.Range.Start.Line > 0 {
				f += fmt.Sprintf(":%d", d.Range.Start.Line)
			}
		}
		text := d.Summary
		if d.Detail != "" {
			text += ": " + d.Detail
		}
		bad.add(f, CodeInvalid, "tofu validate: %s", text)
	}
	if !res.Valid && bad.err() == nil {
		bad.add(field, CodeInvalid, "tofu validate: the module is not valid")
	}
	return nil
}
