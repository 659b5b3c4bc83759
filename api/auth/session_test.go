package auth

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spawnit/spawnit/api/authn"
	"github.com/spawnit/spawnit/pkg/store"
	"github.com/spawnit/spawnit/pkg/storekey"
)

func testSecret(b byte) []byte { return bytes.Repeat([]byte{b}, MinSessionSecretLen) }

func newTestSessions(t *testing.T, st Store, secret []byte) *sessionStore {
	t.Helper()
	keys, err := deriveSessionKeys(secret)
	if err != nil {
		t.Fatal(err)
	}
	return &sessionStore{st: st, keys: keys}
}

func fsStore(t *testing.T) *store.FS {
	t.Helper()
	st, err := store.NewFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// TestSessionsShared: a session created by one sessionStore is known to another on the
// same store with the same secret (another replica, or the next process), ends
// everywhere when deleted through either, and ends on its own at its expiry.
func TestSessionsShared(t *testing.T) {
	ctx := context.Background()
	st := fsStore(t)
	a, b := newTestSessions(t, st, testSecret(1)), newTestSessions(t, st, testSecret(1))
	now := time.Unix(1_000_000, 0)
	p := authn.Principal{Subject: "sub-secret-1", Tenant: "acme", Name: "Ada Lovelace", Email: "ada@example.com", Role: authn.RoleOperator}

	cookie, created, err := a.create(ctx, p, time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	if created.csrf == "" || strings.Contains(cookie, created.csrf) {
		t.Fatal("session without its own CSRF token")
	}
	got, ok, err := b.get(ctx, cookie, now)
	if err != nil || !ok || got.principal != p || got.csrf != created.csrf {
		t.Fatalf("other replica: %+v %v %v", got, ok, err)
	}
	if _, ok, _ := b.get(ctx, cookie, now.Add(time.Hour)); ok {
		t.Error("session served at its expiry")
	}

	cookie, _, err = a.create(ctx, p, time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.delete(ctx, cookie); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := a.get(ctx, cookie, now); ok {
		t.Error("session signed out on one replica still served by the other")
	}
}

// TestSessionRecordsSealed: the store holds neither the cookie, nor the identity, nor
// the CSRF token in clear.
func TestSessionRecordsSealed(t *testing.T) {
	ctx := context.Background()
	st := fsStore(t)
	s := newTestSessions(t, st, testSecret(1))
	p := authn.Principal{Subject: "sub-secret-1", Tenant: "tenant-secret", Name: "Ada Lovelace", Email: "ada@example.com"}
	cookie, sess, err := s.create(ctx, p, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	objs, err := st.List(ctx, storekey.AuthPrefix)
	if err != nil || len(objs) != 1 {
		t.Fatalf("store holds %v, %v; want one record", objs, err)
	}
	idPart, _, _ := strings.Cut(cookie, ".")
	if strings.Contains(objs[0].Key, idPart) {
		t.Error("the record is named by the session id itself")
	}
	data, _, err := st.Get(ctx, objs[0].Key)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{idPart, sess.csrf, p.Subject, p.Tenant, p.Name, p.Email, "Ada", "ada@"} {
		if bytes.Contains(data, []byte(secret)) {
			t.Errorf("the stored record shows %q in clear", secret)
		}
	}
}

// TestSessionCookiesRefused: a cookie made under another secret, tampered with, or
// naming a record moved from another name is refused, and a forged cookie costs no
// read of the store.
func TestSessionCookiesRefused(t *testing.T) {
	ctx := context.Background()
	st := &countingStore{Store: fsStore(t)}
	s := newTestSessions(t, st, testSecret(1))
	now := time.Now()
	p := authn.Principal{Subject: "s", Tenant: "t"}
	cookie, _, err := s.create(ctx, p, time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	other, _, err := s.create(ctx, authn.Principal{Subject: "other", Tenant: "other"}, time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}

	wrong := newTestSessions(t, st, testSecret(2))
	if _, ok, err := wrong.get(ctx, cookie, now); ok || err != nil {
		t.Errorf("cookie accepted under another secret (ok=%v err=%v)", ok, err)
	}
	idPart, macPart, _ := strings.Cut(cookie, ".")
	id, _ := base64.RawURLEncoding.DecodeString(idPart)
	flipped := bytes.Clone(id)
	flipped[0] ^= 1
	before := st.gets()
	for name, c := range map[string]string{
		"id changed":      base64.RawURLEncoding.EncodeToString(flipped) + "." + macPart,
		"mac changed":     idPart + "." + strings.Repeat("A", len(macPart)),
		"mac dropped":     idPart,
		"mac only":        "." + macPart,
		"not base64":      "%%%." + macPart,
		"short id":        base64.RawURLEncoding.EncodeToString(id[:16]) + "." + macPart,
		"oversized":       cookie + strings.Repeat("A", 200),
		"another's value": idPart + "." + strings.SplitN(other, ".", 2)[1],
		"empty":           "",
	} {
		if _, ok, err := s.get(ctx, c, now); ok || err != nil {
			t.Errorf("%s: accepted (ok=%v err=%v)", name, ok, err)
		}
	}
	if st.gets() != before {
		t.Error("a cookie that does not verify was looked up in the store")
	}

	// A record copied over another session's name does not open there.
	otherID, _ := s.idOf(other)
	data, _, err := st.Get(ctx, recordKey(id))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Put(ctx, recordKey(otherID), data, store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.get(ctx, other, now); ok || err != nil {
		t.Errorf("a record moved to another name opened (ok=%v err=%v)", ok, err)
	}
}

func TestSessionSweep(t *testing.T) {
	ctx := context.Background()
	st := fsStore(t)
	s := newTestSessions(t, st, testSecret(1))
	now := time.Unix(1_000_000, 0)
	var cookies []string
	for i := range 4 {
		c, _, err := s.create(ctx, authn.Principal{Subject: itoa(i), Tenant: "t"}, time.Duration(i+1)*time.Hour, now)
		if err != nil {
			t.Fatal(err)
		}
		cookies = append(cookies, c)
	}
	// Not a session record: left alone.
	if _, err := st.Put(ctx, storekey.Session("junk"), []byte("not json"), store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	n, err := s.sweep(ctx, now.Add(2*time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("sweep removed %d, %v; want 2", n, err)
	}
	objs, _ := st.List(ctx, storekey.SessionsPrefix)
	if len(objs) != 3 {
		t.Errorf("%d records left, want 2 sessions and the junk", len(objs))
	}
	if _, ok, _ := s.get(ctx, cookies[3], now.Add(2*time.Hour)); !ok {
		t.Error("a live session was swept")
	}
}

// TestStoreUnavailable: a store that does not answer is an error, never a signed-out
// browser, and says so as an unavailable store (503).
func TestSessionStoreUnavailable(t *testing.T) {
	ctx := context.Background()
	st := &countingStore{Store: fsStore(t)}
	s := newTestSessions(t, st, testSecret(1))
	cookie, _, err := s.create(ctx, authn.Principal{Subject: "s", Tenant: "t"}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	st.fail(errors.New("disk on fire"))
	if _, ok, err := s.get(ctx, cookie, time.Now()); ok || !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("get on a failing store: ok=%v err=%v; want ErrUnavailable", ok, err)
	}
	if err := s.delete(ctx, cookie); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("delete on a failing store: %v; want ErrUnavailable", err)
	}
}

func TestDeriveSessionKeys(t *testing.T) {
	if _, err := deriveSessionKeys(make([]byte, MinSessionSecretLen-1)); err == nil {
		t.Error("a short secret was accepted")
	}
	a, _ := deriveSessionKeys(testSecret(1))
	b, _ := deriveSessionKeys(testSecret(1))
	c, _ := deriveSessionKeys(testSecret(2))
	if !bytes.Equal(a.cookieMAC, b.cookieMAC) || !bytes.Equal(a.loginEnc, b.loginEnc) {
		t.Error("one secret gave two sets of keys")
	}
	if bytes.Equal(a.cookieMAC, c.cookieMAC) || bytes.Equal(a.loginHash, c.loginHash) {
		t.Error("two secrets gave the same keys")
	}
	keys := [][]byte{a.cookieMAC, a.loginHash, a.loginEnc}
	for i := range keys {
		for j := range i {
			if bytes.Equal(keys[i], keys[j]) {
				t.Error("one key serves two purposes")
			}
		}
	}
}

// TestStoredSessionSecret: replicas starting together, with no secret given, agree on
// one drawn secret, which the next start reads back.
func TestStoredSessionSecret(t *testing.T) {
	ctx := context.Background()
	st := fsStore(t)
	const replicas = 8
	got := make([][]byte, replicas)
	var wg sync.WaitGroup
	for i := range replicas {
		wg.Go(func() {
			s, err := storedSessionSecret(ctx, st)
			if err != nil {
				t.Error(err)
			}
			got[i] = s
		})
	}
	wg.Wait()
	for i := range got {
		if len(got[i]) < MinSessionSecretLen || !bytes.Equal(got[i], got[0]) {
			t.Fatalf("replica %d got another secret", i)
		}
	}
	again, err := storedSessionSecret(ctx, st)
	if err != nil || !bytes.Equal(again, got[0]) {
		t.Fatal("a restart drew another secret")
	}
	if _, err := st.Put(ctx, storekey.SessionSecret, []byte("c2hvcnQ="), store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := storedSessionSecret(ctx, st); err == nil || !strings.Contains(err.Error(), storekey.SessionSecret) {
		t.Errorf("a short stored secret: %v, want an error naming the record", err)
	}
}

// countingStore counts reads and can be made to fail.
type countingStore struct {
	Store
	mu  sync.Mutex
	n   int
	err error
}

func (c *countingStore) Get(ctx context.Context, key string) ([]byte, store.Object, error) {
	c.mu.Lock()
	c.n++
	err := c.err
	c.mu.Unlock()
	if err != nil {
		return nil, store.Object{}, err
	}
	return c.Store.Get(ctx, key)
}

func (c *countingStore) Delete(ctx context.Context, key string) error {
	c.mu.Lock()
	err := c.err
	c.mu.Unlock()
	if err != nil {
		return err
	}
	return c.Store.Delete(ctx, key)
}

func (c *countingStore) gets() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

func (c *countingStore) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.err = err
}

// TestSessionReadOncePerRequest: a request made by WithSessionMemo reads its session
// from the store once, however many of Authenticate, CheckCSRF and CSRFToken look at
// it; without, each reads it.
func TestSessionReadOncePerRequest(t *testing.T) {
	st := &countingStore{Store: fsStore(t)}
	o := &OIDC{sessions: newTestSessions(t, st, testSecret(1)), cookies: newCookieNames(false), now: time.Now}
	cookie, sess, err := o.sessions.create(t.Context(), authn.Principal{Subject: "s", Tenant: "t", Role: authn.RoleDeployer}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	request := func() *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/api/v1/services", nil)
		r.AddCookie(&http.Cookie{Name: o.cookies.session, Value: cookie})
		r.Header.Set(csrfHeader, sess.csrf)
		return r
	}
	all := func(r *http.Request) {
		t.Helper()
		if p, err := o.Authenticate(r); err != nil || p.Subject != "s" {
			t.Fatalf("Authenticate = %+v, %v", p, err)
		}
		if err := o.CheckCSRF(r); err != nil {
			t.Fatalf("CheckCSRF = %v", err)
		}
		if got := o.CSRFToken(r); got != sess.csrf {
			t.Fatalf("CSRFToken = %q", got)
		}
	}
	all(WithSessionMemo(request()))
	if n := st.gets(); n != 1 {
		t.Fatalf("one request with its memo read the session %d times", n)
	}
	all(request())
	if n := st.gets(); n != 1+3 {
		t.Fatalf("one request without a memo read the session %d times, want 3", n-1)
	}
	// A sign-out is seen by the next request at once.
	if err := o.sessions.delete(t.Context(), cookie); err != nil {
		t.Fatal(err)
	}
	if _, err := o.Authenticate(WithSessionMemo(request())); !errors.Is(err, authn.ErrUnauthenticated) {
		t.Fatalf("after sign-out: %v", err)
	}
}
