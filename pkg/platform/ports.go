package platform

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spawnit/spawnit/catalog"
	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/pkg/store"
	"github.com/spawnit/spawnit/pkg/storekey"
)

// Host ports. A target's host ports are shared by every tenant's services, so the
// store keeps who holds each one: ports/<target>/<port>.json, created create-only.
// Whoever creates a claim first holds the port, on any replica; the claim lasts as long
// as the service's configuration. A port input left empty is allocated from the
// target's range (PortRange); one the user names is claimed, and refused with a field
// error when another service holds it or something on the host listens on it.

// PortRange is the range a target allocates ports from, inclusive.
type PortRange struct{ First, Last int }

// DefaultPortRange is used when the operator sets none.
var DefaultPortRange = PortRange{First: 20000, Last: 29999}

// ParsePortRange reads "first-last" (1 <= first <= last <= 65535).
func ParsePortRange(s string) (PortRange, error) {
	a, b, ok := strings.Cut(strings.TrimSpace(s), "-")
	first, err1 := strconv.Atoi(strings.TrimSpace(a))
	last, err2 := strconv.Atoi(strings.TrimSpace(b))
	r := PortRange{First: first, Last: last}
	if !ok || err1 != nil || err2 != nil || r.Validate() != nil {
		return PortRange{}, fmt.Errorf("%w: port range %q: want first-last, within 1-65535", engine.ErrInvalidInput, s)
	}
	return r, nil
}

// Validate checks the range's bounds.
func (r PortRange) Validate() error {
	if r.First < 1 || r.Last > 65535 || r.First > r.Last {
		return fmt.Errorf("%w: port range %d-%d: want 1 <= first <= last <= 65535", engine.ErrInvalidInput, r.First, r.Last)
	}
	return nil
}

func (r PortRange) String() string { return fmt.Sprintf("%d-%d", r.First, r.Last) }

// portClaim is a claim's record: the service holding the port and its input.
type portClaim struct {
	Tenant  string    `json:"tenant"`
	Service string    `json:"service"`
	Input   string    `json:"input"`
	Claimed time.Time `json:"claimed"`
}

func (c portClaim) heldBy(ref engine.ServiceRef) bool {
	return c.Tenant == ref.Tenant() && c.Service == ref.Service
}

// ports keeps the claims of host ports in the store.
type ports struct {
	st  store.Store
	now func() time.Time
	// inUse reports whether something on this machine listens on the port (nil: never
	// asked, when the target's Docker engine is not local).
	inUse func(target string, port int) bool
}

// errPortHeld: the port is another service's.
var errPortHeld = errors.New("port held by another service")

// claim makes port ref's, unless another service holds it (errPortHeld). fresh says
// whether this call created the claim (an existing claim of ref's is kept as it is).
func (p *ports) claim(ctx context.Context, target string, port int, ref engine.ServiceRef, input string) (fresh bool, err error) {
	rec, err := json.Marshal(portClaim{Tenant: ref.Tenant(), Service: ref.Service, Input: input, Claimed: p.now()})
	if err != nil {
		return false, err
	}
	key := storekey.Port(target, port)
	_, err = p.st.Put(ctx, key, rec, store.PutOptions{IfNoneMatch: true, ContentType: "application/json"})
	if err == nil {
		return true, nil
	}
	if !errors.Is(err, store.ErrPreconditionFailed) {
		return false, fmt.Errorf("claim port %d: %w", port, err)
	}
	held, err := p.holder(ctx, target, port)
	switch {
	case errors.Is(err, store.ErrNotFound):
		// Released between the write and the read: try once more.
		return p.claimOnce(ctx, key, rec)
	case err != nil:
		return false, err
	case held.heldBy(ref):
		return false, nil
	default:
		return false, errPortHeld
	}
}

func (p *ports) claimOnce(ctx context.Context, key string, rec []byte) (bool, error) {
	_, err := p.st.Put(ctx, key, rec, store.PutOptions{IfNoneMatch: true, ContentType: "application/json"})
	if errors.Is(err, store.ErrPreconditionFailed) {
		return false, errPortHeld
	}
	return err == nil, err
}

func (p *ports) holder(ctx context.Context, target string, port int) (portClaim, error) {
	b, _, err := p.st.Get(ctx, storekey.Port(target, port))
	if err != nil {
		return portClaim{}, err
	}
	var c portClaim
	if err := json.Unmarshal(b, &c); err != nil {
		return portClaim{}, fmt.Errorf("port claim %s: %w", storekey.Port(target, port), err)
	}
	return c, nil
}

