package main

import (
	"context"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/spawnit/spawnit/pkg/apiv1"
	"github.com/spawnit/spawnit/pkg/client"
)

func (app *cliApp) whoamiCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "whoami",
		Short: "show who the server takes you for (subject, tenant, role)",
		Args:  cliArgs(0, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return callAndPrint(app, cmd, nil, func(ctx context.Context, c *client.Client) (*apiv1.Me, error) {
				me, err := c.Me(ctx)
				if err == nil {
					me.CSRFToken = "" // for browsers: never printed
				}
				return me, err
			}, func(s *cliSession, me *apiv1.Me) error {
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
			})
		},
	}
}

func (app *cliApp) tenantsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "tenants",
		Short: "list the tenants that have services, with how many (operators only)",
		Args:  cliArgs(0, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return callAndPrint(app, cmd, nil, func(ctx context.Context, c *client.Client) (apiv1.TenantList, error) {
				tenants, err := c.Tenants(ctx)
				return apiv1.TenantList{Tenants: tenants}, err
			}, func(s *cliSession, l apiv1.TenantList) error {
				rows := make([][]string, 0, len(l.Tenants))
				for _, t := range l.Tenants {
					rows = append(rows, []string{cliClean(t.Tenant), strconv.Itoa(t.Services)})
				}
				return s.table([]string{"TENANT", "SERVICES"}, rows)
			})
		},
	}
}
