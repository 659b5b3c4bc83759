package api

import (
	"net/http"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/spawnit/spawnit"
	"github.com/spawnit/spawnit/api/auth"
	"github.com/spawnit/spawnit/catalog"
	"github.com/spawnit/spawnit/pkg/apiv1"
)

// publishTemplate publishes a version of a template: 201 with the version, 200 when
// the same content was already published under it.
func (s *Server) publishTemplate(c echo.Context) error {
	id := c.Param("template")
	if spawnit.ValidateID(id) != nil {
		return newError(http.StatusBadRequest, apiv1.CodeBadRequest, "invalid template id: 1-%d of a-z, 0-9 and '-'", spawnit.MaxIDLen)
	}
	if err := auth.Require(c, auth.RoleOperator); err != nil {
		return err
	}
	var body apiv1.PublishTemplate
	if err := s.requiredJSON(c, &body); err != nil {
		return err
	}
	files := make(catalog.TemplateFiles, len(body.Files))
	for p, text := range body.Files {
		if !utf8.ValidString(text) {
			return newError(http.StatusBadRequest, apiv1.CodeBadRequest, "file contents must be UTF-8 text")
		}
		files[p] = []byte(text)
	}
	v, err := s.p.PublishTemplate(c.Request().Context(), s.actor(c), id, files)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if v.Created {
		status = http.StatusCreated
	}
	return c.JSON(status, v)
}
