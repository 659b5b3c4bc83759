package engine

import (
	"errors"
	"io/fs"
)

// Sentinel errors. Lower-level errors (exit codes, store errors) are wrapped with %w so
// callers test with errors.Is.
var (
	ErrInvalidInput = errors.New("invalid input")
	ErrNotFound     = errors.New("not found")
	// ErrLocked: the service is busy and the caller asked not to queue.
	ErrLocked = errors.New("service is locked by another job")
	// ErrClosed: the engine is shutting down and accepts no new jobs.
	ErrClosed = errors.New("engine is shutting down")
	// ErrJobFinished: the job already reached a final state (for Cancel).
	ErrJobFinished = errors.New("job already finished")
	// ErrCoolOff: a forced cancel came before the cool-off after the first cancel.
	ErrCoolOff = errors.New("forced cancel is allowed only after the cool-off")
	// ErrNeedsRecovery: tofu could not save state (errored.tfstate), or the stored state
	// is not the one SpawnIt last saved (missing, corrupt, another lineage, an older
	// serial); an operator must resolve it before the service accepts another apply.
	ErrNeedsRecovery = errors.New("service needs recovery")
)

func errorsIsNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
