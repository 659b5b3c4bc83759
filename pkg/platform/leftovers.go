package platform

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/spawnit/spawnit/catalog"
	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/pkg/apiv1"
	"github.com/spawnit/spawnit/pkg/dockerapi"
)

// Objects left behind by a cancel (see engine.WithSweep): for the docker target, every
// container, volume and network carrying the service's labels is either in the
// service's state or a leftover. A leftover is removed: it was created by a provider
// call that tofu counted as failed (the cancel cut it), so it was never started,
// configured or written to as the service's, and the next apply creates it again;
// while it stays, it holds the service's fixed container name and host port (the next
// apply fails: "name already in use") and the volume (a destroy waits for it until the
// provider's timeout). Importing it instead would need a mapping from objects to
// resource addresses that only the template knows, and would record a half-made object
// that the next plan replaces anyway. Keeping the provider's call alive through the
// cancel is not possible: tofu's graceful stop cancels every in-flight provider call.

// The labels the catalog's Docker modules put on every object of a service (see
// catalog/README.md).
const (
	labelTenant  = "spawnit.client"
	labelService = "spawnit.service"
)

// Kinds of Docker objects a sweep looks at, in the order it removes them: containers
// first, as they hold volumes and networks.
const (
	kindContainer = "container"
	kindVolume    = "volume"
	kindNetwork   = "network"
)

// conflictWait bounds how long a removal the engine refuses for now (409: a volume
// still in use by a container being removed) is retried.
const conflictWait = 15 * time.Second

// sweepFor is the sweep of svc's jobs: Docker objects with the service's labels
// outside its state. Nil for other targets, and when the docker target's engine cannot
// be spoken to.
func (p *Platform) sweepFor(svc *catalog.Service) engine.SweepFunc {
	if svc.Provider != checkedTarget || p.docker.api == nil {
		return nil
	}
	api, ref := p.docker.api, svc.Ref()
	return func(ctx context.Context, state []engine.StateResource, remove bool) ([]engine.Leftover, error) {
		return sweepDocker(ctx, api, ref, state, remove)
	}
}

// dockerObject is one labelled object of a service.
type dockerObject struct {
	kind, id, name string
}

// labelledObjects lists the containers, volumes and networks carrying ref's labels,
// containers first.
func labelledObjects(ctx context.Context, api *dockerapi.Client, ref engine.ServiceRef) ([]dockerObject, error) {
	filter := dockerapi.LabelFilter(labelTenant+"="+ref.Tenant(), labelService+"="+ref.Service)
	var out []dockerObject
	var containers []struct {
		ID    string   `json:"Id"`
		Names []string `json:"Names"`
	}
	q := url.Values{"all": {"1"}, "filters": filter["filters"]}
	if err := api.Get(ctx, "/containers/json", q, &containers); err != nil {
		return nil, err
	}
	for _, c := range containers {
		name := ""
		if len(c.Names) > 0 {
			name = strings.TrimPrefix(c.Names[0], "/")
		}
		out = append(out, dockerObject{kindContainer, c.ID, name})
	}
	var volumes struct {
		Volumes []struct {
			Name string `json:"Name"`
		} `json:"Volumes"`
	}
	if err := api.Get(ctx, "/volumes", filter, &volumes); err != nil {
		return nil, err
	}
	for _, v := range volumes.Volumes {
		out = append(out, dockerObject{kindVolume, v.Name, v.Name})
	}
	var networks []struct {
		ID   string `json:"Id"`
		Name string `json:"Name"`
	}
	if err := api.Get(ctx, "/networks", filter, &networks); err != nil {
		return nil, err
	}
	for _, n := range networks {
		out = append(out, dockerObject{kindNetwork, n.ID, n.Name})
	}
	return out, nil
}

// sweepDocker finds ref's labelled objects that state does not record (by id: a
// container's or network's id, a volume's name, as the Docker provider records them)
// and removes them when remove is set.
func sweepDocker(ctx context.Context, api *dockerapi.Client, ref engine.ServiceRef, state []engine.StateResource, remove bool) ([]engine.Leftover, error) {
	objs, err := labelledObjects(ctx, api, ref)
	if err != nil {
		return nil, fmt.Errorf("list the service's Docker objects on %s: %w", api.Host(), err)
	}
	known := map[string]bool{}
	for _, r := range state {
		if r.ID != "" {
			known[r.ID] = true
		}
	}
	var out []engine.Leftover
	for _, o := range objs {
		if known[o.id] {
			continue
		}
		l := engine.Leftover{Kind: o.kind, ID: o.id, Name: o.name}
		switch {
		case !remove:
			l.Reason = "kept: tofu could not save the service's state, so the stored state may not be the whole truth; recover the service, then destroy or apply it"
		default:
			if err := removeObject(ctx, api, o); err != nil {
				l.Reason = "could not be removed: " + err.Error()
			} else {
				l.Removed = true
			}
		}
		out = append(out, l)
	}
	return out, nil
}

// removeObject removes one object (a container forcibly, with its anonymous volumes);
// one already gone counts as removed. A conflict (a volume whose container is still
// being removed) is retried for a while.
func removeObject(ctx context.Context, api *dockerapi.Client, o dockerObject) error {
	var path string
	var q url.Values
	switch o.kind {
	case kindContainer:
		path, q = "/containers/"+url.PathEscape(o.id), url.Values{"force": {"1"}, "v": {"1"}}
	case kindVolume:
		path = "/volumes/" + url.PathEscape(o.id)
	case kindNetwork:
		path = "/networks/" + url.PathEscape(o.id)
	default:
		return fmt.Errorf("unknown kind %q", o.kind)
	}
	deadline := time.Now().Add(conflictWait)
	wait := 100 * time.Millisecond
	for {
		err := api.Delete(ctx, path, q)
		switch {
		case err == nil, errors.Is(err, dockerapi.ErrNotFound):
			return nil
		case !errors.Is(err, dockerapi.ErrConflict) || time.Now().After(deadline):
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Second)
	}
}

// WireLeftovers is the API's view of leftovers (nil stays nil): the one conversion,
// used for the service's status here and for jobs and events by the API.
func WireLeftovers(in []engine.Leftover) []apiv1.Leftover {
	if in == nil {
		return nil
	}
	out := make([]apiv1.Leftover, len(in))
	for i, l := range in {
		out[i] = apiv1.Leftover{Kind: l.Kind, ID: l.ID, Name: l.Name, Removed: l.Removed, Reason: l.Reason}
	}
	return out
}
