package main

import (
	"github.com/spf13/cobra"
)

func (app *cliApp) whoamiCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "whoami",
		Short: "show who the server takes you for (subject, tenant, role)",
		Args:  cliArgs(0, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			s, err := app.session(ctx)
			if err != nil {
				return err
			}
			me, err := s.c.Me(ctx)
			if err != nil {
				return s.explain(err, nil)
			}
			// The CSRF token is for browsers: never printed.
			me.CSRFToken = ""
			if s.json {
				return s.printJSON(me)
			}
			if me.SingleUser {
				s.printf("Single-user server %s: no sign-in, tenant %s.\n", s.server, cliClean(me.Tenant))
				return nil
			}
			who := cliClean(me.Subject)
			if me.Name != "" || me.Email != "" {
				who = cliClean(cliFirstSet(me.Name, me.Email)) + " (" + who + ")"
			}
			s.printf("Signed in to %s as %s, tenant %s.\n", s.server, who, cliClean(me.Tenant))
			if me.Role != "" {
				s.printf("Role: %s.\n", cliClean(me.Role))
			}
			return nil
		},
	}
}
