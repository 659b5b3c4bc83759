package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spawnit/spawnit/internal/testservers"
	"github.com/spawnit/spawnit/pkg/keyring"
	"github.com/spawnit/spawnit/pkg/store"
)

// secretModule keeps a secret input in its state and gives it back as a sensitive
// output; it needs no provider, so the test needs tofu alone.
const secretModule = `
variable "token" {
  type      = string
  sensitive = true
}
variable "round" {
  type = number
}
resource "terraform_data" "secret" {
  input = { token = var.token, round = var.round }
}
output "token" {
  value     = terraform_data.secret.output.token
  sensitive = true
}
`

func testRing(t *testing.T, current string, previous ...string) *keyring.Keyring {
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

// TestStateEncryption follows one service's state through the life an operator gives
// it: written in clear before encryption was configured, migrated on its next apply,
// read back through tofu (outputs), rotated to a new key while the old one still
// decrypts, refused under a wrong key with nothing changed, and its pre-destroy
// snapshot sealed.
func TestStateEncryption(t *testing.T) {
	tofuPath := testservers.Tofu(t)
	const secret = "tok-5d1c0f3e-very-secret"
	keyA := strings.Repeat("a", 40)
	keyB := strings.Repeat("b", 40)
	keyC := strings.Repeat("c", 40)
	dataDir, src := t.TempDir(), t.TempDir()
	records, err := store.NewFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ref := ServiceRef{Client: "t1", Service: "s1"}
	dir := filepath.Join(src, ref.Client, ref.Service)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(secretModule), 0o644); err != nil {
		t.Fatal(err)
	}
	setRound := func(n int) {
		b, _ := json.Marshal(map[string]any{"token": secret, "round": n})
		if err := os.WriteFile(filepath.Join(dir, TfvarsFile), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	statePath := filepath.Join(dataDir, "store", filepath.FromSlash(StateKey(ref)))
	readState := func() []byte {
		b, err := os.ReadFile(statePath)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	newEngine := func(ring *keyring.Keyring) *Engine {
		e, err := New(Config{TofuPath: tofuPath, DataDir: dataDir, Source: DirSource(src), Store: records, Encryption: ring})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_ = e.Shutdown(ctx)
		})
		return e
	}
	run := func(e *Engine, op func(context.Context, ServiceRef, ...RunOption) (*Job, error), want JobState) JobInfo {
		t.Helper()
		j, err := op(context.Background(), ref)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		info, err := j.Wait(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.State != want {
			t.Fatalf("%s ended %s, want %s: %s\n%s", info.Operation, info.State, want, info.Error, eventText(j.Events(0)))
		}
		for _, ev := range j.Events(0) {
			if strings.Contains(ev.Message, secret) {
				t.Fatalf("an event shows the secret: %q", ev.Message)
			}
		}
		return info
	}
	keyOf := func(state []byte) string {
		var h stateHeader
		if err := json.Unmarshal(state, &h); err != nil || len(h.EncryptedData) == 0 {
			return ""
		}
		for k := range h.Meta {
			if id, ok := strings.CutPrefix(k, stateKeyProviderPrefix); ok {
				return id
			}
		}
		return "?"
	}
	checkOutputs := func(e *Engine) {
		t.Helper()
		outs, err := e.Outputs(context.Background(), ref)
		if err != nil {
			t.Fatal(err)
		}
		if string(outs["token"].Value) != `"`+secret+`"` {
			t.Fatalf("token output %s", outs["token"].Value)
		}
	}
	workdirTfvars := filepath.Join(dataDir, "work", ref.Client, ref.Service, TfvarsFile)

	// Before encryption: the state is plaintext, the secret in it.
	setRound(1)
	e0 := newEngine(nil)
	run(e0, e0.Apply, StateSucceeded)
	if !bytes.Contains(readState(), []byte(secret)) || keyOf(readState()) != "" {
		t.Fatal("the unencrypted state should hold the secret in clear")
	}
	_ = e0.Shutdown(context.Background())

	ringA := testRing(t, keyA)
	t.Run("migrate", func(t *testing.T) {
		e := newEngine(ringA)
		checkOutputs(e) // reads the plaintext state through the fallback
		setRound(2)
		run(e, e.Apply, StateSucceeded)
		st := readState()
		if bytes.Contains(st, []byte(secret)) || keyOf(st) != ringA.Current().ID() {
			t.Fatalf("after the migrating apply the state is not encrypted with key A (key %q)", keyOf(st))
		}
		checkOutputs(e)
		if _, err := os.Stat(workdirTfvars); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("the workdir keeps the variables file after the job: %v", err)
		}
		_ = e.Shutdown(context.Background())
	})

	t.Run("wrong key", func(t *testing.T) {
		before := readState()
		e := newEngine(testRing(t, keyC))
		info := run(e, e.Apply, StateFailed)
		if !strings.Contains(info.Error, "encrypted with key "+ringA.Current().ID()) {
			t.Fatalf("the error does not say which key the state needs: %s", info.Error)
		}
		if _, err := e.Outputs(context.Background(), ref); !errors.Is(err, keyring.ErrWrongKey) {
			t.Fatalf("outputs under a wrong key: %v", err)
		}
		if !bytes.Equal(before, readState()) {
			t.Fatal("a job under a wrong key changed the state")
		}
		_ = e.Shutdown(context.Background())
	})

	ringB := testRing(t, keyB, keyA)
	t.Run("rotate", func(t *testing.T) {
		e := newEngine(ringB)
		checkOutputs(e) // the previous key still decrypts
		setRound(3)
		run(e, e.Apply, StateSucceeded)
		if st := readState(); keyOf(st) != ringB.Current().ID() || bytes.Contains(st, []byte(secret)) {
			t.Fatalf("after the apply the state is under key %q, want B", keyOf(st))
		}
		_ = e.Shutdown(context.Background())
		// Key A can now go.
		e = newEngine(testRing(t, keyB))
		checkOutputs(e)
		run(e, e.Destroy, StateSucceeded)
		snap, _, err := records.Get(context.Background(), snapshotKey(ref))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(snap, []byte(secret)) || !keyring.IsSealed(string(snap)) {
			t.Fatal("the pre-destroy snapshot is not sealed")
		}
	})
}

func TestTofuEncryptionConfig(t *testing.T) {
	ring := testRing(t, strings.Repeat("n", 32), strings.Repeat("o", 32))
	ref := ServiceRef{Client: "t", Service: "s"}
	cfg := tofuEncryption(ring, ref, true)
	cur, prev := ring.Current(), ring.Previous()[0]
	for _, want := range []string{
		`key_provider "pbkdf2" "k_` + cur.ID() + `"`,
		`passphrase = "` + cur.StatePassphrase("t", "s") + `"`,
		`passphrase = "` + prev.StatePassphrase("t", "s") + `"`,
		"method = method.unencrypted.migrate",
	} {
		if !strings.Contains(cfg, want) {
			t.Errorf("config lacks %q:\n%s", want, cfg)
		}
	}
	if strings.Count(cfg, "{") != strings.Count(cfg, "}") {
		t.Errorf("unbalanced braces:\n%s", cfg)
	}
	if other := tofuEncryption(ring, ServiceRef{Client: "t", Service: "s2"}, false); strings.Contains(other, cur.StatePassphrase("t", "s")) || strings.Contains(other, "unencrypted") {
		t.Errorf("another service shares the passphrase, or a config without migration reads plaintext:\n%s", other)
	}
}
