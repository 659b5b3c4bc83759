package main

// plan, apply, destroy, accept, remediate, logs, cancel and jobs: commands that start,
// watch, stop or list jobs.

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spawnit/spawnit"
	"github.com/spawnit/spawnit/pkg/apiv1"
	"github.com/spawnit/spawnit/pkg/client"
	"github.com/spawnit/spawnit/pkg/truncate"
	"github.com/spf13/cobra"
)

// jobCommand is one of the commands that start a job on a service.
type jobCommand struct {
	name, short, long string
	start             func(c *client.Client, ctx context.Context, svc string, opts ...client.RunOption) (*apiv1.Job, error)
	// confirm: destructive, asks on a terminal unless --yes.
	confirm string
	// detailed: --detailed-exitcode exits 2 when the plan has changes.
	detailed bool
}

var (
	opPlan = jobCommand{name: "plan", short: "show what applying a service would change",
		long:     "Compute what applying the service's configuration would change, without changing anything.",
		start:    (*client.Client).Plan,
		detailed: true}
	opApply = jobCommand{name: "apply", short: "deploy a service or bring it up to date",
		long: "Create or update the service's infrastructure to match its configuration, showing progress\n" +
			"until the job ends; the exit status is 1 when it fails or is cancelled.",
		start: (*client.Client).Apply}
	opDestroy = jobCommand{name: "destroy", short: "remove a service's infrastructure (keeps its configuration)",
		long: "Remove the service's infrastructure. Its configuration stays: apply recreates it, delete removes it.\n" +
			"On a terminal it asks you to type the service's name first, unless --yes.",
		start: (*client.Client).Destroy, confirm: "destroys the infrastructure of"}
	opAccept = jobCommand{name: "accept", short: "accept drift: record the real infrastructure as the service's state",
		long: "Accept the service's drift: a refresh-only apply records the infrastructure as it is now\n" +
			"as the service's state, instead of undoing the changes (see remediate).",
		start: (*client.Client).Accept}
	opRemediate = jobCommand{name: "remediate", short: "undo drift: apply the service's configuration again",
		long:  "Undo the service's drift with an apply of its configuration, recorded as a remediation.",
		start: (*client.Client).Remediate}
)

