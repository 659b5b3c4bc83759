package main

import (
	"strings"
	"testing"
)

// A govulncheck JSON stream in the shape of its protocol: one vulnerability called from
// SpawnIt's code, one only imported.
const stream = `{"config":{"protocol_version":"v1.0.0","scanner_name":"govulncheck","scanner_version":"v1.9.0","db":"file:///db","go_version":"go1.26.8","scan_level":"symbol"}}
{"osv":{"id":"GO-1","summary":"called flaw"}}
{"osv":{"id":"GO-2","summary":"imported flaw"}}
{"finding":{"osv":"GO-2","fixed_version":"v1.0.1","trace":[{"module":"example.com/b","version":"v1.0.0","package":"example.com/b/p"}]}}
{"finding":{"osv":"GO-1","trace":[{"module":"example.com/a","version":"v1.2.0","package":"example.com/a"}]}}
{"finding":{"osv":"GO-1","trace":[
  {"module":"example.com/a","version":"v1.2.0","package":"example.com/a","function":"Bad"},
  {"module":"github.com/spawnit/spawnit","package":"github.com/spawnit/spawnit/api","function":"routes","receiver":"*Server","position":{"filename":"api/server.go","line":12}}]}}
`

func TestVerdict(t *testing.T) {
	rep, err := parseReport(strings.NewReader(stream))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		accepted map[string]string
		ok       bool
		want     []string
	}{
		{"not accepted", nil, false, []string{
			"GO-1  example.com/a@v1.2.0, fixed in none",
			"called from api/server.go:12 (github.com/spawnit/spawnit/api.Server.routes)",
			"NOT ACCEPTED",
			"GO-2  example.com/b@v1.0.0, fixed in v1.0.1: imported flaw",
			"FAIL: 1 called",
		}},
		{"accepted", map[string]string{"GO-1": "no fix yet"}, true, []string{"accepted: no fix yet", "ok: "}},
		{"accepting an uncalled one does not pass", map[string]string{"GO-2": "x"}, false, []string{
			"accepted but no longer called (remove from the accepted list): GO-2",
			"FAIL: 1 called",
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out strings.Builder
			if ok := rep.verdict(&out, c.accepted); ok != c.ok {
				t.Errorf("verdict = %v, want %v", ok, c.ok)
			}
			for _, w := range c.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}

func TestParseReportRejectsOtherInput(t *testing.T) {
	if _, err := parseReport(strings.NewReader(`{"osv":{"id":"GO-1"}}`)); err == nil {
		t.Error("a stream without govulncheck's config message was accepted")
	}
	if _, err := parseReport(strings.NewReader(`Your code is affected`)); err == nil {
		t.Error("text output was accepted")
	}
}

func TestParseAccepted(t *testing.T) {
	acc, err := parseAccepted(strings.NewReader("# comment\n\nGO-1 no fix yet\n  GO-2\tfixed in 1.2 \n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(acc) != 2 || acc["GO-1"] != "no fix yet" || acc["GO-2"] != "fixed in 1.2" {
		t.Errorf("accepted = %q", acc)
	}
	if _, err := parseAccepted(strings.NewReader("GO-3\n")); err == nil {
		t.Error("an entry without a reason was accepted")
	}
}
