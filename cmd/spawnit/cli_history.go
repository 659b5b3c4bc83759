package main

// service history, compare and restore: a service's configuration revisions.

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/spawnit/spawnit/pkg/apiv1"
	"github.com/spawnit/spawnit/pkg/client"
)

func (app *cliApp) historyCmds() []*cobra.Command {
	history := &cobra.Command{
		Use:   "history <service>",
		Short: "list a service's configuration revisions, newest first",
		Long: "List a service's configuration revisions: each change of its inputs (create, update,\n" +
			"restore, upgrade) and each successful apply, with the template version, the state's\n" +
			"serial after an apply, who and when. Secret inputs are never kept in a revision.",
		Args:              cliArgs(1, 1),
		ValidArgsFunction: app.completeServices,
		RunE: func(cmd *cobra.Command, args []string) error {
			return callAndPrint(app, cmd, nil, func(ctx context.Context, c *client.Client) ([]apiv1.Revision, error) {
				return c.Revisions(ctx, args[0])
			}, historyTable)
		},
	}
	compare := &cobra.Command{
		Use:               "compare <service> <from> <to>",
		Short:             "show the fields that differ between two revisions",
		Args:              cliArgs(3, 3),
		ValidArgsFunction: app.completeServices,
		RunE: func(cmd *cobra.Command, args []string) error {
			from, err := revisionArg(args[1])
			if err != nil {
				return err
			}
			to, err := revisionArg(args[2])
			if err != nil {
				return err
			}
			return callAndPrint(app, cmd, nil, func(ctx context.Context, c *client.Client) (*apiv1.RevisionComparison, error) {
				return c.CompareRevisions(ctx, args[0], from, to)
			}, func(s *cliSession, cmp *apiv1.RevisionComparison) error {
				if len(cmp.Changes) == 0 {
					s.printf("Revisions %d and %d have the same configuration.\n", from, to)
					return nil
				}
				rows := make([][]string, 0, len(cmp.Changes))
				for _, c := range cmp.Changes {
					rows = append(rows, []string{c.Field, shownValue(c.From), shownValue(c.To)})
				}
				return s.table([]string{"FIELD", "REVISION " + strconv.Itoa(from), "REVISION " + strconv.Itoa(to)}, rows)
			})
		},
	}
	var noFollow bool
	restore := &cobra.Command{
		Use:   "restore <service> <revision> [--no-follow]",
		Short: "set a service's inputs back to a revision's and plan them",
		Long: "Set a service's inputs to those of an earlier revision (secrets keep their current\n" +
			"value: revisions never hold them) and plan the change. Nothing is applied: run\n" +
			"spawnit apply <service> once the plan shows what you want.",
		Args:              cliArgs(2, 2),
		ValidArgsFunction: app.completeServices,
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := revisionArg(args[1])
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			s, err := app.session(ctx)
			if err != nil {
				return err
			}
			res, err := s.c.RestoreRevision(ctx, args[0], n, "")
			if err != nil {
				return s.explain(err, nil)
			}
			if !s.json {
				s.printf("Service %s has the inputs of revision %d again (revision %d).\n", res.Service.ID, n, res.Revision.Number)
			}
			if _, err := s.watch(ctx, res.Service.ID, &res.Job, !noFollow); err != nil {
				return err
			}
			if !s.json && !noFollow {
				s.printf("Nothing was applied. To apply it: spawnit apply %s\n", res.Service.ID)
			}
			return nil
		},
	}
	restore.Flags().BoolVar(&noFollow, "no-follow", false, "start the plan and return at once")
	return []*cobra.Command{history, compare, restore}
}

// historyTable prints a service's revisions, one a row.
func historyTable(s *cliSession, revs []apiv1.Revision) error {
	rows := make([][]string, 0, len(revs))
	for _, r := range revs {
		what := r.Kind
		switch {
		case r.RestoredFrom > 0:
			what += " of " + strconv.Itoa(r.RestoredFrom)
		case r.Job != "":
			what += " (job " + r.Job + ")"
		}
		serial := ""
		if r.StateSerial > 0 {
			serial = strconv.FormatInt(r.StateSerial, 10)
		}
		rows = append(rows, []string{strconv.Itoa(r.Number), what, r.TemplateVersion, serial, r.By, r.At.Local().Format(time.DateTime)})
	}
	return s.table([]string{"REVISION", "WHAT", "VERSION", "STATE SERIAL", "BY", "WHEN"}, rows)
}

func revisionArg(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, usageError{fmt.Sprintf("%q is not a revision number (1, 2, ...)", s)}
	}
	return n, nil
}

// shownValue prints a revision's value: absent as "-", strings as they are, anything
// else as JSON.
func shownValue(v any) string {
	switch v := v.(type) {
	case nil:
		return "-"
	case string:
		return v
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