func (app *cliApp) operationCmd(op jobCommand) *cobra.Command {
	var noFollow, yes, detailed bool
	cmd := &cobra.Command{
		Use:   op.name + " <service> [--no-follow] [-o json]",
		Short: op.short,
		Long: op.long + "\n\nIt waits for the job and shows its progress; with -o json it prints each event as one\n" +
			"JSON line, then the finished job.",
		Args:              cliArgs(1, 1),
		ValidArgsFunction: app.completeServices,
		RunE: func(cmd *cobra.Command, args []string) error {
			if detailed && noFollow {
				return usageError{"--detailed-exitcode needs the job's end: it cannot go with --no-follow"}
			}
			ctx := cmd.Context()
			s, err := app.session(ctx)
			if err != nil {
				return err
			}
			svc := args[0]
			if op.confirm != "" {
				if err := s.confirmService(ctx, svc, op.confirm, yes); err != nil {
					return err
				}
			}
			job, err := op.start(s.c, ctx, svc)
			if err != nil {
				return s.explain(err, nil)
			}
			final, err := s.watch(ctx, svc, job, !noFollow)
			if err != nil {
				return err
			}
			if detailed && final.Plan != nil && final.Plan.HasChanges {
				return exitStatus(exitChanges)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&noFollow, "no-follow", false, "start the job and return at once (follow it later with logs -f)")
	if op.confirm != "" {
		f.BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation on a terminal")
	}
	if op.detailed {
		f.BoolVar(&detailed, "detailed-exitcode", false, "exit 2 when the plan has changes, 1 on an error, 0 otherwise")
	}
	return cmd
}

// watch follows a job the command started (or just reports it with follow false),
// prints how it ended and returns the finished job, or a *cliJobError unless it
// succeeded. Without follow it returns the job as started.
func (s *cliSession) watch(ctx context.Context, svc string, job *apiv1.Job, follow bool) (*apiv1.Job, error) {
	if !follow {
		if s.json {
			return job, s.printJSON(job)
		}
		s.printf("%s job %s started on service %s (%s).\nFollow it with: spawnit logs %s %s -f\n",
			opTitle(job.Operation), job.ID, svc, job.State, svc, job.ID)
		return job, nil
	}
	if !s.json {
		s.printf("%s %s (job %s)…\n", gerund(job.Operation), svc, job.ID)
		if job.State == spawnit.StateQueued {
			s.queueLine(ctx, svc, job)
		}
	}
	final, err := s.follow(ctx, svc, job.ID, s.progress(false))
	if err != nil {
		return nil, err
	}
	if s.json {
		if err := s.printJSONLine(final); err != nil {
			return nil, err
		}
	} else {
		s.report(final)
	}
	if final.State != spawnit.StateSucceeded {
		return nil, &cliJobError{job: final, svc: svc}
	}
	return final, nil
}

// queueLine says what a queued job waits for: the service's jobs ahead of it. Jobs of
// one service run one at a time; a job with none ahead waits for a free slot, briefly.
func (s *cliSession) queueLine(ctx context.Context, svc string, job *apiv1.Job) {
	jobs, err := s.c.Jobs(ctx, svc)
	if err != nil {
		return // only a courtesy: following goes on without it
	}
	var ahead []string
	for _, j := range jobs {
		if j.ID == job.ID || j.State.Final() || !j.CreatedAt.Before(job.CreatedAt) {
			continue
		}
		ahead = append(ahead, fmt.Sprintf("%s job %s (%s)", j.Operation, j.ID, j.State))
	}
	if len(ahead) > 0 {
		slices.Reverse(ahead) // oldest first: the order they run in
		s.printf("Queued: waiting for %s to end.\n", strings.Join(ahead, ", then "))
	}
}

// follow prints a job's events until it ends (as JSON lines under -o json) and returns
// the finished job.
func (s *cliSession) follow(ctx context.Context, svc, jobID string, p *jobProgress) (*apiv1.Job, error) {
	if !s.json && s.env.heartbeat > 0 {
		stop := s.heartbeat(p)
		defer stop()
	}
	for ev, err := range s.c.FollowJob(ctx, svc, jobID, 0) {
		if err != nil {
			if ctx.Err() != nil {
				fmt.Fprintf(s.env.stderr, "\nStopped following. Job %s goes on on the server:\n"+
					"  spawnit logs %s %s -f    to follow it again\n  spawnit cancel %s %s     to stop it\n",
					jobID, svc, jobID, svc, jobID)
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("%w\nThe job goes on on the server; follow it again with: spawnit logs %s %s -f",
				s.explain(err, nil), svc, jobID)
		}
		if s.json {
			if err := s.printJSONLine(ev); err != nil {
				return nil, err
			}
			continue
		}
		p.event(ev)
	}
	final, err := s.c.Job(ctx, svc, jobID, false)
	if err != nil {
		return nil, s.explain(err, nil)
	}
	return final, nil
}

// heartbeat prints the time since following began whenever the job has been silent for
// a while, so a person at a terminal sees it is alive. The progress writes through a
// lock shared with it. It returns the function that stops it.
func (s *cliSession) heartbeat(p *jobProgress) (stop func()) {
	lw := &heartbeatWriter{w: p.w, last: time.Now()}
	p.w = lw
	start := lw.last
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(s.env.heartbeat)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case now := <-t.C:
				lw.mu.Lock()
				if now.Sub(lw.last) >= s.env.heartbeat {
					fmt.Fprintf(lw.w, "Still running… %s elapsed\n", cliSeconds(now.Sub(start).Round(time.Second)))
					lw.last = now
				}
				lw.mu.Unlock()
			}
		}
	}()
	return func() { close(done); <-finished; p.w = lw.w }
}

