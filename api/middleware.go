package api

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/spawnit/spawnit/pkg/truncate"
)

const requestIDKey = "spawnit.request_id"

// HeaderRequestID carries the request id: the client's when it sends a plausible one,
// else a generated one; it is echoed in the response and in every log line.
const HeaderRequestID = "X-Request-Id"

func (s *Server) requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Request().Header.Get(HeaderRequestID)
		if !validRequestID(id) {
			var b [12]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		c.Set(requestIDKey, id)
		c.Response().Header().Set(HeaderRequestID, id)
		return next(c)
	}
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func requestID(c echo.Context) string {
	id, _ := c.Get(requestIDKey).(string)
	return id
}

// observe logs one line per request and records the HTTP metrics. It logs the route
// and path, never the query, headers (Authorization, cookies) or body.
func (s *Server) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		if err := next(c); err != nil {
			s.auditDenial(c, err) // every refusal for a role leaves an entry
			c.Error(err)          // write the error now, so its status is logged and counted
		}
		elapsed := time.Since(start)
		route := c.Path() // the route's pattern: bounded label values
		if route == "" {
			route = "unmatched"
		}
		req := c.Request()
		status := c.Response().Status
		s.metrics.httpRequests.WithLabelValues(route, req.Method, strconv.Itoa(status)).Inc()
		s.metrics.httpDuration.WithLabelValues(route, req.Method).Observe(elapsed.Seconds())
		level := slog.LevelInfo
		if route == "/healthz" || route == "/readyz" || route == "/metrics" {
			level = slog.LevelDebug
		}
		s.log.LogAttrs(req.Context(), level, "http request",
			slog.String("request_id", requestID(c)),
			slog.String("method", req.Method),
			slog.String("route", route),
			slog.String("path", truncate.String(req.URL.EscapedPath(), 256)),
			slog.Int("status", status),
			slog.Int64("bytes", c.Response().Size),
			slog.Duration("duration", elapsed),
			slog.String("tenant", principal(c).Tenant),
		)
		return nil
	}
}

// recoverPanics turns a handler's panic into a 500 and a log line with its stack.
func (s *Server) recoverPanics(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				buf := make([]byte, 16<<10)
				buf = buf[:runtime.Stack(buf, false)]
				s.log.Error("handler panic", "request_id", requestID(c), "route", c.Path(), "panic", fmt.Sprint(v), "stack", string(buf))
				err = newError(http.StatusInternalServerError, "internal", "internal error")
			}
		}()
		return next(c)
	}
}
