package auth

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/spawnit/spawnit"
	"github.com/spawnit/spawnit/api/authn"
)

const (
	maxPlainTenant = 40
	hashedPrefix   = "u-"
	// singleUserTenant is the tenant of `spawnit serve` without an issuer. An OIDC
	// subject must never land in it, or switching a server from single-user to OIDC
	// would hand the local data to whoever's sub is "local".
	singleUserTenant = "local"
)

var errTenantClaim = errors.New("tenant claim missing or not a valid id")

// TenantFromSubject derives a tenant id from an OIDC subject, deterministically.
//
// A subject that already is a safe id — lowercase a-z, 0-9 and '-' (not first), at most
// 40 characters — is the tenant as is. Any other subject (upper case, other characters,
// longer, empty) becomes "u-" followed by the first 16 hex digits of
// SHA-256(issuer + "|" + sub). So do subjects starting with "u-" and the subject
// "local" (the single-user tenant): plain tenants never start with "u-", hashed ones
// always do, so a user cannot pick a sub that equals someone else's hashed tenant.
// The result always passes spawnit.ValidateID. Hashing includes the issuer, so the same
// sub at two issuers gives two tenants, and changing the issuer URL changes the
// tenants of hashed subjects.
func TenantFromSubject(issuer, sub string) string {
	if plainTenant(sub) {
		return sub
	}
	sum := sha256.Sum256([]byte(issuer + "|" + sub))
	return hashedPrefix + hex.EncodeToString(sum[:8])
}

func plainTenant(sub string) bool {
	if sub == "" || len(sub) > maxPlainTenant || sub == singleUserTenant || strings.HasPrefix(sub, hashedPrefix) {
		return false
	}
	for i := 0; i < len(sub); i++ {
		c := sub[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return spawnit.ValidateID(sub) == nil
}

// principal builds the caller from verified claims. claims holds every claim of the
// token (or introspection answer, or ID token and userinfo).
func (o *OIDC) principal(sub string, claims map[string]any) (authn.Principal, error) {
	if sub == "" {
		return authn.Principal{}, errNoSubject
	}
	p := authn.Principal{
		Subject: sub,
		Name:    stringClaim(claims, "name"),
		Email:   stringClaim(claims, "email"),
	}
	if p.Name == "" {
		p.Name = stringClaim(claims, "preferred_username")
	}
	p.Role = o.cfg.Roles.role(claims)
	if o.cfg.TenantClaim == "" {
		p.Tenant = TenantFromSubject(o.cfg.Issuer, sub)
		return p, nil
	}
	// A configured claim is taken literally or refused: rewriting it could merge two
	// tenants the provider keeps apart.
	tenant := stringClaim(claims, o.cfg.TenantClaim)
	if err := spawnit.ValidateID(tenant); err != nil || tenant == singleUserTenant {
		return authn.Principal{}, fmt.Errorf("%w: %s", errTenantClaim, o.cfg.TenantClaim)
	}
	p.Tenant = tenant
	return p, nil
}

func stringClaim(claims map[string]any, name string) string {
	s, _ := claims[name].(string)
	return s
}
