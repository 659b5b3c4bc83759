package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/spawnit/spawnit"
	"github.com/spawnit/spawnit/api/auth"
	"github.com/spawnit/spawnit/catalog"
	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/pkg/apiv1"
	"github.com/spawnit/spawnit/pkg/platform"
)

// Request headers of the API.
const (
	HeaderIdempotencyKey = "Idempotency-Key"
	HeaderIfMatch        = "If-Match"
	HeaderLastEventID    = "Last-Event-ID"
)

func (s *Server) actor(c echo.Context) platform.Actor {
	p := principal(c)
	return platform.Actor{Tenant: p.Tenant, Subject: p.Subject, RequestID: requestID(c), HomeTenant: p.HomeTenant}
}

// Path ids are checked before anything else sees them. Valid ids contain nothing that
// URL-escaping changes, so the raw (still escaped) segment is checked: "%2F", "%00" or
// an escaped look-alike never becomes a character of an id.
func serviceParam(c echo.Context) (string, error) {
	id := c.Param("service")
	if spawnit.ValidateID(id) != nil {
		return "", newError(http.StatusBadRequest, apiv1.CodeBadRequest, "invalid service id: 1-%d of a-z, 0-9 and '-'", spawnit.MaxIDLen)
	}
	return id, nil
}

func jobParam(c echo.Context) (service, job string, err error) {
	if service, err = serviceParam(c); err != nil {
		return "", "", err
	}
	job = c.Param("job")
	if spawnit.ValidateJobID(job) != nil {
		return "", "", newError(http.StatusBadRequest, apiv1.CodeBadRequest, "invalid job id: a lowercase UUID")
	}
	return service, job, nil
}

func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) me(c echo.Context) error {
	p := principal(c)
	return c.JSON(http.StatusOK, apiv1.Me{
		Subject: p.Subject, Tenant: p.Tenant, Name: p.Name, Email: p.Email,
		SingleUser: s.cfg.SingleUser,
		CSRFToken:  s.cfg.Auth.CSRFToken(c.Request()),
		Role:       string(p.Role), HomeTenant: p.HomeTenant,
	})
}

func (s *Server) listTemplates(c echo.Context) error {
	tpls, err := s.p.Templates(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, apiv1.TemplateList{Templates: convert(tpls, wireTemplate)})
}

func (s *Server) getTemplate(c echo.Context) error {
	id := c.Param("template")
	if spawnit.ValidateID(id) != nil {
		return newError(http.StatusBadRequest, apiv1.CodeBadRequest, "invalid template id")
	}
	t, err := s.p.Template(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, wireTemplate(t))
}

func (s *Server) listServices(c echo.Context) error {
	pg, err := pageParams(c)
	if err != nil {
		return err
	}
	pg.Query = c.QueryParam("q")
	list, err := s.p.ServicesPage(c.Request().Context(), s.actor(c), pg)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, list)
}

// createBody is apiv1.CreateService with the inputs kept raw, so that they are decoded
// by catalog.ParseInputs (scalars only, numbers exact, field-level errors).
type createBody struct {
	Template  string            `json:"template"`
	Target    string            `json:"target"`
	Provider  string            `json:"provider"`
	Name      string            `json:"name"`
	Inputs    json.RawMessage   `json:"inputs"`
	Labels    map[string]string `json:"labels"`
	ExpiresAt *time.Time        `json:"expires_at"`

	AutoRemediate bool `json:"auto_remediate"`
}

func (s *Server) createService(c echo.Context) error {
	var body createBody
	if err := s.requiredJSON(c, &body); err != nil {
		return err
	}
	inputs, err := parseInputs(body.Inputs)
	if err != nil {
		return err
	}
	svc, err := s.p.CreateService(c.Request().Context(), s.actor(c), apiv1.CreateService{
		Template: body.Template, Target: body.Target, Provider: body.Provider, Name: body.Name,
		Inputs: inputs, Labels: body.Labels, ExpiresAt: body.ExpiresAt, AutoRemediate: body.AutoRemediate,
	})
	if err != nil {
		return err
	}
	setETag(c, svc.ETag)
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/services/"+svc.ID)
	return c.JSON(http.StatusCreated, svc)
}

