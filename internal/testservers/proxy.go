package testservers

import (
	"bytes"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// Proxy is a TCP proxy on loopback in front of a server (an S3 endpoint, typically),
// for fault injection: it can delay each request, stall requests whose request line
// matches a pattern, or blackhole everything (connections are accepted and read, and
// nothing is ever answered). It speaks no protocol, but it recognises the start of an
// HTTP/1.x request (a chunk from the client beginning with a method), which is what
// "per request" means below.
type Proxy struct {
	// Addr is host:port of the proxy, to give clients instead of the target's.
	Addr   string
	target string
	l      net.Listener

	mu        sync.Mutex
	delay     time.Duration
	stall     []string // request-line substrings whose requests never get an answer
	delayed   []delayRule
	blackhole bool
	conns     map[*proxyConn]struct{}
	closed    bool
	stalled   int // requests stalled so far
	requests  int // requests seen so far
}

type delayRule struct {
	substr string
	delay  time.Duration
}

type proxyConn struct {
	client, upstream net.Conn
	mu               sync.Mutex
	stalled          bool
}

func (c *proxyConn) isStalled() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stalled
}

func (c *proxyConn) setStalled() {
	c.mu.Lock()
	c.stalled = true
	c.mu.Unlock()
}

func (c *proxyConn) close() {
	c.client.Close()
	if c.upstream != nil {
		c.upstream.Close()
	}
}

// NewProxy starts a pass-through proxy to target (host:port) on a free loopback port and
// closes it when the test ends.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{Addr: l.Addr().String(), target: target, l: l, conns: map[*proxyConn]struct{}{}}
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

// URL is the proxy's address with the http scheme.
func (p *Proxy) URL() string { return "http://" + p.Addr }

// SetDelay holds every request for d before forwarding it (0: no delay).
func (p *Proxy) SetDelay(d time.Duration) {
	p.mu.Lock()
	p.delay = d
	p.mu.Unlock()
}

// DelayMatching holds every later request whose request line contains substr for d
// before forwarding it, on top of SetDelay's; d = 0 removes the rule. A client that
// gives up meanwhile does not stop the request: it reaches the server late, as a
// request whose answer was lost does.
func (p *Proxy) DelayMatching(substr string, d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	rules := p.delayed[:0:0]
	for _, r := range p.delayed {
		if r.substr != substr {
			rules = append(rules, r)
		}
	}
	if d > 0 {
		rules = append(rules, delayRule{substr, d})
	}
	p.delayed = rules
}

// StallMatching makes every later request whose request line ("PUT /bucket/key HTTP/1.1")
// contains one of substrs hang: it is read and never forwarded nor answered, and its
// connection stays stalled until the client gives up. No substrs: none stall.
func (p *Proxy) StallMatching(substrs ...string) {
	p.mu.Lock()
	p.stall = append([]string(nil), substrs...)
	p.mu.Unlock()
}

// Blackhole makes the proxy accept and read everything and answer nothing (on):
// existing connections stall at their next request, new ones at once. Off restores
// pass-through for new requests; stalled connections stay stalled.
func (p *Proxy) Blackhole(on bool) {
	p.mu.Lock()
	p.blackhole = on
	p.mu.Unlock()
}

// Reset removes every fault: no delay, nothing stalled, no blackhole. Stalled
// connections are closed, so their clients see an error instead of waiting on.
func (p *Proxy) Reset() {
	p.mu.Lock()
	p.delay, p.stall, p.delayed, p.blackhole = 0, nil, nil, false
	var stalled []*proxyConn
	for c := range p.conns {
		if c.isStalled() {
			stalled = append(stalled, c)
		}
	}
	p.mu.Unlock()
	for _, c := range stalled {
		c.close()
	}
}

// Stats reports how many requests the proxy has seen and how many requests or
// connections (blackholed at accept) it stalled.
func (p *Proxy) Stats() (requests, stalled int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.requests, p.stalled
}

// Close stops the proxy and drops every connection.
func (p *Proxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	conns := make([]*proxyConn, 0, len(p.conns))
	for c := range p.conns {
		conns = append(conns, c)
	}
	p.mu.Unlock()
	p.l.Close()
	for _, c := range conns {
		c.close()
	}
}

func (p *Proxy) accept() {
	for {
		client, err := p.l.Accept()
		if err != nil {
			return
		}
		c := &proxyConn{client: client}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			client.Close()
			return
		}
		p.conns[c] = struct{}{}
		black := p.blackhole
		if black {
			p.stalled++
		}
		p.mu.Unlock()
		if black {
			c.setStalled()
			go p.drain(c)
			continue
		}
		go p.serve(c)
	}
}

func (p *Proxy) forget(c *proxyConn) {
	c.close()
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

// drain reads and discards what a stalled connection's client sends until it gives up.
func (p *Proxy) drain(c *proxyConn) {
	defer p.forget(c)
	_, _ = io.Copy(io.Discard, c.client)
}

func (p *Proxy) serve(c *proxyConn) {
	defer p.forget(c)
	up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		return // the client sees its connection closed, as with a server that is down
	}
	c.mu.Lock()
	c.upstream = up
	c.mu.Unlock()
	// Upstream to client. A stalled connection forwards nothing more; a client that went
	// away does not stop the server's answer from being read to its end, so a request
	// that was forwarded completes on the server even when its client gave up.
	downDone := make(chan struct{})
	go func() {
		defer close(downDone)
		buf := make([]byte, 32<<10)
		clientGone := false
		for {
			n, err := up.Read(buf)
			if n > 0 && !clientGone && !c.isStalled() {
				if _, werr := c.client.Write(buf[:n]); werr != nil {
					clientGone = true
				}
			}
			if err != nil {
				if !c.isStalled() {
					c.client.Close() // the server closed: so does the client's side
				}
				return
			}
		}
	}()
	defer func() {
		// The client is done sending: tell the server, and let it finish answering.
		if tcp, ok := up.(*net.TCPConn); ok {
			_ = tcp.CloseWrite()
		}
		select {
		case <-downDone:
		case <-time.After(time.Minute):
		}
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := c.client.Read(buf)
		if n > 0 && !c.isStalled() {
			chunk := buf[:n]
			if line, ok := requestLine(chunk); ok {
				p.mu.Lock()
				p.requests++
				delay, stall := p.delay, p.blackhole
				for _, s := range p.stall {
					if strings.Contains(line, s) {
						stall = true
					}
				}
				for _, r := range p.delayed {
					if strings.Contains(line, r.substr) {
						delay += r.delay
					}
				}
				if stall {
					p.stalled++
				}
				p.mu.Unlock()
				if stall {
					c.setStalled()
					continue
				}
				if delay > 0 {
					time.Sleep(delay)
				}
			}
			if _, werr := up.Write(chunk); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

var httpMethods = [][]byte{[]byte("GET "), []byte("PUT "), []byte("POST "), []byte("HEAD "), []byte("DELETE "), []byte("OPTIONS "), []byte("PATCH ")}

// requestLine returns the first line of chunk when chunk starts an HTTP request.
func requestLine(chunk []byte) (string, bool) {
	for _, m := range httpMethods {
		if bytes.HasPrefix(chunk, m) {
			line, _, _ := bytes.Cut(chunk, []byte("\r\n"))
			return string(line), true
		}
	}
	return "", false
}
