package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"sync"
	"time"

	"github.com/spawnit/spawnit/api/authn"
)

// session is a signed-in browser. Values are copied out of the store, never shared.
type session struct {
	principal authn.Principal
	csrf      string
	expires   time.Time
}

// sessionStore maps session ids to sessions in memory. It is keyed by the SHA-256 of
// the id, so the store holds nothing a cookie could be rebuilt from, and lookups do not
// compare secrets byte by byte. It is bounded: when full, expired sessions go first,
// then the ones closest to expiry.
type sessionStore struct {
	mu  sync.Mutex
	max int
	m   map[[sha256.Size]byte]session
}

func newSessionStore(max int) *sessionStore {
	return &sessionStore{max: max, m: make(map[[sha256.Size]byte]session)}
}

// randomToken returns 32 random bytes, base64url: the session ids, CSRF tokens, state,
// nonce and PKCE verifiers.
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (it crashes the program instead)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (s *sessionStore) create(p authn.Principal, ttl time.Duration, now time.Time) (id string, sess session) {
	id = randomToken()
	sess = session{principal: p, csrf: randomToken(), expires: now.Add(ttl)}
	key := sha256.Sum256([]byte(id))
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) >= s.max {
		s.evict(now)
	}
	s.m[key] = sess
	return id, sess
}

// evict runs with mu held and the store full.
func (s *sessionStore) evict(now time.Time) {
	for k, v := range s.m {
		if !now.Before(v.expires) {
			delete(s.m, k)
		}
	}
	for len(s.m) >= s.max {
		var oldestKey [sha256.Size]byte
		var oldest time.Time
		first := true
		for k, v := range s.m {
			if first || v.expires.Before(oldest) {
				oldestKey, oldest, first = k, v.expires, false
			}
		}
		delete(s.m, oldestKey)
	}
}

func (s *sessionStore) get(id string, now time.Time) (session, bool) {
	key := sha256.Sum256([]byte(id))
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.m[key]
	if !ok {
		return session{}, false
	}
	if !now.Before(sess.expires) {
		delete(s.m, key)
		return session{}, false
	}
	return sess, true
}

func (s *sessionStore) delete(id string) {
	key := sha256.Sum256([]byte(id))
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, key)
}

func (s *sessionStore) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}
