package catalog

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/spawnit/spawnit/pkg/keyring"
)

func ring(t *testing.T, current string, previous ...string) *keyring.Keyring {
	t.Helper()
	var prev [][]byte
	for _, p := range previous {
		prev = append(prev, []byte(p))
	}
	r, err := keyring.New([]byte(current), prev...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestSecretInputsSealed: a service's secret inputs are sealed in the store, in clear
// only in what the engine gets (and what GetService returns, for reveal); plaintext and
// previous-key files are sealed anew on the next run; a wrong key fails clearly and
// leaves the file as it was.
func TestSecretInputsSealed(t *testing.T) {
	ctx := context.Background()
	c, st := seeded(t)
	keyA, keyB, keyC := strings.Repeat("A", 32), strings.Repeat("B", 32), strings.Repeat("C", 32)

	// Created before encryption was configured: in clear.
	svc, err := c.CreateService(ctx, "acme", echoRequest("hi"))
	if err != nil {
		t.Fatal(err)
	}
	token := svc.Values["token"].(string)
	key := storeKeys(svc.Ref()).Tfvars()
	stored := func() string { s, _ := st.data(key); return s }
	if !strings.Contains(stored(), token) {
		t.Fatal("precondition: the unencrypted store holds the token")
	}
	src := NewServiceSource(c)
	files := func() string {
		t.Helper()
		f, err := src.Files(ctx, svc.Ref())
		if err != nil {
			t.Fatal(err)
		}
		return string(f["terraform.tfvars.json"])
	}
	sealedWith := func() string {
		for _, part := range strings.Split(stored(), `"`) {
			if id := keyring.SealedWith(part); id != "" {
				return id
			}
		}
		return ""
	}

	ra := ring(t, keyA)
	c.UseKeyring(ra)
	if !strings.Contains(files(), `"token": "`+token+`"`) {
		t.Fatal("the engine does not get the token in clear")
	}
	if strings.Contains(stored(), token) || sealedWith() != ra.Current().ID() {
		t.Fatalf("the next run did not seal the token with key A:\n%s", stored())
	}
	got, err := c.GetService(ctx, svc.Ref())
	if err != nil || got.Values["token"] != token {
		t.Fatalf("GetService after sealing: %v %v", got, err)
	}

	// A new service is sealed from the start; an update keeps it sealed.
	svc2, err := c.CreateService(ctx, "acme", echoRequest("hello"))
	if err != nil {
		t.Fatal(err)
	}
	token2 := svc2.Values["token"].(string)
	if s, _ := st.data(storeKeys(svc2.Ref()).Tfvars()); strings.Contains(s, token2) || !strings.Contains(s, "spawnit-sealed:v1:") {
		t.Fatalf("a new service's token is not sealed:\n%s", s)
	}
	up, err := c.UpdateInputs(ctx, svc2.Ref(), map[string]any{"greeting": "bye", "token": Masked}, svc2.ETag)
	if err != nil || up.Values["token"] != token2 {
		t.Fatalf("update: %v", err)
	}
	if s, _ := st.data(storeKeys(svc2.Ref()).Tfvars()); strings.Contains(s, token2) {
		t.Fatal("an update wrote the token in clear")
	}

	// Rotation: B seals, A still opens; the next run moves the file to B.
	c.UseKeyring(ring(t, keyB, keyA))
	if got, err := c.GetService(ctx, svc.Ref()); err != nil || got.Values["token"] != token {
		t.Fatalf("GetService with A as previous key: %v", err)
	}
	files()
	if sealedWith() != ring(t, keyB).Current().ID() {
		t.Fatal("the run after rotation did not reseal with key B")
	}

	// A wrong key: a clear error, nothing changed.
	before := stored()
	c.UseKeyring(ring(t, keyC))
	_, err = c.GetService(ctx, svc.Ref())
	if !errors.Is(err, keyring.ErrWrongKey) || !strings.Contains(err.Error(), "sealed with key") {
		t.Fatalf("GetService under a wrong key: %v", err)
	}
	if _, err := src.Files(ctx, svc.Ref()); !errors.Is(err, keyring.ErrWrongKey) {
		t.Fatalf("Files under a wrong key: %v", err)
	}
	if stored() != before {
		t.Fatal("a wrong key changed the stored file")
	}
	// Moved to another service, a sealed value does not open.
	c.UseKeyring(ring(t, keyB))
	s2, _ := st.data(storeKeys(svc2.Ref()).Tfvars())
	st.put(storeKeys(svc2.Ref()).Tfvars(), strings.Replace(s2, sealedTokenOf(s2), sealedTokenOf(before), 1))
	if _, err := c.GetService(ctx, svc2.Ref()); !errors.Is(err, keyring.ErrCorrupt) {
		t.Fatalf("a sealed value moved to another service opened: %v", err)
	}
}

func sealedTokenOf(tfvars string) string {
	for _, part := range strings.Split(tfvars, `"`) {
		if keyring.IsSealed(part) {
			return part
		}
	}
	return ""
}