// allocate claims a free port of r for ref: one no service holds and nothing on the
// host listens on. It starts at a random place in the range, so replicas allocating
// at once rarely try the same port; when they do, the create-only write decides.
func (p *ports) allocate(ctx context.Context, target string, r PortRange, ref engine.ServiceRef, input string) (int, error) {
	objs, err := p.st.List(ctx, storekey.Ports(target))
	if err != nil {
		return 0, fmt.Errorf("allocate a port: %w", err)
	}
	held := make(map[int]bool, len(objs))
	for _, o := range objs {
		if _, port, ok := storekey.ParsePort(o.Key); ok {
			held[port] = true
		}
	}
	n := r.Last - r.First + 1
	start := rand.IntN(n)
	for i := range n {
		port := r.First + (start+i)%n
		if held[port] || (p.inUse != nil && p.inUse(target, port)) {
			continue
		}
		rec, err := json.Marshal(portClaim{Tenant: ref.Tenant(), Service: ref.Service, Input: input, Claimed: p.now()})
		if err != nil {
			return 0, err
		}
		_, err = p.st.Put(ctx, storekey.Port(target, port), rec, store.PutOptions{IfNoneMatch: true, ContentType: "application/json"})
		if errors.Is(err, store.ErrPreconditionFailed) {
			continue // another service took it since the listing
		}
		if err != nil {
			return 0, fmt.Errorf("allocate a port: %w", err)
		}
		return port, nil
	}
	return 0, errNoFreePort
}

var errNoFreePort = errors.New("no free port")

// release removes the claim of port if ref holds it.
func (p *ports) release(ctx context.Context, target string, port int, ref engine.ServiceRef) error {
	c, err := p.holder(ctx, target, port)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if !c.heldBy(ref) {
		return nil
	}
	// Nobody else can create the claim while it exists: deleting what was just read
	// as ref's deletes ref's.
	return p.st.Delete(ctx, storekey.Port(target, port))
}

// releaseAll removes every claim ref holds on target: the ports of its configuration,
// and those an update replaced while the service was deployed (kept until now, as the
// running container may still publish them). It reads each claim of the target, which
// is why only a delete does it.
func (p *ports) releaseAll(ctx context.Context, target string, ref engine.ServiceRef) error {
	objs, err := p.st.List(ctx, storekey.Ports(target))
	if err != nil {
		return err
	}
	for _, o := range objs {
		if _, port, ok := storekey.ParsePort(o.Key); ok {
			if err := p.release(ctx, target, port, ref); err != nil {
				return err
			}
		}
	}
	return nil
}

// portValue is an input value as a port, when it is one.
func portValue(v any) (int, bool) {
	var n int64
	switch x := v.(type) {
	case int64:
		n = x
	case int:
		n = int64(x)
	case float64:
		n = int64(x)
		if float64(n) != x {
			return 0, false
		}
	case json.Number:
		i, err := x.Int64()
		if err != nil {
			return 0, false
		}
		n = i
	default:
		return 0, false
	}
	if n < 1 || n > 65535 {
		return 0, false
	}
	return int(n), true
}

// portRange is target's allocation range.
func (p *Platform) portRange(target string) PortRange {
	if r := p.targets[target].Ports; r != (PortRange{}) {
		return r
	}
	return DefaultPortRange
}

