package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/internal/testservers"
	"github.com/spawnit/spawnit/pkg/apiv1"
)

// TestDeployHTTPEcho is what a REST client does: create a service from the httpecho
// template, apply it while following the job's event stream to its end, reach the
// container, then destroy it. The stream is cut mid-way and resumed with Last-Event-ID
// (no gap, no duplicate), and replayed from the store once the job is over.
func TestDeployHTTPEcho(t *testing.T) {
	testservers.BuildTestImage(t)
	h := newHarness(t, harnessOptions{realTofu: true})
	port, _ := strconv.Atoi(testservers.FreePort(t))
	const greeting = "hello from the API test"
	svc := h.createService("", "httpecho", map[string]any{"port": port, "greeting": greeting})
	t.Cleanup(func() { removeContainer(svc) })
	// The generated secret, as stored: it must show up nowhere else.
	tfvars, _, err := h.st.Get(context.Background(), "clients/tenant-a/"+svc.ID+"/terraform.tfvars.json")
	if err != nil {
		t.Fatal(err)
	}
	var vars map[string]any
	_ = json.Unmarshal(tfvars, &vars)
	token, _ := vars["token"].(string)
	if len(token) < 12 || svc.Inputs["token"] != "********" {
		t.Fatalf("generated token %q, shown as %v", token, svc.Inputs["token"])
	}

	job := h.run("", svc.ID, "apply", nil)
	eventsPath := "/api/v1/services/" + svc.ID + "/jobs/" + job.ID + "/events"

	// First connection: read a few events, then drop it as a flaky network would.
	var seqs []int64
	var lastID string
	ctx, cancel := context.WithCancel(context.Background())
	res := h.openStream(ctx, eventsPath, "", nil)
	_ = readSSE(res.Body, func(ev sseEvent) bool {
		if ev.event == "" {
			return true
		}
		seqs = append(seqs, checkEvent(t, ev))
		lastID = ev.id
		return len(seqs) < 3
	})
	cancel()
	res.Body.Close()
	if len(seqs) < 3 {
		t.Fatalf("first connection got %v", seqs)
	}

	// Reconnect with Last-Event-ID and follow to the end.
	res = h.openStream(context.Background(), eventsPath, "", map[string]string{"Last-Event-ID": lastID})
	var end *apiv1.Job
	err = readSSE(res.Body, func(ev sseEvent) bool {
		if ev.event == apiv1.SSEEnd {
			end = new(apiv1.Job)
			if err := json.Unmarshal([]byte(ev.data), end); err != nil {
				t.Fatal(err)
			}
			return false
		}
		if ev.event != "" {
			seqs = append(seqs, checkEvent(t, ev))
		}
		if strings.Contains(ev.data, token) {
			t.Errorf("event %s carries the secret", ev.id)
		}
		return true
	})
	res.Body.Close()
	if err != nil || end == nil {
		t.Fatalf("stream ended without an end event (err %v)", err)
	}
	if end.State != engine.StateSucceeded {
		t.Fatalf("apply ended %s: %s", end.State, end.Error)
	}
	checkContiguous(t, seqs, end.LastSeq)

	// The container answers on loopback.
	endpoint := "http://127.0.0.1:" + strconv.Itoa(port) + "/"
	var out []byte
	waitFor(t, "the container to answer", func() bool {
		r, err := http.Get(endpoint)
		if err != nil {
			return false
		}
		defer r.Body.Close()
		out, _ = io.ReadAll(r.Body)
		return r.StatusCode == 200
	})
	if !strings.Contains(string(out), greeting) {
		t.Fatalf("container answered %q", out)
	}

	// After the end, the log replays: from this process's memory, and from the store
	// in a new server over the same data (as after a restart), from any point.
	restarted := newHarness(t, harnessOptions{realTofu: true, dataDir: h.dataDir})
	if _, live := restarted.eng.Job(job.ID); live {
		t.Fatal("the new engine knows the job: the replay would not come from the store")
	}
	for _, srv := range []*harness{h, restarted} {
		for _, after := range []int64{0, 5} {
			var replay []int64
			res = srv.openStream(context.Background(), eventsPath+"?after="+strconv.FormatInt(after, 10), "", nil)
			ended := false
			_ = readSSE(res.Body, func(ev sseEvent) bool {
				if ev.event == apiv1.SSEEnd {
					ended = true
					return false
				}
				if ev.event != "" {
					replay = append(replay, checkEvent(t, ev))
				}
				return true
			})
			res.Body.Close()
			if !ended {
				t.Fatal("replayed stream has no end event")
			}
			checkContiguous(t, append(seqRange(after), replay...), end.LastSeq)
		}
	}

	destroy := h.run("", svc.ID, "destroy", nil)
	h.wait("", svc.ID, destroy.ID, engine.StateSucceeded)
	waitFor(t, "the container to go away", func() bool {
		r, err := http.Get(endpoint)
		if err == nil {
			r.Body.Close()
		}
		return err != nil
	})
	h.must(204, req{method: "DELETE", path: "/api/v1/services/" + svc.ID})

	// Audited: who did what to which service, never a value (the generated token).
	seen := map[string]bool{}
	for _, e := range auditEntries(t, h) {
		if e.Service == svc.ID && e.Tenant == "tenant-a" && e.Subject == "user-of-tenant-a" && e.Result != "failed" {
			seen[e.Action+"/"+string(e.Operation)] = true
		}
	}
	for _, want := range []string{"service.create/", "job.submit/apply", "job.submit/destroy", "service.delete/"} {
		if !seen[want] {
			t.Errorf("no audit entry %s: %v", want, seen)
		}
	}
	objs, _ := h.st.List(context.Background(), "audit/")
	for _, o := range objs {
		b, _, _ := h.st.Get(context.Background(), o.Key)
		if strings.Contains(string(b), token) {
			t.Fatalf("audit entry %s holds the generated token", o.Key)
		}
	}
}

// checkEvent checks that an SSE event's id and name match its data and returns its seq.
func checkEvent(t *testing.T, ev sseEvent) int64 {
	t.Helper()
	var e apiv1.Event
	if err := json.Unmarshal([]byte(ev.data), &e); err != nil {
		t.Fatalf("event data %q: %v", ev.data, err)
	}
	if strconv.FormatInt(e.Seq, 10) != ev.id || string(e.Type) != ev.event {
		t.Fatalf("SSE id %q event %q for %+v", ev.id, ev.event, e)
	}
	return e.Seq
}

// checkContiguous checks that seqs is exactly 1..last.
func checkContiguous(t *testing.T, seqs []int64, last int64) {
	t.Helper()
	if int64(len(seqs)) != last {
		t.Fatalf("got %d events, want %d: %v", len(seqs), last, seqs)
	}
	for i, s := range seqs {
		if s != int64(i+1) {
			t.Fatalf("event %d has seq %d: gap or duplicate in %v", i, s, seqs)
		}
	}
}

func removeContainer(svc apiv1.Service) {
	name := "spawnit-tenant-a-" + svc.ID
	_ = exec.Command("docker", "rm", "-f", name).Run()
	_ = exec.Command("docker", "volume", "rm", "-f", name+"-data").Run()
}

// seqRange is 1..n, the events a resumed stream skipped.
func seqRange(n int64) []int64 {
	out := make([]int64, 0, n)
	for i := int64(1); i <= n; i++ {
		out = append(out, i)
	}
	return out
}
