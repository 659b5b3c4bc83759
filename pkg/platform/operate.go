package platform

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/spawnit/spawnit"
	"github.com/spawnit/spawnit/catalog"
	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/pkg/apiv1"
	"github.com/spawnit/spawnit/pkg/dockerapi"
)

// Operating a deployed service's containers (Docker target): their logs, and stop,
// start and restart. The containers are the ones carrying the service's labels. A
// stop is recorded in the service's info (catalog.Info.Stopped), so that every replica
// shows the service as stopped rather than drifted and no supervisor remediates it.

// ContainerAction is what a user asks of a service's containers.
type ContainerAction string

// Container actions.
const (
	ContainerStop    ContainerAction = "stop"
	ContainerStart   ContainerAction = "start"
	ContainerRestart ContainerAction = "restart"
)

// Audit actions of container operations.
const (
	ActionServiceStop    = "service.stop"
	ActionServiceStart   = "service.start"
	ActionServiceRestart = "service.restart"
	ActionServiceLogs    = "service.logs"
)

var (
	// ErrStopped: the operation would only report or record the stop (a drift check,
	// accepting drift): start the service first.
	ErrStopped error = spawnit.NewError(spawnit.KindConflict, "the service is stopped",
		"the service is stopped: start it first")
	// ErrNoContainers: the service's target has no containers to operate (only the
	// docker target has).
	ErrNoContainers error = spawnit.NewError(spawnit.KindBadRequest, "the service's target has no containers",
		"logs, stop, start and restart are offered for services of the docker target only")
)

// stopTimeout is how long Docker lets a container stop before it kills it (seconds).
const stopTimeout = "10"

// serviceContainer is one container of a service.
type serviceContainer struct {
	id, name, state string
}

// containersOf lists the containers carrying ref's labels, by name.
func containersOf(ctx context.Context, api *dockerapi.Client, ref engine.ServiceRef) ([]serviceContainer, error) {
	var list []struct {
		ID    string   `json:"Id"`
		Names []string `json:"Names"`
		State string   `json:"State"`
	}
	q := dockerapi.LabelFilter(labelTenant+"="+ref.Tenant(), labelService+"="+ref.Service)
	q.Set("all", "1")
	if err := api.Get(ctx, "/containers/json", q, &list); err != nil {
		return nil, fmt.Errorf("list the service's containers on %s: %w", api.Host(), err)
	}
	out := make([]serviceContainer, 0, len(list))
	for _, c := range list {
		name := c.ID
		if len(c.Names) > 0 {
			name = strings.TrimPrefix(c.Names[0], "/")
		}
		out = append(out, serviceContainer{id: c.ID, name: name, state: c.State})
	}
	return out, nil
}

// operable returns the service (the tenant's, else not found), its Docker engine and
// its containers: ErrNoContainers for another target, ErrNotDeployed when it has none.
func (p *Platform) operable(ctx context.Context, a Actor, service string) (*catalog.Service, *dockerapi.Client, []serviceContainer, error) {
	ref, err := a.ref(service)
	if err != nil {
		return nil, nil, nil, err
	}
	svc, err := p.cat.GetService(ctx, ref)
	if err != nil {
		return nil, nil, nil, err
	}
	if svc.Provider != checkedTarget {
		return nil, nil, nil, ErrNoContainers
	}
	if p.docker.api == nil {
		return nil, nil, nil, fmt.Errorf("%w: %w", ErrNoContainers, p.docker.err)
	}
	cs, err := containersOf(ctx, p.docker.api, ref)
	if err != nil {
		return nil, nil, nil, err
	}
	if len(cs) == 0 {
		return nil, nil, nil, fmt.Errorf("%w: no container carries its labels", ErrNotDeployed)
	}
	return svc, p.docker.api, cs, nil
}

