package platform

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spawnit/spawnit/catalog"
	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/pkg/dockerapi"
	"github.com/spawnit/spawnit/pkg/redact"
	"github.com/spawnit/spawnit/pkg/truncate"
)

// Service readiness checks (catalog.ReadinessCheck) run after an apply of a Docker
// service: the apply succeeds only once every check passed, in order, each within its
// timeout. The same probes, tried once with a short timeout, are the service's health
// probes (ProbeHealth, health.go). Neither is the server's readiness (/readyz, api).

const (
	// probeTimeout bounds one try of a probe (one GET, one connect, one inspect).
	probeTimeout = 2 * time.Second
	// retryFirst and retryMax: the wait between tries starts short and doubles up to
	// retryMax.
	retryFirst = 100 * time.Millisecond
	retryMax   = time.Second
	// progressEvery is the least time between two "waiting for" messages of a check.
	progressEvery = 5 * time.Second
	// maxDetail bounds what a probe quotes from the service (a health log line).
	maxDetail = 200
)

// checkedTarget is the only target whose services are checked for now: its
// endpoints are on this machine, and its containers can be inspected.
const checkedTarget = "docker"

// probeResult is one try of a probe.
type probeResult struct {
	ok bool
	// fatal: waiting longer cannot help (a container reported unhealthy, a check that
	// cannot work); the check fails at once.
	fatal bool
	// unknown: the probe could not tell (Docker unreachable); health is then unknown,
	// not unhealthy.
	unknown bool
	detail  string
}

// probe is a resolved readiness check: what it looks at, and one try.
type probe struct {
	check  catalog.ReadinessCheck
	target string
	try    func(ctx context.Context) probeResult
}

// resolveProbe turns a check into a probe for a service with the given outputs. Only
// non-sensitive outputs carry a value here; that is all an address needs.
func (p *Platform) resolveProbe(ref engine.ServiceRef, c catalog.ReadinessCheck, outs map[string]engine.Output) (*probe, error) {
	switch c.Type {
	case catalog.ReadyHTTP:
		addr, err := outputString(outs, c.Output)
		if err != nil {
			return nil, err
		}
		u, err := httpTarget(addr, c.Path)
		if err != nil {
			return nil, fmt.Errorf("output %q: %w", c.Output, err)
		}
		want := c.WantStatus()
		return &probe{check: c, target: u, try: func(ctx context.Context) probeResult { return tryHTTP(ctx, u, want) }}, nil
	case catalog.ReadyTCP:
		addr, err := outputString(outs, c.Output)
		if err != nil {
			return nil, err
		}
		hostport, err := tcpTarget(addr)
		if err != nil {
			return nil, fmt.Errorf("output %q: %w", c.Output, err)
		}
		return &probe{check: c, target: hostport, try: func(ctx context.Context) probeResult { return tryTCP(ctx, hostport) }}, nil
	case catalog.ReadyDockerHealth:
		name := containerName(ref)
		return &probe{check: c, target: "container " + name, try: func(ctx context.Context) probeResult { return p.docker.tryHealth(ctx, name) }}, nil
	}
	return nil, fmt.Errorf("unknown readiness check type %q", c.Type)
}

// containerName is the Docker container of a service (the catalog's module convention).
func containerName(ref engine.ServiceRef) string {
	return "spawnit-" + ref.Tenant() + "-" + ref.Service
}

func outputString(outs map[string]engine.Output, name string) (string, error) {
	o, ok := outs[name]
	switch {
	case !ok:
		return "", fmt.Errorf("the module has no output %q", name)
	case o.Sensitive:
		return "", fmt.Errorf("output %q is sensitive: readiness checks read non-sensitive outputs only", name)
	}
	var s string
	if err := json.Unmarshal(o.Value, &s); err != nil || s == "" {
		return "", fmt.Errorf("output %q is not an address (a URL or host:port string)", name)
	}
	return s, nil
}

// httpTarget builds the URL an http check GETs: the output's URL (or http://host:port)
// with the check's path, when it gives one.
func httpTarget(addr, path string) (string, error) {
	var u *url.URL
	if strings.Contains(addr, "://") {
		var err error
		if u, err = url.Parse(addr); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return "", errors.New("not an http(s) URL")
		}
		u.User, u.Fragment = nil, ""
	} else {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return "", errors.New("neither a URL nor host:port")
		}
		u = &url.URL{Scheme: "http", Host: addr}
	}
	if path != "" {
		p, err := url.Parse(path)
		if err != nil {
			return "", err
		}
		u.Path, u.RawPath, u.RawQuery = p.Path, p.RawPath, p.RawQuery
	}
	if u.Path == "" {
		u.Path = "/"
	}
	return u.String(), nil
}

