package supervisor

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spawnit/spawnit/engine"
)

// Labels every catalog Docker module puts on its containers and volumes.
const (
	LabelClient  = "spawnit.client"
	LabelService = "spawnit.service"
)

// docker is a minimal client of the Docker Engine API over its unix socket: the three
// calls the supervisor needs (events, list, inspect), without the Docker SDK's weight.
type docker struct {
	http *http.Client
}

// newDocker connects to DOCKER_HOST (unix:// only) or /var/run/docker.sock.
func newDocker() (*docker, error) {
	sock := "/var/run/docker.sock"
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		if !strings.HasPrefix(h, "unix://") {
			return nil, fmt.Errorf("DOCKER_HOST %q: only unix:// sockets are supported for Docker events", h)
		}
		sock = strings.TrimPrefix(h, "unix://")
	}
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}
	return &docker{http: &http.Client{Transport: tr}}, nil
}

func (d *docker) get(ctx context.Context, path string, q url.Values, v any) error {
	u := "http://docker" + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := d.http.Do(req)
	if err != nil {
		return fmt.Errorf("docker %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return errNoSuchObject
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("docker %s: %s: %s", path, resp.Status, strings.TrimSpace(string(b)))
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

var errNoSuchObject = errors.New("docker: no such object")

func labelFilter(label string) url.Values {
	f, _ := json.Marshal(map[string][]string{"label": {label}})
	return url.Values{"filters": {string(f)}}
}

// dockerEvent is the part of a Docker event the supervisor reads.
type dockerEvent struct {
	Type   string `json:"Type"`
	Action string `json:"Action"`
	Actor  struct {
		ID         string            `json:"ID"`
		Attributes map[string]string `json:"Attributes"`
	} `json:"Actor"`
	Time int64 `json:"time"`
}

// events streams Docker events about containers, volumes and networks until ctx ends or
// the connection drops (the caller reconnects).
func (d *docker) events(ctx context.Context, fn func(dockerEvent)) error {
	f, _ := json.Marshal(map[string][]string{"type": {"container", "volume", "network"}})
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://docker/events?"+url.Values{"filters": {string(f)}}.Encode(), nil)
	if err != nil {
		return err
	}
	resp, err := d.http.Do(req)
	if err != nil {
		return fmt.Errorf("docker events: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("docker events: %s", resp.Status)
	}
	dec := json.NewDecoder(bufio.NewReader(resp.Body))
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
	ref := engine.ServiceRef{Client: l[LabelClient], Service: l[LabelService]}
	return ref, ref.Validate() == nil
}

// inventory lists and inspects every labelled container and volume.
func (d *docker) inventory(ctx context.Context) (*dockerInventory, error) {
	inv := &dockerInventory{fingerprints: map[engine.ServiceRef]string{}, owners: map[string]engine.ServiceRef{}}
	parts := map[engine.ServiceRef][]string{}
	var containers []containerSummary
	q := labelFilter(LabelService)
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
			if errors.Is(err, errNoSuchObject) {
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
	if err := d.get(ctx, "/volumes", labelFilter(LabelService), &vols); err != nil {
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

var _ = time.Second
