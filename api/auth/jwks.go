package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

const (
	// jwksMinRefresh bounds how often unknown key ids make us refetch the JWKS, so
	// tokens with made-up kids cannot turn every request into a request to the issuer.
	// Rotated keys are still picked up within this delay.
	jwksMinRefresh = 10 * time.Second
	jwksMaxBytes   = 1 << 20
)

var errNoKey = errors.New("no published signing key matches the token's kid and alg")

// keySet implements oidc.KeySet over the issuer's JWKS. Unlike zitadel's remote key
// set, it requires the token's alg to be the alg its key is published with (a key
// without "alg" accepts the algorithms of its key type) and it throttles refetches.
type keySet struct {
	url    string
	client *http.Client

	fetchMu sync.Mutex // serialises refreshes

	mu      sync.Mutex
	keys    []jose.JSONWebKey
	fetched time.Time
}

func newKeySet(client *http.Client, url string) *keySet {
	return &keySet{url: url, client: client}
}

// VerifySignature implements oidc.KeySet.
func (k *keySet) VerifySignature(ctx context.Context, jws *jose.JSONWebSignature) ([]byte, error) {
	if len(jws.Signatures) != 1 {
		return nil, errors.New("expected exactly one signature")
	}
	h := jws.Signatures[0].Header
	key, ok := k.find(h.KeyID, h.Algorithm)
	if !ok {
		k.mu.Lock()
		stale := time.Since(k.fetched) >= jwksMinRefresh
		k.mu.Unlock()
		if stale {
			if err := k.refresh(ctx); err != nil {
				return nil, err
			}
			key, ok = k.find(h.KeyID, h.Algorithm)
		}
	}
	if !ok {
		return nil, errNoKey
	}
	return jws.Verify(key.Key)
}

func (k *keySet) find(kid, alg string) (jose.JSONWebKey, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	var candidates []jose.JSONWebKey
	for _, key := range k.keys {
		if key.Use != "" && key.Use != "sig" {
			continue
		}
		if key.Algorithm != "" && key.Algorithm != alg {
			continue
		}
		if key.Algorithm == "" && !keyTypeFits(key.Key, alg) {
			continue
		}
		if kid != "" && key.KeyID == kid {
			return key, true
		}
		if kid == "" {
			candidates = append(candidates, key)
		}
	}
	// Without a kid only an unambiguous key will do.
	if len(candidates) == 1 {
		return candidates[0], true
	}
	return jose.JSONWebKey{}, false
}

func keyTypeFits(key any, alg string) bool {
	switch {
	case strings.HasPrefix(alg, "RS"), strings.HasPrefix(alg, "PS"):
		_, ok := key.(*rsa.PublicKey)
		return ok
	case strings.HasPrefix(alg, "ES"):
		_, ok := key.(*ecdsa.PublicKey)
		return ok
	case alg == "EdDSA":
		_, ok := key.(ed25519.PublicKey)
		return ok
	}
	return false
}

func (k *keySet) refresh(ctx context.Context) error {
	k.fetchMu.Lock()
	defer k.fetchMu.Unlock()
	k.mu.Lock()
	recent := !k.fetched.IsZero() && time.Since(k.fetched) < jwksMinRefresh
	k.mu.Unlock()
	if recent {
		return nil // another caller refreshed while we waited
	}
	keys, err := k.fetch(ctx)
	k.mu.Lock()
	defer k.mu.Unlock()
	// A failed fetch counts too: an unreachable issuer must not be hammered.
	k.fetched = time.Now()
	if err != nil {
		return err
	}
	k.keys = keys
	return nil
}

func (k *keySet) fetch(ctx context.Context) ([]jose.JSONWebKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := k.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch jwks: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch jwks: %s", resp.Status)
	}
	var raw struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, jwksMaxBytes)).Decode(&raw); err != nil {
		return nil, fmt.Errorf("decode jwks: %w", err)
	}
	keys := make([]jose.JSONWebKey, 0, len(raw.Keys))
	for _, r := range raw.Keys {
		var key jose.JSONWebKey
		// Keys of types we do not know are skipped, not fatal: providers publish
		// encryption keys and new key types next to their signing keys.
		if err := key.UnmarshalJSON(r); err != nil || !key.IsPublic() {
			continue
		}
		keys = append(keys, key)
	}
	if len(keys) == 0 {
		return nil, errors.New("jwks holds no usable public key")
	}
	return keys, nil
}