// tcpTarget finds host:port in a URL (its port, or its scheme's) or in host:port.
func tcpTarget(addr string) (string, error) {
	if !strings.Contains(addr, "://") {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return "", errors.New("neither a URL nor host:port")
		}
		return addr, nil
	}
	u, err := url.Parse(addr)
	if err != nil || u.Hostname() == "" {
		return "", errors.New("not a URL with a host")
	}
	port := u.Port()
	if port == "" {
		switch u.Scheme {
		case "http":
			port = "80"
		case "https":
			port = "443"
		default:
			return "", fmt.Errorf("URL %s://... names no port", u.Scheme)
		}
	}
	return net.JoinHostPort(u.Hostname(), port), nil
}

// probeClient GETs without following redirects (the status is the endpoint's own) and
// without any proxy from the environment (endpoints are local).
var probeClient = &http.Client{
	Transport: &http.Transport{
		Proxy:             nil,
		DialContext:       (&net.Dialer{Timeout: probeTimeout}).DialContext,
		DisableKeepAlives: true,
	},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

func tryHTTP(ctx context.Context, u string, want int) probeResult {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return probeResult{fatal: true, detail: err.Error()}
	}
	req.Header.Set("User-Agent", "spawnit-readiness/1")
	resp, err := probeClient.Do(req)
	if err != nil {
		return probeResult{detail: netDetail(ctx, err)}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode == want {
		return probeResult{ok: true, detail: "status " + strconv.Itoa(resp.StatusCode)}
	}
	return probeResult{detail: fmt.Sprintf("status %d, want %d", resp.StatusCode, want)}
}

func tryTCP(ctx context.Context, hostport string) probeResult {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", hostport)
	if err != nil {
		return probeResult{detail: netDetail(ctx, err)}
	}
	conn.Close()
	return probeResult{ok: true, detail: "connected"}
}

// netDetail says why a connection failed in a few words.
func netDetail(ctx context.Context, err error) string {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, context.DeadlineExceeded), ctx.Err() != nil:
		return fmt.Sprintf("no answer within %s", probeTimeout)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		err = oe.Err
	}
	return truncate.String(strings.Join(strings.Fields(err.Error()), " "), maxDetail)
}

// waitReady runs one check until it passes, fails for good, or its timeout ends. It
// reports progress when the check starts waiting and then at most every progressEvery.
func waitReady(ctx context.Context, pr *probe, progress func(string)) error {
	timeout := pr.check.TimeoutDuration()
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last time.Time
	wait := retryFirst
	for {
		res := pr.try(cctx)
		if res.ok {
			progress(fmt.Sprintf("%s check passed: %s (%s)", pr.check.Type, pr.target, res.detail))
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err() // the job was cancelled: not the service's fault
		}
		if res.fatal {
			return fmt.Errorf("%s check of %s failed: %s", pr.check.Type, pr.target, res.detail)
		}
		if time.Since(last) >= progressEvery {
			progress(fmt.Sprintf("waiting for %s (%s)", pr.target, res.detail))
			last = time.Now()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-cctx.Done():
			return fmt.Errorf("%s check of %s: not ready after %s; last result: %s", pr.check.Type, pr.target, timeout, res.detail)
		case <-time.After(wait):
		}
		wait = min(wait*2, retryMax)
	}
}

// readinessFor returns the wait an apply of svc runs before it succeeds, or nil when
// its template declares no readiness checks. The result is kept as the service's
// health: healthy, or not_ready with the failing check's message.
func (p *Platform) readinessFor(ctx context.Context, svc *catalog.Service) engine.ReadinessFunc {
	tpl, err := p.cat.ServiceTemplate(ctx, &svc.Info)
	if err != nil {
		p.log.Warn("platform: template unavailable; apply without readiness checks", "service", svc.Ref().String(), "template", svc.Template, "reason", ErrorKind(err))
		return nil
	}
	return p.readinessOf(svc, tpl)
}

