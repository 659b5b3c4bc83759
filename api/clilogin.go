package api

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/spawnit/spawnit/pkg/apiv1"
)

// cliLogin answers what a command-line client needs to sign in: nothing secret, and
// asked before it has a token.
func (s *Server) cliLogin(c echo.Context) error {
	out := apiv1.CLILogin{SingleUser: s.cfg.SingleUser}
	if l := s.cfg.CLILogin; l != nil && !s.cfg.SingleUser {
		out.Issuer, out.ClientID, out.Scopes = l.Issuer, l.ClientID, l.Scopes
	}
	return c.JSON(http.StatusOK, out)
}
