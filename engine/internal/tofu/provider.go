package tofu

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// A provider server is a provider plugin started once for several tofu commands, which
// attach to it through TF_REATTACH_PROVIDERS instead of each starting the plugin
// itself (tofu starts a provider up to three times per command: for its schema, to
// validate, to plan). It speaks the plugin protocol every provider serves, started as
// tofu would start it (go-plugin's handshake), so it needs nothing of the provider
// beyond what tofu needs.

// Plugin handshake: what tofu gives a provider it starts so that the provider serves.
const (
	pluginCookieKey   = "TF_PLUGIN_MAGIC_COOKIE"
	pluginCookieValue = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2"
	pluginProtocols   = "5,6"
	// pluginSocketDir is where the provider makes its unix socket.
	pluginSocketDir = "PLUGIN_UNIX_SOCKET_DIR"
)

// ProviderServer is a running provider plugin.
type ProviderServer struct {
	cmd      *exec.Cmd
	reattach reattachConfig
	stderr   tailBuffer
	done     chan struct{} // closed when the process has exited
	once     sync.Once
}

// reattachConfig is one provider's entry in TF_REATTACH_PROVIDERS. Test tells tofu the
// process is not its own to stop: it detaches at its end and the provider keeps serving.
type reattachConfig struct {
	Protocol        string
	ProtocolVersion int
	Pid             int
	Test            bool
	Addr            struct {
		Network string
		String  string
	}
}

// StartProvider starts the provider plugin at path in dir with env (the whole of it),
// its unix socket in socketDir (a private directory: the plugin serves whoever can
// connect), and waits up to timeout for it to say where it serves.
func StartProvider(path, dir string, env []string, socketDir string, timeout time.Duration) (*ProviderServer, error) {
	cmd := exec.Command(path)
	cmd.Dir = dir
	cmd.Env = append(append([]string(nil), env...),
		pluginCookieKey+"="+pluginCookieValue,
		"PLUGIN_PROTOCOL_VERSIONS="+pluginProtocols,
		pluginSocketDir+"="+socketDir)
	cmd.SysProcAttr = sysProcAttr()
	s := &ProviderServer{cmd: cmd, done: make(chan struct{})}
	cmd.Stderr = &s.stderr
	stdout, stdoutW := io.Pipe()
	cmd.Stdout = stdoutW
	cmd.WaitDelay = pipeGrace
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start provider: %w", err)
	}
	go func() {
		_ = cmd.Wait()
		stdoutW.Close()
		close(s.done)
	}()
	line := make(chan string, 1)
	go func() {
		r := bufio.NewReader(stdout)
		l, _ := r.ReadString('\n')
		line <- l
		// The plugin writes nothing more here (its output goes to tofu over the
		// plugin's own stream), but the pipe is drained until it exits.
		_, _ = io.Copy(io.Discard, r)
	}()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var handshake string
	var err error
	select {
	case handshake = <-line:
	case <-timer.C:
		s.Stop()
		return nil, fmt.Errorf("provider %s did not start serving within %s", path, timeout)
	}
	s.reattach, err = parseHandshake(handshake)
	if err != nil {
		s.Stop()
		if msg := strings.TrimSpace(string(s.stderr.Bytes())); msg != "" {
			err = fmt.Errorf("%w\n%s", err, msg)
		}
		return nil, fmt.Errorf("provider %s: %w", path, err)
	}
	s.reattach.Pid = cmd.Process.Pid
	return s, nil
}

// parseHandshake reads the line a plugin prints when it serves:
// core-version|protocol-version|network|address|protocol|server-cert[|multiplex].
// Only a gRPC plugin without a server certificate (none was asked for) can be attached.
func parseHandshake(line string) (reattachConfig, error) {
	var c reattachConfig
	line = strings.TrimSpace(line)
	parts := strings.Split(line, "|")
	if len(parts) < 6 || parts[0] != "1" {
		return c, fmt.Errorf("unexpected plugin handshake %q", line)
	}
	v, err := strconv.Atoi(parts[1])
	if err != nil || (v != 5 && v != 6) {
		return c, fmt.Errorf("unsupported plugin protocol version %q", parts[1])
	}
	if parts[4] != "grpc" {
		return c, fmt.Errorf("plugin protocol %q cannot be attached", parts[4])
	}
	if parts[5] != "" {
		return c, errors.New("the plugin serves with a certificate that was not asked for")
	}
	if parts[2] != "unix" && parts[2] != "tcp" {
		return c, fmt.Errorf("unknown plugin network %q", parts[2])
	}
	c.Protocol, c.ProtocolVersion, c.Test = "grpc", v, true
	c.Addr.Network, c.Addr.String = parts[2], parts[3]
	return c, nil
}

// Stop kills the provider (its process group) and waits for it to exit.
func (s *ProviderServer) Stop() {
	s.once.Do(func() {
		select {
		case <-s.done:
		default:
			exited := false
			killGroup(s.cmd.Process, exited)
		}
		<-s.done
	})
}

// Exited reports whether the provider has stopped serving.
func (s *ProviderServer) Exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// ReattachProviders is the TF_REATTACH_PROVIDERS value that attaches tofu to servers,
// keyed by provider source address (registry.opentofu.org/namespace/type).
func ReattachProviders(servers map[string]*ProviderServer) string {
	m := make(map[string]reattachConfig, len(servers))
	for addr, s := range servers {
		m[addr] = s.reattach
	}
	b, _ := json.Marshal(m)
	return string(b)
}
