package engine

import (
	"errors"
	"io/fs"

	"github.com/spawnit/spawnit"
)

// Sentinel errors, each of a kind of the kernel (spawnit.Kind: the API's code and
// status). Lower-level errors (exit codes, store errors) are wrapped with %w so callers
// test with errors.Is.
var (
	// ErrInvalidInput: an id, a path or an option is not acceptable (the kernel's).
	ErrInvalidInput error = spawnit.ErrInvalidInput
	// ErrNotFound: no such service, job or file (the kernel's).
	ErrNotFound error = spawnit.ErrNotFound
	// ErrLocked: the service is busy and the caller asked not to queue.
	ErrLocked error = spawnit.NewError(spawnit.KindLocked, "service is locked by another job",
		"the service is locked by another job")
	// ErrClosed: the engine is shutting down and accepts no new jobs.
	ErrClosed error = spawnit.NewError(spawnit.KindShuttingDown, "engine is shutting down",
		"the server is shutting down")
	// ErrJobFinished: the job already reached a final state (for Cancel).
	ErrJobFinished error = spawnit.NewError(spawnit.KindJobFinished, "job already finished",
		"the job has already finished")
	// ErrCoolOff: a forced cancel came before the cool-off after the first cancel.
	ErrCoolOff error = spawnit.NewError(spawnit.KindCoolOff, "forced cancel is allowed only after the cool-off",
		"a forced cancel is allowed only after the cool-off following the first cancel")
	// ErrNeedsRecovery: tofu could not save state (errored.tfstate), or the stored state
	// is not the one SpawnIt last saved (missing, corrupt, another lineage, an older
	// serial); an operator must resolve it before the service accepts another apply.
	ErrNeedsRecovery error = spawnit.NewError(spawnit.KindNeedsRecovery, "service needs recovery",
		"the service needs recovery: tofu could not save its state")
)

func errorsIsNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
