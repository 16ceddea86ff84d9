package genesys_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/logkeeper/logkeeper/custody"
	"github.com/logkeeper/logkeeper/export"
	"github.com/logkeeper/logkeeper/export/genesys"
	"github.com/logkeeper/logkeeper/export/genesys/sim"
	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/internal/store/s3store"
	"github.com/logkeeper/logkeeper/internal/testenv"
	"github.com/logkeeper/logkeeper/manifest"
)

// The spike from the field: 100 connections at once against an ingress
// that lets 50 through per token and a login service that issues at most
// 5 tokens a minute.
const (
	burstEdges       = 3
	burstFilesOnEdge = 40
	burstBigFile     = 20 << 20
	burstSeed        = 42
)

// burstSim is the simulator of the spike: 3 edges x 40 files, one of them
// 20 MiB, at most 50 requests in flight per token, 5 tokens a minute, 600
// requests per token per second and 100 ms latency: a client that sent at
// the allowed rate without watching its concurrency would have 60 in
// flight, over the cap. With faults, 5% of API requests answer 503, 5%
// are reset, and 5% of downloads are cut short.
func burstSim(faults bool) sim.Config {
	edges := sim.GenerateEdges(burstSeed, burstEdges, burstFilesOnEdge, 1<<10, 64<<10, modified)
	edges[1].Files[7].Size = burstBigFile
	cfg := sim.Config{
		Seed:              burstSeed,
		Edges:             edges,
		MaxInFlight:       50,
		TokensPerMinute:   5,
		RequestsPerWindow: 600,
		Window:            time.Second,
		Latency:           100 * time.Millisecond,
		JobDelay:          50 * time.Millisecond,
		UploadDelay:       30 * time.Millisecond,
	}
	if faults {
		cfg.FailRate, cfg.ResetRate, cfg.TruncateRate = 0.05, 0.05, 0.05
	}
	return cfg
}

// burstResult is what one spike run measured.
type burstResult struct {
	res     *export.Result
	client  genesys.Stats
	sim     sim.Stats
	elapsed time.Duration
	bytes   int64
}

