package catalogtest

import "testing"

func TestNextMinor(t *testing.T) {
	for v, want := range map[string]string{"1.2.0": "1.3.0", "1.9.4": "1.10.0", "2": "2.1", "0.3": "0.4", "1.2.0-rc.1": "1.3.0"} {
		if got := NextMinor(t, v); got != want {
			t.Errorf("NextMinor(%q) = %q, want %q", v, got, want)
		}
	}
}

func TestWithVersion(t *testing.T) {
	doc := []byte(`{"id": "x", "version": "1.2.0", "inputs": []}`)
	if v := Version(t, doc); v != "1.2.0" {
		t.Fatalf("Version = %q", v)
	}
	got := string(WithVersion(t, doc, "1.3.0", `says "bye"`))
	if want := `{"id": "x", "version": "1.3.0", "release_notes": "says \"bye\"", "inputs": []}`; got != want {
		t.Fatalf("WithVersion = %s, want %s", got, want)
	}
}
