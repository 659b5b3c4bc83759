package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spawnit/spawnit/api/authn"
	"github.com/spawnit/spawnit/pkg/store"
	"github.com/spawnit/spawnit/pkg/storekey"
)

// Store is what browser sign-in needs from the shared store (pkg/store's FS and S3
// stores satisfy it).
type Store interface {
	Get(ctx context.Context, key string) ([]byte, store.Object, error)
	Put(ctx context.Context, key string, data []byte, opts store.PutOptions) (store.Object, error)
	List(ctx context.Context, prefix string) ([]store.Object, error)
	Delete(ctx context.Context, key string) error
}

// session is a signed-in browser.
type session struct {
	principal authn.Principal
	csrf      string
	expires   time.Time
}

// sessionStore keeps browser sessions in the shared store, so that every replica on it,
// and the next process, knows them, and a sign-out (deleting the record) holds
// everywhere at once.
//
// The browser's cookie is "<id>.<mac>": 32 random bytes and their HMAC under a key
// derived from the session secret, both base64url. A cookie that does not verify is
// refused without a read of the store. The record is named by the id's SHA-256, so the
// store holds nothing a cookie can be rebuilt from, and its content (who signed in, the
// CSRF token) is sealed with AES-256-GCM under another derived key, bound to its key in
// the store so that it cannot be moved to another name. No token of the provider
// (access, refresh, ID) is ever kept: the session holds the identity read at sign-in.
type sessionStore struct {
	st   Store
	keys sessionKeys
}

// sessionIDLen is the length of a session id in bytes.
const sessionIDLen = 32

// sessionRecord is a session as stored. Expires is in clear too so that a sweep needs no
// key; the sealed copy is the one trusted.
type sessionRecord struct {
	Version int       `json:"version"`
	Expires time.Time `json:"expires"`
	Sealed  []byte    `json:"sealed"` // GCM nonce followed by the sealed sessionContent
}

type sessionContent struct {
	Subject string `json:"sub"`
	Tenant  string `json:"tenant"`
	Name    string `json:"name,omitempty"`
	Email   string `json:"email,omitempty"`
	// Role is the role read at sign-in: it holds for the session's life (a change at
	// the provider applies at the next sign-in). Empty in sessions older than roles.
	Role    authn.Role `json:"role,omitempty"`
	CSRF    string     `json:"csrf"`
	Expires time.Time  `json:"expires"`
}

// randomToken returns 32 random bytes, base64url: the CSRF tokens, state, nonce and
// PKCE verifiers.
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (it crashes the program instead)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (s *sessionStore) mac(id []byte) []byte {
	m := hmac.New(sha256.New, s.keys.cookieMAC)
	m.Write(id)
	return m.Sum(nil)
}

// cookieValue is what the browser keeps for session id.
func (s *sessionStore) cookieValue(id []byte) string {
	return base64.RawURLEncoding.EncodeToString(id) + "." + base64.RawURLEncoding.EncodeToString(s.mac(id))
}

// idOf returns the session id a cookie carries, if its MAC verifies under this secret.
func (s *sessionStore) idOf(cookie string) ([]byte, bool) {
	idPart, macPart, ok := strings.Cut(cookie, ".")
	if !ok || len(cookie) > 128 {
		return nil, false
	}
	id, err1 := base64.RawURLEncoding.DecodeString(idPart)
	mac, err2 := base64.RawURLEncoding.DecodeString(macPart)
	if err1 != nil || err2 != nil || len(id) != sessionIDLen || !hmac.Equal(mac, s.mac(id)) {
		return nil, false
	}
	return id, true
}

func recordKey(id []byte) string {
	sum := sha256.Sum256(id)
	return storekey.Session(hex.EncodeToString(sum[:]))
}

