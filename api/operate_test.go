package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/internal/testservers"
	"github.com/spawnit/spawnit/pkg/apiv1"
)

// TestOperateService operates one deployed httpecho service as a user would, with real
// tofu and Docker: its container log (the last lines, then followed while a request
// comes in), stop (shown as stopped, a drift check refused), start, restart, and an
// apply of a stopped service (which runs it again); another tenant sees none of it;
// each action is audited.
func TestOperateService(t *testing.T) {
	testservers.BuildTestImage(t)
	h := newHarness(t, harnessOptions{realTofu: true})
	port, _ := strconv.Atoi(testservers.FreePort(t))
	svc := h.createService("", "httpecho", map[string]any{"port": port})
	t.Cleanup(func() { removeContainer(svc) })
	base := "/api/v1/services/" + svc.ID
	container := "spawnit-tenant-a-" + svc.ID

	// Before any apply there is nothing to operate.
	if e := h.must(409, req{method: "POST", path: base + "/stop"}).apiError(t).Error; e.Code != apiv1.CodeNotDeployed {
		t.Fatalf("stop before apply: %+v", e)
	}
	h.wait("", svc.ID, h.run("", svc.ID, "apply", nil).ID, engine.StateSucceeded)
	endpoint := "http://127.0.0.1:" + strconv.Itoa(port) + "/"
	get := func() bool {
		r, err := http.Get(endpoint)
		if err != nil {
			return false
		}
		r.Body.Close()
		return r.StatusCode == 200
	}
	logs := func() []apiv1.LogLine {
		var l apiv1.LogList
		h.must(200, req{method: "GET", path: base + "/logs?tail=50"}).decode(t, &l)
		return l.Lines
	}
	has := func(lines []apiv1.LogLine, text string) bool {
		for _, l := range lines {
			if l.Container == container && l.Stream == "stdout" && l.Text == text {
				return true
			}
		}
		return false
	}

	t.Run("logs", func(t *testing.T) {
		waitFor(t, "the start line in the log", func() bool { return has(logs(), "httpecho: listening on :8080") })
		// Follow: the tail first, then a line written after the stream opened.
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		res := h.openStream(ctx, base+"/logs?follow=true&tail=1", "", nil)
		defer res.Body.Close()
		// Every line read asks for one more request, until the request made after the
		// stream opened shows up: the follow reached the live log.
		var seen []string
		_ = readSSE(res.Body, func(ev sseEvent) bool {
			if ev.event != apiv1.SSELog {
				return true
			}
			var l apiv1.LogLine
			if err := json.Unmarshal([]byte(ev.data), &l); err != nil {
				t.Fatal(err)
			}
			seen = append(seen, l.Text)
			if l.Text == "httpecho: GET /followed" {
				return false
			}
			go func() {
				if r, err := http.Get(endpoint + "followed"); err == nil {
					r.Body.Close()
				}
			}()
			return true
		})
		if len(seen) < 2 || seen[len(seen)-1] != "httpecho: GET /followed" {
			t.Fatalf("followed log: %q", seen)
		}
		if e := h.must(400, req{method: "GET", path: base + "/logs?tail=-1"}).apiError(t).Error; e.Code != apiv1.CodeValidation {
			t.Fatalf("tail=-1: %+v", e)
		}
	})

	t.Run("another tenant", func(t *testing.T) {
		for _, r := range []req{
			{method: "GET", path: base + "/logs", tenant: "tenant-b"},
			{method: "GET", path: base + "/logs?follow=true", tenant: "tenant-b"},
			{method: "POST", path: base + "/stop", tenant: "tenant-b"},
			{method: "POST", path: base + "/start", tenant: "tenant-b"},
			{method: "POST", path: base + "/restart", tenant: "tenant-b"},
		} {
			h.must(404, r)
		}
		if !get() {
			t.Fatal("another tenant's stop reached the container")
		}
	})

	running := func() bool {
		out, err := exec.Command("docker", "inspect", "-f", "{{.State.Running}}", container).Output()
		return err == nil && strings.TrimSpace(string(out)) == "true"
	}
	service := func() apiv1.Service {
		var s apiv1.Service
		h.must(200, req{method: "GET", path: base}).decode(t, &s)
		return s
	}

	t.Run("stop, start, restart", func(t *testing.T) {
		var s apiv1.Service
		h.must(200, req{method: "POST", path: base + "/stop"}).decode(t, &s)
		if !s.Status.Stopped || s.Status.StoppedAt == nil || running() {
			t.Fatalf("after stop: status %+v, running %v", s.Status, running())
		}
		if got := service().Status; !got.Stopped || got.Drift == "drifted" || got.Health != "" {
			t.Fatalf("a stopped service shows %+v", got)
		}
		if e := h.must(409, req{method: "POST", path: base + "/drift"}).apiError(t).Error; !strings.Contains(e.Message, "stopped") {
			t.Fatalf("drift check of a stopped service: %+v", e)
		}
		s = apiv1.Service{}
		h.must(200, req{method: "POST", path: base + "/start"}).decode(t, &s)
		if s.Status.Stopped || !running() {
			t.Fatalf("after start: status %+v, running %v", s.Status, running())
		}
		waitFor(t, "the container to answer after start", get)
		s = apiv1.Service{}
		h.must(200, req{method: "POST", path: base + "/restart"}).decode(t, &s)
		if s.Status.Stopped || !running() {
			t.Fatalf("after restart: status %+v, running %v", s.Status, running())
		}
		waitFor(t, "the container to answer after restart", get)
	})

	t.Run("apply runs a stopped service again", func(t *testing.T) {
		h.must(200, req{method: "POST", path: base + "/stop"})
		h.wait("", svc.ID, h.run("", svc.ID, "apply", nil).ID, engine.StateSucceeded)
		waitFor(t, "the stopped mark to go", func() bool { return !service().Status.Stopped })
		if !running() {
			t.Fatal("the apply did not run the stopped container")
		}
	})

	h.wait("", svc.ID, h.run("", svc.ID, "destroy", nil).ID, engine.StateSucceeded)
	if e := h.must(409, req{method: "GET", path: base + "/logs"}).apiError(t).Error; e.Code != apiv1.CodeNotDeployed {
		t.Fatalf("logs after destroy: %+v", e)
	}

	seen := map[string]int{}
	for _, e := range auditEntries(t, h) {
		if e.Service == svc.ID && e.Tenant == "tenant-a" && e.Result == "ok" {
			seen[e.Action]++
		}
	}
	for _, want := range []string{"service.stop", "service.start", "service.restart", "service.logs"} {
		if seen[want] == 0 {
			t.Errorf("no audit entry %s: %v", want, seen)
		}
	}
}
