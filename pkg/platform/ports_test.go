package platform

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spawnit/spawnit/catalog"
	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/internal/testservers"
	"github.com/spawnit/spawnit/pkg/apiv1"
	"github.com/spawnit/spawnit/pkg/store"
	"github.com/spawnit/spawnit/pkg/storekey"
)

func TestParsePortRange(t *testing.T) {
	if r, err := ParsePortRange(" 20000-20009 "); err != nil || r != (PortRange{20000, 20009}) {
		t.Fatalf("ParsePortRange = %v, %v", r, err)
	}
	for _, bad := range []string{"", "20000", "20009-20000", "0-10", "1-65536", "a-b", "1-2-3"} {
		if _, err := ParsePortRange(bad); err == nil {
			t.Errorf("ParsePortRange(%q) accepted", bad)
		}
	}
}

// TestPortClaimsNeverCollide: services allocating and claiming at once, through
// registries that share nothing but the store (as replicas do), never get the same
// port; a full range is an error, and a released port can be had again.
func TestPortClaimsNeverCollide(t *testing.T) {
	st, err := store.NewFS(filepath.Join(t.TempDir(), "store"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	now := func() time.Time { return time.Now().UTC() }
	replicas := []*ports{{st: st, now: now}, {st: st, now: now}, {st: st, now: now}}
	r := PortRange{First: 30000, Last: 30023}
	ref := func(i int) engine.ServiceRef {
		return engine.ServiceRef{Client: fmt.Sprintf("tenant%d", i%3), Service: fmt.Sprintf("svc-%08d", i)}
	}

	// More services than ports, all at once.
	const services = 32
	got := make([]int, services)
	errs := make([]error, services)
	var wg sync.WaitGroup
	for i := range services {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = replicas[i%len(replicas)].allocate(ctx, "docker", r, ref(i), "port")
		}()
	}
	wg.Wait()
	holders := map[int]int{}
	full := 0
	for i := range services {
		switch {
		case errors.Is(errs[i], errNoFreePort):
			full++
		case errs[i] != nil:
			t.Fatalf("service %d: %v", i, errs[i])
		default:
			if prev, dup := holders[got[i]]; dup {
				t.Fatalf("port %d allocated to services %d and %d", got[i], prev, i)
			}
			if got[i] < r.First || got[i] > r.Last {
				t.Fatalf("port %d outside %s", got[i], r)
			}
			holders[got[i]] = i
		}
	}
	if len(holders) != r.Last-r.First+1 || full != services-len(holders) {
		t.Fatalf("%d ports allocated, %d refused; want the whole range (%d) then refusals", len(holders), full, r.Last-r.First+1)
	}
	for port, i := range holders {
		c, err := replicas[0].holder(ctx, "docker", port)
		if err != nil || !c.heldBy(ref(i)) || c.Input != "port" {
			t.Fatalf("claim of %d: %+v, %v; want service %d", port, c, err, i)
		}
	}

	// One port asked for by many at once: one holds it, the others are told it is held;
	// asking again for a port one holds is no new claim.
	want := 31000
	won := make([]bool, 8)
	for i := range won {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fresh, err := replicas[i%len(replicas)].claim(ctx, "docker", want, ref(100+i), "port")
			switch {
			case err == nil:
				won[i] = fresh
			case !errors.Is(err, errPortHeld):
				t.Errorf("claim %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	winner := -1
	for i, w := range won {
		if w {
			if winner >= 0 {
				t.Fatalf("port %d claimed by %d and %d", want, winner, i)
			}
			winner = i
		}
	}
	if winner < 0 {
		t.Fatalf("nobody holds port %d", want)
	}
	if fresh, err := replicas[1].claim(ctx, "docker", want, ref(100+winner), "port"); err != nil || fresh {
		t.Fatalf("the holder claiming again: fresh %v, %v", fresh, err)
	}
	// Another target's ports are its own.
	if fresh, err := replicas[1].claim(ctx, "aws", want, ref(999), "port"); err != nil || !fresh {
		t.Fatalf("the same port on another target: fresh %v, %v", fresh, err)
	}

	// Only the holder releases; then the port is free for another.
	some := r.First
	holder := holders[some]
	if err := replicas[2].release(ctx, "docker", some, ref(holder+1)); err != nil {
		t.Fatal(err)
	}
	if _, err := replicas[2].claim(ctx, "docker", some, ref(500), "port"); !errors.Is(err, errPortHeld) {
		t.Fatalf("a port released by a service that does not hold it: %v", err)
	}
	if err := replicas[2].release(ctx, "docker", some, ref(holder)); err != nil {
		t.Fatal(err)
	}
	if port, err := replicas[0].allocate(ctx, "docker", r, ref(500), "port"); err != nil || port != some {
		t.Fatalf("allocate after a release = %d, %v; want %d", port, err, some)
	}
}

// TestPortsAcrossTenants deploys two tenants' services whose ports SpawnIt chooses, on
// a Docker target that publishes on 127.0.0.2 and shows users 127.0.0.2: both deploy
// and answer there (and not on 127.0.0.1). A port another service holds, or one in use
// on the host, is a field error of the create or update. Deleting a service gives its
// port back.
func TestPortsAcrossTenants(t *testing.T) {
	testservers.BuildTestImage(t)
	const addr = "127.0.0.2"
	first := 40000 + rand.IntN(20000)
	r := PortRange{First: first, Last: first + 49}
	p := targetsPlatform(t, map[string]Target{"docker": {Ports: r, PublishAddress: addr, PublicHost: addr}})
	ctx := context.Background()
	alice, bob := Actor{Tenant: "ports-a", Subject: "alice"}, Actor{Tenant: "ports-b", Subject: "bob"}

	type deployed struct {
		a    Actor
		id   string
		port int
	}
	var svcs []deployed
	for _, a := range []Actor{alice, bob} {
		svc, err := p.CreateService(ctx, a, apiv1.CreateService{Template: "httpecho", Inputs: map[string]any{"greeting": "hi " + a.Subject}})
		if err != nil {
			t.Fatal(err)
		}
		port, ok := portValue(svc.Inputs["port"])
		if !ok || port < r.First || port > r.Last {
			t.Fatalf("%s: port %v, want one of %s", a.Tenant, svc.Inputs["port"], r)
		}
		labels := []string{"spawnit.client=" + a.Tenant, "spawnit.service=" + svc.ID}
		t.Cleanup(func() { removeLabelled(t, labels) })
		svcs = append(svcs, deployed{a, svc.ID, port})
	}
	if svcs[0].port == svcs[1].port {
		t.Fatalf("both services got port %d", svcs[0].port)
	}
	for _, s := range svcs {
		runToEnd(t, p, s.a, s.id, engine.OpApply, engine.StateSucceeded)
	}
	for _, s := range svcs {
		outs, err := p.eng.Outputs(ctx, engine.ServiceRef{Client: s.a.Tenant, Service: s.id})
		if err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("http://%s:%d/", addr, s.port)
		var got string
		if err := json.Unmarshal(outs["endpoint"].Value, &got); err != nil || got != want {
			t.Fatalf("%s: endpoint %s, want %s", s.a.Tenant, got, want)
		}
		resp, err := http.Get(want)
		if err != nil {
			t.Fatalf("%s: %v", s.a.Tenant, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(body), "hi "+s.a.Subject) {
			t.Fatalf("%s: %s answered %q", s.a.Tenant, want, body)
		}
		if c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)), time.Second); err == nil {
			c.Close()
			t.Fatalf("%s: port %d is published on 127.0.0.1 too", s.a.Tenant, s.port)
		}
	}

	fieldErr := func(err error, field string) {
		t.Helper()
		var ve *catalog.ValidationError
		if !errors.As(err, &ve) || len(ve.Fields) != 1 || ve.Fields[0].Field != field || ve.Fields[0].Code != catalog.CodeTaken {
			t.Fatalf("want a %q field error on %s, got %v", catalog.CodeTaken, field, err)
		}
	}
	// Bob's port, asked for by a third tenant, and by Alice's update.
	carol := Actor{Tenant: "ports-c", Subject: "carol"}
	_, err := p.CreateService(ctx, carol, apiv1.CreateService{Template: "httpecho", Inputs: map[string]any{"port": svcs[1].port}})
	fieldErr(err, "inputs.port")
	if list, _ := p.ListServices(ctx, carol); len(list) != 0 {
		t.Fatalf("a refused create left %v", list)
	}
	cur, err := p.GetService(ctx, alice, svcs[0].id)
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.UpdateInputs(ctx, alice, svcs[0].id, map[string]any{"port": svcs[1].port, "greeting": "x"}, cur.ETag)
	fieldErr(err, "inputs.port")
	// Alice's own port is hers to keep, named or left empty.
	upd, err := p.UpdateInputs(ctx, alice, svcs[0].id, map[string]any{"port": svcs[0].port, "greeting": "again"}, cur.ETag)
	if err != nil {
		t.Fatal(err)
	}
	if upd, err = p.UpdateInputs(ctx, alice, svcs[0].id, map[string]any{"greeting": "again"}, upd.ETag); err != nil || fmt.Sprint(upd.Inputs["port"]) != strconv.Itoa(svcs[0].port) {
		t.Fatalf("update leaving the port empty: %v, %v", upd.Inputs, err)
	}
	// Deployed, Alice moves to another port: her container still publishes the old one,
	// which stays hers until she deletes the service.
	moved := svcs[1].port + 1
	if moved > r.Last {
		moved = r.First
	}
	for moved == svcs[0].port || moved == svcs[1].port {
		moved++
	}
	if upd, err = p.UpdateInputs(ctx, alice, svcs[0].id, map[string]any{"port": moved, "greeting": "moved"}, upd.ETag); err != nil {
		t.Fatal(err)
	}
	for _, port := range []int{svcs[0].port, moved} {
		if c, err := p.ports.holder(ctx, "docker", port); err != nil || !c.heldBy(engine.ServiceRef{Client: alice.Tenant, Service: svcs[0].id}) {
			t.Fatalf("port %d after the move: %+v, %v", port, c, err)
		}
	}
	// A port something on the host listens on (no service holds it).
	l, err := net.Listen("tcp", net.JoinHostPort(addr, "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	busy := l.Addr().(*net.TCPAddr).Port
	_, err = p.CreateService(ctx, carol, apiv1.CreateService{Template: "httpecho", Inputs: map[string]any{"port": busy}})
	fieldErr(err, "inputs.port")
	if _, err := st(p).Stat(ctx, storekey.Port("docker", busy)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a refused port stays claimed: %v", err)
	}

	// Alice deletes her service (destroying it): her port is free again.
	j, err := p.DeleteService(ctx, alice, svcs[0].id, true)
	if err != nil || j == nil {
		t.Fatalf("delete: %v, %v", j, err)
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		_, err := st(p).Stat(ctx, storekey.Port("docker", svcs[0].port))
		_, err2 := st(p).Stat(ctx, storekey.Port("docker", moved))
		if errors.Is(err, store.ErrNotFound) && errors.Is(err2, store.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ports %d and %d still claimed after the delete: %v, %v", svcs[0].port, moved, err, err2)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := p.CreateService(ctx, carol, apiv1.CreateService{Template: "httpecho", Inputs: map[string]any{"port": svcs[0].port}}); err != nil {
		t.Fatalf("a released port: %v", err)
	}
	runToEnd(t, p, bob, svcs[1].id, engine.OpDestroy, engine.StateSucceeded)
}

func st(p *Platform) store.Store { return p.st }

// TestClaimExistingPorts: services stored before ports were claimed get their claims
// at start-up; of two sharing a port, the first keeps it.
func TestClaimExistingPorts(t *testing.T) {
	p := targetsPlatform(t, nil)
	ctx := context.Background()
	var refs []engine.ServiceRef
	for _, tenant := range []string{"old-a", "old-b"} {
		// Created straight through the catalog, as before claims existed.
		svc, err := p.cat.CreateService(ctx, tenant, catalog.CreateRequest{Template: "httpecho", Inputs: map[string]any{"port": 23456}})
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, svc.Ref())
	}
	if err := p.ClaimExistingPorts(ctx); err != nil {
		t.Fatal(err)
	}
	c, err := p.ports.holder(ctx, "docker", 23456)
	if err != nil || !(c.heldBy(refs[0]) || c.heldBy(refs[1])) {
		t.Fatalf("claim of 23456: %+v, %v", c, err)
	}
	_, err = p.CreateService(ctx, Actor{Tenant: "new", Subject: "n"}, apiv1.CreateService{Template: "httpecho", Inputs: map[string]any{"port": 23456}})
	var ve *catalog.ValidationError
	if !errors.As(err, &ve) || ve.Fields[0].Code != catalog.CodeTaken {
		t.Fatalf("an old service's port: %v", err)
	}
}
