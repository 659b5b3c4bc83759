package storekey

import (
	"bufio"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// layout is every key pattern the package builds, with the placeholders docs/store.md
// uses for ids.
func layout() []string {
	s := For("<tenant>", "<service>")
	return []string{
		Template("<template>"),
		TemplateModule("<template>", "<target>") + "*",
		TemplateDisabled("<template>"),
		TemplateVersionManifest("<template>", "<version>"),
		TemplateVersion("<template>", "<version>") + TemplateFile,
		TemplateVersion("<template>", "<version>") + ModulesDir + "/<target>/*",
		TemplateVersionRetired("<template>", "<version>"),
		s.Info(), s.Tfvars(), s.State(), s.StateLock(), s.Intent(), s.Lease(),
		s.Job("<job>"), s.Check(), s.Drift(), s.Health(), s.PreDestroy(), s.Errored(),
		s.IdempotencyClaim("<hash>"), s.CancelRequest("<job>"),
		s.Revisions() + "<number>.json",                   // checked against Revision below
		AuditPrefix + "<yyyy-mm-dd>/<time>-<random>.json", // checked against Audit below
		s.ServiceEntry(), ServicesIndexBuilt, s.RunningJob("<job>"), RunningJobsBuilt,
		Replica("<replica>"),
		Probe("<probe>"),
		SessionSecret, Session("<hash>"),
		Ports("<target>") + "<port>.json",                      // checked against Port below
		s.EventChunks("<job>") + "<first>-<last>.json",         // checked against EventChunk below
		FeedsPrefix + "<tenant>/<time>-<origin>-<random>.json", // checked against FeedEntry below
		Quota("<tenant>"),
	}
}

// TestLayoutMatchesDocs: the keys docs/store.md lists are exactly the keys this package
// builds.
func TestLayoutMatchesDocs(t *testing.T) {
	f, err := os.Open("../../docs/store.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var documented []string
	in := false
	for sc := bufio.NewScanner(f); sc.Scan(); {
		line := sc.Text()
		if strings.HasPrefix(line, "```") {
			if in {
				break // the first block is the layout
			}
			in = true
			continue
		}
		fields := strings.Fields(line)
		if !in || len(fields) == 0 || line[0] == ' ' {
			continue // outside the block, a blank line, or a description's continuation
		}
		documented = append(documented, fields[0])
	}
	built := layout()
	slices.Sort(documented)
	slices.Sort(built)
	if !slices.Equal(documented, built) {
		t.Fatalf("docs/store.md lists\n  %s\nthe package builds\n  %s", strings.Join(documented, "\n  "), strings.Join(built, "\n  "))
	}
}

func TestAudit(t *testing.T) {
	at := time.Date(2026, 12, 3, 7, 4, 5, 123456789, time.UTC)
	if got, want := Audit(at, "00ff"), "audit/2026-12-03/20261203T070405.123456789Z-00ff.json"; got != want {
		t.Fatalf("Audit = %s, want %s", got, want)
	}
	if !regexp.MustCompile(`^audit/\d{4}-\d\d-\d\d/$`).MatchString(AuditDay(at)) {
		t.Fatal(AuditDay(at))
	}
}

func TestServiceKeys(t *testing.T) {
	s := For("acme", "web")
	for got, want := range map[string]string{
		s.Prefix():                "clients/acme/web/",
		s.Info():                  "clients/acme/web/info.json",
		s.Tfvars():                "clients/acme/web/terraform.tfvars.json",
		s.State():                 "clients/acme/web/terraform.tfstate",
		s.StateLock():             "clients/acme/web/terraform.tfstate.tflock",
		s.Jobs():                  "clients/acme/web/jobs/",
		s.Job("j1"):               "clients/acme/web/jobs/j1.json",
		s.Idempotency():           "clients/acme/web/idempotency/",
		s.IdempotencyClaim("ab"):  "clients/acme/web/idempotency/ab.json",
		s.ServiceEntry():          "index/services/acme/web",
		TenantIndex("acme"):       "index/services/acme/",
		s.RunningJob("j1"):        "index/jobs/acme/web/j1",
		TenantPrefix("acme"):      "clients/acme/",
		TemplateModules("pg"):     "templates/pg/modules/",
		TemplateModule("pg", "d"): "templates/pg/modules/d/",
	} {
		if got != want {
			t.Errorf("%s, want %s", got, want)
		}
	}
}

func TestParse(t *testing.T) {
	s := For("acme", "web")
	if got, file, ok := ParseService(s.Job("j1")); !ok || got != s || file != "jobs/j1.json" {
		t.Fatalf("ParseService: %v %q %v", got, file, ok)
	}
	if got, id, ok := ParseJob(s.Job("j1")); !ok || got != s || id != "j1" {
		t.Fatalf("ParseJob: %v %q %v", got, id, ok)
	}
	if got, ok := ParseCheck(s.Check()); !ok || got != s {
		t.Fatal("ParseCheck")
	}
	if got, ok := ParseIdempotencyClaim(s.IdempotencyClaim("ab")); !ok || got != s {
		t.Fatal("ParseIdempotencyClaim")
	}
	if got, ok := ParseServiceEntry(s.ServiceEntry()); !ok || got != s {
		t.Fatal("ParseServiceEntry")
	}
	if got, id, ok := ParseRunningJob(s.RunningJob("j1")); !ok || got != s || id != "j1" {
		t.Fatal("ParseRunningJob")
	}
	if JobIDOf(s.Job("j1")) != "j1" {
		t.Fatal("JobIDOf")
	}
	for _, key := range []string{
		"clients/acme/web", "clients/acme/web/", "clients//web/info.json", "templates/x",
		s.Check(), s.Info(), s.Jobs() + "j1.txt", s.Jobs() + "a/b.json", s.Jobs() + ".json",
	} {
		if _, _, ok := ParseJob(key); ok {
			t.Errorf("ParseJob(%q) accepted", key)
		}
	}
	for _, key := range []string{s.Info(), s.Idempotency(), s.Idempotency() + "a/b.json"} {
		if _, ok := ParseIdempotencyClaim(key); ok {
			t.Errorf("ParseIdempotencyClaim(%q) accepted", key)
		}
	}
	for _, key := range []string{"index/services/acme", "index/services/acme/", "index/services/acme/web/x", ServicesIndexBuilt} {
		if _, ok := ParseServiceEntry(key); ok {
			t.Errorf("ParseServiceEntry(%q) accepted", key)
		}
	}
	for _, key := range []string{"index/jobs/acme/web", "index/jobs/acme/web/j1/x", RunningJobsBuilt} {
		if _, _, ok := ParseRunningJob(key); ok {
			t.Errorf("ParseRunningJob(%q) accepted", key)
		}
	}
}

func TestParseTemplate(t *testing.T) {
	for key, want := range map[string]TemplateKey{
		Template("pg"):                                     {ID: "pg", Kind: TemplateMeta},
		TemplateDisabled("pg"):                             {ID: "pg", Kind: TemplateMarkDisabled},
		TemplateModule("pg", "docker") + "a.tf":            {ID: "pg", Kind: TemplateModuleFile, Target: "docker", Path: "a.tf"},
		TemplateModule("pg", "aws") + "m/b.tf":             {ID: "pg", Kind: TemplateModuleFile, Target: "aws", Path: "m/b.tf"},
		TemplateModule("pg", "aws") + "":                   {ID: "pg", Kind: TemplateOther},
		TemplatePrefix("pg") + "README.md":                 {ID: "pg", Kind: TemplateOther},
		TemplateVersionManifest("pg", "1.0"):               {ID: "pg", Kind: TemplateVersionFile, Version: "1.0", Path: "version.json"},
		TemplateVersion("pg", "2") + "modules/docker/a.tf": {ID: "pg", Kind: TemplateVersionFile, Version: "2", Path: "modules/docker/a.tf"},
		TemplateVersions("pg") + "1.0":                     {ID: "pg", Kind: TemplateOther},
	} {
		if got, ok := ParseTemplate(key); !ok || got != want {
			t.Errorf("ParseTemplate(%q) = %+v %v, want %+v", key, got, ok, want)
		}
	}
	for _, key := range []string{"templates/", "templates/pg", "templates/pg/", "clients/pg/template.json"} {
		if _, ok := ParseTemplate(key); ok {
			t.Errorf("ParseTemplate(%q) accepted", key)
		}
	}
}

func TestEventChunkAndFeed(t *testing.T) {
	s := For("acme", "web")
	key := s.EventChunk("j1", 3, 12)
	if key != "clients/acme/web/events/j1/00000000000000000003-00000000000000000012.json" {
		t.Fatalf("EventChunk = %q", key)
	}
	ps, id, first, last, ok := ParseEventChunk(key)
	if !ok || ps != s || id != "j1" || first != 3 || last != 12 {
		t.Fatalf("ParseEventChunk(%q) = %v %q %d %d %v", key, ps, id, first, last, ok)
	}
	for _, bad := range []string{s.Job("j1"), s.EventChunks("j1") + "x.json", s.EventChunks("j1") + "5-4.json", s.Info()} {
		if _, _, _, _, ok := ParseEventChunk(bad); ok {
			t.Errorf("ParseEventChunk(%q) ok", bad)
		}
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	fk := FeedEntry("acme", at, "r1", "abc")
	tenant, got, ok := ParseFeedEntry(fk)
	if !ok || tenant != "acme" || !got.Equal(at) || !strings.HasPrefix(fk, Feed("acme")) {
		t.Fatalf("ParseFeedEntry(%q) = %q %v %v", fk, tenant, got, ok)
	}
	if _, _, ok := ParseFeedEntry(Replica("r1")); ok {
		t.Fatal("a replica's key parsed as a feed entry")
	}
	// Entries sort by time as strings.
	if a, b := FeedEntry("acme", at, "z", "z"), FeedEntry("acme", at.Add(time.Second), "a", "a"); a >= b {
		t.Fatalf("%q sorts after %q", a, b)
	}
}

func TestPort(t *testing.T) {
	k := Port("docker", 20001)
	if k != "ports/docker/20001.json" {
		t.Fatalf("Port = %q", k)
	}
	if target, port, ok := ParsePort(k); !ok || target != "docker" || port != 20001 {
		t.Fatalf("ParsePort(%q) = %q, %d, %v", k, target, port, ok)
	}
	for _, bad := range []string{"ports/docker/0.json", "ports/docker/65536.json", "ports/docker/080.json", "ports//1.json", "ports/docker/1", "feeds/docker/1.json"} {
		if _, _, ok := ParsePort(bad); ok {
			t.Errorf("ParsePort(%q) accepted", bad)
		}
	}
}

func TestRevision(t *testing.T) {
	s := For("acme", "web")
	key := s.Revision(12)
	if key != "clients/acme/web/revisions/0000000012.json" {
		t.Fatalf("Revision = %q", key)
	}
	ps, n, ok := ParseRevision(key)
	if !ok || ps != s || n != 12 {
		t.Fatalf("ParseRevision(%q) = %v %d %v", key, ps, n, ok)
	}
	for _, bad := range []string{s.Info(), s.Revisions() + "12.json", s.Revisions() + "0000000000.json", s.Revisions() + "00000000x1.json", s.Job("0000000001")} {
		if _, _, ok := ParseRevision(bad); ok {
			t.Errorf("ParseRevision(%q) ok", bad)
		}
	}
}
