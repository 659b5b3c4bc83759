package catalog

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/spawnit/spawnit/pkg/truncate"
)

// ReadinessType is the kind of a service readiness check.
type ReadinessType string

const (
	// ReadyHTTP: GET a URL until it answers the expected status.
	ReadyHTTP ReadinessType = "http"
	// ReadyTCP: connect to host:port until a connection is accepted.
	ReadyTCP ReadinessType = "tcp"
	// ReadyDockerHealth: wait until the service's container reports its healthcheck
	// healthy (Docker target only).
	ReadyDockerHealth ReadinessType = "docker_health"
)

// Limits and defaults of readiness checks.
const (
	MaxReadinessChecks      = 8
	DefaultReadinessTimeout = 60 * time.Second
	MaxReadinessTimeout     = 30 * time.Minute
	DefaultReadinessStatus  = 200
	maxReadinessPath        = 1024
)

// ReadinessCheck is one of a service's readiness checks: a condition an apply waits for
// before it succeeds (the service is deployed and also usable). Checks run in order, each with its own timeout.
type ReadinessCheck struct {
	Type ReadinessType `json:"type"`
	// Output names the module output holding the address to check (http and tcp): a
	// URL ("http://127.0.0.1:8080/") or host:port. It must not be sensitive.
	Output string `json:"output,omitempty"`
	// Path (http) replaces the URL's path and query; the URL's own path when empty.
	Path string `json:"path,omitempty"`
	// Status (http) is the status code to wait for (default 200).
	Status int `json:"status,omitempty"`
	// Timeout is how long the check may take, as a Go duration ("90s", "2m";
	// default 60s, at most 30m).
	Timeout string `json:"timeout,omitempty"`

	timeout time.Duration
}

// TimeoutDuration is the check's timeout, or DefaultReadinessTimeout.
func (c ReadinessCheck) TimeoutDuration() time.Duration {
	if c.timeout > 0 {
		return c.timeout
	}
	if d, err := time.ParseDuration(c.Timeout); err == nil && d > 0 {
		return d
	}
	return DefaultReadinessTimeout
}

// WantStatus is the HTTP status an http check waits for.
func (c ReadinessCheck) WantStatus() int {
	if c.Status == 0 {
		return DefaultReadinessStatus
	}
	return c.Status
}

// check validates the check and records its parsed timeout.
func (c *ReadinessCheck) check() []string {
	var p []string
	bad := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }
	switch c.Type {
	case ReadyHTTP, ReadyTCP:
		if c.Output == "" {
			bad("output: required for a %s check (the module output with the address)", c.Type)
		} else if !variableNameRe.MatchString(c.Output) {
			bad("output: %q is not an output name", truncate.String(c.Output, 64))
		}
	case ReadyDockerHealth:
		if c.Output != "" {
			bad("output: a docker_health check takes none (it inspects the service's container)")
		}
	default:
		bad("type: %q is not one of http, tcp, docker_health", truncate.String(string(c.Type), 32))
		return p
	}
	if c.Type != ReadyHTTP {
		if c.Path != "" || c.Status != 0 {
			bad("path/status: only http checks take them")
		}
	} else {
		if c.Path != "" {
			if err := checkReadinessPath(c.Path); err != nil {
				bad("path: %v", err)
			}
		}
		if c.Status != 0 && (c.Status < 100 || c.Status > 599) {
			bad("status: %d is not an HTTP status (100-599)", c.Status)
		}
	}
	if c.Timeout != "" {
		d, err := time.ParseDuration(c.Timeout)
		switch {
		case err != nil:
			bad("timeout: %q is not a duration such as \"60s\" or \"2m\"", truncate.String(c.Timeout, 32))
		case d < time.Second || d > MaxReadinessTimeout:
			bad("timeout: must be between 1s and %s", MaxReadinessTimeout)
		default:
			c.timeout = d
		}
	}
	return p
}

func checkReadinessPath(path string) error {
	if len(path) > maxReadinessPath {
		return fmt.Errorf("longer than %d bytes", maxReadinessPath)
	}
	if !strings.HasPrefix(path, "/") || strings.HasPrefix(path, "//") {
		return fmt.Errorf("must start with a single /")
	}
	for _, r := range path {
		if r <= ' ' || r == 0x7f || r == '#' {
			return fmt.Errorf("must not contain spaces, control characters or a fragment")
		}
	}
	u, err := url.Parse(path)
	if err != nil || u.Scheme != "" || u.Host != "" {
		return fmt.Errorf("must be a URL path (and query)")
	}
	return nil
}
