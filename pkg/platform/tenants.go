package platform

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/spawnit/spawnit/pkg/apiv1"
	"github.com/spawnit/spawnit/pkg/storekey"
)

// Tenants lists every tenant that has services, with how many, from the store's index
// of services: the tenants an operator may address with ?tenant= for support. The API
// lets operators only call it.
func (p *Platform) Tenants(ctx context.Context) ([]apiv1.TenantSummary, error) {
	objs, err := p.st.List(ctx, storekey.ServicesIndexPrefix)
	if err != nil {
		return nil, fmt.Errorf("platform: list tenants: %w", err)
	}
	counts := map[string]int{}
	for _, o := range objs {
		tenant, _, ok := strings.Cut(strings.TrimPrefix(o.Key, storekey.ServicesIndexPrefix), "/")
		if ok && tenant != "" {
			counts[tenant]++
		}
	}
	out := make([]apiv1.TenantSummary, 0, len(counts))
	for tenant, n := range counts {
		out = append(out, apiv1.TenantSummary{Tenant: tenant, Services: n})
	}
	slices.SortFunc(out, func(a, b apiv1.TenantSummary) int { return strings.Compare(a.Tenant, b.Tenant) })
	return out, nil
}
