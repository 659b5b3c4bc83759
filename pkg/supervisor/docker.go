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
	"slices"
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

// dockerInventory is what Docker's listings show of SpawnIt's services: per service,
// its containers (to inspect when the service is due) and the listed parts of its
// volumes and networks; the names and ids that let an event name its service; and the
// tags of every image, so that a tag moved away from a container's image shows.
type dockerInventory struct {
	services  map[engine.ServiceRef]*listedObjects
	owners    map[string]engine.ServiceRef // container id/name, volume/network name and id -> service
	imageTags map[string][]string          // image id -> its repository tags, sorted
}

// listedObjects is one service's objects in the listings.
type listedObjects struct {
	containers []string // ids
	parts      []string // volumes' and networks' fingerprint parts
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

type networkSummary struct {
	ID       string            `json:"Id"`
	Name     string            `json:"Name"`
	Driver   string            `json:"Driver"`
	Internal bool              `json:"Internal"`
	Options  map[string]string `json:"Options"`
	Labels   map[string]string `json:"Labels"`
}

type imageSummary struct {
	ID       string   `json:"Id"`
	RepoTags []string `json:"RepoTags"`
}

// containerInspect holds the inspected fields that make up a container's fingerprint:
// everything the Docker provider reads back into a container's state that a change
// can touch (its whole configuration, host configuration, mounts, networks and
// whether it runs), but nothing that changes on its own (health logs, timestamps,
// addresses and endpoints given at each start).
type containerInspect struct {
	ID         string          `json:"Id"`
	Name       string          `json:"Name"`
	Image      string          `json:"Image"`
	Config     json.RawMessage `json:"Config"`
	HostConfig json.RawMessage `json:"HostConfig"`
	Mounts     []struct {
		Type        string `json:"Type"`
		Name        string `json:"Name"`
		Source      string `json:"Source"`
		Destination string `json:"Destination"`
		RW          bool   `json:"RW"`
	} `json:"Mounts"`
	State struct {
		Running bool `json:"Running"`
		Paused  bool `json:"Paused"`
	} `json:"State"`
	NetworkSettings struct {
		Networks map[string]struct {
			NetworkID string   `json:"NetworkID"`
			Aliases   []string `json:"Aliases"`
		} `json:"Networks"`
	} `json:"NetworkSettings"`
	// ImageTags are the tags of the container's image, from the image listing.
	ImageTags []string `json:"ImageTags"`
}

func refFromLabels(l map[string]string) (engine.ServiceRef, bool) {
	ref := engine.ServiceRef{Client: l[LabelTenant], Service: l[LabelService]}
	return ref, ref.Validate() == nil
}

// inventory lists every labelled container, volume and network, and every image: four
// requests, whatever the number of services. Containers are inspected later, only
// those of the services due (fingerprint).
func (d *docker) inventory(ctx context.Context) (*dockerInventory, error) {
	inv := &dockerInventory{services: map[engine.ServiceRef]*listedObjects{}, owners: map[string]engine.ServiceRef{},
		imageTags: map[string][]string{}}
	of := func(ref engine.ServiceRef) *listedObjects {
		o, ok := inv.services[ref]
		if !ok {
			o = &listedObjects{}
			inv.services[ref] = o
		}
		return o
	}
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
		o := of(ref)
		o.containers = append(o.containers, c.ID)
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
		o := of(ref)
		o.parts = append(o.parts, "v:"+string(b))
		inv.owners[v.Name] = ref
	}
	var nets []networkSummary
	if err := d.get(ctx, "/networks", dockerapi.LabelFilter(LabelService), &nets); err != nil {
		return nil, err
	}
	for _, n := range nets {
		ref, ok := refFromLabels(n.Labels)
		if !ok {
			continue
		}
		b, _ := json.Marshal(n)
		o := of(ref)
		o.parts = append(o.parts, "n:"+string(b))
		inv.owners[n.ID] = ref
		inv.owners[n.Name] = ref
	}
	var images []imageSummary
	if err := d.get(ctx, "/images/json", nil, &images); err != nil {
		return nil, err
	}
	for _, im := range images {
		tags := slices.Clone(im.RepoTags)
		sort.Strings(tags)
		inv.imageTags[im.ID] = tags
	}
	return inv, nil
}

// noObjects is the fingerprint of a service Docker shows nothing of.
const noObjects = "none"

// fingerprint inspects ref's listed containers and sums them up with its volumes and
// networks: equal fingerprints mean Docker shows the same objects, configured the same
// way, in the same running state. A container removed since the listing leaves a
// mark of its own, so the fingerprint differs from any taken while it was there. It
// returns the number of containers inspected.
func (d *docker) fingerprint(ctx context.Context, inv *dockerInventory, ref engine.ServiceRef) (string, int, error) {
	o := inv.services[ref]
	if o == nil {
		return noObjects, 0, nil
	}
	parts := slices.Clone(o.parts)
	for _, id := range o.containers {
		var ci containerInspect
		if err := d.get(ctx, "/containers/"+id+"/json", nil, &ci); err != nil {
			if errors.Is(err, dockerapi.ErrNotFound) {
				parts = append(parts, "gone:"+id) // removed meanwhile; an event follows
				continue
			}
			return "", 0, err
		}
		ci.ImageTags = inv.imageTags[ci.Image]
		b, _ := json.Marshal(ci)
		parts = append(parts, "c:"+string(b))
	}
	sort.Strings(parts)
	h := sha256.New()
	for _, s := range parts {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)), len(o.containers), nil
}

// fingerprinted reports whether every resource of a check's report is a Docker object
// whose configuration the fingerprint shows in full (an image through the tags of the
// containers' images). For such a service an unchanged fingerprint means the plan would
// find what the last one found; for any other (a data source, a resource of another
// kind) the plan may see changes Docker does not show.
func fingerprinted(r *engine.DriftReport) bool {
	for _, res := range r.Resources {
		if res.Leftover != nil {
			continue // a labelled object outside the state: listed, so fingerprinted
		}
		switch res.Type {
		case "docker_container", "docker_volume", "docker_network", "docker_image":
		default:
			return false
		}
		if strings.HasPrefix(res.Address, "data.") || strings.Contains(res.Address, ".data.") {
			return false
		}
	}
	return true
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
