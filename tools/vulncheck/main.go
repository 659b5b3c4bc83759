// Command vulncheck turns govulncheck's JSON output into a verdict for CI: it fails when
// SpawnIt's code calls a vulnerability that accepted.txt does not list with a reason.
//
//	govulncheck -format json ./... > report.json
//	vulncheck -accepted accepted.txt report.json
//
// govulncheck's own exit code fails on every finding, including those nobody can fix yet
// (no fixed version, or a standard library fix that needs a newer Go toolchain than the
// machines have). Accepting such a finding is an explicit, reviewed line in accepted.txt;
// any other called vulnerability fails the check. Findings in modules or packages that the
// code requires or imports but does not call are listed and never fail it.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

func main() {
	accepted := flag.String("accepted", "", "file of accepted vulnerability IDs, one per line with its reason")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: vulncheck [-accepted FILE] REPORT.json")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	ok, err := run(os.Stdout, flag.Arg(0), *accepted)
	if err != nil {
		fmt.Fprintln(os.Stderr, "vulncheck:", err)
		os.Exit(2)
	}
	if !ok {
		os.Exit(1)
	}
}

func run(w io.Writer, reportPath, acceptedPath string) (bool, error) {
	acc := map[string]string{}
	if acceptedPath != "" {
		f, err := os.Open(acceptedPath)
		if err != nil {
			return false, err
		}
		acc, err = parseAccepted(f)
		f.Close()
		if err != nil {
			return false, fmt.Errorf("%s: %w", acceptedPath, err)
		}
	}
	f, err := os.Open(reportPath)
	if err != nil {
		return false, err
	}
	defer f.Close()
	r, err := parseReport(f)
	if err != nil {
		return false, fmt.Errorf("%s: %w", reportPath, err)
	}
	return r.verdict(w, acc), nil
}

// parseAccepted reads lines of "ID reason...": blank lines and lines starting with # are
// skipped; an ID without a reason is an error, so that every acceptance says why.
func parseAccepted(r io.Reader) (map[string]string, error) {
	acc := map[string]string{}
	s := bufio.NewScanner(r)
	for n := 1; s.Scan(); n++ {
		line := strings.TrimSpace(s.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id := strings.Fields(line)[0]
		reason := strings.TrimSpace(strings.TrimPrefix(line, id))
		if reason == "" {
			return nil, fmt.Errorf("line %d: %s has no reason", n, id)
		}
		acc[id] = reason
	}
	return acc, s.Err()
}

// The parts of govulncheck's JSON protocol (a stream of messages) that the verdict needs.
type message struct {
	Config  *config  `json:"config"`
	OSV     *entry   `json:"osv"`
	Finding *finding `json:"finding"`
}

type config struct {
	ScannerVersion string `json:"scanner_version"`
	DB             string `json:"db"`
	GoVersion      string `json:"go_version"`
	ScanLevel      string `json:"scan_level"`
}

type entry struct {
	ID      string `json:"id"`
	Summary string `json:"summary"`
}

type finding struct {
	OSV          string   `json:"osv"`
	FixedVersion string   `json:"fixed_version"`
	Trace        []*frame `json:"trace"`
}

type frame struct {
	Module   string    `json:"module"`
	Version  string    `json:"version"`
	Package  string    `json:"package"`
	Function string    `json:"function"`
	Receiver string    `json:"receiver"`
	Position *position `json:"position"`
}

type position struct {
	Filename string `json:"filename"`
	Line     int    `json:"line"`
}

// vuln is what the report says of one vulnerability.
type vuln struct {
	id, summary, module, version, fixed string
	called                              bool
	callSite                            string // the first call in SpawnIt's code, when called
}

type report struct {
	cfg   config
	vulns map[string]*vuln
}

func parseReport(r io.Reader) (*report, error) {
	rep := &report{vulns: map[string]*vuln{}}
	get := func(id string) *vuln {
		v := rep.vulns[id]
		if v == nil {
			v = &vuln{id: id}
			rep.vulns[id] = v
		}
		return v
	}
	sawConfig := false
	dec := json.NewDecoder(r)
	for {
		var m message
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, err
		}
		switch {
		case m.Config != nil:
			rep.cfg, sawConfig = *m.Config, true
		case m.OSV != nil:
			get(m.OSV.ID).summary = m.OSV.Summary
		case m.Finding != nil && len(m.Finding.Trace) > 0:
			v := get(m.Finding.OSV)
			top := m.Finding.Trace[0]
			v.module, v.version, v.fixed = top.Module, top.Version, m.Finding.FixedVersion
			// A trace whose vulnerable end is a function is a call path from SpawnIt's
			// code; package- and module-level findings only say it is imported or required.
			if top.Function != "" && !v.called {
				v.called = true
				v.callSite = callSite(m.Finding.Trace)
			}
		}
	}
	if !sawConfig {
		return nil, errors.New("not govulncheck JSON output (no config message)")
	}
	return rep, nil
}

// callSite names the outermost frame of a trace: where SpawnIt's code starts the call.
func callSite(trace []*frame) string {
	f := trace[len(trace)-1]
	name := f.Function
	if f.Receiver != "" {
		name = strings.TrimPrefix(f.Receiver, "*") + "." + name
	}
	name = f.Package + "." + name
	if f.Position != nil {
		return fmt.Sprintf("%s:%d (%s)", f.Position.Filename, f.Position.Line, name)
	}
	return name
}

// verdict prints the findings and reports whether the check passes.
func (r *report) verdict(w io.Writer, accepted map[string]string) bool {
	fmt.Fprintf(w, "govulncheck %s, %s, scan level %s, database %s\n",
		r.cfg.ScannerVersion, r.cfg.GoVersion, r.cfg.ScanLevel, r.cfg.DB)
	var called, other []*vuln
	for _, v := range r.vulns {
		switch {
		case v.called:
			called = append(called, v)
		case v.module != "":
			other = append(other, v)
		}
	}
	byID := func(s []*vuln) {
		sort.Slice(s, func(i, j int) bool { return s[i].id < s[j].id })
	}
	byID(called)
	byID(other)

	failed := 0
	fmt.Fprintf(w, "\ncalled by SpawnIt's code: %d\n", len(called))
	for _, v := range called {
		status := "NOT ACCEPTED"
		if reason, ok := accepted[v.id]; ok {
			status = "accepted: " + reason
		} else {
			failed++
		}
		fmt.Fprintf(w, "  %s  %s@%s, fixed in %s\n      %s\n      called from %s\n      %s\n",
			v.id, v.module, v.version, orNone(v.fixed), v.summary, v.callSite, status)
	}
	fmt.Fprintf(w, "\nrequired or imported, not called (no failure): %d\n", len(other))
	for _, v := range other {
		fmt.Fprintf(w, "  %s  %s@%s, fixed in %s: %s\n", v.id, v.module, v.version, orNone(v.fixed), v.summary)
	}
	var stale []string
	for id := range accepted {
		if v := r.vulns[id]; v == nil || !v.called {
			stale = append(stale, id)
		}
	}
	if len(stale) > 0 {
		sort.Strings(stale)
		fmt.Fprintf(w, "\naccepted but no longer called (remove from the accepted list): %s\n", strings.Join(stale, " "))
	}
	if failed > 0 {
		fmt.Fprintf(w, "\nFAIL: %d called vulnerabilities are not accepted: upgrade the module (go get MODULE@FIXED; go mod tidy) or, when no fix can be had, accept it with a reason\n", failed)
		return false
	}
	fmt.Fprintln(w, "\nok: no called vulnerability that is not accepted")
	return true
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
