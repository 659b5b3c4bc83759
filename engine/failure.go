package engine

import (
	"fmt"
	"regexp"
	"strings"
)

// What a failed apply or destroy did and why, told from tofu's -json stream (planned
// changes, apply hooks, error diagnostics) rather than from its human-readable text.

// outcome counts what an apply or destroy did: by address, the planned action, and
// whether its change completed or errored.
type outcome struct {
	order   []string          // planned addresses, in plan order
	planned map[string]string // address -> planned action
	done    map[string]bool
	failed  map[string]bool
	errored []ResourceEvent // apply_errored hooks, in order
	diags   []Diagnostic    // error diagnostics, in order
}

func (o *outcome) add(ev Event) {
	if o.planned == nil {
		o.planned, o.done, o.failed = map[string]string{}, map[string]bool{}, map[string]bool{}
	}
	switch {
	case ev.Type == EventPlannedChange && ev.Resource != nil:
		if _, seen := o.planned[ev.Resource.Address]; !seen {
			o.order = append(o.order, ev.Resource.Address)
		}
		o.planned[ev.Resource.Address] = ev.Resource.Action
	case ev.Type == EventApplyComplete && ev.Resource != nil:
		o.done[ev.Resource.Address] = true
	case ev.Type == EventApplyErrored && ev.Resource != nil:
		o.failed[ev.Resource.Address] = true
		o.errored = append(o.errored, *ev.Resource)
	case ev.Type == EventDiagnostic && ev.Diagnostic != nil && ev.Diagnostic.Severity == "error":
		o.diags = append(o.diags, *ev.Diagnostic)
	}
}

// summary counts what happened: changes completed (a replacement counts as one added
// and one removed, as tofu counts it), changes that failed, and planned changes never
// reached because tofu stopped first. Nil when nothing was planned.
func (o *outcome) summary(op string) *ChangeSummary {
	if len(o.order) == 0 {
		return nil
	}
	s := &ChangeSummary{Operation: op}
	for _, addr := range o.order {
		action := o.planned[addr]
		switch {
		case action == "read" || action == "no-op" || action == "noop" || action == "":
		case o.failed[addr]:
			s.Failed++
		case !o.done[addr]:
			s.NotReached++
		case action == "create":
			s.Add++
		case action == "update":
			s.Change++
		case action == "delete":
			s.Remove++
		case action == "replace":
			s.Add++
			s.Remove++
		}
	}
	return s
}

// cause is the one plain sentence that leads a failed job's error: what failed, in
// words for the person who filled a form; tofu's own message follows it.
func (o *outcome) cause() string {
	for _, r := range o.errored {
		d := o.diagnosticOf(r.Address)
		switch r.Type {
		case "docker_image":
			if img := pulledImage(d.Summary + " " + d.Detail); img != "" {
				return fmt.Sprintf("The image %s could not be downloaded from any registry.", img)
			}
			return fmt.Sprintf("The image of %s could not be downloaded.", r.Address)
		case "docker_container":
			return fmt.Sprintf("The container %s could not be %s.", r.Address, participle(r.Action, "started"))
		}
		return fmt.Sprintf("%s could not be %s.", r.Address, participle(r.Action, "changed"))
	}
	if len(o.diags) > 0 {
		d := o.diags[0]
		if d.Address != "" {
			return fmt.Sprintf("%s failed: %s.", d.Address, strings.TrimRight(d.Summary, ". "))
		}
		return fmt.Sprintf("OpenTofu stopped: %s.", strings.TrimRight(d.Summary, ". "))
	}
	return ""
}

// diagnosticOf is the first error diagnostic about addr (or the first without an
// address, else none).
func (o *outcome) diagnosticOf(addr string) Diagnostic {
	var any *Diagnostic
	for i, d := range o.diags {
		if d.Address == addr {
			return d
		}
		if d.Address == "" && any == nil {
			any = &o.diags[i]
		}
	}
	if any != nil {
		return *any
	}
	return Diagnostic{}
}

func participle(action, create string) string {
	switch action {
	case "create":
		return create
	case "update":
		return "changed"
	case "delete":
		return "removed"
	case "replace":
		return "replaced"
	case "read":
		return "read"
	}
	return "changed"
}

// pullImageText finds the image in the Docker provider's pull errors ("unable to pull
// image postgres:17-alpine: ..."). The provider's diagnostics carry the image only in
// their text, so this is the one pattern over tofu's words, kept here with its
// fixtures (testdata/stream/apply-image-pull-failed.jsonl, failure_test.go).
var pullImageText = regexp.MustCompile(`(?i)\bpull(?:ing)? image (\S+?):?(?:\s|$)`)

// pulledImage is the image a pull error names, or "".
func pulledImage(text string) string {
	m := pullImageText.FindStringSubmatch(text)
	if m == nil {
		return ""
	}
	return strings.Trim(m[1], `"'`)
}
