// Command loadbalancer is the round-robin HTTP reverse proxy in front of SpawnIt's
// replicas in the self-deployment (deploy/, spawnit_replicas > 1). It is deliberately
// small: every replica serves every request from the shared bucket, so the proxy needs
// no stickiness and no knowledge of SpawnIt.
//
//	loadbalancer -listen 127.0.0.1:18480 -backends 127.0.0.1:18481,127.0.0.1:18482
//
// Flags default to LB_LISTEN and LB_BACKENDS. Requests go to the backends in turn; a
// backend that refuses connections is skipped for a few seconds, and a request without
// a body that could not reach one is sent to the next (one with a body cannot be sent
// twice, and gets 502). Responses are flushed as they come, so event streams (SSE) pass
// through live. Each response carries X-Spawnit-Backend, the backend that answered, so
// an operator (and the deployment test) can see the requests spread.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// BackendHeader names the backend that answered a response.
const BackendHeader = "X-Spawnit-Backend"

// downFor is how long a backend that refused a connection is left out of the turn.
const downFor = 3 * time.Second

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	fs := flag.NewFlagSet("loadbalancer", flag.ContinueOnError)
	listen := fs.String("listen", envOr("LB_LISTEN", ":8080"), "address to listen on [$LB_LISTEN]")
	backends := fs.String("backends", os.Getenv("LB_BACKENDS"), "comma-separated host:port of the replicas [$LB_BACKENDS]")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	b, err := newBalancer(strings.Split(*backends, ","), log)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadbalancer:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv := &http.Server{Addr: *listen, Handler: b, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	log.Info("load balancer listening", "listen", *listen, "backends", b.backends)
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, "loadbalancer:", err)
		os.Exit(1)
	}
}

func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

// balancer hands requests to its backends in turn.
type balancer struct {
	backends []string
	next     atomic.Uint64
	proxy    *httputil.ReverseProxy
	log      *slog.Logger

	mu        sync.Mutex
	downUntil map[string]time.Time
}

type backendKey struct{}

func newBalancer(backends []string, log *slog.Logger) (*balancer, error) {
	b := &balancer{log: log, downUntil: map[string]time.Time{}}
	for _, a := range backends {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(a); err != nil {
			return nil, fmt.Errorf("backend %q: want host:port", a)
		}
		b.backends = append(b.backends, a)
	}
	if len(b.backends) == 0 {
		return nil, errors.New("no backends (-backends or LB_BACKENDS)")
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.Proxy = nil
	b.proxy = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.Out.URL.Scheme = "http"
			r.Out.URL.Host = r.In.Context().Value(backendKey{}).(string)
			r.SetXForwarded()
			r.Out.Host = r.In.Host // SpawnIt sees the name the client used
		},
		Transport:     &failover{b: b, rt: transport},
		FlushInterval: -1, // event streams: every write reaches the client at once
		ModifyResponse: func(resp *http.Response) error {
			resp.Header.Set(BackendHeader, resp.Request.URL.Host)
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			log.Warn("no backend answered", "method", r.Method, "path", r.URL.Path, "err", err)
			http.Error(w, "no SpawnIt replica answered", http.StatusBadGateway)
		},
	}
	return b, nil
}

func (b *balancer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := context.WithValue(r.Context(), backendKey{}, b.pick(""))
	b.proxy.ServeHTTP(w, r.WithContext(ctx))
}

// pick returns the next backend in turn that is not marked down (any, when all are),
// other than skip.
func (b *balancer) pick(skip string) string {
	now := time.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	n := uint64(len(b.backends))
	first := b.next.Add(1) - 1
	for i := range n {
		a := b.backends[(first+i)%n]
		if a != skip && !now.Before(b.downUntil[a]) {
			return a
		}
	}
	for i := range n {
		if a := b.backends[(first+i)%n]; a != skip {
			return a
		}
	}
	return b.backends[first%n]
}

func (b *balancer) markDown(a string) {
	b.mu.Lock()
	b.downUntil[a] = time.Now().Add(downFor)
	b.mu.Unlock()
	b.log.Warn("backend refused a connection; left out for a while", "backend", a, "for", downFor)
}

// failover sends a request to its chosen backend and, when the connection could not
// even be made, marks that backend down and tries the others, for requests without a
// body (the transport has consumed, or closed, a body by then).
type failover struct {
	b  *balancer
	rt http.RoundTripper
}

func (f *failover) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := f.rt.RoundTrip(r)
	for tries := 1; err != nil && isDialError(err) && tries < len(f.b.backends); tries++ {
		f.b.markDown(r.URL.Host)
		if r.Body != nil && r.Body != http.NoBody {
			break
		}
		r = r.Clone(r.Context())
		r.URL.Host = f.b.pick(r.URL.Host)
		resp, err = f.rt.RoundTrip(r)
	}
	if err != nil && isDialError(err) {
		f.b.markDown(r.URL.Host)
	}
	return resp, err
}

func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}
