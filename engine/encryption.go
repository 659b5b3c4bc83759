package engine

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/spawnit/spawnit/pkg/keyring"
)

// State and plan encryption. With Config.Encryption set, every tofu command of a job
// runs with TF_ENCRYPTION (OpenTofu's state encryption, configured from the environment
// so templates need nothing): method aes_gcm for state and plan files, its key the
// service's state key (keyring.Key.StateKey, HKDF from the current operator key) given
// to tofu as it is, and fallbacks that only read: each previous key (rotation); when the
// stored state was written under a pbkdf2 key provider (before the raw key), those
// providers; when it is still plaintext, the unencrypted method (migration). tofu writes
// back with the current key only, so a state moves to the current key on its next write
// and is never written in clear again.
//
// Why the raw key: the state key is already a uniformly random 256-bit key, so a
// password-stretching key provider adds no strength, and pbkdf2 at OpenTofu's minimum
// count cost every tofu command about half a second of CPU (twice over: a key to read
// with the stored salt, one to write with a new salt), for each key it was offered.
// A fallback's key provider only runs when the methods before it failed, so a state
// under the raw key never pays for the pbkdf2 fallback of an older one.
//
// The stored state is looked at before tofu runs (its header is plaintext JSON: serial,
// lineage, the key providers' metadata, the ciphertext), so a state encrypted with a key
// the server does not have fails the job with ErrWrongKey before tofu touches anything:
// a pbkdf2 state names its key in the metadata (key_provider.pbkdf2.k_<key id>); a state
// under a raw key names none, so the engine opens it with each key it has (one AES-GCM
// open, no tofu).

// stateKeyProviderPrefix starts the name of the metadata a state encrypted under our
// pbkdf2 key providers carries: key_provider.pbkdf2.k_<key id>.
const stateKeyProviderPrefix = "key_provider.pbkdf2.k_"

// stateIterations is the pbkdf2 work factor of the states written before the raw key
// (OpenTofu's minimum); it only matters to a new salt, which tofu makes and never uses
// here (a pbkdf2 provider only reads), but tofu refuses a provider without it.
const stateIterations = 200000

// stateHeader is what an encrypted state shows in clear besides serial and lineage.
type stateHeader struct {
	Meta          map[string]json.RawMessage `json:"meta"`
	EncryptedData []byte                     `json:"encrypted_data"`
}

// storedState says how the service's stored state is kept.
type storedState int

const (
	stateAbsent     storedState = iota
	statePlain                  // plaintext (before encryption was configured)
	stateRawKey                 // aes_gcm under a state key (keyring.Key.StateKey)
	statePassphrase             // aes_gcm under a pbkdf2 key provider (before the raw key)
)

// readRawState reads the service's stored state as it is in the store (S3 backend) or
// the local state file.
func (e *runner) readRawState(ctx context.Context, ref ServiceRef) (b []byte, found bool, err error) {
	if e.cfg.Backend.S3 != nil {
		b, _, err = e.cfg.Store.Get(ctx, StateKey(ref))
	} else {
		b, err = os.ReadFile(e.localStatePath(ref))
	}
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return b, true, nil
}

// inspectState reads how the stored state is kept and the id of the key it is
// encrypted with ("" when it names none and no key of ring opens it).
func (e *runner) inspectState(ctx context.Context, ref ServiceRef) (storedState, string, error) {
	b, found, err := e.readRawState(ctx, ref)
	if err != nil || !found {
		return stateAbsent, "", err
	}
	kind, id := classifyState(e.cfg.Encryption, ref, b)
	return kind, id, nil
}

// classifyState says how state (a stored state file) is kept and which key of ring
// (nil: none) it is encrypted with.
func classifyState(ring *keyring.Keyring, ref ServiceRef, state []byte) (storedState, string) {
	var h stateHeader
	if json.Unmarshal(state, &h) != nil || len(h.EncryptedData) == 0 {
		return statePlain, "" // not JSON: tofu says what is wrong with it
	}
	for k := range h.Meta {
		if id, ok := strings.CutPrefix(k, stateKeyProviderPrefix); ok {
			return statePassphrase, id
		}
	}
	if ring == nil {
		return stateRawKey, ""
	}
	for _, k := range append([]keyring.Key{ring.Current()}, ring.Previous()...) {
		if opensWith(k.StateKey(ref.Client, ref.Service), h.EncryptedData) {
			return stateRawKey, k.ID()
		}
	}
	return stateRawKey, ""
}

