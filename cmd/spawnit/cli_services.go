package main

// services, create and delete: the configuration side of services (service show,
// update and settings are in cli_service.go).

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/spawnit/spawnit"
	"github.com/spawnit/spawnit/internal/strictjson"
	"github.com/spawnit/spawnit/pkg/apiv1"
	"github.com/spawnit/spawnit/pkg/client"
	"github.com/spf13/cobra"
)

func (app *cliApp) servicesCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "services",
		Short: "list your services and their status",
		Long: "List your services with their deployment, drift and last job (as service list), sorted by id.\n" +
			"Every service is listed, page after page; --limit asks for one page, --cursor for the page\n" +
			"after the one that printed it, --search for the services whose id, name or template contains a text.",
		Args: cliArgs(0, 0),
		RunE: app.listServices,
	}
	cmd.Flags().Int("limit", 0, "list one page of at most this many services (1 to 500)")
	cmd.Flags().String("cursor", "", "list the page after the one that printed this cursor")
	cmd.Flags().String("search", "", "only the services whose id, name or template contains this text")
	return cmd
}

func (app *cliApp) listServices(cmd *cobra.Command, args []string) error {
	ctx := cmd.Context()
	s, err := app.session(ctx)
	if err != nil {
		return err
	}
	limit, _ := cmd.Flags().GetInt("limit")
	cursor, _ := cmd.Flags().GetString("cursor")
	search, _ := cmd.Flags().GetString("search")
	var list apiv1.ServiceList
	if limit != 0 || cursor != "" {
		list, err = s.c.ServicesPage(ctx, client.Page{Limit: limit, Cursor: cursor, Query: search})
	} else {
		// Every page: with a search, page by page too.
		pg := client.Page{Limit: client.MaxPageLimit, Query: search}
		for err == nil {
			var page apiv1.ServiceList
			page, err = s.c.ServicesPage(ctx, pg)
			list.Services = append(list.Services, page.Services...)
			if pg.Cursor = page.NextCursor; pg.Cursor == "" {
				break
			}
		}
	}
	if err != nil {
		return s.explain(err, nil)
	}
	services := list.Services
	if s.json {
		if services == nil {
			list.Services = []apiv1.Service{}
		}
		return s.printJSON(list)
	}
	if list.NextCursor != "" {
		defer s.printf("More: spawnit services --limit %d --cursor %s\n", limit, list.NextCursor)
	}
	if len(services) == 0 && search != "" {
		s.printf("No service matches %q.\n", search)
		return nil
	}
	if len(services) == 0 {
		s.printf("No services yet. Create one from the catalog: spawnit catalog, then spawnit create.\n")
		return nil
	}
	rows := make([][]string, len(services))
	for i, svc := range services {
		last := ""
		if j := svc.Status.LastJob; j != nil {
			last = fmt.Sprintf("%s %s (%s)", j.Operation, j.State, j.ID)
		}
		rows[i] = []string{svc.ID, svc.Name, svc.Template, svc.Provider, deploymentWord(svc.Status),
			strings.ReplaceAll(string(svc.Status.Drift), "_", " "), last}
	}
	return s.table([]string{"SERVICE", "NAME", "TEMPLATE", "TARGET", "STATUS", "DRIFT", "LAST JOB"}, rows)
}

// deployment sums up a service's state in a word or two.
func deploymentWord(st apiv1.ServiceStatus) string {
	switch {
	case st.NeedsRecovery:
		return "needs recovery"
	case st.Busy:
		return "busy"
	case st.Stopped:
		return "stopped"
	case st.Intent == spawnit.IntentApplied:
		return "deployed"
	case st.Intent == spawnit.IntentDestroyed:
		return "destroyed"
	}
	return "not deployed"
}

// setFlags collects repeated --set key=value flags in order.
type setFlags []setFlag

type setFlag struct{ key, value string }

func (kv *setFlags) String() string { return "" }

// Type names the value in help ("--set key=value").
func (kv *setFlags) Type() string { return "key=value" }

// Set splits at the first '=' only and keeps the value byte for byte: "${...}",
// quotes, spaces and newlines are the user's data, never interpreted.
func (kv *setFlags) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want key=value, got %q", s)
	}
	*kv = append(*kv, setFlag{k, v})
	return nil
}

