package tofu

import (
	"encoding/json"
	"testing"
)

func TestParseHandshake(t *testing.T) {
	c, err := parseHandshake("1|6|unix|/tmp/spawnit-providers-1/plugin2|grpc|\n")
	if err != nil {
		t.Fatal(err)
	}
	if c.Protocol != "grpc" || c.ProtocolVersion != 6 || !c.Test || c.Addr.Network != "unix" || c.Addr.String != "/tmp/spawnit-providers-1/plugin2" {
		t.Fatalf("parsed %+v", c)
	}
	if c, err := parseHandshake("1|5|tcp|127.0.0.1:10001|grpc||true"); err != nil || c.ProtocolVersion != 5 || c.Addr.Network != "tcp" {
		t.Fatalf("tcp with multiplexing: %+v %v", c, err)
	}
	for _, bad := range []string{
		"",
		"This binary is a plugin. These are not meant to be executed directly.",
		"1|4|unix|/tmp/p|netrpc|",   // the old protocol cannot be attached
		"1|6|unix|/tmp/p|grpc|MIIB", // a server certificate nobody asked for
		"2|6|unix|/tmp/p|grpc|",
		"1|6|pipe|x|grpc|",
	} {
		if _, err := parseHandshake(bad); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func TestReattachProviders(t *testing.T) {
	c, _ := parseHandshake("1|6|unix|/tmp/p|grpc|")
	c.Pid = 42
	got := ReattachProviders(map[string]*ProviderServer{"registry.opentofu.org/kreuzwerker/docker": {reattach: c}})
	var m map[string]struct {
		Protocol        string
		ProtocolVersion int
		Pid             int
		Test            bool
		Addr            struct{ Network, String string }
	}
	if err := json.Unmarshal([]byte(got), &m); err != nil {
		t.Fatal(err)
	}
	e := m["registry.opentofu.org/kreuzwerker/docker"]
	if e.Protocol != "grpc" || e.ProtocolVersion != 6 || e.Pid != 42 || !e.Test || e.Addr.Network != "unix" || e.Addr.String != "/tmp/p" {
		t.Fatalf("TF_REATTACH_PROVIDERS %s", got)
	}
}