// readinessOf is readinessFor with the template's version given (an upgrade waits for
// the checks of the version it applies).
func (p *Platform) readinessOf(svc *catalog.Service, tpl *catalog.Template) engine.ReadinessFunc {
	if len(tpl.Readiness) == 0 {
		return nil
	}
	ref, checks, masks := svc.Ref(), tpl.Readiness, secrets(svc)
	if svc.Provider != checkedTarget {
		return func(ctx context.Context, _ map[string]engine.Output, progress func(string)) error {
			msg := fmt.Sprintf("readiness checks run for the docker target only: %d skipped for %s", len(checks), svc.Provider)
			progress(msg)
			p.saveHealth(ctx, ref, HealthUnknown, msg)
			return nil
		}
	}
	return func(ctx context.Context, outs map[string]engine.Output, progress func(string)) error {
		for _, c := range checks {
			pr, err := p.resolveProbe(ref, c, outs)
			if err == nil {
				err = waitReady(ctx, pr, progress)
			} else {
				err = fmt.Errorf("%s check: %w", c.Type, err)
			}
			if err != nil {
				if ctx.Err() == nil {
					p.saveHealth(ctx, ref, HealthNotReady, redact.New(masks...).String(err.Error()))
				}
				return err
			}
		}
		p.saveHealth(ctx, ref, HealthHealthy, "")
		return nil
	}
}

// dockerAPI is the one call readiness needs from the Docker engine: inspect a container.
// The engine is the docker target's, as its environment names it.
type dockerAPI struct {
	api *dockerapi.Client
	err error // why Docker cannot be used (a DOCKER_HOST this client does not speak)
}

// newDockerAPI connects to the engine getenv names (dockerapi.FromEnv). When it cannot,
// the error is returned, and kept for the probes to report.
func newDockerAPI(getenv func(string) string) (*dockerAPI, error) {
	api, err := dockerapi.FromEnv(getenv)
	if err != nil {
		return &dockerAPI{err: fmt.Errorf("docker_health checks: %w", err)}, err
	}
	return &dockerAPI{api: api}, nil
}

type containerState struct {
	State struct {
		Status   string `json:"Status"`
		Running  bool   `json:"Running"`
		ExitCode int    `json:"ExitCode"`
		Health   *struct {
			Status string `json:"Status"`
			Log    []struct {
				ExitCode int    `json:"ExitCode"`
				Output   string `json:"Output"`
			} `json:"Log"`
		} `json:"Health"`
	} `json:"State"`
}

// tryHealth inspects a container once: healthy passes, unhealthy fails at once (with the
// last health log line), starting or absent keeps waiting.
func (d *dockerAPI) tryHealth(ctx context.Context, name string) probeResult {
	if d.err != nil {
		return probeResult{fatal: true, unknown: true, detail: d.err.Error()}
	}
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	var st containerState
	err := d.api.Get(ctx, "/containers/"+url.PathEscape(name)+"/json", nil, &st)
	switch {
	case errors.Is(err, dockerapi.ErrNotFound):
		return probeResult{detail: "no such container"}
	case err != nil && ctx.Err() == nil && !isDial(err):
		return probeResult{unknown: true, detail: "docker inspect: " + err.Error()}
	case err != nil:
		return probeResult{unknown: true, detail: "docker unreachable: " + netDetail(ctx, err)}
	}
	h := st.State.Health
	switch {
	case h == nil:
		return probeResult{fatal: true, detail: "the container has no healthcheck"}
	case h.Status == "healthy":
		return probeResult{ok: true, detail: "healthy"}
	case h.Status == "unhealthy":
		detail := "unhealthy"
		if n := len(h.Log); n > 0 {
			detail = fmt.Sprintf("unhealthy: %s (exit code %d)", truncate.String(strings.Join(strings.Fields(h.Log[n-1].Output), " "), maxDetail), h.Log[n-1].ExitCode)
		}
		return probeResult{fatal: true, detail: detail}
	case !st.State.Running:
		return probeResult{detail: fmt.Sprintf("container %s (exit code %d)", st.State.Status, st.State.ExitCode)}
	}
	return probeResult{detail: "health " + h.Status}
}

// isDial reports whether err is a failure to reach the engine at all.
func isDial(err error) bool {
	var op *net.OpError
	return errors.As(err, &op)
}
