package auth

import (
	"crypto/sha256"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/spawnit/spawnit/api/authn"
	"github.com/spawnit/spawnit/engine"
)

const testIssuer = "https://issuer.example/"

func TestTenantFromSubject(t *testing.T) {
	long := strings.Repeat("a", 41)
	cases := []struct {
		sub    string
		plain  bool // kept as is
		reason string
	}{
		{"id1", true, "already safe"},
		{"alice", true, "already safe"},
		{"a-b-9", true, "dashes inside are fine"},
		{strings.Repeat("a", 40), true, "40 characters is the limit"},
		{long, false, "41 characters"},
		{"Alice", false, "upper case"},
		{"../x", false, "path traversal"},
		{"..", false, "dots"},
		{"/etc/passwd", false, "slashes"},
		{"-x", false, "leading dash"},
		{"a b", false, "space"},
		{"a\x00b", false, "NUL"},
		{"élodie", false, "non-ASCII letter"},
		{"ａｌｉｃｅ", false, "full-width letters"},
		{"alice\u200b", false, "zero-width space"},
		{"用户", false, "CJK"},
		{"248289761001", true, "numeric sub (Google style)"},
		{"f:1b2c3d4e-5f60:alice", false, "Keycloak federated sub"},
		{"auth0|5f7c8ec7c33c6c004bbafe82", false, "pipe"},
		{"local", false, "the single-user tenant is reserved"},
		{"u-0123456789abcdef", false, "looks like a hashed tenant"},
		{"u-x", false, "the u- prefix is reserved for hashed tenants"},
		{strings.Repeat("x", 10000), false, "very long"},
		{"", false, "empty"},
	}
	seen := map[string]string{}
	for _, c := range cases {
		got := TenantFromSubject(testIssuer, c.sub)
		if err := engine.ValidateID(got); err != nil {
			t.Errorf("%s (%q): tenant %q fails ValidateID: %v", c.reason, c.sub, got, err)
		}
		if c.plain && got != c.sub {
			t.Errorf("%s (%q): got %q, want it unchanged", c.reason, c.sub, got)
		}
		if !c.plain {
			if !strings.HasPrefix(got, "u-") || len(got) != 18 {
				t.Errorf("%s (%q): got %q, want u- and 16 hex digits", c.reason, c.sub, got)
			}
		}
		if again := TenantFromSubject(testIssuer, c.sub); again != got {
			t.Errorf("%q: not deterministic: %q then %q", c.sub, got, again)
		}
		if prev, ok := seen[got]; ok && prev != c.sub {
			t.Errorf("subs %q and %q collide on tenant %q", prev, c.sub, got)
		}
		seen[got] = c.sub
	}

	// The hashed form depends on the issuer, so one sub at two issuers is two tenants.
	if TenantFromSubject("https://a.example/", "Alice") == TenantFromSubject("https://b.example/", "Alice") {
		t.Error("same hashed tenant for two issuers")
	}
	// The hash covers issuer and sub with a separator: moving characters across it
	// changes the result.
	if TenantFromSubject("https://a.example/x", "Y") == TenantFromSubject("https://a.example/", "xY") {
		t.Error("issuer/sub boundary is ambiguous")
	}
}

