package catalog

import (
	"slices"
	"sort"
	"strings"
)

// Masked replaces sensitive values in listings and logs. ValidateUpdate treats it as
// "keep the current value", so a form round-tripped through a listing is harmless.
const Masked = "********"

// SensitiveNames lists the template's fields whose values must be masked, in schema
// order.
func (t *Template) SensitiveNames() []string {
	var names []string
	for i := range t.Inputs {
		if t.Inputs[i].IsSensitive() {
			names = append(names, t.Inputs[i].Name)
		}
	}
	return names
}

// MaskValues returns a copy of values with the template's sensitive fields masked.
func (t *Template) MaskValues(values map[string]any) map[string]any {
	return MaskValues(values, t.SensitiveNames())
}

// MaskValues returns a copy of values where every key in sensitive that has a non-empty
// value is replaced by Masked. Empty values stay empty so a listing still shows that no
// value was set.
func MaskValues(values map[string]any, sensitive []string) map[string]any {
	out := make(map[string]any, len(values))
	for k, v := range values {
		if slices.Contains(sensitive, k) && v != nil && v != "" {
			v = Masked
		}
		out[k] = v
	}
	return out
}

// SecretValues returns the non-empty string values of the sensitive keys: what a
// Redactor must hide when it appears anywhere in text (tofu output, error messages).
func SecretValues(values map[string]any, sensitive []string) []string {
	var out []string
	for _, k := range sensitive {
		if s, ok := values[k].(string); ok && s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// Redactor masks secret values wherever they occur in text, for log lines and job
// output that echo a value in a place no field name marks (an error message quoting a
// connection string, for example). The zero value redacts nothing.
type Redactor struct {
	r *strings.Replacer
}

// minRedactLen: shorter values would mask innocent text everywhere ("1" in every
// number) while protecting nothing a guess would not find.
const minRedactLen = 4

// NewRedactor builds a Redactor for the given secret values.
func NewRedactor(secrets []string) *Redactor {
	var vals []string
	for _, s := range secrets {
		if len(s) >= minRedactLen && !slices.Contains(vals, s) {
			vals = append(vals, s)
		}
	}
	if len(vals) == 0 {
		return &Redactor{}
	}
	// Longest first, so a secret that contains another is masked whole.
	sort.Slice(vals, func(i, j int) bool { return len(vals[i]) > len(vals[j]) })
	pairs := make([]string, 0, 2*len(vals))
	for _, s := range vals {
		pairs = append(pairs, s, Masked)
	}
	return &Redactor{r: strings.NewReplacer(pairs...)}
}

// Redact returns text with every secret replaced by Masked.
func (r *Redactor) Redact(text string) string {
	if r == nil || r.r == nil {
		return text
	}
	return r.r.Replace(text)
}
