package auth

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/spawnit/spawnit/api/authn"
	"github.com/spawnit/spawnit/internal/testservers"
	"github.com/spawnit/spawnit/pkg/store"
	"github.com/spawnit/spawnit/pkg/store/s3store"
)

// BenchmarkSessionRequest is what a cookie-authenticated request pays for its session:
// the cookie's HMAC, one read of the record, its decryption. A request the API serves
// pays it once (WithSessionMemo), its CSRF check included.
func BenchmarkSessionRequest(b *testing.B) {
	b.Run("fs", func(b *testing.B) {
		st, err := store.NewFS(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		benchSessionRequest(b, st)
	})
	b.Run("s3-versitygw", func(b *testing.B) {
		srv := testservers.Versitygw(b)
		st, err := s3store.New(b.Context(), s3store.Config{Endpoint: srv.Endpoint, Bucket: fmt.Sprintf("sessions-bench-%d", time.Now().UnixNano()%1e9),
			AccessKey: srv.AccessKey, SecretKey: srv.SecretKey, Region: srv.Region, PathStyle: true})
		if err != nil {
			b.Fatal(err)
		}
		benchSessionRequest(b, st)
	})
}

func benchSessionRequest(b *testing.B, st Store) {
	keys, err := deriveSessionKeys(testSecret(1))
	if err != nil {
		b.Fatal(err)
	}
	o := &OIDC{sessions: &sessionStore{st: st, keys: keys}, cookies: newCookieNames(false), now: time.Now}
	cookie, _, err := o.sessions.create(context.Background(), authn.Principal{Subject: "s", Tenant: "t"}, time.Hour, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, "/api/v1/services", nil)
	r.AddCookie(&http.Cookie{Name: o.cookies.session, Value: cookie})
	b.ResetTimer()
	for b.Loop() {
		if _, err := o.Authenticate(r); err != nil {
			b.Fatal(err)
		}
	}
}
