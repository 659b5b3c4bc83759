package truncate

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestString(t *testing.T) {
	for _, tc := range []struct {
		s    string
		n    int
		want string
	}{
		{"", 5, ""},
		{"short", 5, "short"},
		{"longer", 5, "long…"},
		{"abc", 1, "…"},
		{"a", 1, "a"},
		{"abc", 0, ""},
		{"abc", -1, ""},
		// Multi-byte runes count once: 2-byte Cyrillic, 3-byte CJK, 4-byte emoji.
		{"привет", 6, "привет"},
		{"привет мир", 6, "приве…"},
		{"日本語のテキスト", 4, "日本語…"},
		{"🙂🙃😀😁", 4, "🙂🙃😀😁"},
		{"🙂🙃😀😁🤔", 4, "🙂🙃😀…"},
		{"a🙂b", 2, "a…"},
		// A combining accent is its own rune: kept or dropped whole.
		{"e\u0301e\u0301e\u0301", 3, "e\u0301…"},
		// Invalid bytes count as one rune each and are not rewritten.
		{"\xff\xfe\xfdabc", 3, "\xff\xfe…"},
	} {
		if got := String(tc.s, tc.n); got != tc.want {
			t.Errorf("String(%q, %d) = %q, want %q", tc.s, tc.n, got, tc.want)
		}
	}
}

func TestStringKeepsASCIIWithinLimit(t *testing.T) {
	s := strings.Repeat("A database. ", 10)
	if got := String(s, 60); got != strings.Repeat("A database. ", 4)+"A database.…" {
		t.Fatalf("got %q", got)
	}
}

func FuzzString(f *testing.F) {
	for _, s := range []string{"", "abc", "привет мир", "日本語のテキスト", "🙂🙃😀😁🤔", "\xff\xfe\xfd", "a\u0301b"} {
		f.Add(s, 3)
	}
	f.Fuzz(func(t *testing.T, s string, n int) {
		n %= 64
		got := String(s, n)
		if n <= 0 {
			if got != "" {
				t.Fatalf("String(%q, %d) = %q, want empty", s, n, got)
			}
			return
		}
		if utf8.RuneCountInString(got) > n {
			t.Fatalf("String(%q, %d) = %q: more than %d runes", s, n, got, n)
		}
		if utf8.RuneCountInString(s) <= n {
			if got != s {
				t.Fatalf("String(%q, %d) = %q, want it unchanged", s, n, got)
			}
			return
		}
		kept, ok := strings.CutSuffix(got, Ellipsis)
		if !ok || !strings.HasPrefix(s, kept) {
			t.Fatalf("String(%q, %d) = %q: not a prefix followed by the ellipsis", s, n, got)
		}
		// Never cuts a rune: what is kept ends where a rune of s ends.
		if !boundary(s, len(kept)) {
			t.Fatalf("String(%q, %d) = %q cuts a rune", s, n, got)
		}
		if utf8.ValidString(s) && !utf8.ValidString(got) {
			t.Fatalf("String(%q, %d) = %q is not valid UTF-8", s, n, got)
		}
	})
}

// boundary reports whether offset is where one rune of s (as range decodes it) ends.
func boundary(s string, offset int) bool {
	for i := range s {
		if i == offset {
			return true
		}
	}
	return offset == len(s)
}
