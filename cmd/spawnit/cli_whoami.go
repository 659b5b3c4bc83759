package main

import (
	"strconv"

	"github.com/spf13/cobra"

	"github.com/spawnit/spawnit/pkg/apiv1"
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

func (app *cliApp) tenantsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "tenants",
		Short: "list the tenants that have services, with how many (operators only)",
		Args:  cliArgs(0, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			s, err := app.session(ctx)
			if err != nil {
				return err
			}
			tenants, err := s.c.Tenants(ctx)
			if err != nil {
				return s.explain(err, nil)
			}
			if s.json {
				return s.printJSON(apiv1.TenantList{Tenants: tenants})
			}
			rows := make([][]string, 0, len(tenants))
			for _, t := range tenants {
				rows = append(rows, []string{cliClean(t.Tenant), strconv.Itoa(t.Services)})
			}
			return s.table([]string{"TENANT", "SERVICES"}, rows)
		},
	}
}
