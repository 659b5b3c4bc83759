package dockerapi

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/spawnit/spawnit/pkg/redact"
)

// DefaultHost is the engine used when DOCKER_HOST is unset or empty.
const DefaultHost = "unix:///var/run/docker.sock"

// The engine's default ports (as the docker CLI has them): plain and TLS.
const (
	defaultPort    = "2375"
	defaultTLSPort = "2376"
)

// endpoint is where an engine is and how to reach it.
type endpoint struct {
	host    string      // DOCKER_HOST in effect, for messages (no user info)
	network string      // "unix" or "tcp"
	address string      // socket path, or host:port
	tls     *tls.Config // nil: plain HTTP
}

// Overlay returns a lookup of env over the process's own environment: a variable env
// sets wins, any other is the process's. This is the environment tofu runs a target's
// services with (engine.WithEnv adds env to the server's), so a client made from it
// reaches the engine the target's Docker provider reaches.
func Overlay(env map[string]string) func(string) string {
	env = maps.Clone(env)
	return func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		return os.Getenv(k)
	}
}

// parseEnv reads an engine's endpoint from an environment as the docker CLI does:
//
//   - DOCKER_HOST: unix:///path/to/socket or tcp://host[:port]; unset or empty is
//     DefaultHost. Other schemes (ssh://, npipe://, fd://) are refused.
//   - TLS, for tcp:// hosts, when DOCKER_TLS_VERIFY is set (any value but empty) or
//     DOCKER_CERT_PATH is: the certificates are read from DOCKER_CERT_PATH (else
//     $DOCKER_CONFIG, else ~/.docker): the engine must present a certificate signed by
//     ca.pem, and the client presents cert.pem with key.pem. The engine's certificate
//     is always verified. The default port is then 2376 (else 2375).
//
// A unix socket is never spoken to over TLS: its file permissions guard it.
func parseEnv(getenv func(string) string) (endpoint, error) {
	host := strings.TrimSpace(getenv("DOCKER_HOST"))
	if host == "" {
		host = DefaultHost
	}
	scheme, rest, ok := strings.Cut(host, "://")
	if !ok {
		return endpoint{}, fmt.Errorf("DOCKER_HOST %q: want unix:///path/to/socket or tcp://host:port", hideUserinfo(host))
	}
	switch scheme {
	case "unix":
		if rest == "" {
			return endpoint{}, fmt.Errorf("DOCKER_HOST %q: no socket path", host)
		}
		return endpoint{host: host, network: "unix", address: rest}, nil
	case "tcp":
		useTLS := getenv("DOCKER_TLS_VERIFY") != "" || getenv("DOCKER_CERT_PATH") != ""
		hostport, err := tcpAddress(rest, useTLS)
		if err != nil {
			return endpoint{}, fmt.Errorf("DOCKER_HOST %q: %w", hideUserinfo(host), err)
		}
		ep := endpoint{host: "tcp://" + hostport, network: "tcp", address: hostport}
		if useTLS {
			if ep.tls, err = tlsConfig(getenv); err != nil {
				return endpoint{}, fmt.Errorf("DOCKER_HOST %s with TLS (DOCKER_TLS_VERIFY/DOCKER_CERT_PATH): %w", ep.host, err)
			}
		}
		return ep, nil
	}
	return endpoint{}, fmt.Errorf("DOCKER_HOST %q: %s:// is not supported (unix:// and tcp:// are)", hideUserinfo(host), scheme)
}

// tcpAddress is host:port of a tcp:// DOCKER_HOST without its scheme, with the default
// port when it names none.
func tcpAddress(rest string, useTLS bool) (string, error) {
	u, err := url.Parse("tcp://" + rest)
	if err != nil {
		return "", errors.New("not a host:port")
	}
	switch {
	case u.User != nil:
		return "", errors.New("user information is not supported")
	case u.Hostname() == "":
		return "", errors.New("no host")
	case u.Path != "" && u.Path != "/", u.RawQuery != "", u.Fragment != "":
		return "", errors.New("want tcp://host:port, without a path")
	}
	port := u.Port()
	if port == "" {
		port = defaultPort
		if useTLS {
			port = defaultTLSPort
		}
	}
	return net.JoinHostPort(u.Hostname(), port), nil
}

// certDir is where the client's certificates are: DOCKER_CERT_PATH, else the docker
// CLI's configuration directory.
func certDir(getenv func(string) string) (string, error) {
	if d := getenv("DOCKER_CERT_PATH"); d != "" {
		return d, nil
	}
	if d := getenv("DOCKER_CONFIG"); d != "" {
		return d, nil
	}
	if home := getenv("HOME"); home != "" {
		return filepath.Join(home, ".docker"), nil
	}
	return "", errors.New("DOCKER_CERT_PATH is not set, nor HOME to find ~/.docker")
}

// tlsConfig verifies the engine against ca.pem and presents cert.pem/key.pem.
func tlsConfig(getenv func(string) string) (*tls.Config, error) {
	dir, err := certDir(getenv)
	if err != nil {
		return nil, err
	}
	ca, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if err != nil {
		return nil, fmt.Errorf("the engine's CA: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("%s holds no PEM certificate", filepath.Join(dir, "ca.pem"))
	}
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"))
	if err != nil {
		return nil, fmt.Errorf("the client certificate (%s, %s): %w", filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), err)
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots, Certificates: []tls.Certificate{cert}}, nil
}

// hideUserinfo masks the user information of a host (a password, perhaps) in messages.
func hideUserinfo(host string) string {
	scheme, rest, ok := strings.Cut(host, "://")
	at := strings.LastIndex(rest, "@")
	if !ok {
		scheme, rest, at = "", host, strings.LastIndex(host, "@")
	}
	if at < 0 {
		return host
	}
	rest = redact.Mask + rest[at:]
	if scheme != "" {
		return scheme + "://" + rest
	}
	return rest
}
