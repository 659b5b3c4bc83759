// Package client is a typed Go client of SpawnIt's HTTP API v1 (docs/api.md).
//
// It speaks the wire types of package apiv1, so a program that uses it sees exactly what
// the server sends:
//
//	c, err := client.New("http://127.0.0.1:8080", client.WithToken(os.Getenv("SPAWNIT_TOKEN")))
//	svc, etag, err := c.Service(ctx, "blog")
//	svc, etag, err = c.UpdateInputs(ctx, "blog", map[string]any{"port": 8081}, etag)
//	job, err := c.Apply(ctx, "blog")
//	for ev, err := range c.FollowJob(ctx, "blog", job.ID, 0) { ... }
//
// # Errors
//
// A response outside 2xx becomes an *APIError carrying the HTTP status, the API's stable
// code and the invalid fields; its Error method is a sentence meant for a person
// ("inputs.port: must be between 1024 and 65535"). IsNotFound, IsConflict and the other
// helpers test for the common cases; errors.As gives the details.
//
// # Retries
//
// Requests that are safe to repeat (every GET, UpdateService, whose settings are set
// rather than changed relative to their value, and the job-starting POSTs, which carry
// an Idempotency-Key) are retried a few times, with backoff, after a connection failure
// or a 502/503/504. Plan, Apply, Destroy, CheckDrift, Accept and Remediate generate a
// fresh key per call
// unless IdempotencyKey gives one, and keep it across their retries, so a request the
// server received but whose answer was lost starts one job, not two.
//
// # Streams
//
// FollowJob reads a job's Server-Sent Events and yields them in order, exactly once:
// when the connection drops it reconnects with Last-Event-ID set to the last sequence
// number it yielded, skips anything it has already seen and stops after the job's end
// event. Events does the same for the tenant's status stream.
//
// The token given to WithToken is sent only in the Authorization header; the client
// never logs, prints or puts it in an error.
package client