// heartbeatWriter is the progress's writer while a heartbeat runs: writes are
// serialised and remembered.
type heartbeatWriter struct {
	mu   sync.Mutex
	w    io.Writer
	last time.Time
}

func (h *heartbeatWriter) Write(b []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.last = time.Now()
	return h.w.Write(b)
}

func gerund(op spawnit.Operation) string {
	switch op {
	case spawnit.OpPlan:
		return "Planning"
	case spawnit.OpApply:
		return "Applying"
	case spawnit.OpDestroy:
		return "Destroying"
	case spawnit.OpDrift:
		return "Checking drift of"
	case spawnit.OpAccept:
		return "Accepting the drift of"
	}
	return "Running a job on"
}

// report prints how a finished job ended: its state, then what it produced.
func (s *cliSession) report(job *apiv1.Job) {
	s.printf("%s\n", jobFinalLine(job))
	if job.State != spawnit.StateSucceeded {
		if c := job.Changes; c != nil && c.Failed+c.NotReached > 0 {
			s.printf("%s\n", changeSummaryLine(c)) // what happened before it stopped
		}
		return
	}
	if job.Operation == spawnit.OpPlan && job.Plan != nil && !job.Plan.HasChanges {
		s.printf("No changes: the infrastructure matches the configuration.\n")
	}
	if len(job.Outputs) > 0 {
		s.printf("\nOutputs:\n")
		writeJobOutputs(s.env.stdout, job.Outputs, "  ")
	}
	if job.Drift != nil {
		s.printf("\n")
		s.driftReport(job.Drift)
	}
}

