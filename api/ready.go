package api

import (
	"context"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/spawnit/spawnit/pkg/store"
)

// ReadyCheck is one dependency the server's readiness (/readyz: can this server take
// work?) verifies. It is not a service's readiness checks (catalog.ReadinessCheck).

type ReadyCheck struct {
	Name  string
	Check func(ctx context.Context) error
}

// StoreCheck verifies that the store answers, with a metadata read of a key that need
// not exist (cheap on S3 and on a file system alike).
func StoreCheck(st store.Store) ReadyCheck {
	return ReadyCheck{Name: "store", Check: func(ctx context.Context) error {
		_, err := st.Stat(ctx, "readyz")
		if err == nil || errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return err
	}}
}

// TofuCheck verifies that the tofu binary runs.
func TofuCheck(tofuPath string) ReadyCheck {
	return ReadyCheck{Name: "tofu", Check: func(ctx context.Context) error {
		cmd := exec.CommandContext(ctx, tofuPath, "version", "-json")
		cmd.Env = append(os.Environ(), "CHECKPOINT_DISABLE=1", "TF_IN_AUTOMATION=1")
		return cmd.Run()
	}}
}

// serverReadiness runs the checks of /readyz at most once per TTL: a load balancer polling /readyz
// must not turn into a stream of tofu processes and store requests.
type serverReadiness struct {
	checks []ReadyCheck
	ttl    time.Duration

	mu      sync.Mutex
	at      time.Time
	results map[string]error
}

func (rd *serverReadiness) run(ctx context.Context) map[string]error {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	if rd.results != nil && time.Since(rd.at) < rd.ttl {
		return rd.results
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	results := make(map[string]error, len(rd.checks))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, c := range rd.checks {
		wg.Go(func() {
			err := c.Check(ctx)
			mu.Lock()
			results[c.Name] = err
			mu.Unlock()
		})
	}
	wg.Wait()
	rd.results, rd.at = results, time.Now()
	return results
}

type readyBody struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
}

func (s *Server) readyz(c echo.Context) error {
	body := readyBody{Status: "ready", Checks: map[string]string{}}
	code := http.StatusOK
	for name, err := range s.ready.run(c.Request().Context()) {
		if err != nil {
			// Details go to the log, not to an unauthenticated endpoint.
			s.log.Warn("server readiness check failed", "check", name, "err", err)
			body.Checks[name] = "failing"
			body.Status, code = "unready", http.StatusServiceUnavailable
			continue
		}
		body.Checks[name] = "ok"
	}
	if s.draining.Load() {
		body.Status, code = "shutting_down", http.StatusServiceUnavailable
	}
	return c.JSON(code, body)
}
