package supervisor

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"

	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/pkg/dockerapi"
)

// Labels every catalog Docker module puts on its containers and volumes.
const (
	LabelTenant  = "spawnit.client" // the tenant; the label stays for existing containers
	LabelService = "spawnit.service"
)

// docker is the Docker engine as the supervisor uses it: events, and a labelled
// inventory.
type docker struct {
	api *dockerapi.Client
}

func (d *docker) get(ctx context.Context, path string, q url.Values, v any) error {
	return d.api.Get(ctx, path, q, v)
}

// dockerEvent is the part of a Docker event the supervisor reads.
type dockerEvent struct {
	Type   string `json:"Type"`
	Action string `json:"Action"`
	Actor  struct {
		ID         string            `json:"ID"`
		Attributes map[string]string `json:"Attributes"`
	} `json:"Actor"`
	Time     int64 `json:"time"`
	TimeNano int64 `json:"timeNano"`
}

// events streams Docker events about containers, volumes and networks until ctx ends or
// the connection drops (the caller reconnects).
func (d *docker) events(ctx context.Context, fn func(dockerEvent)) error {
	f, _ := json.Marshal(map[string][]string{"type": {"container", "volume", "network"}})
	body, err := d.api.Open(ctx, "/events", url.Values{"filters": {string(f)}})
	if err != nil {
		return err
	}
	defer body.Close()
	dec := json.NewDecoder(bufio.NewReader(body))
	for {
		var ev dockerEvent
		if err := dec.Decode(&ev); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("docker events: %w", err)
		}
		fn(ev)
	}
}

// dockerInventory is what Docker holds for SpawnIt's services: per service, a
// fingerprint of the configuration of its containers and volumes, and the names and ids
// that let an event name its service.
type dockerInventory struct {
	fingerprints map[engine.ServiceRef]string
	owners       map[string]engine.ServiceRef // container id/name, volume name -> service
}

type containerSummary struct {
	ID     string            `json:"Id"`
	Names  []string          `json:"Names"`
	Labels map[string]string `json:"Labels"`
}

type volumeList struct {
	Volumes []struct {
		Name   string            `json:"Name"`
		Driver string            `json:"Driver"`
		Labels map[string]string `json:"Labels"`
	} `json:"Volumes"`
}

// containerInspect holds the inspected fields that make up a container's fingerprint:
// its configuration and whether it runs, but nothing that changes on its own (health
// logs, timestamps, network addresses).
type containerInspect struct {
	ID     string `json:"Id"`
	Name   string `json:"Name"`
	Image  string `json:"Image"`
	Config struct {
		Env        []string          `json:"Env"`
		Cmd        []string          `json:"Cmd"`
		Entrypoint []string          `json:"Entrypoint"`
		Labels     map[string]string `json:"Labels"`
		Image      string            `json:"Image"`
	} `json:"Config"`
	HostConfig json.RawMessage `json:"HostConfig"`
	Mounts     []struct {
		Name        string `json:"Name"`
		Destination string `json:"Destination"`
		RW          bool   `json:"RW"`
	} `json:"Mounts"`
	State struct {
		Running bool `json:"Running"`
	} `json:"State"`
}

func refFromLabels(l map[string]string) (engine.ServiceRef, bool) {
	ref := engine.ServiceRef{Client: l[LabelTenant], Service: l[LabelService]}
	return ref, ref.Validate() == nil
}

// inventory lists and inspects every labelled container and volume.
func (d *docker) inventory(ctx context.Context) (*dockerInventory, error) {
	inv := &dockerInventory{fingerprints: map[engine.ServiceRef]string{}, owners: map[string]engine.ServiceRef{}}
	parts := map[engine.ServiceRef][]string{}
	var containers []containerSummary
	q := dockerapi.LabelFilter(LabelService)
	q.Set("all", "1")
	if err := d.get(ctx, "/containers/json", q, &containers); err != nil {
		return nil, err
	}
	for _, c := range containers {
		ref, ok := refFromLabels(c.Labels)
		if !ok {
			continue
		}
		var ci containerInspect
		if err := d.get(ctx, "/containers/"+c.ID+"/json", nil, &ci); err != nil {
			if errors.Is(err, dockerapi.ErrNotFound) {
				continue // removed meanwhile; an event follows
			}
			return nil, err
		}
		b, _ := json.Marshal(ci)
		parts[ref] = append(parts[ref], "c:"+string(b))
		inv.owners[c.ID] = ref
		for _, n := range c.Names {
			inv.owners[strings.TrimPrefix(n, "/")] = ref
		}
	}
	var vols volumeList
	if err := d.get(ctx, "/volumes", dockerapi.LabelFilter(LabelService), &vols); err != nil {
		return nil, err
	}
	for _, v := range vols.Volumes {
		ref, ok := refFromLabels(v.Labels)
		if !ok {
			continue
		}
		b, _ := json.Marshal(v)
		parts[ref] = append(parts[ref], "v:"+string(b))
		inv.owners[v.Name] = ref
	}
	for ref, p := range parts {
		sort.Strings(p)
		h := sha256.New()
		for _, s := range p {
			h.Write([]byte(s))
			h.Write([]byte{0})
		}
		inv.fingerprints[ref] = hex.EncodeToString(h.Sum(nil))
	}
	return inv, nil
}

// removing reports whether one of ref's containers is being removed: Docker marks it
// so before it kills it, and its destroy event follows once its files are gone, which
// takes longer than a debounce on a busy host. A check run meanwhile could see the
// container still there, and the destroy would then call for a second one.
func (d *docker) removing(ctx context.Context, ref engine.ServiceRef) (bool, error) {
	f, _ := json.Marshal(map[string][]string{"label": {LabelTenant + "=" + ref.Client, LabelService + "=" + ref.Service}})
	var containers []struct {
		State string `json:"State"`
	}
	if err := d.get(ctx, "/containers/json", url.Values{"filters": {string(f)}, "all": {"1"}}, &containers); err != nil {
		return false, err
	}
	for _, c := range containers {
		if c.State == "removing" {
			return true, nil
		}
	}
	return false, nil
}

// serviceOf names the service an event is about: from its labels, or (for events that
// carry none, such as volume removals) from the inventory's names and ids.
func (inv *dockerInventory) serviceOf(ev dockerEvent) (engine.ServiceRef, bool) {
	if ref, ok := refFromLabels(ev.Actor.Attributes); ok {
		return ref, true
	}
	if inv == nil {
		return engine.ServiceRef{}, false
	}
	if ref, ok := inv.owners[ev.Actor.ID]; ok {
		return ref, true
	}
	if ref, ok := inv.owners[ev.Actor.Attributes["name"]]; ok {
		return ref, true
	}
	return engine.ServiceRef{}, false
}

// relevant reports whether a Docker event can change what a drift check finds.
func relevant(ev dockerEvent) bool {
	switch ev.Type {
	case "container":
		switch ev.Action {
		case "die", "destroy", "update", "rename", "stop", "kill", "oom", "pause", "unpause", "start", "create":
			return true
		}
	case "volume":
		return ev.Action == "destroy" || ev.Action == "create"
	case "network":
		return ev.Action == "destroy" || ev.Action == "disconnect"
	}
	return false
}
