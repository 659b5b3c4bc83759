package client_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/spawnit/spawnit"
	"github.com/spawnit/spawnit/pkg/apiv1"
	"github.com/spawnit/spawnit/pkg/client"
)

// fakeServer answers the few routes the example uses, as a SpawnIt server would.
func fakeServer() *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/services/blog/apply", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		_ = json.NewEncoder(w).Encode(apiv1.Job{ID: "j-1", Operation: spawnit.OpApply, State: spawnit.StateQueued})
	})
	mux.HandleFunc("GET /api/v1/services/blog/jobs/j-1/events", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for _, ev := range []apiv1.Event{
			{Seq: 1, Type: spawnit.EventJobState, State: spawnit.StateRunning},
			{Seq: 2, Type: spawnit.EventApplyComplete, Resource: &apiv1.ResourceEvent{Address: "docker_container.app", Action: "create"}},
			{Seq: 3, Type: spawnit.EventJobState, State: spawnit.StateSucceeded},
		} {
			data, _ := json.Marshal(ev)
			fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", ev.Seq, ev.Type, data)
		}
		fmt.Fprint(w, "event: end\ndata: {}\n\n")
	})
	mux.HandleFunc("GET /api/v1/services/missing", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_ = json.NewEncoder(w).Encode(apiv1.Error{Error: apiv1.ErrorBody{Code: apiv1.CodeNotFound, Message: "service missing not found"}})
	})
	return httptest.NewServer(mux)
}

func Example() {
	srv := fakeServer()
	defer srv.Close()
	ctx := context.Background()

	c, err := client.New(srv.URL, client.WithToken("a token from your identity provider"))
	if err != nil {
		panic(err)
	}

	// Start an apply; a retry of this call after a lost answer reuses its
	// Idempotency-Key, so the server starts one job.
	job, err := c.Apply(ctx, "blog")
	if err != nil {
		panic(err)
	}
	fmt.Println("job", job.ID, job.State)

	// Follow its events until it ends; a dropped connection is resumed transparently.
	for ev, err := range c.FollowJob(ctx, "blog", job.ID, 0) {
		if err != nil {
			panic(err)
		}
		switch ev.Type {
		case spawnit.EventJobState:
			fmt.Println(ev.Seq, "job", ev.State)
		case spawnit.EventApplyComplete:
			fmt.Println(ev.Seq, ev.Resource.Address, ev.Resource.Action, "done")
		}
	}

	// Errors are sentences, with helpers for the common cases.
	_, _, err = c.Service(ctx, "missing")
	fmt.Println(client.IsNotFound(err), err)
	// Output:
	// job j-1 queued
	// 1 job running
	// 2 docker_container.app create done
	// 3 job succeeded
	// true service missing not found
}
