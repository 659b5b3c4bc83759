package main

import (
	"context"
	"strings"

	"github.com/spawnit/spawnit/pkg/truncate"
)

func runCatalog(ctx context.Context, env *cliEnv, args []string) error {
	fs, g := env.flagSet("catalog [-o json]", "List the templates you can deploy and the targets each can deploy to.")
	if _, err := parseCLI(fs, g, args, 0, 0); err != nil {
		return err
	}
	s, err := env.session(g)
	if err != nil {
		return err
	}
	templates, err := s.c.Catalog(ctx)
	if err != nil {
		return s.explain(err, nil)
	}
	if s.json {
		return s.printJSON(map[string]any{"templates": templates})
	}
	if len(templates) == 0 {
		s.printf("The catalog is empty.\n")
		return nil
	}
	rows := make([][]string, len(templates))
	for i, t := range templates {
		// The description on one line and cut short; -o json has the full text.
		rows[i] = []string{t.ID, t.Name, t.Version, strings.Join(t.Providers, ","), truncate.String(strings.Join(strings.Fields(t.Description), " "), 60)}
	}
	return s.table([]string{"TEMPLATE", "NAME", "VERSION", "TARGETS", "DESCRIPTION"}, rows)
}
