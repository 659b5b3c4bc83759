//go:build !linux

package main

import (
	"context"
	"fmt"
	"runtime"
)

// The server runs on Linux only: tofu dies with it (Pdeathsig), and at the next start
// its engine finds what a crashed server left running through /proc. The client
// commands work everywhere.
func init() {
	register(&command{name: "serve", summary: "run the SpawnIt server (Linux only)", run: runServe})
}

func runServe(context.Context, []string) error {
	return fmt.Errorf("the server runs on Linux only, not on %s/%s: run it on a Linux host or in a container; the client commands work here", runtime.GOOS, runtime.GOARCH)
}
