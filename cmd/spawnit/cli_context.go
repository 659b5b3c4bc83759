package main

import (
	"context"

	"github.com/spf13/cobra"
)

// credentials returns the server and token of the command: --server/--token win,
// then SPAWNIT_SERVER/SPAWNIT_TOKEN, then the saved context.
func (app *cliApp) credentials(ctx context.Context) (server, token string, err error) {
	env := app.env
	server = cliFirstSet(app.server, env.getenv("SPAWNIT_SERVER"), cliDefaultServer)
	token = cliFirstSet(app.token, env.getenv("SPAWNIT_TOKEN"))
	return server, token, nil
}

func (app *cliApp) completeContexts(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return nil, cobra.ShellCompDirectiveNoFileComp
}
