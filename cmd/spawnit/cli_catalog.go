package main

// catalog and template: the templates users deploy from.

import (
	"context"
	"fmt"
	"strings"

	"github.com/spawnit/spawnit/pkg/apiv1"
	"github.com/spawnit/spawnit/pkg/client"
	"github.com/spawnit/spawnit/pkg/truncate"
	"github.com/spf13/cobra"
)

func (app *cliApp) catalogCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "catalog",
		Short: "list the templates you can deploy",
		Long:  "List the templates you can deploy and the targets each can deploy to (as template list).",
		Args:  cliArgs(0, 0),
		RunE:  app.listTemplates,
	}
}

func (app *cliApp) templateCmd() *cobra.Command {
	cmd := groupCmd(&cobra.Command{
		Use:     "template",
		Aliases: []string{"templates"},
		Short:   "list the catalog's templates or show one with its inputs",
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "list the templates you can deploy",
		Args:  cliArgs(0, 0),
		RunE:  app.listTemplates,
	}, &cobra.Command{
		Use:               "show <template>",
		Short:             "show a template: its description, targets and inputs",
		Args:              cliArgs(1, 1),
		ValidArgsFunction: app.completeTemplates,
		RunE:              app.showTemplate,
	})
	cmd.AddCommand(app.templateAuthorCmds()...)
	return cmd
}

func (app *cliApp) listTemplates(cmd *cobra.Command, args []string) error {
	return callAndPrint(app, cmd, nil, func(ctx context.Context, c *client.Client) (apiv1.TemplateList, error) {
		templates, err := c.Catalog(ctx)
		return apiv1.TemplateList{Templates: templates}, err
	}, func(s *cliSession, l apiv1.TemplateList) error {
		if len(l.Templates) == 0 {
			s.printf("The catalog is empty.\n")
			return nil
		}
		rows := make([][]string, len(l.Templates))
		for i, t := range l.Templates {
			// The description on one line and cut short; -o json has the full text.
			rows[i] = []string{t.ID, t.Name, t.Version, strings.Join(t.Providers, ","), truncate.String(strings.Join(strings.Fields(t.Description), " "), 60)}
		}
		return s.table([]string{"TEMPLATE", "NAME", "VERSION", "TARGETS", "DESCRIPTION"}, rows)
	})
}

func (app *cliApp) showTemplate(cmd *cobra.Command, args []string) error {
	hints := map[string]string{apiv1.CodeNotFound: "See the templates you can use with: spawnit template list"}
	return callAndPrint(app, cmd, hints, func(ctx context.Context, c *client.Client) (*apiv1.Template, error) {
		return c.Template(ctx, args[0])
	}, templateText)
}

// templateText prints a template: what it is, its targets and a table of its inputs.
func templateText(s *cliSession, t *apiv1.Template) error {
	s.printf("Template %s: %s", t.ID, cliClean(t.Name))
	if t.Version != "" {
		s.printf(" (version %s)", cliClean(t.Version))
	}
	s.printf("\n")
	if d := strings.TrimSpace(t.Description); d != "" {
		s.printf("%s\n", cliCleanLines(d))
	}
	s.printf("Targets: %s\n", cliClean(strings.Join(t.Providers, ", ")))
	if len(t.Inputs) == 0 {
		s.printf("No inputs.\n")
		return nil
	}
	s.printf("\n")
	rows := make([][]string, len(t.Inputs))
	for i, in := range t.Inputs {
		def := ""
		if in.Default != nil {
			def = fmt.Sprint(in.Default)
		}
		req := ""
		if in.Required {
			req = "yes"
		}
		label := in.Label
		if in.Help != "" {
			label += ": " + in.Help
		}
		rows[i] = []string{in.Name, string(in.Type), req, def, truncate.String(strings.Join(strings.Fields(label), " "), 60)}
	}
	return s.table([]string{"INPUT", "TYPE", "REQUIRED", "DEFAULT", "LABEL"}, rows)
}
