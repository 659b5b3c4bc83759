// Package api is SpawnIt's HTTP API v1 (docs/api.md) over Echo: routes, authentication
// and tenant scoping, request decoding, errors, Server-Sent Events, health, metrics and
// the OpenAPI document. It holds no business rules: those are in package platform.
package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/pkg/apiv1"
	"github.com/spawnit/spawnit/pkg/platform"
)

// AuthHandlers are the browser sign-in endpoints an OIDC Authenticator provides,
// mounted at /auth/login, /auth/callback and /auth/logout.
type AuthHandlers struct {
	Login, Callback, Logout http.Handler
}

// Config configures a Server. Platform and Auth are required.
type Config struct {
	Platform *platform.Platform
	Auth     Authenticator
	// SingleUser says that Auth is the single-user authenticator (shown by /api/v1/me).
	SingleUser bool
	// AuthHandlers, when set, are mounted under /auth/.
	AuthHandlers *AuthHandlers
	// CLILogin is what GET /api/v1/cli-login tells command-line clients: the OIDC
	// issuer and the public client to sign in with (nil: no command-line sign-in).
	CLILogin *apiv1.CLILogin
	// UI, when set, answers GET and HEAD of every path no route claims (the browser
	// app, package ui).
	UI http.Handler
	// Logger receives request and error logs; nil means silent.
	Logger *slog.Logger
	// Metrics, when nil, are created; pass the ones given to the platform as its
	// Observer so job metrics appear.
	Metrics *Metrics
	// MetricsToken, when set, is the bearer token /metrics requires (compared in
	// constant time); without it /metrics is on this handler only with MetricsOpen.
	MetricsToken string
	// MetricsOpen serves /metrics here without a token: for a server only its own
	// machine reaches (single-user on loopback). With neither MetricsToken nor
	// MetricsOpen, /metrics answers 404 here: serve MetricsHandler on a listener of
	// its own.
	MetricsOpen bool
	// MetricsOff takes /metrics off this handler whatever the above: it is served by
	// MetricsHandler on a listener of its own.
	MetricsOff bool
	// Ready are the checks of the server's readiness (/readyz), cached for
	// ReadyCacheTTL (default 5s).
	Ready         []ReadyCheck
	ReadyCacheTTL time.Duration
	// KeepAlive is the longest a stream stays silent: a comment is sent then (15s).
	KeepAlive time.Duration
	// StreamWriteTimeout bounds each write to a stream; a client that cannot take an
	// event within it is dropped (10s).
	StreamWriteTimeout time.Duration
	// BodyLimit bounds request bodies (1 MiB).
	BodyLimit int64
}

// Server is the HTTP API. It is an http.Handler.
type Server struct {
	cfg     Config
	p       *platform.Platform
	log     *slog.Logger
	metrics *Metrics
	ready   *serverReadiness
	e       *echo.Echo

	draining     atomic.Bool
	streams      context.Context
	closeStreams context.CancelFunc
	hubs         hubs // hijacked streams' fan-out (fanout.go)
}

var _ http.Handler = (*Server)(nil)

