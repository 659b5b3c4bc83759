package main

// Shell completion of arguments that name things on the server: services, jobs,
// templates, targets and inputs. Cobra generates the scripts (spawnit completion
// bash|zsh|fish|powershell); they call "spawnit __complete ..." which lands here, with
// the global flags of the line already parsed (--server, --context).

import (
	"context"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// completionTimeout bounds a completion's calls to the server: a shell waits for them.
const completionTimeout = 5 * time.Second

// completeSession is the session of a completion, nil when there is none (no server):
// completing then offers nothing rather than an error.
func (app *cliApp) completeSession(cmd *cobra.Command) (*cliSession, context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(cmd.Context(), completionTimeout)
	s, err := app.session(ctx)
	if err != nil {
		cancel()
		return nil, nil, func() {}
	}
	return s, ctx, cancel
}

// completeServices completes the first argument with the user's service ids, each
// described by its name.
func (app *cliApp) completeServices(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return app.serviceIDs(cmd, toComplete), cobra.ShellCompDirectiveNoFileComp
}

func (app *cliApp) serviceIDs(cmd *cobra.Command, prefix string) []cobra.Completion {
	s, ctx, cancel := app.completeSession(cmd)
	defer cancel()
	if s == nil {
		return nil
	}
	services, err := s.c.Services(ctx)
	if err != nil {
		return nil
	}
	var out []cobra.Completion
	for _, svc := range services {
		if strings.HasPrefix(svc.ID, prefix) {
			out = append(out, cobra.CompletionWithDesc(svc.ID, cliClean(svc.Name)))
		}
	}
	return out
}

// completeServiceThenJob completes a service id, then one of its job ids.
func (app *cliApp) completeServiceThenJob(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	switch len(args) {
	case 0:
		return app.serviceIDs(cmd, toComplete), cobra.ShellCompDirectiveNoFileComp
	case 1:
		s, ctx, cancel := app.completeSession(cmd)
		defer cancel()
		if s == nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		jobs, err := s.c.Jobs(ctx, args[0])
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []cobra.Completion
		for _, j := range jobs {
			if strings.HasPrefix(j.ID, toComplete) {
				out = append(out, cobra.CompletionWithDesc(j.ID, string(j.Operation)+" "+string(j.State)))
			}
		}
		// Newest first, as the server lists them: keep that order.
		return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveKeepOrder
	}
	return nil, cobra.ShellCompDirectiveNoFileComp
}

// completeTemplates completes the first argument with the catalog's template ids.
func (app *cliApp) completeTemplates(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	s, ctx, cancel := app.completeSession(cmd)
	defer cancel()
	if s == nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	templates, err := s.c.Catalog(ctx)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []cobra.Completion
	for _, t := range templates {
		if strings.HasPrefix(t.ID, toComplete) {
			out = append(out, cobra.CompletionWithDesc(t.ID, cliClean(t.Name)))
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// completeTargets completes create --target with the targets of the template named.
func (app *cliApp) completeTargets(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) == 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	s, ctx, cancel := app.completeSession(cmd)
	defer cancel()
	if s == nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	t, err := s.c.Template(ctx, args[0])
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return t.Providers, cobra.ShellCompDirectiveNoFileComp
}

// completeSetFlag completes --set with the template's input names followed by "=".
// create names the template in its argument; service update names a service.
func (app *cliApp) completeSetFlag(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) == 0 || strings.Contains(toComplete, "=") {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	s, ctx, cancel := app.completeSession(cmd)
	defer cancel()
	if s == nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	template := args[0]
	if cmd.Name() != "create" {
		svc, _, err := s.c.Service(ctx, args[0])
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		template = svc.Template
	}
	t, err := s.c.Template(ctx, template)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []cobra.Completion
	for _, in := range t.Inputs {
		if strings.HasPrefix(in.Name, toComplete) {
			out = append(out, cobra.CompletionWithDesc(in.Name+"=", cliClean(in.Label)))
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
}