// settlePorts is the catalog's SettleFunc: it allocates the ports left empty and claims
// the ones given, refusing (as field errors) those another service holds and, for a
// port the service did not hold yet, those something on the host listens on.
func (p *Platform) settlePorts(ctx context.Context, ref engine.ServiceRef, target string, tpl *catalog.Template, values map[string]any) (_ func(), err error) {
	var fresh []int
	undo := func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		for _, port := range fresh {
			if err := p.ports.release(ctx, target, port, ref); err != nil {
				p.log.Warn("platform: could not release a port claim", "target", target, "port", port, "service", ref.String(), "error", err)
			}
		}
	}
	defer func() {
		if err != nil {
			undo()
		}
	}()
	var bad []catalog.FieldError
	for i := range tpl.Inputs {
		f := &tpl.Inputs[i]
		if f.Type != catalog.TypePort {
			continue
		}
		v, given := values[f.Name]
		if !given {
			if !f.AllocatedPort() {
				continue
			}
			r := p.portRange(target)
			port, err := p.ports.allocate(ctx, target, r, ref, f.Name)
			if errors.Is(err, errNoFreePort) {
				bad = append(bad, catalog.FieldError{Field: f.Name, Code: catalog.CodeTaken,
					Reason: fmt.Sprintf("no free port left in the range %s of target %s: choose one", r, target)})
				continue
			}
			if err != nil {
				return nil, err
			}
			fresh = append(fresh, port)
			values[f.Name] = int64(port)
			continue
		}
		port, ok := portValue(v)
		if !ok {
			continue // validation refused it already
		}
		created, err := p.ports.claim(ctx, target, port, ref, f.Name)
		if errors.Is(err, errPortHeld) {
			bad = append(bad, catalog.FieldError{Field: f.Name, Code: catalog.CodeTaken,
				Reason: fmt.Sprintf("port %d is used by another service: choose another, or leave it empty for a free one", port)})
			continue
		}
		if err != nil {
			return nil, err
		}
		if created {
			fresh = append(fresh, port)
			if p.ports.inUse != nil && p.ports.inUse(target, port) {
				bad = append(bad, catalog.FieldError{Field: f.Name, Code: catalog.CodeTaken,
					Reason: fmt.Sprintf("port %d is in use on the host: choose another, or leave it empty for a free one", port)})
			}
		}
	}
	if len(bad) > 0 {
		return nil, &catalog.ValidationError{Fields: bad}
	}
	return undo, nil
}

// releaseAllPorts gives back every port ref holds on target (a deleted service's).
func (p *Platform) releaseAllPorts(ctx context.Context, ref engine.ServiceRef, target string) {
	if err := p.ports.releaseAll(ctx, target, ref); err != nil {
		p.log.Warn("platform: could not release a deleted service's ports", "target", target, "service", ref.String(), "error", err)
	}
}

// releasePorts gives back the ports of values that ref holds on target, except those
// in keep (an update's new values).
func (p *Platform) releasePorts(ctx context.Context, ref engine.ServiceRef, target string, values, keep map[string]any) {
	kept := map[int]bool{}
	for _, v := range keep {
		if port, ok := portValue(v); ok {
			kept[port] = true
		}
	}
	for _, v := range values {
		port, ok := portValue(v)
		if !ok || kept[port] {
			continue
		}
		// Only a claim ref holds is removed: a number input that is not a port finds none.
		if err := p.ports.release(ctx, target, port, ref); err != nil {
			p.log.Warn("platform: could not release a port claim", "target", target, "port", port, "service", ref.String(), "error", err)
		}
	}
}

// ClaimExistingPorts claims the ports of services created before ports were claimed,
// so that none is allocated to another service. A port two old services share stays
// the first one's; the other is logged (its apply fails until its port is changed).
// Every replica may run it at start-up: claims are create-only.
func (p *Platform) ClaimExistingPorts(ctx context.Context) error {
	refs, err := p.cat.AllServiceRefs(ctx)
	if err != nil {
		return err
	}
	for _, ref := range refs {
		svc, err := p.cat.GetService(ctx, ref)
		if errors.Is(err, catalog.ErrServiceNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		tpl, err := p.cat.Get(ctx, svc.Template)
		if err != nil {
			continue // a template gone: its fields are unknown, nothing is claimed
		}
		for i := range tpl.Inputs {
			f := &tpl.Inputs[i]
			port, ok := portValue(svc.Values[f.Name])
			if f.Type != catalog.TypePort || !ok {
				continue
			}
			_, err := p.ports.claim(ctx, svc.Provider, port, ref, f.Name)
			if errors.Is(err, errPortHeld) {
				p.log.Warn("platform: a service's port is held by another service", "service", ref.String(), "target", svc.Provider, "port", port)
				continue
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// portInUse reports whether something listens on port at addr on this machine (TCP or
// UDP). Only a refusal because the address is in use counts: an address this machine
// does not have says nothing.
func portInUse(addr string, port int) bool {
	hp := net.JoinHostPort(addr, strconv.Itoa(port))
	if l, err := net.Listen("tcp", hp); err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return true
		}
	} else {
		l.Close()
	}
	if c, err := net.ListenPacket("udp", hp); err != nil {
		return errors.Is(err, syscall.EADDRINUSE)
	} else {
		c.Close()
	}
	return false
}
