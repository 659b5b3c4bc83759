package main

// Human rendering of jobs and their events: what apply, plan, destroy, drift --check and
// logs print in text mode.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spawnit/spawnit"
	"github.com/spawnit/spawnit/pkg/apiv1"
)

// progress prints a job's events as they arrive.
type jobProgress struct {
	w io.Writer
	// verbose prints every event with its time (logs); otherwise only what a person
	// watching an operation wants: resources, the change summary, problems. Tofu's
	// resource_drift events are left to logs: they include attribute noise, and the
	// drift report says what really drifted.
	verbose bool
	loc     *time.Location
	// starts remembers when each resource operation began, for an elapsed time when
	// tofu's hook does not give one.
	starts map[string]time.Time
}

func (s *cliSession) progress(verbose bool) *jobProgress {
	return &jobProgress{w: s.env.stdout, verbose: verbose, loc: s.env.location(), starts: map[string]time.Time{}}
}

func (p *jobProgress) event(ev apiv1.Event) {
	if p.verbose {
		p.logLine(ev)
		return
	}
	if line := p.text(ev); line != "" {
		fmt.Fprintln(p.w, line)
	}
}

// text is the progress line of an event, "" for the events progress leaves out.
func (p *jobProgress) text(ev apiv1.Event) string {
	res := ev.Resource
	switch ev.Type {
	case spawnit.EventApplyStart:
		if res == nil {
			return ""
		}
		p.starts[res.Address] = ev.Time
		return fmt.Sprintf("%s: %s…", cliClean(res.Address), hookVerb(res.Action))
	case spawnit.EventApplyProgress:
		if res == nil {
			return ""
		}
		return fmt.Sprintf("%s: still %s… (%s)", cliClean(res.Address), hookVerb(res.Action), p.elapsed(ev))
	case spawnit.EventApplyComplete, spawnit.EventApplyErrored:
		if res == nil {
			return ""
		}
		outcome := "done"
		if ev.Type == spawnit.EventApplyErrored {
			outcome = "failed"
		}
		line := fmt.Sprintf("%s: %s… %s (%s)", cliClean(res.Address), hookVerb(res.Action), outcome, p.elapsed(ev))
		delete(p.starts, res.Address)
		return line
	case spawnit.EventPlannedChange:
		if res == nil || res.Action == "" || res.Action == "noop" || res.Action == "no-op" {
			return ""
		}
		return fmt.Sprintf("%s: %s", cliClean(res.Address), plannedText(res.Action))
	case spawnit.EventChangeSummary:
		if ev.Summary == nil {
			return ""
		}
		return changeSummaryLine(ev.Summary)
	case spawnit.EventDiagnostic:
		if ev.Diagnostic != nil && ev.Diagnostic.Severity != "error" {
			// Warnings repeat on every run (tofu's lock file notice, say): their
			// summary is enough here, logs has the details.
			return "Warning: " + cliCleanLines(ev.Diagnostic.Summary)
		}
		return cliDiagnostic(ev)
	case spawnit.EventLog:
		switch ev.Level {
		case "error":
			return "Error: " + cliCleanLines(ev.Message)
		case "warn":
			return "Warning: " + cliCleanLines(ev.Message)
		}
	case spawnit.EventJobState:
		if ev.State == spawnit.StateCancelling {
			return "Cancelling: tofu was asked to stop and save its state…"
		}
	case spawnit.EventStreamTruncate:
		return cliClean(ev.Message)
	case spawnit.EventLeftovers:
		return "Warning: " + cliCleanLines(ev.Message)
	}
	return ""
}

// logLine prints any event, prefixed with its time: tofu's own message when it has
// one, else the progress text or the event's type.
func (p *jobProgress) logLine(ev apiv1.Event) {
	stamp := "--:--:--"
	if !ev.Time.IsZero() {
		stamp = ev.Time.In(p.loc).Format("15:04:05")
	}
	var text string
	switch {
	case ev.Type == spawnit.EventDiagnostic:
		text = cliDiagnostic(ev)
	case ev.Message != "":
		text = cliCleanLines(ev.Message)
	default:
		text = p.text(ev)
	}
	if text == "" {
		text = string(ev.Type)
		if ev.State != "" {
			text += " " + string(ev.State)
		}
	}
	text = strings.ReplaceAll(strings.TrimRight(text, " \n"), "\n", "\n         ")
	fmt.Fprintf(p.w, "%s %s\n", stamp, text)
	if ev.Type == spawnit.EventOutputs && len(ev.Outputs) > 0 {
		writeJobOutputs(p.w, ev.Outputs, "         ")
	}
}

func (p *jobProgress) elapsed(ev apiv1.Event) string {
	if ev.Resource.Elapsed > 0 {
		return cliSeconds(time.Duration(ev.Resource.Elapsed * float64(time.Second)))
	}
	if start, ok := p.starts[ev.Resource.Address]; ok && !start.IsZero() && !ev.Time.IsZero() {
		return cliSeconds(ev.Time.Sub(start))
	}
	return "?"
}

// seconds formats a duration the way a person reads a progress line: 0.4s, 12.3s, 2m5s.
func cliSeconds(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return d.Round(time.Second).String()
}

func hookVerb(action string) string {
	switch action {
	case "create":
		return "creating"
	case "update":
		return "updating"
	case "delete":
		return "destroying"
	case "replace":
		return "replacing"
	case "read":
		return "reading"
	}
	return "working"
}

