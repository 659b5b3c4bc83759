package api

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/spawnit/spawnit/api/auth"
	"github.com/spawnit/spawnit/pkg/apiv1"
)

// getQuota answers the tenant's quota: limits, usage, defaults and override.
func (s *Server) getQuota(c echo.Context) error {
	u, err := s.p.QuotaUsage(c.Request().Context(), s.actor(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, u)
}

// putQuota sets the tenant's own quota (operators only; another tenant's with
// ?tenant=). An empty object removes the override.
func (s *Server) putQuota(c echo.Context) error {
	if err := auth.Require(c, auth.RoleOperator); err != nil {
		return err
	}
	var body apiv1.QuotaOverride
	if err := s.requiredJSON(c, &body); err != nil {
		return err
	}
	u, err := s.p.SetQuota(c.Request().Context(), s.actor(c), body)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, u)
}

// listTenants answers every tenant that has services (operators only: the tenants
// they may address with ?tenant= for support).
func (s *Server) listTenants(c echo.Context) error {
	if err := auth.Require(c, auth.RoleOperator); err != nil {
		return err
	}
	tenants, err := s.p.Tenants(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, apiv1.TenantList{Tenants: tenants})
}