func (app *cliApp) createCmd() *cobra.Command {
	var name, target, inputsFile string
	var sets setFlags
	cmd := &cobra.Command{
		Use:   "create <template> --name <name> [--target <target>] [--set key=value ...] [--inputs-file <file>]",
		Short: "create a service from a template (deploys nothing yet)",
		Long: "Create a service from a catalog template. It records the configuration only: deploy it\n" +
			"with apply. A --set value is a string unless the template declares the input a number,\n" +
			"integer, port or boolean; it is sent exactly as typed (no ${...} evaluation, no quote removal).",
		Args:              cliArgs(1, 1),
		ValidArgsFunction: app.completeTemplates,
		RunE: func(cmd *cobra.Command, args []string) error {
			if name == "" {
				return usageError{"create needs --name"}
			}
			ctx := cmd.Context()
			s, err := app.session(ctx)
			if err != nil {
				return err
			}
			template := args[0]
			inputs, err := s.inputs(ctx, template, inputsFile, sets, map[string]any{})
			if err != nil {
				return err
			}
			// Sent as provider, the older name of target, which servers before the rename accept too.
			svc, _, err := s.c.CreateService(ctx, apiv1.CreateService{Template: template, Provider: target, Name: name, Inputs: inputs})
			if err != nil {
				return s.explain(err, map[string]string{apiv1.CodeNotFound: "See the templates you can use with: spawnit catalog"})
			}
			if s.json {
				return s.printJSON(svc)
			}
			s.printf("Created service %s (%s) from template %s on %s.\nDeploy it with: spawnit apply %s\n",
				svc.ID, cliClean(svc.Name), svc.Template, svc.Provider, svc.ID)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "the service's `name` (required)")
	f.StringVar(&target, "target", "", "the `target` to deploy to, for example docker (default: the server's choice)")
	f.StringVar(&target, "provider", "", "the older name of --target")
	_ = f.MarkHidden("provider")
	f.Var(&sets, "set", "set the input `key=value` (repeat for several inputs; wins over --inputs-file)")
	f.StringVar(&inputsFile, "inputs-file", "", "read inputs from the JSON object in `file` (- for standard input)")
	_ = cmd.RegisterFlagCompletionFunc("name", cobra.NoFileCompletions)
	_ = cmd.RegisterFlagCompletionFunc("target", app.completeTargets)
	_ = cmd.RegisterFlagCompletionFunc("set", app.completeSetFlag)
	return cmd
}

// inputs builds the inputs to send: base, then the file's, then each --set, typed by the
// template's fields.
func (s *cliSession) inputs(ctx context.Context, template, inputsFile string, sets setFlags, base map[string]any) (map[string]any, error) {
	inputs := base
	if inputsFile != "" {
		file, err := readInputsFile(s.env.stdin, inputsFile)
		if err != nil {
			return nil, err
		}
		maps.Copy(inputs, file)
	}
	if len(sets) > 0 {
		tpl, err := s.c.Template(ctx, template)
		if err != nil {
			return nil, s.explain(err, map[string]string{apiv1.CodeNotFound: "See the templates you can use with: spawnit catalog"})
		}
		for _, kv := range sets {
			inputs[kv.key] = coerceSetValue(tpl, kv.key, kv.value)
		}
	}
	return inputs, nil
}

// readInputsFile reads a JSON object of inputs, keeping numbers exact (json.Number) so a
// large integer is not rounded through float64 on its way to the server.
func readInputsFile(stdin io.Reader, path string) (map[string]any, error) {
	var data []byte
	var err error
	if path == "-" {
		data, err = io.ReadAll(stdin)
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read the inputs file: %w", err)
	}
	// Read as strictly as the server reads it: a duplicate key would otherwise be
	// resolved here, silently, before the server could refuse it.
	var inputs map[string]any
	if err := strictjson.Decode(data, &inputs, strictjson.Limits{}); err != nil {
		return nil, fmt.Errorf("the inputs file %s must hold one JSON object of input names to values: %v", path, err)
	}
	return inputs, nil
}

// jsonNumberRE is the JSON number grammar (RFC 8259): what may go on the wire as a number.
var jsonNumberRE = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

// coerceSetValue gives a --set value the JSON type the template's field expects. A
// value that does not parse, or an input the template does not have, stays a string:
// the server validates every input and reports all the bad ones at once, in its words.
func coerceSetValue(tpl *apiv1.Template, key, value string) any {
	f, ok := tpl.Field(key)
	if !ok {
		return value
	}
	switch f.Type {
	case apiv1.InputNumber, apiv1.InputInteger, apiv1.InputPort:
		if jsonNumberRE.MatchString(value) {
			return json.Number(value)
		}
	case apiv1.InputBoolean:
		if b, err := strconv.ParseBool(value); err == nil {
			return b
		}
	}
	return value
}

func (app *cliApp) deleteCmd() *cobra.Command {
	var destroy, noFollow, yes bool
	cmd := &cobra.Command{
		Use:   "delete <service> [--destroy [--no-follow]] [--yes]",
		Short: "delete a service's configuration",
		Long: "Delete a service's configuration. A deployed service is refused unless --destroy is\n" +
			"given: its infrastructure is then destroyed first, and the service deleted when that succeeds.\n" +
			"On a terminal it asks you to type the service's name first, unless --yes.",
		Args:              cliArgs(1, 1),
		ValidArgsFunction: app.completeServices,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			s, err := app.session(ctx)
			if err != nil {
				return err
			}
			svc := args[0]
			what := "deletes the configuration of"
			if destroy {
				what = "destroys the infrastructure and deletes the configuration of"
			}
			if err := s.confirmService(ctx, svc, what, yes); err != nil {
				return err
			}
			job, err := s.c.DeleteService(ctx, svc, destroy)
			if err != nil {
				return s.explain(err, map[string]string{
					apiv1.CodeResourcesExist: fmt.Sprintf("Destroy its infrastructure and delete it in one go with: spawnit delete %s --destroy", svc),
					apiv1.CodeBusy:           fmt.Sprintf("Wait for its job to end (spawnit logs %s -f) or cancel it, then try again.", svc),
				})
			}
			if job == nil {
				if s.json {
					return s.printJSON(map[string]any{"service": svc, "deleted": true})
				}
				s.printf("Deleted service %s.\n", svc)
				return nil
			}
			if _, err := s.watch(ctx, svc, job, !noFollow); err != nil {
				return err
			}
			if !noFollow && !s.json {
				s.printf("Service %s is deleted.\n", svc)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&destroy, "destroy", false, "destroy the service's infrastructure, then delete it")
	f.BoolVar(&noFollow, "no-follow", false, "with --destroy, return once the destroy job has started")
	f.BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation on a terminal")
	return cmd
}