func plannedText(action string) string {
	switch action {
	case "create":
		return "will be created"
	case "update":
		return "will be updated in place"
	case "delete":
		return "will be destroyed"
	case "replace":
		return "will be replaced"
	case "read":
		return "will be read"
	}
	return "will change (" + cliClean(action) + ")"
}

func changeSummaryLine(s *apiv1.ChangeSummary) string {
	imports := ""
	if s.Import > 0 {
		imports = fmt.Sprintf("%d to import, ", s.Import)
	}
	switch s.Operation {
	case "plan":
		return fmt.Sprintf("Plan: %s%d to add, %d to change, %d to destroy.", imports, s.Add, s.Change, s.Remove)
	case "destroy":
		if s.Failed+s.NotReached > 0 {
			return fmt.Sprintf("Destroy stopped: %d destroyed, %d failed, %d not reached.", s.Remove, s.Failed, s.NotReached)
		}
		return fmt.Sprintf("Destroy complete: %d destroyed.", s.Remove)
	}
	if s.Failed+s.NotReached > 0 {
		return fmt.Sprintf("Apply stopped: %d added, %d changed, %d destroyed, %d failed, %d not reached.", s.Add, s.Change, s.Remove, s.Failed, s.NotReached)
	}
	return fmt.Sprintf("Apply complete: %d added, %d changed, %d destroyed.", s.Add, s.Change, s.Remove)
}

func cliDiagnostic(ev apiv1.Event) string {
	d := ev.Diagnostic
	if d == nil {
		return cliCleanLines(ev.Message)
	}
	label := "Warning"
	if d.Severity == "error" {
		label = "Error"
	}
	text := label + ": " + cliCleanLines(d.Summary)
	if d.Address != "" {
		text += " (" + cliClean(d.Address) + ")"
	}
	if d.Detail != "" {
		text += "\n  " + strings.ReplaceAll(cliCleanLines(strings.TrimSpace(d.Detail)), "\n", "\n  ")
	}
	return text
}

// cliCleanLines is cliClean for text whose line breaks are meaningful.
func cliCleanLines(s string) string {
	lines := strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	for i, l := range lines {
		lines[i] = cliClean(l)
	}
	return strings.Join(lines, "\n")
}

// writeJobOutputs lists outputs by name; sensitive values show as "(sensitive)".
func writeJobOutputs(w io.Writer, outs map[string]apiv1.Output, indent string) {
	names := make([]string, 0, len(outs))
	for n := range outs {
		names = append(names, n)
	}
	slices.Sort(names)
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	for _, n := range names {
		fmt.Fprintf(tw, "%s%s\t= %s\n", indent, cliClean(n), jobOutputValue(outs[n]))
	}
	_ = tw.Flush()
}

func jobOutputValue(o apiv1.Output) string {
	if len(o.Value) == 0 {
		if o.Sensitive {
			return "(sensitive)" // unless revealed
		}
		return "(known after apply)"
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, o.Value); err != nil {
		return cliClean(string(o.Value))
	}
	return cliClean(buf.String())
}

// opTitle names a job's operation at the start of a sentence.
func opTitle(op spawnit.Operation) string {
	switch op {
	case spawnit.OpPlan:
		return "Plan"
	case spawnit.OpApply:
		return "Apply"
	case spawnit.OpDestroy:
		return "Destroy"
	case spawnit.OpDrift:
		return "Drift check"
	}
	return "Job"
}

// jobFinalLine says how a finished job ended, with the time it waited in the queue
// when that was noticeable.
func jobFinalLine(job *apiv1.Job) string {
	title, took := opTitle(job.Operation), cliSeconds(job.Duration())
	queued := ""
	if job.StartedAt != nil && job.StartedAt.Sub(job.CreatedAt) >= time.Second {
		queued = fmt.Sprintf(", after %s in the queue", cliSeconds(job.StartedAt.Sub(job.CreatedAt)))
	}
	switch job.State {
	case spawnit.StateSucceeded:
		return fmt.Sprintf("%s succeeded in %s%s.", title, took, queued)
	case spawnit.StateFailed:
		return fmt.Sprintf("%s failed after %s%s.", title, took, queued)
	case spawnit.StateCancelled:
		return fmt.Sprintf("%s was cancelled after %s%s.", title, took, queued)
	case spawnit.StateInterrupted:
		return fmt.Sprintf("%s was interrupted: the server stopped while it ran.", title)
	}
	return fmt.Sprintf("%s is %s.", title, job.State)
}

// cliJobError is a job that did not succeed; the command exits 1 with it.
type cliJobError struct {
	job *apiv1.Job
	svc string
}

func (e *cliJobError) Error() string {
	j := e.job
	what := fmt.Sprintf("%s job %s on service %s", strings.ToLower(opTitle(j.Operation)), j.ID, e.svc)
	switch j.State {
	case spawnit.StateFailed:
		if j.Error != "" {
			return fmt.Sprintf("%s failed: %s", what, cliCleanLines(j.Error))
		}
		return what + " failed"
	case spawnit.StateCancelled:
		return what + " was cancelled"
	case spawnit.StateInterrupted:
		return what + " was interrupted"
	}
	return fmt.Sprintf("%s ended %s", what, j.State)
}
