// Package engine runs OpenTofu for SpawnIt: it plans, applies, destroys and checks the
// drift of services, each a (tenant, service) pair with a module and its
// terraform.tfvars.json, and it is usable on its own by any Go program.
//
// Give it a tofu binary, a data directory and a Source of service files:
//
//	eng, err := engine.New(engine.Config{
//		TofuPath: "/usr/local/bin/tofu",
//		DataDir:  "/var/lib/spawnit",
//		Source:   engine.DirSource("/srv/services"), // <root>/<tenant>/<service>/*.tf + tfvars
//	})
//	job, err := eng.Apply(ctx, engine.ServiceRef{Client: "acme", Service: "db"})
//	for ev := range job.Follow(ctx, 0) { fmt.Println(ev.Seq, ev.Message) }
//	info, err := job.Wait(ctx)
//
// Every operation is a Job with a numbered event log (tofu's -json UI stream parsed into
// typed events) and a state machine: queued → running → succeeded | failed | cancelled,
// with cancelling in between and interrupted for jobs whose process died. Jobs run on
// their own context, never the caller's. One job runs per service at a time (others queue
// in order, or fail with ErrLocked when asked to), services run in parallel up to
// Config.MaxParallel. Cancel is graceful first (SIGINT: tofu saves state) and forced
// after a cool-off (the whole process group is killed). A graceful stop cancels the
// provider's calls in flight, and a target may complete one anyway: an object the state
// never records. The engine knows no target, so a caller that does gives apply and
// destroy jobs a sweep (WithSweep), run with the state read through tofu after an apply
// that did not succeed and around a destroy; what it finds is the job's Leftovers.
//
// Before each operation the engine rebuilds the service's workdir from its Source ("sync
// before run"), adds the backend (local, outside the workdir, or S3 with a lockfile) as
// an override file, and runs `tofu init` only when the module, backend or CLI config
// changed. Workdirs are caches: deleting one loses nothing. A plan or drift job starts
// the workdir's providers once and runs its tofu commands attached to them
// (TF_REATTACH_PROVIDERS) rather than letting tofu start each provider three times per
// command; the providers are the job's own, stopped when it ends.
//
// Several engines (replicas) may share one Store: give each its Config.Cluster. Job
// records and leases name the replica; a lease is renewed every TTL/3 and expires after
// TTL, and every engine sweeps the jobs of replicas that stopped (expired lease, or no
// heartbeat) into interrupted, releasing the state lock their tofu left, so a service is
// free within one TTL of a death. A job waits for the older jobs of other replicas on its
// service (applies run in order of arrival across replicas), ServiceBusy answers from
// the store, and CancelJob cancels a job whichever replica holds it.
//
// CheckDrift runs a refresh-aware plan and classifies it against the service's intent
// (its last successful apply or destroy): in_sync, drifted, missing, orphaned, pending or
// unknown, with per-resource results (see Classify).
//
// With Config.Encryption (a keyring.Keyring) every state and plan file is encrypted by
// OpenTofu itself (TF_ENCRYPTION, aes_gcm under a key derived per service and given to
// tofu as it is, with no key provider to run per command): a plaintext state, or one
// written under the pbkdf2 key provider of earlier versions, is encrypted under the key
// on its next write, previous keys still decrypt, and a state under a key the engine
// lacks fails the job before tofu runs (keyring.ErrWrongKey). TofuEncryption is the
// same configuration for an operator running tofu by hand.
// The variables file leaves the workdir when the job ends.
//
// The engine returns only its own types, writes nothing to stdout or stderr, logs through
// Config.Logger, passes credentials to tofu only through its environment, and masks
// secret values (WithSecrets, sensitive outputs) wherever they would appear in events.
package engine
