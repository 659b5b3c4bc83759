package auth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/zitadel/oidc/v3/pkg/client/rs"
	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/spawnit/spawnit/api/authn"
)

var (
	errExpired      = errors.New("token expired")
	errNotYetValid  = errors.New("token not valid yet")
	errInactive     = errors.New("token is not active")
	errNoExpiry     = errors.New("token has no expiry")
	errNoSubject    = errors.New("token has no subject")
	errAlgRefused   = errors.New("signature algorithm refused")
	errNoIntrospect = errors.New("opaque tokens cannot be verified: no introspection configured")
)

// acceptedAlgorithms are the asymmetric JWS algorithms; a token must also use the alg
// its key is published with (keySet). HMAC is excluded on purpose: with a public JWKS,
// accepting HS* would let anyone sign with the published key as the secret.
var acceptedAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

func (o *OIDC) verifyBearer(ctx context.Context, token string) (authn.Principal, error) {
	if looksLikeJWT(token) {
		return o.verifyJWT(ctx, token)
	}
	return o.introspect(ctx, token)
}

// looksLikeJWT: a compact JWS has three base64url parts. The signature part may be
// empty, which is how "alg: none" tokens look; those take this path to be refused
// rather than be sent to introspection. JWE (five parts) and opaque strings go to
// introspection.
func looksLikeJWT(token string) bool {
	parts := 0
	start := 0
	for i := 0; i <= len(token); i++ {
		if i < len(token) && token[i] != '.' {
			if !isBase64URLChar(token[i]) {
				return false
			}
			continue
		}
		if i-start == 0 && parts < 2 {
			return false
		}
		parts++
		start = i + 1
	}
	return parts == 3
}

