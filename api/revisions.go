package api

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/spawnit/spawnit/catalog"
	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/pkg/apiv1"
)

// revisionNumber parses a revision number (a path segment or query parameter).
func revisionNumber(s, name string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || strconv.Itoa(n) != s {
		return 0, newError(http.StatusBadRequest, apiv1.CodeBadRequest, "%s must be a revision number (1, 2, ...)", name)
	}
	return n, nil
}

func (s *Server) listRevisions(c echo.Context) error {
	id, err := serviceParam(c)
	if err != nil {
		return err
	}
	revs, err := s.p.Revisions(c.Request().Context(), s.actor(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, apiv1.RevisionList{Revisions: revs, Kept: catalog.MaxRevisions})
}

func (s *Server) getRevision(c echo.Context) error {
	id, err := serviceParam(c)
	if err != nil {
		return err
	}
	n, err := revisionNumber(c.Param("revision"), "the revision")
	if err != nil {
		return err
	}
	rev, err := s.p.Revision(c.Request().Context(), s.actor(c), id, n)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, rev)
}

// compareRevisions answers the fields that differ from revision ?from= to ?to=.
func (s *Server) compareRevisions(c echo.Context) error {
	id, err := serviceParam(c)
	if err != nil {
		return err
	}
	from, err := revisionNumber(c.QueryParam("from"), "from")
	if err != nil {
		return err
	}
	to, err := revisionNumber(c.QueryParam("to"), "to")
	if err != nil {
		return err
	}
	cmp, err := s.p.CompareRevisions(c.Request().Context(), s.actor(c), id, from, to)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, cmp)
}

// restoreRevision sets the service's inputs to a revision's and starts a plan of them:
// 202 with the service, the new revision and the plan job. If-Match is optional (the
// service's ETag: the restore is refused if the configuration changed since).
func (s *Server) restoreRevision(c echo.Context) error {
	id, err := serviceParam(c)
	if err != nil {
		return err
	}
	n, err := revisionNumber(c.Param("revision"), "the revision")
	if err != nil {
		return err
	}
	ifMatch, err := serviceIfMatch(c)
	if err != nil {
		return err
	}
	if err := s.optionalJSON(c, &struct{}{}); err != nil {
		return err
	}
	if s.draining.Load() {
		return engine.ErrClosed
	}
	res, err := s.p.RestoreRevision(c.Request().Context(), s.actor(c), id, n, ifMatch)
	if err != nil {
		return err
	}
	setETag(c, res.Service.ETag)
	c.Response().Header().Set(echo.HeaderLocation, jobLocation(res.Job))
	return c.JSON(http.StatusAccepted, apiv1.Restore{Service: res.Service, Revision: res.Revision, Job: wireJob(res.Job)})
}