// parseInputs decodes the inputs object with catalog.ParseInputs and names its fields
// as the rest of the request's ("inputs.port").
func parseInputs(raw json.RawMessage) (map[string]any, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return map[string]any{}, nil
	}
	in, err := catalog.ParseInputs(raw)
	if ve, ok := err.(*catalog.ValidationError); ok {
		out := &catalog.ValidationError{}
		for _, f := range ve.Fields {
			f.Field = strings.TrimSuffix("inputs."+f.Field, ".")
			out.Fields = append(out.Fields, f)
		}
		return nil, out
	}
	return in, err
}

func setETag(c echo.Context, etag string) {
	if etag != "" {
		c.Response().Header().Set("ETag", `"`+etag+`"`)
	}
}

func (s *Server) getService(c echo.Context) error {
	id, err := serviceParam(c)
	if err != nil {
		return err
	}
	svc, err := s.p.GetService(c.Request().Context(), s.actor(c), id)
	if err != nil {
		return err
	}
	setETag(c, svc.ETag)
	return c.JSON(http.StatusOK, svc)
}

// updateInputs replaces a service's inputs. If-Match is required (428 without it). A
// stale ETag answers 412 precondition_failed; losing a race against a concurrent update
// that passed the same check answers 409 conflict. Either way nothing was written.
func (s *Server) updateInputs(c echo.Context) error {
	id, err := serviceParam(c)
	if err != nil {
		return err
	}
	ifMatch, err := serviceIfMatch(c)
	if err != nil {
		return err
	}
	if ifMatch == "" {
		return newError(http.StatusPreconditionRequired, apiv1.CodePreconditionNeeded, "If-Match with the service's ETag is required")
	}
	var body struct {
		Inputs json.RawMessage `json:"inputs"`
	}
	if err := s.requiredJSON(c, &body); err != nil {
		return err
	}
	inputs, err := parseInputs(body.Inputs)
	if err != nil {
		return err
	}
	svc, err := s.p.UpdateInputs(c.Request().Context(), s.actor(c), id, inputs, ifMatch)
	if err != nil {
		return err
	}
	setETag(c, svc.ETag)
	return c.JSON(http.StatusOK, svc)
}

// updateBody is apiv1.UpdateService as it arrives: each field raw, so that absent
// (unchanged) and null (expires_at: remove) differ.
type updateBody struct {
	ExpiresAt     json.RawMessage `json:"expires_at"`
	AutoRemediate json.RawMessage `json:"auto_remediate"`
}

// updateService changes a service's settings (expiry, auto-remediation) without an
// ETag: settings are independent of the inputs and of each other, each field sent
// replaces one setting, and concurrent updates are applied one after the other. An
// If-Match is refused (400) rather than ignored, so that nobody believes it protects
// anything here.
func (s *Server) updateService(c echo.Context) error {
	id, err := serviceParam(c)
	if err != nil {
		return err
	}
	if c.Request().Header.Get(HeaderIfMatch) != "" {
		return newError(http.StatusBadRequest, apiv1.CodeBadRequest, "PATCH takes no If-Match: the settings it names are replaced as sent")
	}
	var body updateBody
	if err := s.requiredJSON(c, &body); err != nil {
		return err
	}
	var set platform.Settings
	switch {
	case body.ExpiresAt == nil:
	case string(body.ExpiresAt) == "null":
		set.RemoveExpiry = true
	default:
		var t time.Time
		if err := json.Unmarshal(body.ExpiresAt, &t); err != nil {
			return fieldError("expires_at", catalog.CodeType, "must be an RFC 3339 time or null")
		}
		set.Expires = &t
	}
	if body.AutoRemediate != nil {
		var b bool
		if err := json.Unmarshal(body.AutoRemediate, &b); err != nil {
			return fieldError("auto_remediate", catalog.CodeType, "must be true or false")
		}
		set.AutoRemediate = &b
	}
	svc, err := s.p.UpdateSettings(c.Request().Context(), s.actor(c), id, set)
	if err != nil {
		return err
	}
	setETag(c, svc.ETag)
	return c.JSON(http.StatusOK, svc)
}

