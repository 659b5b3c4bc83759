package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/spawnit/spawnit/api/auth"
	"github.com/spawnit/spawnit/catalog"
	"github.com/spawnit/spawnit/pkg/apiv1"
	"github.com/spawnit/spawnit/pkg/platform"
)

// streamLogs names log streams in metrics.
const streamLogs = "logs"

// operate stops, starts or restarts a deployed service's containers: 200 with the
// service. A body, when sent, must be an empty JSON object.
func (s *Server) operate(action platform.ContainerAction) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := serviceParam(c)
		if err != nil {
			return err
		}
		if err := s.optionalJSON(c, &struct{}{}); err != nil {
			return err
		}
		svc, err := s.p.Operate(c.Request().Context(), s.actor(c), id, action)
		if err != nil {
			return err
		}
		setETag(c, svc.ETag)
		return c.JSON(http.StatusOK, svc)
	}
}

// serviceLogs answers the last ?tail= lines (default 100) of the service's container
// logs as JSON, or with ?follow=true streams them and then every new line as "log"
// events, until the containers stop ("end") or the client leaves.
func (s *Server) serviceLogs(c echo.Context) error {
	id, err := serviceParam(c)
	if err != nil {
		return err
	}
	// A log holds whatever the service prints, its secrets included: the deployers'
	// (as revealed outputs are), not a viewer's.
	if err := auth.Require(c, auth.RoleDeployer); err != nil {
		return err
	}
	follow, err := parseBool(c, "follow")
	if err != nil {
		return err
	}
	tail := platform.DefaultLogTail
	if v := c.QueryParam("tail"); v != "" {
		if tail, err = strconv.Atoi(v); err != nil {
			return fieldError("tail", catalog.CodeType, "must be a whole number")
		}
	}
	ctx, cancel := s.streamContext(c.Request().Context())
	defer cancel()
	read, err := s.p.Logs(ctx, s.actor(c), id, platform.LogOptions{Tail: tail, Follow: follow})
	if err != nil {
		return err
	}
	if !follow {
		lines := []apiv1.LogLine{}
		if err := read(ctx, func(l apiv1.LogLine) { lines = append(lines, l) }); err != nil {
			return err
		}
		return c.JSON(http.StatusOK, apiv1.LogList{Lines: lines})
	}
	st, err := s.openStream(c)
	s.metrics.sseSubscribers.WithLabelValues(streamLogs).Inc()
	defer s.metrics.sseSubscribers.WithLabelValues(streamLogs).Dec()
	if err != nil {
		return nil
	}
	// The reader runs apart from the writer so that keep-alives go out while the
	// containers are quiet; the handler waits for it.
	lines := make(chan apiv1.LogLine, 256)
	done := make(chan error, 1)
	go func() {
		done <- read(ctx, func(l apiv1.LogLine) {
			select {
			case lines <- l:
			case <-ctx.Done():
			}
		})
		close(lines)
	}()
	defer func() {
		cancel()
		for range lines {
		}
	}()
	keepAlive := time.NewTimer(s.cfg.KeepAlive)
	defer keepAlive.Stop()
	for {
		select {
		case l, ok := <-lines:
			for n := 0; ok; n++ {
				data, _ := json.Marshal(l)
				st.queue(frame("", apiv1.SSELog, data))
				if n+1 >= maxBatch {
					break
				}
				select {
				case l, ok = <-lines:
					continue
				default:
				}
				break
			}
			if err := st.send(); err != nil {
				s.streamError(streamLogs, err)
				return nil
			}
			if !ok {
				if ctx.Err() == nil {
					msg := apiv1.LogEnd{}
					if err := <-done; err != nil {
						msg.Error = "the log ended: " + err.Error()
					}
					data, _ := json.Marshal(msg)
					if err := st.event("", apiv1.SSEEnd, data); err != nil {
						s.streamError(streamLogs, err)
					}
				}
				return nil
			}
			keepAlive.Reset(s.cfg.KeepAlive)
		case <-keepAlive.C:
			if err := st.comment("keep-alive"); err != nil {
				s.streamError(streamLogs, err)
				return nil
			}
			keepAlive.Reset(s.cfg.KeepAlive)
		case <-ctx.Done():
			return nil
		}
	}
}
