package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/spawnit/spawnit/engine"
)

func TestRevisionsRecordMaskListAndPrune(t *testing.T) {
	c, st := seeded(t)
	ctx := context.Background()
	svc, err := c.CreateService(ctx, "acme", echoRequest("one"))
	if err != nil {
		t.Fatal(err)
	}
	token := svc.Values["token"].(string)
	first, err := c.RecordRevision(ctx, svc.Ref(), RevisionOf(svc, RevisionCreate), "alice")
	if err != nil {
		t.Fatal(err)
	}
	if first.Number != 1 || first.By != "alice" || first.TemplateVersion != svc.TemplateVersion || first.Inputs["token"] != Masked {
		t.Fatalf("first revision = %+v", first)
	}
	// A caller that forgot to mask still never stores the secret.
	leaky := RevisionOf(svc, RevisionUpdate)
	leaky.Inputs["token"] = token
	if _, err := c.RecordRevision(ctx, svc.Ref(), leaky, "alice"); err != nil {
		t.Fatal(err)
	}
	for _, k := range st.keys("clients/acme/" + svc.Service + "/revisions/") {
		if data, _ := st.data(k); strings.Contains(data, token) {
			t.Fatalf("%s holds the secret", k)
		}
	}
	for i := 0; i < MaxRevisions+3; i++ {
		if _, err := c.RecordRevision(ctx, svc.Ref(), RevisionOf(svc, RevisionApply), "bob"); err != nil {
			t.Fatal(err)
		}
	}
	revs, err := c.Revisions(ctx, svc.Ref())
	if err != nil {
		t.Fatal(err)
	}
	if len(revs) != MaxRevisions || revs[0].Number != MaxRevisions+5 || revs[len(revs)-1].Number != 6 {
		t.Fatalf("kept %d revisions, %d..%d", len(revs), revs[len(revs)-1].Number, revs[0].Number)
	}
	if _, err := c.GetRevision(ctx, svc.Ref(), 1); !errors.Is(err, ErrRevisionNotFound) || !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("pruned revision: %v", err)
	}
	if err := c.DeleteService(ctx, svc.Ref()); err != nil {
		t.Fatal(err)
	}
	if left := st.keys("clients/acme/" + svc.Service + "/revisions/"); len(left) != 0 {
		t.Fatalf("revisions left after delete: %v", left)
	}
}

// TestRevisionNumbersUnderConcurrency: writers racing for numbers (as replicas do)
// each get their own.
func TestRevisionNumbersUnderConcurrency(t *testing.T) {
	c, _ := seeded(t)
	ctx := context.Background()
	svc, err := c.CreateService(ctx, "acme", echoRequest("one"))
	if err != nil {
		t.Fatal(err)
	}
	const writers = 8
	var wg sync.WaitGroup
	numbers := make(chan int, writers)
	for i := 0; i < writers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rev, err := c.RecordRevision(ctx, svc.Ref(), RevisionOf(svc, RevisionUpdate), "w")
			if err != nil {
				t.Error(err)
				return
			}
			numbers <- rev.Number
		}()
	}
	wg.Wait()
	close(numbers)
	seen := map[int]bool{}
	for n := range numbers {
		if seen[n] {
			t.Fatalf("number %d given twice", n)
		}
		seen[n] = true
	}
	for n := 1; n <= writers; n++ {
		if !seen[n] {
			t.Fatalf("numbers %v: %d missing", seen, n)
		}
	}
}

func TestCompareRevisions(t *testing.T) {
	from := Revision{TemplateVersion: "1.1.0", Inputs: map[string]any{"greeting": "a", "port": json.Number("1"), "token": Masked, "gone": true}}
	to := Revision{TemplateVersion: "1.2.0", Inputs: map[string]any{"greeting": "b", "port": json.Number("1"), "token": Masked, "new": "x"}}
	want := []Change{
		{Field: "template_version", From: "1.1.0", To: "1.2.0"},
		{Field: "inputs.gone", From: true},
		{Field: "inputs.greeting", From: "a", To: "b"},
		{Field: "inputs.new", To: "x"},
	}
	if got := CompareRevisions(from, to); !reflect.DeepEqual(got, want) {
		t.Fatalf("changes = %+v\nwant %+v", got, want)
	}
	if got := CompareRevisions(from, from); len(got) != 0 {
		t.Fatalf("a revision differs from itself: %+v", got)
	}
}