// Operate stops, starts or restarts a deployed service's containers. A stop (a
// restart's too) is recorded first, so that nothing mistakes the stopping containers for drift; a start
// or restart clears it once the containers run. It refuses while a job holds the
// service (ErrBusy). It returns the service as it is now.
func (p *Platform) Operate(ctx context.Context, a Actor, service string, action ContainerAction) (v apiv1.Service, err error) {
	entry := AuditEntry{Action: "service." + string(action), Service: service}
	defer func() { p.audit(ctx, a, entry, err) }()
	switch action {
	case ContainerStop, ContainerStart, ContainerRestart:
	default:
		return apiv1.Service{}, fmt.Errorf("%w: container action %q", engine.ErrInvalidInput, action)
	}
	if p.isClosed() {
		return apiv1.Service{}, engine.ErrClosed
	}
	svc, api, cs, err := p.operable(ctx, a, service)
	if err != nil {
		return apiv1.Service{}, err
	}
	ref := svc.Ref()
	in, err := p.eng.Intent(ctx, ref)
	if err != nil {
		return apiv1.Service{}, err
	}
	if in.Kind != engine.IntentApplied {
		return apiv1.Service{}, ErrNotDeployed
	}
	if busy, err := p.busyAnywhere(ctx, ref); err != nil || busy {
		return apiv1.Service{}, errors.Join(fmt.Errorf("%s %s: %w", action, ref, ErrBusy), err)
	}
	if action == ContainerStop || action == ContainerRestart {
		// A restart stops the containers too: recorded first, Docker's events of the
		// stop are not taken for drift (SignalDrift) either; the mark goes once they run.
		if svc, err = p.markStopped(ctx, ref, true); err != nil {
			return apiv1.Service{}, err
		}
	}
	var errs []error
	for _, c := range cs {
		q := url.Values{}
		if action != ContainerStart {
			q.Set("t", stopTimeout)
		}
		if err := api.Post(ctx, "/containers/"+url.PathEscape(c.id)+"/"+string(action), q); err != nil {
			errs = append(errs, fmt.Errorf("%s container %s: %w", action, c.name, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return apiv1.Service{}, err
	}
	if action != ContainerStop && svc.Stopped != nil {
		if svc, err = p.markStopped(ctx, ref, false); err != nil {
			return apiv1.Service{}, err
		}
	}
	p.log.Info("platform: service containers "+map[ContainerAction]string{ContainerStop: "stopped", ContainerStart: "started", ContainerRestart: "restarted"}[action],
		"service", ref.String(), "containers", len(cs))
	p.publishService(a.Tenant, service, string(action)+"ed")
	return p.view(ctx, svc)
}

// markStopped records (or clears) that the service is stopped on purpose.
func (p *Platform) markStopped(ctx context.Context, ref engine.ServiceRef, stopped bool) (*catalog.Service, error) {
	return p.cat.UpdateInfo(ctx, ref, func(i *catalog.Info) error {
		switch {
		case !stopped:
			i.Stopped = nil
		case i.Stopped == nil:
			t := p.now()
			i.Stopped = &t
		}
		return nil
	})
}

// clearStopped forgets a stop once an apply or destroy succeeded: the apply started
// the containers again (or the destroy removed them).
func (p *Platform) clearStopped(ref engine.ServiceRef) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := p.markStopped(ctx, ref, false); err != nil && !errors.Is(err, engine.ErrNotFound) {
		p.log.Warn("platform: could not clear the stopped mark", "service", ref.String(), "err", err)
	}
}

// LogLine is one line of a service container's log.
type LogLine = apiv1.LogLine

// LogOptions choose what Logs reads.
type LogOptions struct {
	// Tail is how many of each container's last lines to read (at most MaxLogTail).
	Tail int
	// Follow keeps reading what the containers write until ctx ends.
	Follow bool
}

// Log tails.
const (
	DefaultLogTail = 100
	MaxLogTail     = 5000
)

// LogReader reads the logs Logs opened, calling fn with each line (never
// concurrently), until they end or ctx does.
type LogReader func(ctx context.Context, fn func(LogLine)) error

// Logs opens the service's container logs: the last Tail lines of each container,
// then, with Follow, what they write until ctx ends. Errors about the request (another
// tenant's service, not deployed, another target) come back here, before any line.
// Reading a log is audited (logs can hold anything a service prints).
func (p *Platform) Logs(ctx context.Context, a Actor, service string, opts LogOptions) (_ LogReader, err error) {
	defer func() { p.audit(ctx, a, AuditEntry{Action: ActionServiceLogs, Service: service}, err) }()
	if opts.Tail < 0 || opts.Tail > MaxLogTail {
		return nil, &catalog.ValidationError{Fields: []catalog.FieldError{{Field: "tail", Code: catalog.CodeRange,
			Reason: fmt.Sprintf("must be 0 to %d", MaxLogTail)}}}
	}
	_, api, cs, err := p.operable(ctx, a, service)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, fn func(LogLine)) error { return readLogs(ctx, api, cs, opts, fn) }, nil
}

func readLogs(ctx context.Context, api *dockerapi.Client, cs []serviceContainer, opts LogOptions, fn func(LogLine)) error {
	var mu sync.Mutex
	emit := func(name string) func(stream, line string) {
		return func(stream, line string) {
			mu.Lock()
			defer mu.Unlock()
			fn(LogLine{Container: name, Stream: stream, Text: line})
		}
	}
	if !opts.Follow {
		for _, c := range cs {
			if err := api.Logs(ctx, c.id, dockerapi.LogOptions{Tail: opts.Tail}, emit(c.name)); err != nil && !errors.Is(err, dockerapi.ErrNotFound) {
				return fmt.Errorf("logs of container %s: %w", c.name, err)
			}
		}
		return nil
	}
	var wg sync.WaitGroup
	errs := make([]error, len(cs))
	for i, c := range cs {
		wg.Go(func() {
			err := api.Logs(ctx, c.id, dockerapi.LogOptions{Tail: opts.Tail, Follow: true}, emit(c.name))
			if err != nil && ctx.Err() == nil && !errors.Is(err, dockerapi.ErrNotFound) {
				errs[i] = fmt.Errorf("logs of container %s: %w", c.name, err)
			}
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil // the reader left
	}
	return errors.Join(errs...)
}
