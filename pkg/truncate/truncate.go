// Package truncate shortens text for messages, logs and tables without ever cutting a
// UTF-8 sequence in two. It imports only the standard library, so every package of the
// module (pkg/client and engine included) may use it.
package truncate

import "unicode/utf8"

// Ellipsis ends a string that String shortened.
const Ellipsis = "…"

// String returns s when it has at most n runes, and otherwise its first n-1 runes
// followed by Ellipsis: the result never has more than n runes and never ends in part
// of a rune. Bytes that are not valid UTF-8 count as one rune each and are kept as they
// are. n <= 0 gives "".
//
// Limits count runes, not bytes, so a table column or a quoted value is as long in
// Cyrillic or Japanese as in English; a result is still at most 4n bytes.
func String(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if len(s) <= n {
		return s // at most n bytes is at most n runes
	}
	cut, runes := 0, 0 // cut: byte offset after n-1 runes
	for i := 0; i < len(s); runes++ {
		if runes == n-1 {
			cut = i
		}
		if runes == n {
			return s[:cut] + Ellipsis
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return s
}
