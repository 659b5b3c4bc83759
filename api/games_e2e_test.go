package api_test

// End-to-end tests of catalog services with their real clients (beside
// services_e2e_test.go's): each deploys one service through the API, on the image built
// from Debian packages (images/) and pulled from the local registry through the Docker
// target's image map, uses it the way its users would, then destroys it.

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spawnit/spawnit/engine"
	"github.com/spawnit/spawnit/internal/testservers"
	"github.com/spawnit/spawnit/pkg/apiv1"
)

// TestServiceMariaDB: the mariadb template with its generated passwords; the mariadb
// client connects with the connection_uri output, creates a table, inserts and reads
// a row back, and root logs in with the generated root password.
func TestServiceMariaDB(t *testing.T) {
	client := clientTool(t, "mariadb")
	t.Parallel()
	image := testservers.RegistryImage(t, "mariadb")
	h := newHarness(t, harnessOptions{realTofu: true, targets: imageMap(t, map[string]string{"mariadb:11": image})})
	port, _ := strconv.Atoi(testservers.FreePort(t))
	outputs := deploy(t, h, "mariadb", image, map[string]any{"port": port, "database": "shop", "username": "clerk"})

	uri, err := url.Parse(outputString(t, outputs, "connection_uri"))
	if err != nil {
		t.Fatal(err)
	}
	password, _ := uri.User.Password()
	if uri.Scheme != "mariadb" || uri.User.Username() != "clerk" || len(password) != 24 || uri.Path != "/shop" {
		t.Fatalf("connection_uri %s://%s@%s%s: want the user clerk, a generated password and the database shop", uri.Scheme, uri.User.Username(), uri.Host, uri.Path)
	}
	if got := outputString(t, outputs, "endpoint"); got != uri.Host {
		t.Fatalf("endpoint %q, connection_uri's host %q", got, uri.Host)
	}
	host, portText, _ := net.SplitHostPort(uri.Host)
	// The password goes through the environment, not the command line.
	sql := func(user, password, database, statements string) (string, error) {
		args := []string{"--protocol=tcp", "--host=" + host, "--port=" + portText, "--user=" + user,
			"--batch", "--skip-column-names", "--connect-timeout=5", "--execute=" + statements}
		if database != "" {
			args = append(args, database)
		}
		cmd := exec.Command(client, args...)
		cmd.Env = append(os.Environ(), "MYSQL_PWD="+password)
		out, err := cmd.CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	got, err := sql("clerk", password, "shop", "CREATE TABLE items (name VARCHAR(64)); INSERT INTO items VALUES ('spawned'); SELECT name FROM items;")
	if err != nil || got != "spawned" {
		t.Fatalf("mariadb as clerk: %v: %s", err, got)
	}
	if out, err := sql("clerk", "not-the-password", "shop", "SELECT 1"); err == nil || !strings.Contains(out, "Access denied") {
		t.Fatalf("a wrong password was not refused: %v: %s", err, out)
	}
	got, err = sql("root", outputString(t, outputs, "root_password"), "", "SELECT COUNT(*) FROM shop.items")
	if err != nil || got != "1" {
		t.Fatalf("mariadb as root: %v: %s", err, got)
	}
}

// TestServiceLuanti: the luanti template (with the game Debian's package ships) answers
// a Luanti client's first packet on its UDP port.
func TestServiceLuanti(t *testing.T) {
	t.Parallel()
	image := testservers.RegistryImage(t, "luanti")
	h := newHarness(t, harnessOptions{realTofu: true, targets: imageMap(t, map[string]string{"ghcr.io/minetest/minetest:5.7.0": image})})
	port, _ := strconv.Atoi(testservers.FreePort(t))
	outputs := deploy(t, h, "luanti", image, map[string]any{"port": port, "game": "devtest", "server_name": "e2e"})
	endpoint := outputString(t, outputs, "endpoint")
	if endpoint != "127.0.0.1:"+strconv.Itoa(port) {
		t.Fatalf("endpoint %q", endpoint)
	}
	peer, err := luantiHello(endpoint, 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if peer < 2 {
		t.Fatalf("the server gave the peer id %d; 0 and 1 are reserved", peer)
	}
}

// TestServiceStaticPage: the nginx-static template serves the page the form holds,
// byte for byte (template syntax, quotes and non-ASCII text included).
func TestServiceStaticPage(t *testing.T) {
	t.Parallel()
	image := testservers.RegistryImage(t, "nginx")
	h := newHarness(t, harnessOptions{realTofu: true, targets: imageMap(t, map[string]string{"nginx:1.27-alpine": image})})
	port, _ := strconv.Atoi(testservers.FreePort(t))
	const page = "<!doctype html>\n<title>e2e</title>\n<p>${var.port} %{if true}x%{endif} \"quoted\" &amp; été</p>\n"
	outputs := deploy(t, h, "nginx-static", image, map[string]any{"port": port, "page_content": page})
	endpoint := outputString(t, outputs, "endpoint")
	res, err := http.Get(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", endpoint, res.StatusCode, err)
	}
	if string(body) != page {
		t.Fatalf("GET %s answered %q, want the form's page %q", endpoint, body, page)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Fatalf("Content-Type %q", ct)
	}
}

// TestCatalogListsNewServices: the catalog serves the mariadb and luanti templates with
// the category and icon the UI groups and shows them by.
func TestCatalogListsNewServices(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	var list apiv1.TemplateList
	h.must(200, req{method: "GET", path: "/api/v1/catalog"}).decode(t, &list)
	want := map[string]string{"mariadb": "database", "luanti": "game"}
	for _, tpl := range list.Templates {
		category, ok := want[tpl.ID]
		if !ok {
			continue
		}
		delete(want, tpl.ID)
		if tpl.Category != category || tpl.Icon == "" || len(tpl.Readiness) == 0 {
			t.Errorf("%s: category %q, icon %q, readiness %v", tpl.ID, tpl.Category, tpl.Icon, tpl.Readiness)
		}
	}
	if len(want) > 0 {
		t.Fatalf("the catalog lacks %v", want)
	}
}

// deploy creates a service from template, applies it (readiness checks included),
// checks that its container runs image (the target's image map at work) and returns
// the apply's outputs, sensitive ones revealed. The service is destroyed and
// deleted when the test ends.
func deploy(t *testing.T, h *harness, template, image string, inputs map[string]any) map[string]apiv1.Output {
	t.Helper()
	svc := h.createService("", template, inputs)
	t.Cleanup(func() {
		if !t.Failed() {
			destroy := h.run("", svc.ID, "destroy", nil)
			h.wait("", svc.ID, destroy.ID, engine.StateSucceeded)
			h.must(204, req{method: "DELETE", path: "/api/v1/services/" + svc.ID})
		}
		// Whatever the test left (a failed apply keeps its resources).
		removeContainer(svc)
	})
	job := h.run("", svc.ID, "apply", nil)
	h.wait("", svc.ID, job.ID, engine.StateSucceeded)
	var revealed apiv1.Job
	h.must(200, req{method: "GET", path: "/api/v1/services/" + svc.ID + "/jobs/" + job.ID + "?reveal=true"}).decode(t, &revealed)
	checkImage(t, svc, image)
	return revealed.Outputs
}

func outputString(t *testing.T, outputs map[string]apiv1.Output, name string) string {
	t.Helper()
	var s string
	if err := json.Unmarshal(outputs[name].Value, &s); err != nil || s == "" {
		t.Fatalf("output %s = %s (%v)", name, outputs[name].Value, err)
	}
	return s
}

// Luanti's network protocol: UDP datagrams with a 7-byte header (protocol id, sender's
// peer id, channel), then a packet type. A new client sends from the peer id 0 a
// reliable packet numbered 65500 (the first sequence number); the server acknowledges
// it and sends, reliably too, a control packet assigning the client its peer id.
const (
	luantiProtocolID  = 0x4f457403
	luantiServerPeer  = 1
	luantiFirstSeqnum = 65500

	luantiControl  = 0 // packet types
	luantiOriginal = 1
	luantiReliable = 3

	luantiAck       = 0 // control types
	luantiSetPeerID = 1
	luantiDisco     = 3
)

// luantiHello sends a new client's first packet to addr until the server both
// acknowledges it and assigns a peer id, which it returns; then it says goodbye.
func luantiHello(addr string, timeout time.Duration) (uint16, error) {
	conn, err := net.Dial("udp", addr)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	hello := binary.BigEndian.AppendUint32(nil, luantiProtocolID)
	hello = append(hello, 0, 0, 0) // peer id 0 (none yet), channel 0
	hello = append(hello, luantiReliable)
	hello = binary.BigEndian.AppendUint16(hello, luantiFirstSeqnum)
	hello = append(hello, luantiOriginal, 0, 0) // an empty command (0)

	var acked bool
	var peer uint16
	var last error = errors.New("no answer")
	buf := make([]byte, 1500)
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); {
		if _, err := conn.Write(hello); err != nil {
			return 0, err
		}
		// Answers to this try, or to an earlier one, until a second passes in silence.
		for {
			_ = conn.SetReadDeadline(time.Now().Add(time.Second))
			n, err := conn.Read(buf)
			if err != nil {
				var ne net.Error
				if !errors.As(err, &ne) || !ne.Timeout() {
					last = err // the port is closed: ICMP unreachable
				}
				break
			}
			p := buf[:n]
			if len(p) < 8 || binary.BigEndian.Uint32(p) != luantiProtocolID || binary.BigEndian.Uint16(p[4:]) != luantiServerPeer {
				return 0, fmt.Errorf("not a Luanti server's packet: % x", p)
			}
			body := p[7:]
			if body[0] == luantiReliable && len(body) >= 3 {
				body = body[3:] // the server's own sequence number; it resends until acked, which does not matter here
			}
			switch {
			case len(body) >= 4 && body[0] == luantiControl && body[1] == luantiAck && binary.BigEndian.Uint16(body[2:]) == luantiFirstSeqnum:
				acked = true
			case len(body) >= 4 && body[0] == luantiControl && body[1] == luantiSetPeerID:
				peer = binary.BigEndian.Uint16(body[2:])
			}
			if acked && peer != 0 {
				bye := binary.BigEndian.AppendUint32(nil, luantiProtocolID)
				bye = binary.BigEndian.AppendUint16(bye, peer)
				bye = append(bye, 0, luantiControl, luantiDisco)
				_, _ = conn.Write(bye)
				return peer, nil
			}
			last = fmt.Errorf("answered % x, still waiting for the acknowledgement and the peer id", p)
		}
	}
	return 0, fmt.Errorf("no Luanti hello answered at %s within %v: %v", addr, timeout, last)
}
