package keyring

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func TestSealOpen(t *testing.T) {
	a, err := New([]byte(strings.Repeat("a", 32)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New([]byte("short")); err == nil {
		t.Fatal("a short key was accepted")
	}
	s := a.Seal("t", "s", "inputs.pw", []byte(`"hunter2-hunter2"`))
	if strings.Contains(s, "hunter2") || !IsSealed(s) || SealedWith(s) != a.Current().ID() {
		t.Fatalf("sealed value %q", s)
	}
	if b, err := a.Open("t", "s", "inputs.pw", s); err != nil || string(b) != `"hunter2-hunter2"` {
		t.Fatalf("open: %q %v", b, err)
	}
	for _, c := range []struct{ tenant, service, name string }{{"t2", "s", "inputs.pw"}, {"t", "s2", "inputs.pw"}, {"t", "s", "inputs.other"}} {
		if _, err := a.Open(c.tenant, c.service, c.name, s); !errors.Is(err, ErrCorrupt) {
			t.Errorf("opened as %v: %v", c, err)
		}
	}
	b, _ := New([]byte(strings.Repeat("b", 32)), []byte(strings.Repeat("a", 32)))
	if _, err := b.Open("t", "s", "inputs.pw", s); err != nil {
		t.Fatalf("a previous key does not open: %v", err)
	}
	c, _ := New([]byte(strings.Repeat("c", 32)))
	if _, err := c.Open("t", "s", "inputs.pw", s); !errors.Is(err, ErrWrongKey) || !strings.Contains(err.Error(), a.Current().ID()) {
		t.Fatalf("wrong key: %v", err)
	}
	if a.Current().StatePassphrase("t", "s") == a.Current().StatePassphrase("t", "s2") || a.Current().StatePassphrase("t", "s") == b.Current().StatePassphrase("t", "s") {
		t.Fatal("state passphrases are shared")
	}
	sk := a.Current().StateKey("t", "s")
	if len(sk) != 32 || bytes.Equal(sk, a.Current().StateKey("t", "s2")) || bytes.Equal(sk, b.Current().StateKey("t", "s")) ||
		hex.EncodeToString(sk) == a.Current().StatePassphrase("t", "s") {
		t.Fatal("state keys are shared, or the state key is the pbkdf2 passphrase")
	}
}
