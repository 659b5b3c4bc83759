package spawnit_test

import (
	"errors"
	"fmt"

	"github.com/spawnit/spawnit"
)

func ExampleValidateID() {
	for _, id := range []string{"web-1", "../etc", "Web"} {
		fmt.Println(id, spawnit.ValidateID(id) == nil)
	}
	// Output:
	// web-1 true
	// ../etc false
	// Web false
}

func ExampleCheckTransition() {
	fmt.Println(spawnit.CheckTransition(spawnit.StateRunning, spawnit.StateCancelling))
	fmt.Println(spawnit.CheckTransition(spawnit.StateSucceeded, spawnit.StateRunning))
	// Output:
	// <nil>
	// invalid job state transition: succeeded -> running
}

// A package declares its sentinels as errors of a kind; whoever answers a request finds
// the kind of any error that wraps one, with its code, status and public message.
func ExampleKindError() {
	errLocked := spawnit.NewError(spawnit.KindLocked, "service is locked by another job",
		"the service is locked by another job")
	err := fmt.Errorf("apply acme/web: %w", errLocked)

	var ke spawnit.KindError
	if errors.As(err, &ke) {
		fmt.Println(ke.Kind().Status(), ke.Kind().Code(), ke.PublicMessage())
	}
	fmt.Println(errors.Is(err, errLocked))
	// Output:
	// 409 locked the service is locked by another job
	// true
}
