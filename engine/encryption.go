package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spawnit/spawnit/pkg/keyring"
)

// State and plan encryption. With Config.Encryption set, every tofu command of a job
// runs with TF_ENCRYPTION (OpenTofu's state encryption, configured from the environment
// so templates need nothing): a pbkdf2 key provider whose passphrase is derived per
// service from the current operator key (keyring.Key.StatePassphrase), aes_gcm for
// state and plan files, and fallbacks that only read: each previous key (rotation), and,
// when the stored state is still plaintext, the unencrypted method (migration). tofu
// writes back with the current key only, so a state moves to the current key on its
// next write and is never written in clear again.
//
// The stored state is looked at before tofu runs (its header is plaintext JSON: serial,
// lineage, and the key provider's metadata under a name carrying the key's id), so a
// state encrypted with a key the server does not have fails the job with ErrWrongKey
// before tofu touches anything.

// stateKeyProviderPrefix starts the name of the metadata an encrypted state carries
// for our key providers: key_provider.pbkdf2.k_<key id>.
const stateKeyProviderPrefix = "key_provider.pbkdf2.k_"

// stateIterations is the pbkdf2 work factor: OpenTofu's minimum. The passphrase is a
// derived 256-bit key, not a password, so a higher count would cost every tofu command
// time and add no strength.
const stateIterations = 200000

// stateHeader is what an encrypted state shows in clear besides serial and lineage.
type stateHeader struct {
	Meta          map[string]json.RawMessage `json:"meta"`
	EncryptedData json.RawMessage            `json:"encrypted_data"`
}

// storedState says how the service's stored state is kept.
type storedState int

const (
	stateAbsent storedState = iota
	statePlain
	stateEncrypted
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

// inspectState reads how the stored state is kept and, when encrypted, the ids of the
// keys its metadata names.
func (e *runner) inspectState(ctx context.Context, ref ServiceRef) (storedState, []string, error) {
	b, found, err := e.readRawState(ctx, ref)
	if err != nil || !found {
		return stateAbsent, nil, err
	}
	var h stateHeader
	if json.Unmarshal(b, &h) != nil {
		return statePlain, nil, nil // not JSON: tofu says what is wrong with it
	}
	if len(h.EncryptedData) == 0 {
		return statePlain, nil, nil
	}
	var ids []string
	for k := range h.Meta {
		if id, ok := strings.CutPrefix(k, stateKeyProviderPrefix); ok {
			ids = append(ids, id)
		}
	}
	return stateEncrypted, ids, nil
}

// stateEncryption is the TF_ENCRYPTION value for j's service ("" without encryption),
// after checking that the stored state can be read with the keys this engine has.
func (e *runner) stateEncryption(ctx context.Context, ref ServiceRef) (string, error) {
	ring := e.cfg.Encryption
	kind, ids, err := e.inspectState(ctx, ref)
	if err != nil {
		return "", fmt.Errorf("read the stored state: %w", err)
	}
	if ring == nil {
		if kind == stateEncrypted {
			return "", fmt.Errorf("%w: the state of %s is encrypted and this server has no encryption key", keyring.ErrWrongKey, ref)
		}
		return "", nil
	}
	if kind == stateEncrypted {
		known := false
		for _, id := range ids {
			if _, ok := ring.Lookup(id); ok {
				known = true
			}
		}
		if !known {
			id := "of another kind"
			if len(ids) > 0 {
				id = strings.Join(ids, ", ")
			}
			return "", ring.WrongKeyError("the state of "+ref.String(), id)
		}
	}
	return tofuEncryption(ring, ref, kind == statePlain), nil
}

// TofuEncryption is the TF_ENCRYPTION value with which tofu reads and writes ref's
// state and plans under ring, as the engine runs it: for an operator who must run tofu
// on a service's state by hand (pushing a kept errored.tfstate, inspecting a state).
func TofuEncryption(ring *keyring.Keyring, ref ServiceRef) string {
	return tofuEncryption(ring, ref, false)
}

// tofuEncryption writes the encryption configuration for ref: the current key writes
// state and plans; previous keys, then (migrate) the unencrypted method, only read.
func tofuEncryption(ring *keyring.Keyring, ref ServiceRef, migrate bool) string {
	keys := append([]keyring.Key{ring.Current()}, ring.Previous()...)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "key_provider \"pbkdf2\" \"k_%s\" {\n  passphrase = %q\n  iterations = %d\n}\n", k.ID(), k.StatePassphrase(ref.Client, ref.Service), stateIterations)
		fmt.Fprintf(&b, "method \"aes_gcm\" \"k_%s\" {\n  keys = key_provider.pbkdf2.k_%s\n}\n", k.ID(), k.ID())
	}
	if migrate {
		b.WriteString("method \"unencrypted\" \"migrate\" {}\n")
	}
	target := func(name string, migrate bool) {
		fmt.Fprintf(&b, "%s {\n  method = method.aes_gcm.k_%s\n", name, keys[0].ID())
		depth := 1
		for _, k := range keys[1:] {
			fmt.Fprintf(&b, "%sfallback {\n%s  method = method.aes_gcm.k_%s\n", strings.Repeat("  ", depth), strings.Repeat("  ", depth), k.ID())
			depth++
		}
		if migrate {
			fmt.Fprintf(&b, "%sfallback {\n%s  method = method.unencrypted.migrate\n", strings.Repeat("  ", depth), strings.Repeat("  ", depth))
			depth++
		}
		for depth > 1 {
			depth--
			fmt.Fprintf(&b, "%s}\n", strings.Repeat("  ", depth))
		}
		b.WriteString("}\n")
	}
	target("state", migrate)
	target("plan", false)
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
