// httpecho is the tiny HTTP server baked into SpawnIt's test image: it answers every
// request with its configured greeting, so tests can tell a deployed container answers.
// It logs its start and each request on stdout, so tests can read a container's log.
package main

import (
	"fmt"
	"net/http"
	"os"
)

func main() {
	addr := os.Getenv("LISTEN")
	if addr == "" {
		addr = ":8080"
	}
	greeting := os.Getenv("GREETING")
	if greeting == "" {
		greeting = "hello from spawnit"
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Printf("httpecho: %s %s\n", r.Method, r.URL.Path)
		fmt.Fprintln(w, greeting)
	})
	fmt.Printf("httpecho: listening on %s\n", addr)
	if err := http.ListenAndServe(addr, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
