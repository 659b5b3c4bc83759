package catalog

import (
	"slices"

	"github.com/spawnit/spawnit/pkg/redact"
)

// Masked replaces sensitive values in listings and logs (it is redact.Mask, the one mask
// token). ValidateUpdate treats it as "keep the current value", so a form round-tripped
// through a listing is harmless.
const Masked = redact.Mask

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
// redact.Redactor must hide when it appears anywhere in text (tofu output, error messages).
func SecretValues(values map[string]any, sensitive []string) []string {
	var out []string
	for _, k := range sensitive {
		if s, ok := values[k].(string); ok && s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
