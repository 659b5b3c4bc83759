// healthy is the program of a test image whose Docker healthcheck passes: run with no
// argument it waits until it is stopped; run as "healthy check" (the image's
// HEALTHCHECK) it exits 0 at once.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "check" {
		return
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
}