// create records a new session and returns the cookie value that names it.
func (s *sessionStore) create(ctx context.Context, p authn.Principal, ttl time.Duration, now time.Time) (cookie string, sess session, err error) {
	id := make([]byte, sessionIDLen)
	_, _ = rand.Read(id)
	sess = session{principal: p, csrf: randomToken(), expires: now.Add(ttl).UTC().Truncate(time.Second)}
	key := recordKey(id)
	content, err := json.Marshal(sessionContent{Subject: p.Subject, Tenant: p.Tenant, Name: p.Name, Email: p.Email,
		Role: p.Role, CSRF: sess.csrf, Expires: sess.expires})
	if err != nil {
		return "", session{}, err
	}
	nonce := make([]byte, s.keys.record.NonceSize(), s.keys.record.NonceSize()+len(content)+s.keys.record.Overhead())
	_, _ = rand.Read(nonce)
	rec, err := json.Marshal(sessionRecord{Version: 1, Expires: sess.expires,
		Sealed: s.keys.record.Seal(nonce, nonce, content, []byte(key))})
	if err != nil {
		return "", session{}, err
	}
	if _, err := s.st.Put(ctx, key, rec, store.PutOptions{IfNoneMatch: true, ContentType: "application/json"}); err != nil {
		return "", session{}, storeError("record the session", err)
	}
	return s.cookieValue(id), sess, nil
}

// get returns the session a cookie names. ok is false, with a nil error, for a cookie
// that does not verify, a session that ended or was signed out; err is the store's
// failure to answer.
func (s *sessionStore) get(ctx context.Context, cookie string, now time.Time) (sess session, ok bool, err error) {
	id, ok := s.idOf(cookie)
	if !ok {
		return session{}, false, nil
	}
	key := recordKey(id)
	data, _, err := s.st.Get(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return session{}, false, nil
	}
	if err != nil {
		return session{}, false, storeError("read the session", err)
	}
	c, err := s.open(key, data)
	if err != nil {
		return session{}, false, nil
	}
	if !now.Before(c.Expires) {
		_ = s.st.Delete(ctx, key) // best effort; the sweep gets it otherwise
		return session{}, false, nil
	}
	return session{principal: authn.Principal{Subject: c.Subject, Tenant: c.Tenant, Name: c.Name, Email: c.Email, Role: c.Role},
		csrf: c.CSRF, expires: c.Expires}, true, nil
}

func (s *sessionStore) open(key string, data []byte) (sessionContent, error) {
	var rec sessionRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return sessionContent{}, err
	}
	n := s.keys.record.NonceSize()
	if rec.Version != 1 || len(rec.Sealed) < n {
		return sessionContent{}, errors.New("auth: unknown session record")
	}
	plain, err := s.keys.record.Open(nil, rec.Sealed[:n], rec.Sealed[n:], []byte(key))
	if err != nil {
		return sessionContent{}, err
	}
	var c sessionContent
	if err := json.Unmarshal(plain, &c); err != nil {
		return sessionContent{}, err
	}
	return c, nil
}

// delete ends the session a cookie names, for every replica. A cookie that does not
// verify names nothing.
func (s *sessionStore) delete(ctx context.Context, cookie string) error {
	id, ok := s.idOf(cookie)
	if !ok {
		return nil
	}
	if err := s.st.Delete(ctx, recordKey(id)); err != nil {
		return storeError("delete the session", err)
	}
	return nil
}

// sweep deletes the records of sessions that ended at now, and returns how many.
// Records it cannot read (not a session record) are left alone.
func (s *sessionStore) sweep(ctx context.Context, now time.Time) (int, error) {
	objs, err := s.st.List(ctx, storekey.SessionsPrefix)
	if err != nil {
		return 0, storeError("list sessions", err)
	}
	removed := 0
	for _, o := range objs {
		if err := ctx.Err(); err != nil {
			return removed, err
		}
		data, _, err := s.st.Get(ctx, o.Key)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return removed, storeError("read a session", err)
		}
		var rec sessionRecord
		if json.Unmarshal(data, &rec) != nil || rec.Expires.IsZero() || now.Before(rec.Expires) {
			continue
		}
		if err := s.st.Delete(ctx, o.Key); err != nil {
			return removed, storeError("delete a session", err)
		}
		removed++
	}
	return removed, nil
}

// storeError says what failed, and makes it an unavailable store (503) whatever the
// store's own error: a session that cannot be read is not a signed-out user.
func storeError(what string, err error) error {
	if errors.Is(err, store.ErrUnavailable) {
		return fmt.Errorf("auth: %s: %w", what, err)
	}
	return fmt.Errorf("%w: auth: %s: %w", store.ErrUnavailable, what, err)
}
