package tofu

import (
	"slices"
	"testing"
)

func TestArgs(t *testing.T) {
	for _, tc := range []struct {
		name string
		got  []string
		want []string
	}{
		{"init", Init(), []string{"init", "-no-color", "-input=false", "-backend=true", "-get=true", "-upgrade=false", "-reconfigure", "-json"}},
		{"providers lock", ProvidersLock("/m", "linux_amd64"), []string{"providers", "lock", "-no-color", "-fs-mirror=/m", "-platform=linux_amd64"}},
		{"plan", Plan(PlanOptions{Out: "p.tfplan"}), []string{"plan", "-no-color", "-input=false", "-lock=true", "-refresh=true", "-out=p.tfplan", "-json"}},
		{"check", Plan(PlanOptions{Out: "d.tfplan", NoLock: true}), []string{"plan", "-no-color", "-input=false", "-lock=false", "-refresh=true", "-out=d.tfplan", "-json"}},
		{"refresh only", Plan(PlanOptions{Out: "d.tfplan", NoLock: true, RefreshOnly: true}), []string{"plan", "-no-color", "-input=false", "-lock=false", "-refresh=true", "-refresh-only", "-out=d.tfplan", "-json"}},
		{"apply", Apply(false), []string{"apply", "-no-color", "-input=false", "-auto-approve", "-lock=true", "-refresh=true", "-json"}},
		{"accept", Apply(true), []string{"apply", "-no-color", "-input=false", "-auto-approve", "-lock=true", "-refresh=true", "-refresh-only", "-json"}},
		{"destroy", Destroy(), []string{"destroy", "-no-color", "-input=false", "-auto-approve", "-lock=true", "-refresh=true", "-json"}},
		{"show", ShowPlan("p.tfplan"), []string{"show", "-json", "-no-color", "p.tfplan"}},
		{"show state", ShowState(), []string{"show", "-json", "-no-color"}},
		{"output", Output(), []string{"output", "-no-color", "-json"}},
		{"state pull", StatePull(), []string{"state", "pull"}},
		{"force-unlock", ForceUnlock("abc"), []string{"force-unlock", "-no-color", "-force", "abc"}},
	} {
		if !slices.Equal(tc.got, tc.want) {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, tc.got, tc.want)
		}
	}
}

func TestTailBufferKeepsTheEnd(t *testing.T) {
	var b tailBuffer
	for range 3 {
		b.Write(make([]byte, maxStderr/2))
	}
	b.Write([]byte("last words"))
	got := b.Bytes()
	if len(got) != maxStderr || string(got[len(got)-10:]) != "last words" {
		t.Fatalf("kept %d bytes ending %q", len(got), got[len(got)-10:])
	}
}
