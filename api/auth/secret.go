package auth

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/spawnit/spawnit/pkg/store"
	"github.com/spawnit/spawnit/pkg/storekey"
)

// MinSessionSecretLen is the shortest Config.SessionSecret accepted: a shorter one
// could be guessed offline from one cookie.
const MinSessionSecretLen = 32

// sessionKeys are the keys browser sign-in uses, each derived from the session secret
// for one purpose only (HKDF-SHA256), so that no key serves two algorithms.
type sessionKeys struct {
	cookieMAC []byte      // HMAC-SHA256 binding a session id to this secret in its cookie
	record    cipher.AEAD // AES-256-GCM sealing session records in the store
	loginHash []byte      // the login cookie's authentication key
	loginEnc  []byte      // the login cookie's encryption key (AES-256)
}

func deriveSessionKeys(secret []byte) (sessionKeys, error) {
	if len(secret) < MinSessionSecretLen {
		return sessionKeys{}, fmt.Errorf("auth: the session secret is %d bytes; at least %d are needed", len(secret), MinSessionSecretLen)
	}
	derive := func(purpose string) []byte {
		k, err := hkdf.Key(sha256.New, secret, nil, "spawnit "+purpose+" v1", 32)
		if err != nil {
			panic(err) // only for lengths HKDF-SHA256 cannot produce; 32 is not one
		}
		return k
	}
	block, err := aes.NewCipher(derive("session record"))
	if err != nil {
		return sessionKeys{}, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return sessionKeys{}, err
	}
	return sessionKeys{
		cookieMAC: derive("session cookie"),
		record:    aead,
		loginHash: derive("login cookie mac"),
		loginEnc:  derive("login cookie encryption"),
	}, nil
}

// storedSessionSecret returns the session secret kept in the store, drawing it first
// when there is none yet. Replicas starting together agree on one: the first write
// wins (If-None-Match) and the others read it.
//
// This is what serve does when the operator gives no --session-secret: sessions then
// survive restarts and replica switches with nothing to configure, as one bucket is
// all replicas share. It trusts the bucket with the key, which adds little: whoever
// reads the bucket already reads every service's inputs and state, and whoever writes
// it can change the modules tofu runs. An operator's secret, kept out of the bucket, is
// still better: then a copy of the bucket (a backup) can neither read session records
// nor forge a cookie.
func storedSessionSecret(ctx context.Context, st Store) ([]byte, error) {
	for range 3 {
		data, _, err := st.Get(ctx, storekey.SessionSecret)
		if err == nil {
			secret, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(data)))
			if err != nil || len(secret) < MinSessionSecretLen {
				return nil, fmt.Errorf("auth: %s in the store is not a usable secret; delete it to draw a new one (signing everyone out), or give one", storekey.SessionSecret)
			}
			return secret, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("auth: read the session secret: %w", err)
		}
		secret := make([]byte, 32)
		_, _ = rand.Read(secret)
		_, err = st.Put(ctx, storekey.SessionSecret, []byte(base64.StdEncoding.EncodeToString(secret)+"\n"),
			store.PutOptions{IfNoneMatch: true, ContentType: "text/plain"})
		if err == nil {
			return secret, nil
		}
		if !errors.Is(err, store.ErrPreconditionFailed) {
			return nil, fmt.Errorf("auth: keep the session secret: %w", err)
		}
		// Another replica drew one first: read it.
	}
	return nil, errors.New("auth: the session secret in the store keeps changing")
}
