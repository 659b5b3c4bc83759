// Package redact hides secret values in text before it is shown, logged or stored. It
// has the one mask token of SpawnIt, Mask, which the API, the UI and the CLI show in
// place of a sensitive value. It imports only the standard library, so every package of
// the module (engine included) may use it.
package redact

import (
	"slices"
	"strings"
)

// Mask replaces a secret wherever SpawnIt hides one: sensitive inputs in listings, secret
// values in job events, errors and health messages, credentials in printed configuration.
// Sent back in a service's inputs, it means "keep the current value".
const Mask = "********"

// MinLen is the length under which a value is not masked in text: shorter values would
// mask innocent text everywhere ("1" in every number) while protecting nothing a guess
// would not find.
const MinLen = 4

// Redactor replaces secret values wherever they occur in text: tofu output, error
// messages, an error quoting a connection string. The zero value hides nothing. A
// Redactor is not safe for concurrent use when Add is called; String alone may be called
// concurrently.
type Redactor struct {
	secrets []string // longest first, so a secret that contains another is masked whole
	r       *strings.Replacer
}

// New returns a Redactor for the given secret values.
func New(secrets ...string) *Redactor {
	r := &Redactor{}
	r.Add(secrets...)
	return r
}

// Add hides more values from now on. Values shorter than MinLen, and those already
// known, are ignored.
func (r *Redactor) Add(secrets ...string) {
	added := false
	for _, s := range secrets {
		if len(s) >= MinLen && !slices.Contains(r.secrets, s) {
			r.secrets = append(r.secrets, s)
			added = true
		}
	}
	if !added {
		return
	}
	slices.SortStableFunc(r.secrets, func(a, b string) int { return len(b) - len(a) })
	pairs := make([]string, 0, 2*len(r.secrets))
	for _, s := range r.secrets {
		pairs = append(pairs, s, Mask)
	}
	r.r = strings.NewReplacer(pairs...)
}

// Empty reports whether the Redactor hides nothing.
func (r *Redactor) Empty() bool { return r == nil || r.r == nil }

// String returns text with every secret replaced by Mask. A nil Redactor returns text.
func (r *Redactor) String(text string) string {
	if r.Empty() {
		return text
	}
	return r.r.Replace(text)
}

// Value returns Mask for a non-empty secret and "" otherwise, for configuration that
// prints itself (a String or LogValue method) without its credentials: an empty value
// still shows that none was set.
func Value(secret string) string {
	if secret == "" {
		return ""
	}
	return Mask
}