func (app *cliApp) logsCmd() *cobra.Command {
	var follow bool
	cmd := &cobra.Command{
		Use:   "logs <service> [job] [-f] [-o json]",
		Short: "show or follow a job's events",
		Long: "Show a job's events (the service's latest job when none is named). With -f, wait for new\n" +
			"ones until the job ends; the exit status is then 1 when it failed or was cancelled.",
		Args:              cliArgs(1, 2),
		ValidArgsFunction: app.completeServiceThenJob,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			s, err := app.session(ctx)
			if err != nil {
				return err
			}
			svc := args[0]
			var jobID string
			if len(args) == 2 {
				jobID = args[1]
			} else {
				jobs, err := s.c.Jobs(ctx, svc)
				if err != nil {
					return s.explain(err, nil)
				}
				if len(jobs) == 0 {
					return fmt.Errorf("service %s has no jobs yet", svc)
				}
				jobID = jobs[0].ID
			}
			p := s.progress(true)
			if follow {
				final, err := s.follow(ctx, svc, jobID, p)
				if err != nil {
					return err
				}
				if !s.json {
					s.printf("%s\n", jobFinalLine(final))
				}
				if final.State != spawnit.StateSucceeded {
					return &cliJobError{job: final, svc: svc}
				}
				return nil
			}
			events, err := s.c.JobEvents(ctx, svc, jobID, 0)
			if err != nil {
				return s.explain(err, nil)
			}
			for _, ev := range events {
				if s.json {
					if err := s.printJSONLine(ev); err != nil {
						return err
					}
					continue
				}
				p.event(ev)
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "follow the job until it ends")
	return cmd
}

func (app *cliApp) cancelCmd() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "cancel <service> <job> [--force]",
		Short: "cancel a running or queued job",
		Long: "Cancel a job. A running job is asked to stop gracefully (tofu saves its state); --force,\n" +
			"allowed a few seconds after a first cancel, kills it. A queued job is just dropped.",
		Args:              cliArgs(2, 2),
		ValidArgsFunction: app.completeServiceThenJob,
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, jobID := args[0], args[1]
			hints := map[string]string{
				apiv1.CodeCoolOff: fmt.Sprintf("Cancel without --force first; if tofu has not stopped a few seconds later, run: spawnit cancel %s %s --force", svc, jobID),
			}
			return callAndPrint(app, cmd, hints, func(ctx context.Context, c *client.Client) (*apiv1.Job, error) {
				return c.Cancel(ctx, svc, jobID, force)
			}, func(s *cliSession, job *apiv1.Job) error {
				switch {
				case job.State == spawnit.StateCancelled:
					s.printf("Job %s (%s) is cancelled.\n", job.ID, job.Operation)
				case force:
					s.printf("Job %s (%s) is being killed (%s).\n", job.ID, job.Operation, job.State)
				default:
					s.printf("Job %s (%s) was asked to stop (%s).\nIf it does not stop, force it: spawnit cancel %s %s --force\n",
						job.ID, job.Operation, job.State, svc, job.ID)
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "kill tofu instead of asking it to stop")
	return cmd
}

func (app *cliApp) jobsCmd() *cobra.Command {
	cmd := groupCmd(&cobra.Command{
		Use:     "jobs",
		Aliases: []string{"job"},
		Short:   "list a service's jobs or show one",
	})
	var reveal bool
	show := &cobra.Command{
		Use:               "show <service> <job> [--reveal]",
		Short:             "show a job: its state, changes, outputs or drift report",
		Args:              cliArgs(2, 2),
		ValidArgsFunction: app.completeServiceThenJob,
		RunE: func(cmd *cobra.Command, args []string) error {
			return callAndPrint(app, cmd, nil, func(ctx context.Context, c *client.Client) (*apiv1.Job, error) {
				return c.Job(ctx, args[0], args[1], reveal)
			}, func(s *cliSession, job *apiv1.Job) error {
				loc := s.env.location()
				s.printf("Job %s: %s of service %s\n", job.ID, job.Operation, job.Service.Service)
				s.printf("  State:    %s\n", job.State)
				s.printf("  Created:  %s\n", job.CreatedAt.In(loc).Format("2006-01-02 15:04:05 MST"))
				if job.Background {
					s.printf("  Started by SpawnIt's supervisor.\n")
				}
				if job.Changes != nil {
					s.printf("  Changes:  %d added, %d changed, %d destroyed\n", job.Changes.Add, job.Changes.Change, job.Changes.Remove)
				}
				if job.Error != "" {
					s.printf("  Error:    %s\n", cliCleanLines(job.Error))
				}
				s.printf("\n")
				s.report(job)
				return nil
			})
		},
	}
	show.Flags().BoolVar(&reveal, "reveal", false, "include sensitive output values (the server records it)")
	cmd.AddCommand(&cobra.Command{
		Use:               "list <service>",
		Short:             "list a service's jobs, newest first",
		Args:              cliArgs(1, 1),
		ValidArgsFunction: app.completeServices,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			s, err := app.session(ctx)
			if err != nil {
				return err
			}
			jobs, err := s.c.Jobs(ctx, args[0])
			if err != nil {
				return s.explain(err, nil)
			}
			if s.json {
				return s.printJSON(apiv1.JobList{Jobs: jobs})
			}
			if len(jobs) == 0 {
				s.printf("Service %s has no jobs yet.\n", args[0])
				return nil
			}
			rows := make([][]string, len(jobs))
			for i, j := range jobs {
				took := ""
				if j.StartedAt != nil && j.State.Final() {
					took = cliSeconds(j.Duration())
				}
				rows[i] = []string{j.ID, string(j.Operation), string(j.State),
					j.CreatedAt.In(s.env.location()).Format("2006-01-02 15:04:05"), took, truncate.String(cliClean(j.Error), 60)}
			}
			return s.table([]string{"JOB", "OPERATION", "STATE", "CREATED", "TOOK", "ERROR"}, rows)
		},
	}, show)
	return cmd
}
