// Package keyring derives the keys SpawnIt encrypts secrets at rest with, from one key
// the operator provides: a key per service and purpose (HKDF-SHA256 over the operator's
// key, with the purpose, tenant and service in the info), so that no two services share
// a key and no derived key reveals the operator's. It seals small values with AES-256-GCM,
// the service's identity and the value's name as associated data (a sealed value copied
// to another service or field does not open), and keeps previous operator keys for
// rotation: they still open what they sealed, the current key seals.
//
// It depends on the standard library and the kernel only, so the engine, the catalog
// and any embedding program can share it.
package keyring

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spawnit/spawnit"
)

// MinKeyLen is the shortest operator key accepted, in bytes.
const MinKeyLen = 32

// Purposes of derived keys: a key derived for one never serves another.
const (
	PurposeState    = "opentofu-state"     // the pbkdf2 passphrase of OpenTofu's state encryption (states written before the raw key)
	PurposeStateKey = "opentofu-state-key" // the AES-256 key of OpenTofu's state and plan encryption
	PurposeInputs   = "inputs"             // sealed values in the stored configuration and snapshots
)

// sealedPrefix starts every sealed value: "spawnit-sealed:v1:<key id>:<base64url(nonce|ciphertext)>".
const sealedPrefix = "spawnit-sealed:v1:"

var (
	// ErrWrongKey: a value (or a state) was sealed with a key that is neither the
	// current key nor a previous one. Nothing was changed. It is "unavailable" (503):
	// the service cannot be served until an operator configures the key, and the answer
	// says so rather than a bare internal error.
	ErrWrongKey = spawnit.NewError(spawnit.KindUnavailable, "encryption key mismatch",
		"the service's secrets are encrypted with another key than the server's: an operator must configure that key (or pass it as the previous key to rotate)")
	// ErrCorrupt: a sealed value that is not well formed or does not authenticate under
	// the key it names (tampered with, or moved to another service or field).
	ErrCorrupt = spawnit.NewError(spawnit.KindInternal, "sealed value does not authenticate",
		"a stored secret does not authenticate (it was altered or moved)")
)

// Key is one operator key.
type Key struct {
	secret []byte
	id     string
}

// ID names the key without revealing it: the first 8 bytes of an HMAC of a fixed text,
// in hex. It is what sealed values and OpenTofu's key provider names carry.
func (k Key) ID() string { return k.id }

func newKey(secret []byte) (Key, error) {
	if len(secret) < MinKeyLen {
		return Key{}, fmt.Errorf("%w: an encryption key must be at least %d bytes", spawnit.ErrInvalidInput, MinKeyLen)
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("spawnit key id"))
	return Key{secret: slices.Clone(secret), id: hex.EncodeToString(m.Sum(nil)[:8])}, nil
}

// derive is the key of purpose for the service tenant/service.
func (k Key) derive(purpose, tenant, service string) []byte {
	b, err := hkdf.Key(sha256.New, k.secret, []byte("spawnit"), "spawnit/v1/"+purpose+"/"+tenant+"/"+service, 32)
	if err != nil {
		panic(err) // only for lengths hkdf refuses; 32 is not one
	}
	return b
}

// StatePassphrase is the passphrase of the pbkdf2 key provider with which states were
// encrypted before StateKey (hex of the derived key: 64 characters): such a state still
// opens, and is written again under StateKey.
func (k Key) StatePassphrase(tenant, service string) string {
	return hex.EncodeToString(k.derive(PurposeState, tenant, service))
}

// StateKey is the AES-256 key of the service's OpenTofu state and plan encryption under
// this key: already a uniformly random 256-bit key (HKDF), so OpenTofu is given it as it
// is, with no password-stretching key provider in front of it.
func (k Key) StateKey(tenant, service string) []byte {
	return k.derive(PurposeStateKey, tenant, service)
}

// Keyring is the current operator key and the previous ones still accepted.
type Keyring struct {
	current  Key
	previous []Key
}

// New returns the keyring whose current key is current; previous keys only open.
func New(current []byte, previous ...[]byte) (*Keyring, error) {
	cur, err := newKey(current)
	if err != nil {
		return nil, err
	}
	r := &Keyring{current: cur}
	for _, p := range previous {
		k, err := newKey(p)
		if err != nil {
			return nil, fmt.Errorf("previous key: %w", err)
		}
		if k.id != cur.id && !slices.ContainsFunc(r.previous, func(o Key) bool { return o.id == k.id }) {
			r.previous = append(r.previous, k)
		}
	}
	return r, nil
}

