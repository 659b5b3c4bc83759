package main

// template validate and publish: what a template's author runs before and to publish.

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/spf13/cobra"

	"github.com/spawnit/spawnit/catalog"
	"github.com/spawnit/spawnit/pkg/apiv1"
)

// templateCheck is what template validate prints under -o json/yaml.
type templateCheck struct {
	Dir      string             `json:"dir"`
	Template string             `json:"template,omitempty"`
	Version  string             `json:"version,omitempty"`
	Valid    bool               `json:"valid"`
	Problems []apiv1.FieldError `json:"problems"`
	// Tofu says whether tofu validate ran.
	Tofu bool `json:"tofu"`
}

func (app *cliApp) templateAuthorCmds() []*cobra.Command {
	var noTofu bool
	var tofu, mirror string
	var tofuTargets []string
	validate := &cobra.Command{
		Use:   "validate <dir> [--no-tofu] [--tofu-target docker]",
		Short: "check a template's folder before publishing it",
		Long: "Check a template's folder (template.json and modules/<target>/...): the form schema,\n" +
			"the module files allowed, each module's variables and outputs against the form (the\n" +
			"rule of docs/targets.md), readiness checks naming real outputs, then `tofu validate` on\n" +
			"each module (providers from --provider-mirror, else downloaded). Every problem is\n" +
			"listed; the exit status is 1 when there is one. Nothing is sent to a server.",
		Args: cliArgs(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s := &cliSession{env: app.env, json: app.output != "text", format: app.output}
			out, err := checkTemplateDir(cmd.Context(), args[0], !noTofu, catalog.TofuCheck{
				Tofu: cliFirstSet(tofu, app.env.getenv("SPAWNIT_TOFU"), "tofu"), ProviderMirror: cliFirstSet(mirror, app.env.getenv("SPAWNIT_PROVIDER_MIRROR")),
				Targets: tofuTargets})
			if err != nil {
				return err
			}
			if s.json {
				if err := s.printJSON(out); err != nil {
					return err
				}
			} else {
				for _, p := range out.Problems {
					s.printf("%s\n", cliClean(cliFieldText(p)))
				}
				if out.Valid {
					what := "without tofu validate"
					if out.Tofu {
						what = "tofu validate included"
					}
					s.printf("Template %s %s is valid (%s).\n", cliClean(out.Template), cliClean(out.Version), what)
				}
			}
			if !out.Valid {
				return fmt.Errorf("%s: %d problem%s", args[0], len(out.Problems), map[bool]string{true: "s"}[len(out.Problems) > 1])
			}
			return nil
		},
	}
	f := validate.Flags()
	f.BoolVar(&noTofu, "no-tofu", false, "skip tofu validate (no tofu, or no providers at hand)")
	f.StringVar(&tofu, "tofu", "", "the tofu `binary` (default $SPAWNIT_TOFU, else tofu on PATH)")
	f.StringVar(&mirror, "provider-mirror", "", "provider filesystem mirror `dir` tofu installs from (default $SPAWNIT_PROVIDER_MIRROR)")
	f.StringSliceVar(&tofuTargets, "tofu-target", nil, "run tofu validate on this target's module only (repeat for several; default all)")

	publish := &cobra.Command{
		Use:   "publish <dir>",
		Short: "publish a template's folder as a new version (operators)",
		Long: "Publish a template's folder as the version its template.json names. The server checks\n" +
			"it as template validate does (without tofu) and lists every problem; a version, once\n" +
			"published, never changes: publish changes under a new version. Only operators may.",
		Args: cliArgs(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			files, err := catalog.LoadTemplateDir(args[0])
			if err != nil {
				return err
			}
			tpl, err := catalog.ParseTemplate(files[catalog.TemplateFile])
			if err != nil {
				return fmt.Errorf("%s: %s: %w", args[0], catalog.TemplateFile, err)
			}
			s, err := app.session(ctx)
			if err != nil {
				return err
			}
			v, err := s.c.PublishTemplate(ctx, tpl.ID, files)
			if err != nil {
				return s.explain(err, nil)
			}
			if s.json {
				return s.printJSON(v)
			}
			if v.Created {
				s.printf("Published %s %s.\n", cliClean(v.Template), cliClean(v.Version))
			} else {
				s.printf("%s %s was already published with this content: nothing changed.\n", cliClean(v.Template), cliClean(v.Version))
			}
			return nil
		},
	}
	return []*cobra.Command{validate, publish}
}

// checkTemplateDir runs every check of template validate on dir.
func checkTemplateDir(ctx context.Context, dir string, withTofu bool, opt catalog.TofuCheck) (templateCheck, error) {
	out := templateCheck{Dir: dir, Problems: []apiv1.FieldError{}}
	files, err := catalog.LoadTemplateDir(dir)
	if err != nil {
		return out, err
	}
	add := func(err error) error {
		var ve *catalog.ValidationError
		if !errors.As(err, &ve) {
			return err
		}
		for _, f := range ve.Fields {
			p := apiv1.FieldError{Field: f.Field, Code: string(f.Code), Reason: f.Reason}
			if !slices.Contains(out.Problems, p) {
				out.Problems = append(out.Problems, p)
			}
		}
		return nil
	}
	tpl, err := catalog.CheckTemplate(files)
	if tpl != nil {
		out.Template, out.Version = tpl.ID, tpl.Version
	}
	if err := add(err); err != nil {
		return out, err
	}
	if withTofu {
		out.Tofu = true
		if err := add(catalog.ValidateWithTofu(ctx, files, opt)); err != nil {
			return out, err
		}
	}
	out.Valid = len(out.Problems) == 0
	return out, nil
}
