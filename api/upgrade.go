package api

import (
	"encoding/json"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/spawnit/spawnit"
	"github.com/spawnit/spawnit/api/auth"
	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/pkg/apiv1"
	"github.com/spawnit/spawnit/pkg/platform"
)

func templateParam(c echo.Context) (string, error) {
	id := c.Param("template")
	if spawnit.ValidateID(id) != nil {
		return "", newError(http.StatusBadRequest, apiv1.CodeBadRequest, "invalid template id")
	}
	return id, nil
}

func (s *Server) listVersions(c echo.Context) error {
	id, err := templateParam(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	versions, err := s.p.TemplateVersions(ctx, id)
	if err != nil {
		return err
	}
	latest := ""
	if t, err := s.p.Template(ctx, id); err == nil {
		latest = t.Version
	}
	out := apiv1.TemplateVersionList{Template: id, Versions: make([]apiv1.TemplateVersion, 0, len(versions))}
	for _, v := range versions {
		w := wireVersion(v)
		w.Latest = v.Version == latest
		out.Versions = append(out.Versions, w)
	}
	return c.JSON(http.StatusOK, out)
}

// upgradeBody is apiv1.UpgradeRequest with the inputs kept raw (parseInputs decodes them).
type upgradeBody struct {
	Version string          `json:"version"`
	Inputs  json.RawMessage `json:"inputs"`
}

// upgrade plans (apply false) or applies a service's move to another version.
func (s *Server) upgrade(apply bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := serviceParam(c)
		if err != nil {
			return err
		}
		var body upgradeBody
		if err := s.optionalJSON(c, &body); err != nil {
			return err
		}
		var inputs map[string]any
		if len(body.Inputs) > 0 && string(body.Inputs) != "null" {
			if inputs, err = parseInputs(body.Inputs); err != nil {
				return err
			}
		}
		if s.draining.Load() {
			return engine.ErrClosed
		}
		req := platform.UpgradeRequest{Version: body.Version, Inputs: inputs}
		ctx := c.Request().Context()
		var u platform.Upgrade
		if apply {
			u, err = s.p.ApplyUpgrade(ctx, s.actor(c), id, req)
		} else {
			u, err = s.p.PlanUpgrade(ctx, s.actor(c), id, req)
		}
		if err != nil {
			return err
		}
		c.Response().Header().Set(echo.HeaderLocation, jobLocation(*u.Job))
		return c.JSON(http.StatusAccepted, wireUpgrade(u))
	}
}

// bulkUpgrade moves every service of a template, of every tenant: operators only.
func (s *Server) bulkUpgrade(c echo.Context) error {
	if err := auth.Require(c, auth.RoleOperator); err != nil {
		return err
	}
	id, err := templateParam(c)
	if err != nil {
		return err
	}
	var body apiv1.BulkUpgradeRequest
	if err := s.optionalJSON(c, &body); err != nil {
		return err
	}
	if s.draining.Load() {
		return engine.ErrClosed
	}
	to, ups, err := s.p.BulkUpgrade(c.Request().Context(), s.actor(c), id, platform.BulkUpgradeRequest{To: body.To, From: body.From, DryRun: body.DryRun})
	if err != nil {
		return err
	}
	out := apiv1.BulkUpgrade{Template: id, To: to, DryRun: body.DryRun, Services: make([]apiv1.Upgrade, 0, len(ups))}
	for _, u := range ups {
		out.Services = append(out.Services, wireUpgrade(u))
	}
	return c.JSON(http.StatusOK, out)
}
