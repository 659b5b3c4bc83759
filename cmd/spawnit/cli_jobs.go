package main

// plan, apply, destroy, logs and cancel: commands that start, watch or stop jobs.

import (
	"context"
	"fmt"

	"github.com/spawnit/spawnit"
	"github.com/spawnit/spawnit/pkg/apiv1"
)

func runPlan(ctx context.Context, env *cliEnv, args []string) error {
	return runOperation(ctx, env, args, spawnit.OpPlan,
		"Compute what applying the service's configuration would change, without changing anything.")
}

func runApply(ctx context.Context, env *cliEnv, args []string) error {
	return runOperation(ctx, env, args, spawnit.OpApply,
		"Create or update the service's infrastructure to match its configuration, showing progress\n"+
			"until the job ends; the exit status is 1 when it fails or is cancelled.")
}

func runDestroy(ctx context.Context, env *cliEnv, args []string) error {
	return runOperation(ctx, env, args, spawnit.OpDestroy,
		"Remove the service's infrastructure. Its configuration stays: apply recreates it, delete removes it.")
}

func runOperation(ctx context.Context, env *cliEnv, args []string, op spawnit.Operation, about string) error {
	fs, g := env.flagSet(string(op)+" <service> [--no-follow] [-o json]", about+
		"\n\nWith -o json it prints each event as one JSON line, then the finished job.")
	noFollow := fs.Bool("no-follow", false, "start the job and return at once (follow it later with logs -f)")
	pos, err := parseCLI(fs, g, args, 1, 1)
	if err != nil {
		return err
	}
	s, err := env.session(g)
	if err != nil {
		return err
	}
	svc := pos[0]
	var job *apiv1.Job
	switch op {
	case spawnit.OpPlan:
		job, err = s.c.Plan(ctx, svc)
	case spawnit.OpApply:
		job, err = s.c.Apply(ctx, svc)
	case spawnit.OpDestroy:
		job, err = s.c.Destroy(ctx, svc)
	}
	if err != nil {
		return s.explain(err, nil)
	}
	return s.watch(ctx, svc, job, !*noFollow)
}

// watch follows a job the command started (or just reports it with follow false),
// prints how it ended and returns a *cliJobError unless it succeeded.
func (s *cliSession) watch(ctx context.Context, svc string, job *apiv1.Job, follow bool) error {
	if !follow {
		if s.json {
			return s.printJSON(job)
		}
		s.printf("%s job %s started on service %s (%s).\nFollow it with: spawnit logs %s %s -f\n",
			opTitle(job.Operation), job.ID, svc, job.State, svc, job.ID)
		return nil
	}
	if !s.json {
		s.printf("%s %s (job %s)…\n", gerund(job.Operation), svc, job.ID)
	}
	final, err := s.follow(ctx, svc, job.ID, s.progress(false))
	if err != nil {
		return err
	}
	if s.json {
		if err := s.printJSONLine(final); err != nil {
			return err
		}
	} else {
		s.report(final)
	}
	if final.State != spawnit.StateSucceeded {
		return &cliJobError{job: final, svc: svc}
	}
	return nil
}

// follow prints a job's events until it ends (as JSON lines under -o json) and returns
// the finished job.
func (s *cliSession) follow(ctx context.Context, svc, jobID string, p *jobProgress) (*apiv1.Job, error) {
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
	}
	return "Running a job on"
}

// report prints how a finished job ended: its state, then what it produced.
func (s *cliSession) report(job *apiv1.Job) {
	s.printf("%s\n", jobFinalLine(job))
	if job.State != spawnit.StateSucceeded {
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

func runLogs(ctx context.Context, env *cliEnv, args []string) error {
	fs, g := env.flagSet("logs <service> [job] [-f] [-o json]",
		"Show a job's events (the service's latest job when none is named). With -f, wait for new\n"+
			"ones until the job ends; the exit status is then 1 when it failed or was cancelled.")
	follow := fs.Bool("f", false, "follow the job until it ends")
	pos, err := parseCLI(fs, g, args, 1, 2)
	if err != nil {
		return err
	}
	s, err := env.session(g)
	if err != nil {
		return err
	}
	svc := pos[0]
	var jobID string
	if len(pos) == 2 {
		jobID = pos[1]
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
	if *follow {
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
}

func runCancel(ctx context.Context, env *cliEnv, args []string) error {
	fs, g := env.flagSet("cancel <service> <job> [--force]",
		"Cancel a job. A running job is asked to stop gracefully (tofu saves its state); --force,\n"+
			"allowed a few seconds after a first cancel, kills it. A queued job is just dropped.")
	force := fs.Bool("force", false, "kill tofu instead of asking it to stop")
	pos, err := parseCLI(fs, g, args, 2, 2)
	if err != nil {
		return err
	}
	s, err := env.session(g)
	if err != nil {
		return err
	}
	svc, jobID := pos[0], pos[1]
	job, err := s.c.Cancel(ctx, svc, jobID, *force)
	if err != nil {
		return s.explain(err, map[string]string{
			apiv1.CodeCoolOff: fmt.Sprintf("Cancel without --force first; if tofu has not stopped a few seconds later, run: spawnit cancel %s %s --force", svc, jobID),
		})
	}
	if s.json {
		return s.printJSON(job)
	}
	switch {
	case job.State == spawnit.StateCancelled:
		s.printf("Job %s (%s) is cancelled.\n", job.ID, job.Operation)
	case *force:
		s.printf("Job %s (%s) is being killed (%s).\n", job.ID, job.Operation, job.State)
	default:
		s.printf("Job %s (%s) was asked to stop (%s).\nIf it does not stop, force it: spawnit cancel %s %s --force\n",
			job.ID, job.Operation, job.State, svc, job.ID)
	}
	return nil
}
