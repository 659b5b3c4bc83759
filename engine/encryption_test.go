package engine

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
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

func testRing(t testing.TB, current string, previous ...string) *keyring.Keyring {
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
	// keyOf names the key the state is encrypted with ("" in clear, "?" none of A, B, C).
	allKeys := testRing(t, keyA, keyB, keyC)
	keyOf := func(state []byte) string {
		kind, id := classifyState(allKeys, ref, state)
		switch {
		case kind == statePlain:
			return ""
		case id == "":
			return "?"
		}
		return id
	}
	// byHand runs tofu in the service's workdir as an operator would, with TF_ENCRYPTION enc.
	workdir := filepath.Join(dataDir, "work", ref.Client, ref.Service)
	noCLIConfig := filepath.Join(t.TempDir(), "tofurc")
	if err := os.WriteFile(noCLIConfig, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	byHand := func(t *testing.T, enc string, args ...string) []byte {
		t.Helper()
		cmd := exec.Command(tofuPath, args...)
		cmd.Dir = workdir
		cmd.Env = append(os.Environ(), "TF_IN_AUTOMATION=1", "TF_CLI_CONFIG_FILE="+noCLIConfig, "TF_ENCRYPTION="+enc)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("tofu %v: %v\n%s", args, err, stderr.Bytes())
		}
		return out
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

	wrongKey := func(t *testing.T, want string) {
		before := readState()
		e := newEngine(testRing(t, keyC))
		info := run(e, e.Apply, StateFailed)
		if !strings.Contains(info.Error, want) {
			t.Fatalf("the error does not say %q: %s", want, info.Error)
		}
		if _, err := e.Outputs(context.Background(), ref); !errors.Is(err, keyring.ErrWrongKey) {
			t.Fatalf("outputs under a wrong key: %v", err)
		}
		if !bytes.Equal(before, readState()) {
			t.Fatal("a job under a wrong key changed the state")
		}
		_ = e.Shutdown(context.Background())
	}
	t.Run("wrong key", func(t *testing.T) {
		wrongKey(t, "encrypted with another key: none of this server's keys opens it (key "+testRing(t, keyC).Current().ID())
	})

	// A state written by an older version, under the pbkdf2 key provider of key A (made
	// here by hand, as that version configured tofu): it still opens (also by hand with
	// TofuEncryption), a plan leaves it as it is, and the next apply writes it under the
	// raw key.
	t.Run("pbkdf2", func(t *testing.T) {
		pulled := byHand(t, TofuEncryption(ringA, ref), "state", "pull")
		if !bytes.Contains(pulled, []byte(secret)) {
			t.Fatal("TofuEncryption does not read the state written under the raw key")
		}
		pulledFile := filepath.Join(t.TempDir(), "pulled.tfstate")
		if err := os.WriteFile(pulledFile, pulled, 0o600); err != nil {
			t.Fatal(err)
		}
		// Written afresh: the old configuration cannot read the raw key's state.
		if err := os.Remove(statePath); err != nil {
			t.Fatal(err)
		}
		byHand(t, passphraseEncryption(ringA, ref), "state", "push", "-force", pulledFile)
		st := readState()
		if kind, id := classifyState(ringA, ref, st); kind != statePassphrase || id != ringA.Current().ID() || bytes.Contains(st, []byte(secret)) {
			t.Fatalf("the state written the old way is %v under %q", kind, id)
		}
		wrongKey(t, "encrypted with key "+ringA.Current().ID())
		if !bytes.Contains(byHand(t, TofuEncryption(ringA, ref), "state", "pull"), []byte(secret)) {
			t.Fatal("TofuEncryption does not read a pbkdf2 state")
		}
		e := newEngine(ringA)
		checkOutputs(e)
		run(e, e.Plan, StateSucceeded)
		if !bytes.Equal(st, readState()) {
			t.Fatal("a plan rewrote the state")
		}
		setRound(22)
		run(e, e.Apply, StateSucceeded)
		st = readState()
		if kind, id := classifyState(ringA, ref, st); kind != stateRawKey || id != ringA.Current().ID() || bytes.Contains(st, []byte(secret)) {
			t.Fatalf("after the apply the state is %v under %q, want the raw key A", kind, id)
		}
		if strings.Contains(string(st), "key_provider") {
			t.Fatalf("the state still names a key provider: %.300s", st)
		}
		checkOutputs(e)
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

// passphraseEncryption is TF_ENCRYPTION as versions before the raw state key wrote it:
// state and plans under ring's current key through a pbkdf2 key provider (plaintext
// still read).
func passphraseEncryption(ring *keyring.Keyring, ref ServiceRef) string {
	k := ring.Current()
	return fmt.Sprintf(`key_provider "pbkdf2" "k_%[1]s" {
  passphrase = %[2]q
  iterations = %[3]d
}
method "aes_gcm" "k_%[1]s" {
  keys = key_provider.pbkdf2.k_%[1]s
}
method "unencrypted" "migrate" {}
state {
  method = method.aes_gcm.k_%[1]s
  fallback {
    method = method.unencrypted.migrate
  }
}
plan {
  method = method.aes_gcm.k_%[1]s
}
`, k.ID(), k.StatePassphrase(ref.Client, ref.Service), stateIterations)
}

func TestTofuEncryptionConfig(t *testing.T) {
	ring := testRing(t, strings.Repeat("n", 32), strings.Repeat("o", 32))
	ref := ServiceRef{Client: "t", Service: "s"}
	cur, prev := ring.Current(), ring.Previous()[0]
	all := tofuEncryption(ring, ref, readers{passphrase: true, plaintext: true})
	want := `method "aes_gcm" "key_` + cur.ID() + `" {
  keys = {
    encryption_key = ` + hclBytes(cur.StateKey("t", "s")) + `
    decryption_key = ` + hclBytes(cur.StateKey("t", "s")) + `
  }
}
method "aes_gcm" "key_` + prev.ID() + `" {
  keys = {
    encryption_key = ` + hclBytes(prev.StateKey("t", "s")) + `
    decryption_key = ` + hclBytes(prev.StateKey("t", "s")) + `
  }
}
key_provider "pbkdf2" "k_` + cur.ID() + `" {
  passphrase = "` + cur.StatePassphrase("t", "s") + `"
  iterations = 200000
}
method "aes_gcm" "pbkdf2_` + cur.ID() + `" {
  keys = key_provider.pbkdf2.k_` + cur.ID() + `
}
key_provider "pbkdf2" "k_` + prev.ID() + `" {
  passphrase = "` + prev.StatePassphrase("t", "s") + `"
  iterations = 200000
}
method "aes_gcm" "pbkdf2_` + prev.ID() + `" {
  keys = key_provider.pbkdf2.k_` + prev.ID() + `
}
method "unencrypted" "migrate" {}
state {
  method = method.aes_gcm.key_` + cur.ID() + `
  fallback {
    method = method.aes_gcm.key_` + prev.ID() + `
    fallback {
      method = method.aes_gcm.pbkdf2_` + cur.ID() + `
      fallback {
        method = method.aes_gcm.pbkdf2_` + prev.ID() + `
        fallback {
          method = method.unencrypted.migrate
        }
      }
    }
  }
}
plan {
  method = method.aes_gcm.key_` + cur.ID() + `
  fallback {
    method = method.aes_gcm.key_` + prev.ID() + `
  }
}
`
	if all != want {
		t.Errorf("config:\n%s\nwant:\n%s", all, want)
	}
	// What a job under the current key of a raw-key state runs with: no key provider
	// (nothing to derive per command) and no plaintext reader.
	plain := tofuEncryption(testRing(t, strings.Repeat("n", 32)), ref, readers{})
	if strings.Contains(plain, "key_provider") || strings.Contains(plain, "unencrypted") || strings.Contains(plain, "fallback") {
		t.Errorf("a raw-key state's config has more than its key:\n%s", plain)
	}
	if other := tofuEncryption(ring, ServiceRef{Client: "t", Service: "s2"}, readers{passphrase: true}); strings.Contains(other, hclBytes(cur.StateKey("t", "s"))) || strings.Contains(other, cur.StatePassphrase("t", "s")) {
		t.Errorf("another service shares the key:\n%s", other)
	}
}

// TestClassifyState: which key a stored state is under, from its header (pbkdf2) or by
// opening it (raw key), without tofu.
func TestClassifyState(t *testing.T) {
	ring := testRing(t, strings.Repeat("n", 32), strings.Repeat("o", 32))
	ref := ServiceRef{Client: "t", Service: "s"}
	seal := func(key []byte) []byte {
		block, _ := aes.NewCipher(key)
		gcm, _ := cipher.NewGCM(block)
		nonce := make([]byte, gcm.NonceSize())
		data, _ := json.Marshal(map[string]any{"serial": 3, "lineage": "l", "meta": map[string]any{}, "encrypted_data": gcm.Seal(nonce, nonce, []byte(`{"version":4}`), nil), "encryption_version": "v0"})
		return data
	}
	for _, c := range []struct {
		name  string
		state []byte
		kind  storedState
		id    string
	}{
		{"plaintext", []byte(`{"version":4,"serial":1}`), statePlain, ""},
		{"not json", []byte("garbage"), statePlain, ""},
		{"pbkdf2", []byte(`{"serial":1,"meta":{"key_provider.pbkdf2.k_0123abcd":"e30="},"encrypted_data":"AAAA"}`), statePassphrase, "0123abcd"},
		{"current key", seal(ring.Current().StateKey("t", "s")), stateRawKey, ring.Current().ID()},
		{"previous key", seal(ring.Previous()[0].StateKey("t", "s")), stateRawKey, ring.Previous()[0].ID()},
		{"another service's key", seal(ring.Current().StateKey("t", "s2")), stateRawKey, ""},
		{"truncated", []byte(`{"meta":{},"encrypted_data":"AAAA"}`), stateRawKey, ""},
	} {
		if kind, id := classifyState(ring, ref, c.state); kind != c.kind || id != c.id {
			t.Errorf("%s: %v %q, want %v %q", c.name, kind, id, c.kind, c.id)
		}
	}
}