// runBurst archives every file of the spike simulator into st with 100
// workers and max_concurrency 100, and checks the archive.
func runBurst(t testing.TB, st store.Store, faults bool) burstResult {
	t.Helper()
	cfg := burstSim(faults)
	h := newHarness(t, cfg, func(c *genesys.Config) { c.MaxConcurrency = 100 })
	src, err := genesys.NewEdgeSource(h.client, fastEdge(genesys.EdgeOptions{Recurse: true}))
	if err != nil {
		t.Fatal(err)
	}
	signer := fixedSigner(t)
	job := &export.Job{
		Stream: "edge-logs", Store: st, Signer: signer, Source: src, Workers: 100,
		Exporter: manifest.Exporter{Name: "logkeeper", Version: "test", Host: "test"},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	start := time.Now()
	res, err := job.Run(ctx, time.Time{}, "test")
	elapsed := time.Since(start)
	if err != nil {
		t.Fatalf("export: %v", err)
	}
	want := burstEdges * burstFilesOnEdge
	if res.Files != want || res.Failed != 0 {
		t.Fatalf("export archived %d files with %d failed, want %d and none failed", res.Files, res.Failed, want)
	}

	// Every object holds exactly the bytes the edge has.
	files := map[string]sim.File{}
	for _, e := range cfg.Edges {
		for _, f := range e.Files {
			files[e.ID+"/"+f.Path] = f
		}
	}
	var total int64
	for _, o := range res.Manifest.Objects {
		f, ok := files[o.Source.ID]
		if !ok {
			t.Fatalf("archived %s, which no edge has", o.Source.ID)
		}
		edge := o.Source.IDs[genesys.IDEdge]
		if o.Size != f.Size || o.SHA256 != sim.ContentSHA256(cfg.Seed, edge, f.Path, f.Size) {
			t.Fatalf("%s: archived %d bytes with sha256 %s, the edge has %d bytes with another hash", o.Source.ID, o.Size, o.SHA256, f.Size)
		}
		total += o.Size
	}
	rep, err := custody.Verify(ctx, st, "edge-logs", custody.VerifyOptions{PublicKey: signer.Public(), Deep: true})
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if len(rep.Problems) != 0 || rep.ObjectsChecked != want || rep.ManifestsValid != 1 {
		t.Fatalf("deep verify: %d problems (first: %v), %d objects checked", len(rep.Problems), rep.Problems, rep.ObjectsChecked)
	}

	cs, ss := h.client.Stats(), h.sim.Stats()
	if cs.TokenRequests != 1 || ss.TokensIssued != 1 {
		t.Fatalf("%d token requests, %d tokens issued; want exactly one", cs.TokenRequests, ss.TokensIssued)
	}
	if ss.PeakInFlight > int64(cfg.MaxInFlight)+int64(cs.PeakInFlight) {
		t.Fatalf("impossible: %d in flight at the server", ss.PeakInFlight)
	}
	h.checkNoSecrets()
	return burstResult{res: res, client: cs, sim: ss, elapsed: elapsed, bytes: total}
}

func (r burstResult) String() string {
	c, s := r.client, r.sim
	return fmt.Sprintf("%d files, %.1f MiB in %s: client %d requests, %d retries, %d throttled (%d 429, %d 403 waf_block), %d 5xx, %d conn errors, %d downloads, %d resumes, %d URL refreshes, peak %d in flight, final limit %d, %d token request(s); server %d requests, %d 429s, %d 403s, %d 503s injected, %d resets, %d truncated, %d tokens issued, peak %d in flight",
		r.res.Files, float64(r.bytes)/(1<<20), r.elapsed.Round(time.Millisecond),
		c.Requests, c.Retries, c.Throttled, c.RateLimited, c.Blocked, c.ServerErrors, c.ConnErrors, c.Downloads, c.Resumes, c.URLRefreshes,
		c.PeakInFlight, c.ConcurrencyLimit, c.TokenRequests,
		s.Requests, s.RateLimited, s.Blocked, s.Injected503, s.Resets, s.Truncated, s.TokensIssued, s.PeakInFlight)
}

// newS3 returns a store on a fresh bucket of the test S3 server.
func newS3(t testing.TB) store.Store {
	t.Helper()
	env := testenv.S3(t)
	st, err := s3store.New(context.Background(), s3store.Options{
		Bucket: env.NewBucket(t, false), PathStyle: true, PartSize: s3store.MinPartSize, Concurrency: 4, Client: env.Client(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

var burstStores = []struct {
	name string
	open func(testing.TB) store.Store
}{
	{"fs", newFS},
	{"s3", newS3},
}

// TestBurst reproduces the field spike: every file archived and verified,
// exactly one token, no failed file; also with injected faults.
func TestBurst(t *testing.T) {
	for _, st := range burstStores {
		for _, faults := range []bool{false, true} {
			name := st.name + "/clean"
			if faults {
				name = st.name + "/faults"
			}
			t.Run(name, func(t *testing.T) {
				r := runBurst(t, st.open(t), faults)
				t.Log(r)
				if faults && (r.sim.Injected503 == 0 || r.sim.Resets == 0 || r.sim.Truncated == 0) {
					t.Fatalf("the faults were not injected: %+v", r.sim)
				}
			})
		}
	}
}

// BenchmarkBurst measures the spike run (go test -bench Burst -run '^$').
func BenchmarkBurst(b *testing.B) {
	for _, st := range burstStores {
		for _, faults := range []bool{false, true} {
			name := st.name + "/clean"
			if faults {
				name = st.name + "/faults"
			}
			b.Run(name, func(b *testing.B) {
				b.ReportAllocs()
				var r burstResult
				for b.Loop() {
					r = runBurst(b, st.open(b), faults)
				}
				b.SetBytes(r.bytes)
				b.ReportMetric(float64(r.client.Requests), "requests/op")
				b.ReportMetric(float64(r.client.Retries), "retries/op")
				b.ReportMetric(float64(r.client.Throttled), "throttled/op")
				b.ReportMetric(float64(r.client.TokenRequests), "tokens/op")
				b.Log(r)
			})
		}
	}
}