// GenerateKey returns a new random operator key, as text (base64url of 32 bytes: 43
// characters, which is at least MinKeyLen bytes).
func GenerateKey() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Current is the key that seals.
func (r *Keyring) Current() Key { return r.current }

// Previous are the keys that still open, newest first as given.
func (r *Keyring) Previous() []Key { return slices.Clone(r.previous) }

// Lookup finds the current or a previous key by id.
func (r *Keyring) Lookup(id string) (Key, bool) {
	if r.current.id == id {
		return r.current, true
	}
	for _, k := range r.previous {
		if k.id == id {
			return k, true
		}
	}
	return Key{}, false
}

func aad(tenant, service, name string) []byte {
	return []byte("spawnit/v1/" + tenant + "/" + service + "/" + name)
}

func aead(key []byte) cipher.AEAD {
	block, err := aes.NewCipher(key)
	if err != nil {
		panic(err) // 32-byte keys only
	}
	g, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return g
}

// Seal encrypts plaintext for the service's value called name, with the current key.
func (r *Keyring) Seal(tenant, service, name string, plaintext []byte) string {
	g := aead(r.current.derive(PurposeInputs, tenant, service))
	nonce := make([]byte, g.NonceSize())
	_, _ = rand.Read(nonce)
	out := g.Seal(nonce, nonce, plaintext, aad(tenant, service, name))
	return sealedPrefix + r.current.id + ":" + base64.RawURLEncoding.EncodeToString(out)
}

// IsSealed reports whether s is a sealed value (of any key).
func IsSealed(s string) bool { return strings.HasPrefix(s, sealedPrefix) }

// SealedWith returns the id of the key that sealed s ("" when s is not sealed).
func SealedWith(s string) string {
	rest, ok := strings.CutPrefix(s, sealedPrefix)
	if !ok {
		return ""
	}
	id, _, _ := strings.Cut(rest, ":")
	return id
}

// Open decrypts a value Seal returned for the same service and name. A key that is
// neither current nor previous is ErrWrongKey; a value that does not authenticate is
// ErrCorrupt. Neither error quotes the value.
func (r *Keyring) Open(tenant, service, name, sealed string) ([]byte, error) {
	rest, ok := strings.CutPrefix(sealed, sealedPrefix)
	id, body, ok2 := strings.Cut(rest, ":")
	if !ok || !ok2 {
		return nil, fmt.Errorf("%w: %s/%s %s is not a sealed value", ErrCorrupt, tenant, service, name)
	}
	k, found := r.Lookup(id)
	if !found {
		return nil, fmt.Errorf("%w: %s/%s %s was sealed with key %s; this server has key %s%s", ErrWrongKey, tenant, service, name, id, r.current.id, r.previousNote())
	}
	raw, err := base64.RawURLEncoding.DecodeString(body)
	g := aead(k.derive(PurposeInputs, tenant, service))
	if err != nil || len(raw) < g.NonceSize()+g.Overhead() {
		return nil, fmt.Errorf("%w: %s/%s %s is malformed", ErrCorrupt, tenant, service, name)
	}
	out, err := g.Open(nil, raw[:g.NonceSize()], raw[g.NonceSize():], aad(tenant, service, name))
	if err != nil {
		return nil, fmt.Errorf("%w: %s/%s %s", ErrCorrupt, tenant, service, name)
	}
	return out, nil
}

func (r *Keyring) previousNote() string {
	if len(r.previous) == 0 {
		return " and no previous key"
	}
	ids := make([]string, len(r.previous))
	for i, k := range r.previous {
		ids[i] = k.id
	}
	return " and previous " + strings.Join(ids, ", ")
}

// WrongKeyError is ErrWrongKey for an object (a state) sealed with key id, or with a
// key that none of the ring's opens when the object does not name its key (id "").
func (r *Keyring) WrongKeyError(what, id string) error {
	if id == "" {
		return fmt.Errorf("%w: %s is encrypted with another key: none of this server's keys opens it (key %s%s)", ErrWrongKey, what, r.current.id, r.previousNote())
	}
	return fmt.Errorf("%w: %s is encrypted with key %s; this server has key %s%s", ErrWrongKey, what, id, r.current.id, r.previousNote())
}

// ParseKey turns the text of an operator key into its bytes: the text itself, which
// must be at least MinKeyLen bytes (a generated key, 43 characters, or a long passphrase).
func ParseKey(text string) ([]byte, error) {
	text = strings.TrimSpace(text)
	if len(text) < MinKeyLen {
		return nil, errors.New("an encryption key must be at least 32 characters (generate one with: head -c 32 /dev/urandom | base64)")
	}
	return []byte(text), nil
}
