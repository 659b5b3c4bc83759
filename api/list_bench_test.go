package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/spawnit/spawnit/internal/testservers"
	"github.com/spawnit/spawnit/pkg/apiv1"
	"github.com/spawnit/spawnit/pkg/store"
	"github.com/spawnit/spawnit/pkg/store/s3store"
	"github.com/spawnit/spawnit/pkg/storekey"
)

// seedServices gives tenant n services without n creates: one is created through the
// API, and n-1 copies of its records (info.json, terraform.tfvars.json, and its index
// entry with its summary renamed) are written straight into the store, 32 at a time.
// What a listing reads is then what n creates would have left.
func seedServices(tb testing.TB, h *harness, tenant string, n int) {
	tb.Helper()
	ctx := context.Background()
	first := h.createService(tenant, "bulk", map[string]any{"items": 1})
	// The summary is written when the create is published: wait for it.
	src := storekey.For(tenant, first.ID)
	var entry map[string]any
	for deadline := time.Now().Add(30 * time.Second); ; {
		b, _, err := h.st.Get(ctx, src.ServiceEntry())
		if err == nil && json.Unmarshal(b, &entry) == nil && entry["summary"] != nil {
			break
		}
		if time.Now().After(deadline) {
			tb.Fatalf("no summary for %s: %v", first.ID, err)
		}
		time.Sleep(10 * time.Millisecond) // polling the condition
	}
	info, _, err := h.st.Get(ctx, src.Info())
	if err != nil {
		tb.Fatal(err)
	}
	tfvars, _, err := h.st.Get(ctx, src.Tfvars())
	if err != nil {
		tb.Fatal(err)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(32)
	for i := 1; i < n; i++ {
		g.Go(func() error {
			id := fmt.Sprintf("svc-seed%05d", i)
			dst := storekey.For(tenant, id)
			e := map[string]any{}
			for k, v := range entry {
				e[k] = v
			}
			sum := map[string]any{}
			for k, v := range entry["summary"].(map[string]any) {
				sum[k] = v
			}
			svc := map[string]any{}
			for k, v := range sum["service"].(map[string]any) {
				svc[k] = v
			}
			svc["id"], svc["name"] = id, fmt.Sprintf("seeded %d", i)
			sum["service"], e["summary"], e["service"] = svc, sum, id
			eb, _ := json.Marshal(e)
			for key, data := range map[string][]byte{dst.Info(): info, dst.Tfvars(): tfvars, dst.ServiceEntry(): eb} {
				if _, err := h.st.Put(gctx, key, data, store.PutOptions{ContentType: "application/json"}); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		tb.Fatal(err)
	}
}

// pageTimes times GET /api/v1/services?limit=50 for each tenant: the first request (a
// replica that has read none of the summaries yet) and the median of 101 more, the
// tenants' requests interleaved so that both see the same load on the machine.
func pageTimes(tb testing.TB, h *harness, tenants ...string) (cold, median []time.Duration) {
	tb.Helper()
	get := func(tenant string) time.Duration {
		start := time.Now()
		var l apiv1.ServiceList
		h.must(http.StatusOK, req{method: "GET", path: "/api/v1/services?limit=50", tenant: tenant}).decode(tb, &l)
		d := time.Since(start)
		if len(l.Services) != 50 || l.NextCursor == "" {
			tb.Fatalf("first page of %s: %d services, cursor %q", tenant, len(l.Services), l.NextCursor)
		}
		return d
	}
	ds := make([][]time.Duration, len(tenants))
	for _, t := range tenants {
		cold = append(cold, get(t))
	}
	for range 101 {
		for i, t := range tenants {
			ds[i] = append(ds[i], get(t))
		}
	}
	for _, d := range ds {
		median = append(median, pct(d, 0.5))
	}
	return cold, median
}

// benchFirstPage: the first page (50) of the services list with 100 and with 10,000
// services in the tenant, both tenants in one store, the 100-service page the baseline.
func benchFirstPage(b *testing.B, st store.Store, kind string) {
	h := newHarness(b, harnessOptions{store: st})
	start := time.Now()
	seedServices(b, h, "small", 100)
	seedServices(b, h, "large", 10_000)
	b.Logf("%s: 10,100 services seeded in %s", kind, time.Since(start).Round(time.Millisecond))
	// The steady state: nothing written for a few seconds (the file store keeps a
	// folder's sorted names while the folder is unchanged; the first request after a
	// write reads them again, which the cold figure includes).
	time.Sleep(3 * time.Second)
	for b.Loop() {
		cold, median := pageTimes(b, h, "small", "large")
		coldSmall, small, coldLarge, large := cold[0], median[0], cold[1], median[1]
		b.ReportMetric(float64(large.Microseconds())/1000, "ms-page50-10000-"+kind)
		b.ReportMetric(float64(small.Microseconds())/1000, "ms-page50-100-"+kind)
		b.ReportMetric(float64(large)/float64(small), "page50-10000/100-"+kind)
		b.ReportMetric(float64(coldLarge.Microseconds())/1000, "ms-cold-page50-10000-"+kind)
		b.Logf("%s store, first page of 50, median of 101, interleaved (first request, no summary cached): 100 services %s (%s), 10,000 services %s (%s)",
			kind, small.Round(10*time.Microsecond), coldSmall.Round(10*time.Microsecond), large.Round(10*time.Microsecond), coldLarge.Round(10*time.Microsecond))
	}
}

func BenchmarkServicesPageFile(b *testing.B) { benchFirstPage(b, nil, "file") }

func BenchmarkServicesPageS3(b *testing.B) {
	s3 := testservers.Versitygw(b)
	st, err := s3store.New(context.Background(), s3store.Config{Endpoint: s3.Endpoint, Bucket: "spawnit",
		AccessKey: s3.AccessKey, SecretKey: s3.SecretKey, PathStyle: true})
	if err != nil {
		b.Fatal(err)
	}
	benchFirstPage(b, st, "s3")
}

// BenchmarkStartup: `spawnit serve` from exec to /readyz answering 200, on a data
// directory whose store holds 10,000 services, against the same on an empty one.
func BenchmarkStartup(b *testing.B) {
	bin := filepath.Join(b.TempDir(), "spawnit")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/spawnit/spawnit/cmd/spawnit").CombinedOutput(); err != nil {
		b.Fatalf("building spawnit: %v\n%s", err, out)
	}
	full := b.TempDir()
	st, err := store.NewFS(filepath.Join(full, "store"))
	if err != nil {
		b.Fatal(err)
	}
	h := newHarness(b, harnessOptions{store: st})
	start := time.Now()
	seedServices(b, h, "large", 10_000)
	b.Logf("10,000 services seeded in %s", time.Since(start).Round(time.Millisecond))
	ready := func(dataDir string) time.Duration {
		port := testservers.FreePort(b)
		cmd := exec.Command(bin, "serve", "--data-dir", dataDir, "--tofu", testservers.Tofu(b),
			"--listen", "127.0.0.1:"+port)
		cmd.Env = []string{"HOME=" + b.TempDir(), "PATH=" + os.Getenv("PATH")}
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		start := time.Now()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		defer func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			_ = cmd.Wait()
		}()
		cl := &http.Client{Timeout: time.Second}
		for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); {
			if res, err := cl.Get("http://127.0.0.1:" + port + "/readyz"); err == nil {
				res.Body.Close()
				if res.StatusCode == http.StatusOK {
					return time.Since(start)
				}
			}
			time.Sleep(10 * time.Millisecond) // polling the condition
		}
		b.Fatalf("spawnit serve never ready:\n%s", out.String())
		return 0
	}
	for b.Loop() {
		var withAll, empty []time.Duration
		for range 3 {
			withAll = append(withAll, ready(full))
			empty = append(empty, ready(b.TempDir()))
		}
		b.ReportMetric(pct(withAll, 0.5).Seconds(), "s-ready-10000")
		b.ReportMetric(float64(pct(withAll, 0.5))/float64(pct(empty, 0.5)), "ready-10000/empty")
		b.Logf("start-up to ready, median of 3: 10,000 services %s, empty store %s", pct(withAll, 0.5).Round(time.Millisecond), pct(empty, 0.5).Round(time.Millisecond))
	}
}