func TestTenantFromSubjectHashedNeverCollide(t *testing.T) {
	// Near-identical hostile subs (case, one character) must stay apart.
	seen := make(map[string]string, 20000)
	for i := 0; i < 10000; i++ {
		for _, sub := range []string{
			"User-" + strings.Repeat("x", i%50) + string(rune('A'+i%26)) + itoa(i),
			"../" + itoa(i),
		} {
			got := TenantFromSubject(testIssuer, sub)
			if prev, ok := seen[got]; ok && prev != sub {
				t.Fatalf("subs %q and %q collide on %q", prev, sub, got)
			}
			seen[got] = sub
		}
	}
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

func TestPrincipalTenantClaim(t *testing.T) {
	o := &OIDC{cfg: Config{Issuer: testIssuer, TenantClaim: "org"}}
	cases := []struct {
		claims map[string]any
		want   string // "" = refused
	}{
		{map[string]any{"org": "acme"}, "acme"},
		{map[string]any{"org": "Acme"}, ""},
		{map[string]any{"org": "../acme"}, ""},
		{map[string]any{"org": ""}, ""},
		{map[string]any{"org": "local"}, ""},
		{map[string]any{"org": []any{"acme"}}, ""},
		{map[string]any{"org": map[string]any{"id": "acme"}}, ""},
		{map[string]any{}, ""},
	}
	for _, c := range cases {
		p, err := o.principal("sub-1", c.claims)
		if c.want == "" {
			if err == nil {
				t.Errorf("claims %v: accepted tenant %q, want refusal", c.claims, p.Tenant)
			}
			continue
		}
		if err != nil || p.Tenant != c.want {
			t.Errorf("claims %v: got %q, %v; want %q", c.claims, p.Tenant, err, c.want)
		}
	}
	if _, err := o.principal("", map[string]any{"org": "acme"}); err == nil {
		t.Error("empty subject accepted")
	}
}

func TestSafeReturnTo(t *testing.T) {
	good := []string{"/", "/services", "/services/web-1?tab=jobs#log", "/a/b/../c", "/%2F%2Fevil.example"}
	bad := []string{
		"", "services", "//evil.example", "//evil.example/path", "/\\evil.example", "\\\\evil.example",
		"https://evil.example/", "http:/evil.example", "javascript:alert(1)", "/\t/evil.example",
		"/\n/evil.example", "/a\\b", "/\x7f", strings.Repeat("/a", 600), "https:evil.example",
	}
	for _, v := range good {
		if !safeReturnTo(v) {
			t.Errorf("safeReturnTo(%q) = false, want true", v)
		}
	}
	for _, v := range bad {
		if safeReturnTo(v) {
			t.Errorf("safeReturnTo(%q) = true, want false", v)
		}
	}
}

func TestLooksLikeJWT(t *testing.T) {
	cases := map[string]bool{
		"eyJh.eyJz.c2ln": true,
		"eyJh.eyJz.":     true, // alg none: refused later, not introspected
		"a.b.c.d.e":      false,
		"opaque-token":   false,
		"a..c":           false,
		".b.c":           false,
		"a.b":            false,
		"a.b.c+":         false,
		"a.b/.c":         false,
	}
	for tok, want := range cases {
		if got := looksLikeJWT(tok); got != want {
			t.Errorf("looksLikeJWT(%q) = %v, want %v", tok, got, want)
		}
	}
}

func TestBearerTokenHeader(t *testing.T) {
	cases := map[string]bool{
		"Bearer abc.def-ghi_jkl~mno+p/q=": true,
		"bearer abc":                      true,
		"BEARER  abc":                     true,
		"Basic dXNlcjpwYXNz":              false,
		"Bearer":                          false,
		"Bearer ":                         false,
		"Bearer a b":                      false,
		"Bearer a,b":                      false,
		"Bearer " + strings.Repeat("a", maxBearerLen+1): false,
		"Token abc": false,
	}
	for h, want := range cases {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", h)
		_, err := bearerToken(r)
		if (err == nil) != want {
			t.Errorf("bearerToken(%.40q) err = %v, want ok=%v", h, err, want)
		}
	}
}

func TestIntrospectionCacheBounds(t *testing.T) {
	c := newIntrospectionCache(3)
	now := time.Unix(1_000_000, 0)
	p := authn.Principal{Subject: "s", Tenant: "t"}
	for i := 0; i < 10; i++ {
		c.put(sha256.Sum256([]byte{byte(i)}), p, now.Add(introspectionTTL), now)
		if n := c.len(); n > 3 {
			t.Fatalf("cache holds %d entries, max 3", n)
		}
	}
	key := sha256.Sum256([]byte("tok"))
	c.put(key, p, now.Add(5*time.Second), now)
	if _, ok := c.get(key, now.Add(4*time.Second)); !ok {
		t.Error("entry missing before its end")
	}
	if _, ok := c.get(key, now.Add(5*time.Second)); ok {
		t.Error("entry served at its end")
	}
	c.put(key, p, now, now)
	if _, ok := c.get(key, now); ok {
		t.Error("an already expired answer was cached")
	}
}