func (s *Server) deleteService(c echo.Context) error {
	id, err := serviceParam(c)
	if err != nil {
		return err
	}
	destroy, err := parseBool(c, "destroy")
	if err != nil {
		return err
	}
	if destroy && s.draining.Load() {
		return engine.ErrClosed
	}
	job, err := s.p.DeleteService(c.Request().Context(), s.actor(c), id, destroy)
	if err != nil {
		return err
	}
	if job == nil {
		return c.NoContent(http.StatusNoContent)
	}
	c.Response().Header().Set(echo.HeaderLocation, jobLocation(*job))
	return c.JSON(http.StatusAccepted, wireJob(*job))
}

func jobLocation(j engine.JobInfo) string {
	return "/api/v1/services/" + j.Service.Service + "/jobs/" + j.ID
}

// run starts an operation: 202 with the job. An Idempotency-Key makes retries return
// the same job; ?wait=false fails with 409 locked instead of queueing behind a running
// job. A body, when sent, must be an empty JSON object.
func (s *Server) run(op engine.Operation) echo.HandlerFunc { return s.runFor(op, "") }

// runFor is run with the reason recorded in the audit log (remediate: an apply).
func (s *Server) runFor(op engine.Operation, reason string) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := serviceParam(c)
		if err != nil {
			return err
		}
		wait := true
		if c.QueryParam("wait") != "" {
			if wait, err = parseBool(c, "wait"); err != nil {
				return err
			}
		}
		key := c.Request().Header.Get(HeaderIdempotencyKey)
		if key != "" && platform.ValidateIdempotencyKey(key) != nil {
			return newError(http.StatusBadRequest, apiv1.CodeBadRequest, "Idempotency-Key must be 1 to %d printable ASCII characters", platform.MaxIdempotencyKeyLen)
		}
		if err := s.optionalJSON(c, &struct{}{}); err != nil {
			return err
		}
		if s.draining.Load() {
			return engine.ErrClosed
		}
		job, err := s.p.Run(c.Request().Context(), s.actor(c), id, platform.RunRequest{Operation: op, IdempotencyKey: key, NoQueue: !wait, Reason: reason})
		if err != nil {
			return err
		}
		c.Response().Header().Set(echo.HeaderLocation, jobLocation(job))
		return c.JSON(http.StatusAccepted, wireJob(job))
	}
}

func (s *Server) listJobs(c echo.Context) error {
	id, err := serviceParam(c)
	if err != nil {
		return err
	}
	pg, err := pageParams(c)
	if err != nil {
		return err
	}
	jobs, next, err := s.p.JobsPage(c.Request().Context(), s.actor(c), id, pg)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, apiv1.JobList{Jobs: convert(jobs, wireJob), NextCursor: next})
}

func (s *Server) getJob(c echo.Context) error {
	svc, job, err := jobParam(c)
	if err != nil {
		return err
	}
	reveal, err := parseBool(c, "reveal")
	if err == nil && reveal {
		// Sensitive outputs are the deployers': a viewer reads everything else.
		err = auth.Require(c, auth.RoleDeployer)
	}
	if err != nil {
		return err
	}
	info, err := s.p.GetJob(c.Request().Context(), s.actor(c), svc, job, reveal)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, wireJob(info))
}

func (s *Server) cancelJob(c echo.Context) error {
	svc, job, err := jobParam(c)
	if err != nil {
		return err
	}
	var body apiv1.Cancel
	if err := s.optionalJSON(c, &body); err != nil {
		return err
	}
	info, err := s.p.Cancel(c.Request().Context(), s.actor(c), svc, job, body.Force)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, wireJob(info))
}

func (s *Server) getDrift(c echo.Context) error {
	id, err := serviceParam(c)
	if err != nil {
		return err
	}
	rep, err := s.p.Drift(c.Request().Context(), s.actor(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, wireDrift(rep))
}

// recoverService clears a service's "needs recovery" mark once an operator repaired it.
func (s *Server) recoverService(c echo.Context) error {
	id, err := serviceParam(c)
	if err != nil {
		return err
	}
	svc, err := s.p.Recover(c.Request().Context(), s.actor(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, svc)
}
