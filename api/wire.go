package api

import (
	"github.com/spawnit/spawnit/catalog"
	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/pkg/apiv1"
	"github.com/spawnit/spawnit/pkg/platform"
)

// The one place where the engine's records and the catalog's templates become the API's
// own types (package apiv1), so the stored record and the wire can change apart. Each
// converter keeps nil slices nil: a field without omitempty reads null, as before.

func wireTemplate(t catalog.Template) apiv1.Template {
	return apiv1.Template{
		ID: t.ID, Name: t.Name, Description: t.Description, Category: t.Category,
		Icon: t.Icon, Version: t.Version, ReleaseNotes: t.ReleaseNotes, AcceptDrift: t.AcceptDrift, Targets: t.Targets, Providers: t.Targets,
		Inputs: convert(t.Inputs, func(f catalog.Field) apiv1.Input {
			in := apiv1.Input{
				Name: f.Name, Label: f.Label, Help: f.Help, Type: apiv1.InputType(f.Type),
				Required: f.Required, Default: f.Default, Pattern: f.Pattern,
				Min: f.Min, Max: f.Max, Enum: f.Enum, Sensitive: f.Sensitive,
			}
			if f.Generate != nil {
				in.Generate = &apiv1.Generate{Length: f.Generate.Length}
			}
			return in
		}),
		Readiness: convert(t.Readiness, func(c catalog.ReadinessCheck) apiv1.ReadinessCheck {
			return apiv1.ReadinessCheck{Type: string(c.Type), Output: c.Output, Path: c.Path, Status: c.Status, Timeout: c.Timeout}
		}),
	}
}

func wireJob(i engine.JobInfo) apiv1.Job {
	j := apiv1.Job{
		ID: i.ID, Operation: i.Operation, Service: i.Service, State: i.State,
		CreatedAt: i.CreatedAt, StartedAt: i.StartedAt, EndedAt: i.EndedAt,
		CancelRequestedAt: i.CancelRequestedAt, Error: i.Error, Background: i.Background,
		Host: i.Host, PID: i.PID, Outputs: wireOutputs(i.Outputs), LastSeq: i.LastSeq,
		Leftovers: platform.WireLeftovers(i.Leftovers),
	}
	if i.Changes != nil {
		c := wireChanges(*i.Changes)
		j.Changes = &c
	}
	if i.Plan != nil {
		j.Plan = &apiv1.PlanSummary{
			HasChanges: i.Plan.HasChanges, Add: i.Plan.Add, Change: i.Plan.Change, Destroy: i.Plan.Destroy,
			Resources: convert(i.Plan.Resources, wirePlanned),
			Drift:     convert(i.Plan.Drift, wirePlanned),
		}
	}
	if i.Drift != nil {
		d := wireDrift(*i.Drift)
		j.Drift = &d
	}
	return j
}

func wirePlanned(r engine.PlannedResource) apiv1.PlannedResource {
	return apiv1.PlannedResource{Address: r.Address, Type: r.Type, Action: r.Action}
}

func wireChanges(c engine.ChangeSummary) apiv1.ChangeSummary {
	return apiv1.ChangeSummary{Add: c.Add, Change: c.Change, Remove: c.Remove, Import: c.Import, Operation: c.Operation,
		Failed: c.Failed, NotReached: c.NotReached}
}

func wireOutputs(in map[string]engine.Output) map[string]apiv1.Output {
	if in == nil {
		return nil
	}
	out := make(map[string]apiv1.Output, len(in))
	for k, o := range in {
		out[k] = apiv1.Output{Sensitive: o.Sensitive, Type: o.Type, Value: o.Value}
	}
	return out
}

func wireEvent(e engine.Event) apiv1.Event {
	ev := apiv1.Event{
		Seq: e.Seq, Time: e.Time, Type: e.Type, Level: e.Level, Message: e.Message,
		State: e.State, Outputs: wireOutputs(e.Outputs), Raw: e.Raw,
		Leftovers: platform.WireLeftovers(e.Leftovers),
	}
	if r := e.Resource; r != nil {
		ev.Resource = &apiv1.ResourceEvent{Address: r.Address, Type: r.Type, Name: r.Name, Action: r.Action,
			Reason: r.Reason, IDKey: r.IDKey, IDValue: r.IDValue, Elapsed: r.Elapsed}
	}
	if e.Summary != nil {
		c := wireChanges(*e.Summary)
		ev.Summary = &c
	}
	if d := e.Diagnostic; d != nil {
		ev.Diagnostic = &apiv1.Diagnostic{Severity: d.Severity, Summary: d.Summary, Detail: d.Detail, Address: d.Address}
	}
	return ev
}

func wireDrift(r engine.DriftReport) apiv1.Drift {
	return apiv1.Drift{
		Status: r.Status, Intent: r.Intent, CheckedAt: r.CheckedAt, Duration: r.Duration, Error: r.Error,
		Resources: convert(r.Resources, func(d engine.ResourceDrift) apiv1.ResourceDrift {
			out := apiv1.ResourceDrift{Address: d.Address, Type: d.Type, Status: d.Status, Paths: d.Paths, Planned: d.Planned}
			if d.Leftover != nil {
				out.Leftover = &platform.WireLeftovers([]engine.Leftover{*d.Leftover})[0]
			}
			return out
		}),
	}
}

// convert maps a slice, keeping nil nil.
func convert[T, U any](in []T, f func(T) U) []U {
	if in == nil {
		return nil
	}
	out := make([]U, len(in))
	for i, v := range in {
		out[i] = f(v)
	}
	return out
}

func wireVersion(v catalog.Version) apiv1.TemplateVersion {
	return apiv1.TemplateVersion{Version: v.Version, ReleaseNotes: v.ReleaseNotes, PublishedAt: v.Published,
		PublishedBy: v.By, Digest: v.Digest, Retired: v.Retired}
}

func wireUpgrade(u platform.Upgrade) apiv1.Upgrade {
	out := apiv1.Upgrade{Tenant: u.Tenant, Service: u.Service, From: u.From, To: u.To, ReleaseNotes: u.ReleaseNotes,
		AddedInputs: u.Added, RemovedInputs: u.Removed}
	if out.AddedInputs == nil {
		out.AddedInputs = []string{}
	}
	if out.RemovedInputs == nil {
		out.RemovedInputs = []string{}
	}
	if u.Job != nil {
		j := wireJob(*u.Job)
		out.Job = &j
	}
	if u.Err != nil {
		e, _ := httpError(u.Err)
		out.Error = &apiv1.ErrorBody{Code: e.Code, Message: e.Message, Fields: e.Fields}
	}
	return out
}