func isBase64URLChar(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

func (o *OIDC) verifyJWT(ctx context.Context, token string) (authn.Principal, error) {
	if err := checkHeaderAlg(token, o.algs); err != nil {
		return authn.Principal{}, err
	}
	claims := new(oidc.AccessTokenClaims)
	payload, err := oidc.ParseToken(token, claims)
	if err != nil {
		return authn.Principal{}, fmt.Errorf("%w: %w", oidc.ErrParse, err)
	}
	if err := oidc.CheckIssuerWithISSVerifier(claims, o.cfg.Issuer, nil); err != nil {
		return authn.Principal{}, err
	}
	if err := o.checkAudience(claims); err != nil {
		return authn.Principal{}, err
	}
	if err := oidc.CheckSignature(ctx, token, payload, claims, o.algs, o.keys); err != nil {
		return authn.Principal{}, err
	}
	if err := o.checkTimes(claims.GetExpiration(), claims.NotBefore.AsTime()); err != nil {
		return authn.Principal{}, err
	}
	var all map[string]any
	if err := json.Unmarshal(payload, &all); err != nil {
		return authn.Principal{}, fmt.Errorf("%w: %w", oidc.ErrParse, err)
	}
	return o.principal(claims.Subject, all)
}

// checkAudience accepts a token issued for the server's audience or, when one is
// configured, for the command-line client.
func (o *OIDC) checkAudience(claims *oidc.AccessTokenClaims) error {
	err := oidc.CheckAudience(claims, o.cfg.Audience)
	if err != nil && o.cfg.CLIClientID != "" && oidc.CheckAudience(claims, o.cfg.CLIClientID) == nil {
		return nil
	}
	return err
}

// checkHeaderAlg refuses "none", HMAC and anything unexpected before any key is looked
// up, so a forged header costs no JWKS fetch.
func checkHeaderAlg(token string, accepted []string) error {
	header, _, _ := cutDot(token)
	raw, err := base64.RawURLEncoding.DecodeString(header)
	if err != nil {
		return fmt.Errorf("%w: malformed header", oidc.ErrParse)
	}
	var h struct {
		Alg string `json:"alg"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		return fmt.Errorf("%w: malformed header", oidc.ErrParse)
	}
	if !slices.Contains(accepted, h.Alg) {
		return fmt.Errorf("%w: %q", errAlgRefused, h.Alg)
	}
	return nil
}

func cutDot(s string) (before, after string, found bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

func (o *OIDC) checkTimes(exp, nbf time.Time) error {
	now := o.now()
	if exp.IsZero() || exp.Unix() <= 0 {
		return errNoExpiry
	}
	if !now.Before(exp) {
		return errExpired
	}
	if !nbf.IsZero() && nbf.Unix() > 0 && now.Before(nbf) {
		return errNotYetValid
	}
	return nil
}

// introspection decodes an RFC 7662 answer twice: into zitadel's typed response and
// into a map, so that any claim can serve as the tenant claim.
type introspection struct {
	oidc.IntrospectionResponse
	all map[string]any
}

func (i *introspection) UnmarshalJSON(data []byte) error {
	if err := json.Unmarshal(data, &i.IntrospectionResponse); err != nil {
		return err
	}
	return json.Unmarshal(data, &i.all)
}

func (o *OIDC) introspect(ctx context.Context, token string) (authn.Principal, error) {
	if o.intro == nil {
		return authn.Principal{}, errNoIntrospect
	}
	key := sha256.Sum256([]byte(token))
	now := o.now()
	if p, ok := o.cache.get(key, now); ok {
		return p, nil
	}
	resp, err := rs.Introspect[introspection](ctx, o.intro, token)
	if err != nil {
		o.log.Warn("token introspection failed", "issuer", o.cfg.Issuer, "error", err.Error())
		return authn.Principal{}, fmt.Errorf("introspection: %w", err)
	}
	if !resp.Active {
		return authn.Principal{}, errInactive
	}
	// RFC 7662 makes iss and aud optional; the provider vouches for them by answering
	// active to our client, so they are only checked when present.
	if resp.Issuer != "" && resp.Issuer != o.cfg.Issuer {
		return authn.Principal{}, fmt.Errorf("%w: got %q", oidc.ErrIssuerInvalid, resp.Issuer)
	}
	if len(resp.Audience) > 0 && !slices.Contains(resp.Audience, o.cfg.Audience) {
		return authn.Principal{}, oidc.ErrAudience
	}
	exp := resp.Expiration.AsTime()
	if err := o.checkTimes(exp, resp.NotBefore.AsTime()); err != nil {
		return authn.Principal{}, err
	}
	p, err := o.principal(resp.Subject, resp.all)
	if err != nil {
		return authn.Principal{}, err
	}
	until := now.Add(introspectionTTL)
	if exp.Before(until) {
		until = exp
	}
	o.cache.put(key, p, until, now)
	return p, nil
}

// introspectionCache holds positive answers only, so a revoked token is refused at
// most introspectionTTL after revocation. Keys are SHA-256 of tokens: the cache never
// holds a usable token.
type introspectionCache struct {
	mu      sync.Mutex
	max     int
	entries map[[sha256.Size]byte]cachedPrincipal
}

type cachedPrincipal struct {
	principal authn.Principal
	until     time.Time
}

func newIntrospectionCache(max int) *introspectionCache {
	return &introspectionCache{max: max, entries: make(map[[sha256.Size]byte]cachedPrincipal)}
}

func (c *introspectionCache) get(key [sha256.Size]byte, now time.Time) (authn.Principal, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok {
		return authn.Principal{}, false
	}
	if !now.Before(e.until) {
		delete(c.entries, key)
		return authn.Principal{}, false
	}
	return e.principal, true
}

func (c *introspectionCache) put(key [sha256.Size]byte, p authn.Principal, until, now time.Time) {
	if !now.Before(until) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		for k, e := range c.entries {
			if !now.Before(e.until) {
				delete(c.entries, k)
			}
		}
	}
	// Still full of live entries: drop arbitrary ones (map order is random). They are
	// at most 30 s from expiry anyway; the cost is one extra introspection.
	for k := range c.entries {
		if len(c.entries) < c.max {
			break
		}
		delete(c.entries, k)
	}
	c.entries[key] = cachedPrincipal{principal: p, until: until}
}

func (c *introspectionCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