// New builds the server and its routes.
func New(cfg Config) (*Server, error) {
	if cfg.Platform == nil || cfg.Auth == nil {
		return nil, errors.New("api: Platform and Auth are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics()
	}
	if cfg.ReadyCacheTTL <= 0 {
		cfg.ReadyCacheTTL = 5 * time.Second
	}
	if cfg.KeepAlive <= 0 {
		cfg.KeepAlive = 15 * time.Second
	}
	if cfg.StreamWriteTimeout <= 0 {
		cfg.StreamWriteTimeout = 10 * time.Second
	}
	if cfg.BodyLimit <= 0 {
		cfg.BodyLimit = DefaultBodyLimit
	}
	s := &Server{
		cfg:     cfg,
		p:       cfg.Platform,
		log:     cfg.Logger,
		metrics: cfg.Metrics,
		ready:   &serverReadiness{checks: cfg.Ready, ttl: cfg.ReadyCacheTTL},
	}
	s.streams, s.closeStreams = context.WithCancel(context.Background())
	s.e = s.routes()
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.e.ServeHTTP(w, r) }

// Drain makes the server refuse new jobs (503 shutting_down) and report itself not
// ready; requests that only read keep working while jobs finish.
func (s *Server) Drain() { s.draining.Store(true) }

// CloseStreams ends every open event stream (clients reconnect elsewhere or later, with
// Last-Event-ID) so that an http.Server's Shutdown does not wait for them.
func (s *Server) CloseStreams() { s.closeStreams() }

func (s *Server) routes() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	e.Use(s.requestID, s.observe, s.recoverPanics)

	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	if !s.cfg.MetricsOff && (s.cfg.MetricsOpen || s.cfg.MetricsToken != "") {
		e.GET("/metrics", echo.WrapHandler(s.MetricsHandler()))
	} else {
		// Not the browser app's page either: a plain 404.
		e.GET("/metrics", func(echo.Context) error {
			return newError(http.StatusNotFound, apiv1.CodeNotFound, "metrics are not served on this listener")
		})
	}
	e.GET("/api/v1/openapi.json", s.openAPI)
	e.GET("/api/v1/cli-login", s.cliLogin)

	if h := s.cfg.AuthHandlers; h != nil {
		e.GET("/auth/login", echo.WrapHandler(h.Login))
		e.GET("/auth/callback", echo.WrapHandler(h.Callback))
		e.POST("/auth/logout", echo.WrapHandler(h.Logout))
	}

	// Unknown API paths answer the API's JSON error, never the UI's page.
	e.Any("/api/*", func(echo.Context) error {
		return newError(http.StatusNotFound, apiv1.CodeNotFound, "no such API route")
	})
	if s.cfg.UI != nil {
		e.GET("/*", echo.WrapHandler(s.cfg.UI))
		e.HEAD("/*", echo.WrapHandler(s.cfg.UI))
	}

	v1 := e.Group("/api/v1", s.authenticate)
	v1.GET("/me", s.me)
	v1.GET("/catalog", s.listTemplates)
	v1.GET("/catalog/:template", s.getTemplate)
	v1.POST("/catalog/:template/versions", s.publishTemplate)
	v1.GET("/services", s.listServices)
	v1.POST("/services", s.createService)
	v1.GET("/services/:service", s.getService)
	v1.PUT("/services/:service/inputs", s.updateInputs)
	v1.PATCH("/services/:service", s.updateService)
	v1.POST("/services/:service/recover", s.recoverService)
	v1.DELETE("/services/:service", s.deleteService)
	v1.POST("/services/:service/plan", s.run(engine.OpPlan))
	v1.POST("/services/:service/apply", s.run(engine.OpApply))
	v1.POST("/services/:service/destroy", s.run(engine.OpDestroy))
	v1.POST("/services/:service/accept", s.run(engine.OpAccept))
	v1.POST("/services/:service/remediate", s.runFor(engine.OpApply, platform.ReasonRemediate))
	v1.GET("/services/:service/jobs", s.listJobs)
	v1.GET("/services/:service/jobs/:job", s.getJob)
	v1.GET("/services/:service/jobs/:job/events", s.jobEvents)
	v1.POST("/services/:service/jobs/:job/cancel", s.cancelJob)
	v1.GET("/services/:service/drift", s.getDrift)
	v1.POST("/services/:service/drift", s.run(engine.OpDrift))
	v1.GET("/services/:service/revisions", s.listRevisions)
	v1.GET("/services/:service/revisions/compare", s.compareRevisions)
	v1.GET("/services/:service/revisions/:revision", s.getRevision)
	v1.POST("/services/:service/revisions/:revision/restore", s.restoreRevision)
	v1.GET("/events", s.tenantEvents)
	v1.GET("/quota", s.getQuota)
	v1.PUT("/quota", s.putQuota)
	v1.GET("/tenants", s.listTenants)
	v1.GET("/services/:service/logs", s.serviceLogs)
	v1.POST("/services/:service/stop", s.operate(platform.ContainerStop))
	v1.POST("/services/:service/start", s.operate(platform.ContainerStart))
	v1.POST("/services/:service/restart", s.operate(platform.ContainerRestart))
	v1.GET("/catalog/:template/versions", s.listVersions)
	v1.POST("/catalog/:template/upgrade", s.bulkUpgrade)
	v1.POST("/services/:service/upgrade/plan", s.upgrade(false))
	v1.POST("/services/:service/upgrade", s.upgrade(true))
	return e
}