// opensWith reports whether data, as OpenTofu's aes_gcm method writes it (the nonce,
// then the sealed data, no associated data), authenticates under key.
func opensWith(key, data []byte) bool {
	block, err := aes.NewCipher(key)
	if err != nil {
		return false
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil || len(data) < gcm.NonceSize()+gcm.Overhead() {
		return false
	}
	_, err = gcm.Open(nil, data[:gcm.NonceSize()], data[gcm.NonceSize():], nil)
	return err == nil
}

// stateEncryption is the TF_ENCRYPTION value for j's service ("" without encryption),
// after checking that the stored state can be read with the keys this engine has.
func (e *runner) stateEncryption(ctx context.Context, ref ServiceRef) (string, error) {
	ring := e.cfg.Encryption
	kind, id, err := e.inspectState(ctx, ref)
	if err != nil {
		return "", fmt.Errorf("read the stored state: %w", err)
	}
	if ring == nil {
		if kind == stateRawKey || kind == statePassphrase {
			return "", fmt.Errorf("%w: the state of %s is encrypted and this server has no encryption key", keyring.ErrWrongKey, ref)
		}
		return "", nil
	}
	switch kind {
	case stateRawKey:
		if id == "" {
			return "", ring.WrongKeyError("the state of "+ref.String(), "")
		}
	case statePassphrase:
		if _, ok := ring.Lookup(id); !ok {
			return "", ring.WrongKeyError("the state of "+ref.String(), id)
		}
	}
	return tofuEncryption(ring, ref, readers{passphrase: kind == statePassphrase, plaintext: kind == statePlain}), nil
}

// TofuEncryption is the TF_ENCRYPTION value with which tofu reads and writes ref's
// state and plans under ring, as the engine runs it: for an operator who must run tofu
// on a service's state by hand (pushing a kept errored.tfstate, inspecting a state).
// It reads a state under the current or a previous key, also one written under the
// pbkdf2 key providers of older versions, and writes under the current key. In a
// directory where the service's module, backend and providers are initialised:
//
//	export TF_ENCRYPTION="$(program printing engine.TofuEncryption(ring, ref))"
//	tofu state pull > state.json          # decrypted
//	tofu state push errored.tfstate       # encrypted again, under the current key
//
// The value holds the service's state keys: keep it out of shell history and logs.
func TofuEncryption(ring *keyring.Keyring, ref ServiceRef) string {
	return tofuEncryption(ring, ref, readers{passphrase: true})
}

// readers are the methods beyond the keys of the ring that may read the stored state.
type readers struct {
	passphrase bool // the pbkdf2 key providers of the ring's keys (states from before the raw key)
	plaintext  bool // the unencrypted method (states from before encryption)
}

// tofuEncryption writes the encryption configuration for ref: the current key writes
// state and plans; previous keys, then the readers asked for, only read.
func tofuEncryption(ring *keyring.Keyring, ref ServiceRef, r readers) string {
	keys := append([]keyring.Key{ring.Current()}, ring.Previous()...)
	var b strings.Builder
	var state, plan []string
	for _, k := range keys {
		raw := hclBytes(k.StateKey(ref.Client, ref.Service))
		fmt.Fprintf(&b, "method \"aes_gcm\" \"key_%s\" {\n  keys = {\n    encryption_key = %s\n    decryption_key = %s\n  }\n}\n", k.ID(), raw, raw)
		state = append(state, "method.aes_gcm.key_"+k.ID())
	}
	plan = slices.Clone(state)
	if r.passphrase {
		for _, k := range keys {
			fmt.Fprintf(&b, "key_provider \"pbkdf2\" \"k_%s\" {\n  passphrase = %q\n  iterations = %d\n}\n", k.ID(), k.StatePassphrase(ref.Client, ref.Service), stateIterations)
			fmt.Fprintf(&b, "method \"aes_gcm\" \"pbkdf2_%s\" {\n  keys = key_provider.pbkdf2.k_%s\n}\n", k.ID(), k.ID())
			state = append(state, "method.aes_gcm.pbkdf2_"+k.ID())
		}
	}
	if r.plaintext {
		b.WriteString("method \"unencrypted\" \"migrate\" {}\n")
		state = append(state, "method.unencrypted.migrate")
	}
	target := func(name string, methods []string) {
		fmt.Fprintf(&b, "%s {\n", name)
		for depth, m := range methods {
			indent := strings.Repeat("  ", depth+1)
			if depth > 0 {
				fmt.Fprintf(&b, "%sfallback {\n", strings.Repeat("  ", depth))
			}
			fmt.Fprintf(&b, "%smethod = %s\n", indent, m)
		}
		for depth := len(methods) - 1; depth >= 0; depth-- {
			fmt.Fprintf(&b, "%s}\n", strings.Repeat("  ", depth))
		}
	}
	target("state", state)
	target("plan", plan)
	return b.String()
}

// hclBytes writes key as an HCL list of numbers, the form aes_gcm takes a key in.
func hclBytes(key []byte) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, c := range key {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(int(c)))
	}
	b.WriteByte(']')
	return b.String()
}

// sealSnapshot seals a copy of a state the engine keeps itself (the pre-destroy
// snapshot): tofu's encryption only covers what tofu writes.
func (e *runner) sealSnapshot(ref ServiceRef, name string, state []byte) []byte {
	if e.cfg.Encryption == nil {
		return state
	}
	return []byte(e.cfg.Encryption.Seal(ref.Client, ref.Service, name, state))
}

// openSnapshot reverses sealSnapshot; a snapshot kept in clear (before encryption was
// configured) is returned as it is.
func (e *runner) openSnapshot(ref ServiceRef, name string, b []byte) ([]byte, error) {
	if !keyring.IsSealed(string(b)) {
		return b, nil
	}
	if e.cfg.Encryption == nil {
		return nil, fmt.Errorf("%w: %s of %s is sealed and this server has no encryption key", keyring.ErrWrongKey, name, ref)
	}
	return e.cfg.Encryption.Open(ref.Client, ref.Service, name, string(b))
}
