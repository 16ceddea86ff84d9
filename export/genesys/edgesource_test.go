package genesys_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/logkeeper/logkeeper/custody"
	"github.com/logkeeper/logkeeper/export"
	"github.com/logkeeper/logkeeper/export/genesys"
	"github.com/logkeeper/logkeeper/export/genesys/sim"
	"github.com/logkeeper/logkeeper/internal/signing"
	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/manifest"
)

// archive runs export jobs of one stream into one store.
type archive struct {
	t      testing.TB
	st     store.Store
	signer signing.Signer
	stream string
}

func newArchive(t testing.TB, stream string) *archive {
	return &archive{t: t, st: newFS(t), signer: fixedSigner(t), stream: stream}
}

func (a *archive) run(src export.Source, end time.Time) (*export.Result, error) {
	job := &export.Job{
		Stream: a.stream, Store: a.st, Signer: a.signer, Source: src, Workers: 16,
		Exporter: manifest.Exporter{Name: "logkeeper", Version: "test", Host: "test"},
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return job.Run(ctx, end, "test")
}

// verify checks the whole chain, reading every object.
func (a *archive) verify() *custody.Report {
	a.t.Helper()
	rep, err := custody.Verify(context.Background(), a.st, a.stream, custody.VerifyOptions{PublicKey: a.signer.Public(), Deep: true})
	if err != nil {
		a.t.Fatalf("verify: %v", err)
	}
	if len(rep.Problems) != 0 {
		a.t.Fatalf("verify: %v", rep.Problems)
	}
	return rep
}

func (a *archive) manifests() int {
	a.t.Helper()
	n := 0
	err := a.st.List(context.Background(), a.stream+"/manifests/", func(store.ObjectInfo) error { n++; return nil })
	if err != nil {
		a.t.Fatal(err)
	}
	return n
}

func smallEdges(n, perEdge int) []sim.Edge {
	return sim.GenerateEdges(7, n, perEdge, 100, 5000, modified)
}

// TestEdgeSourceArchivesOnce: every file arrives with its bytes and
// provenance, a second run archives nothing and uploads nothing from the
// edges, and a changed file is archived again.
func TestEdgeSourceArchivesOnce(t *testing.T) {
	cfg := sim.Config{Seed: 7, Edges: smallEdges(2, 6), JobDelay: 20 * time.Millisecond, UploadDelay: 10 * time.Millisecond}
	h := newHarness(t, cfg, nil)
	src, err := genesys.NewEdgeSource(h.client, fastEdge(genesys.EdgeOptions{Recurse: true}))
	if err != nil {
		t.Fatal(err)
	}
	a := newArchive(t, "edges")
	res, err := a.run(src, time.Time{})
	if err != nil || res.Files != 12 {
		t.Fatalf("first run: %+v, %v", res, err)
	}
	for _, o := range res.Manifest.Objects {
		ids := o.Source.IDs
		for _, k := range []string{genesys.IDRegion, genesys.IDOrg, genesys.IDEdge, genesys.IDEdgePath, genesys.IDFile,
			genesys.IDTimeModified, genesys.IDSizeBytes, genesys.IDJob, genesys.IDCorrelation} {
			if ids[k] == "" {
				t.Fatalf("%s: provenance lacks %s: %v", o.Source.ID, k, ids)
			}
		}
		if o.Source.ID != ids[genesys.IDEdge]+"/"+ids[genesys.IDEdgePath] || o.Source.Path != o.Source.ID {
			t.Fatalf("ID %q, path %q", o.Source.ID, o.Source.Path)
		}
		rc, _, err := a.st.Get(context.Background(), o.Key, store.GetOptions{VersionID: o.VersionID})
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		want, _ := io.ReadAll(sim.Content(cfg.Seed, ids[genesys.IDEdge], ids[genesys.IDEdgePath], o.Size))
		if string(got) != string(want) {
			t.Fatalf("%s: archived bytes differ from the edge's", o.Source.ID)
		}
	}
	before := h.sim.Stats()

	res, err = a.run(src, time.Time{})
	if err != nil || res.Files != 0 || res.Skipped != 12 {
		t.Fatalf("second run: %+v, %v", res, err)
	}
	if after := h.sim.Stats(); after.Downloads != before.Downloads {
		t.Fatalf("the second run downloaded %d files it had archived", after.Downloads-before.Downloads)
	}

	edge := cfg.Edges[0].ID
	h.sim.SetEdge(edge, func(e *sim.Edge) { e.Files[2].Size += 10; e.Files[2].Modified = e.Files[2].Modified.Add(time.Minute) })
	res, err = a.run(src, time.Time{})
	if err != nil || res.Files != 1 || res.Manifest.Objects[0].Source.ID != edge+"/"+cfg.Edges[0].Files[2].Path {
		t.Fatalf("third run: %+v, %v", res, err)
	}
	if rep := a.verify(); rep.ManifestsValid != 3 || rep.ObjectsChecked != 13 {
		t.Fatalf("verify: %+v", rep)
	}
	if st := h.client.Stats(); st.TokenRequests != 1 {
		t.Fatalf("%d tokens for three runs of one client", st.TokenRequests)
	}
	h.checkNoSecrets()
}

// TestEdgeSourceSelection: configured edges, folder, name patterns and
// recursion select the files.
func TestEdgeSourceSelection(t *testing.T) {
	edges := []sim.Edge{
		{ID: "e1", Files: []sim.File{
			{Path: "logs/sip.log", Size: 10, Modified: modified},
			{Path: "logs/media.log", Size: 10, Modified: modified},
			{Path: "logs/old/sip.log.1", Size: 10, Modified: modified},
			{Path: "logs/deep/x/sip.log", Size: 10, Modified: modified},
			{Path: "other/sip.log", Size: 10, Modified: modified},
		}},
		{ID: "e2", Files: []sim.File{{Path: "logs/sip.log", Size: 10, Modified: modified}}},
	}
	tests := []struct {
		name string
		o    genesys.EdgeOptions
		want []string
	}{
		{"all edges, everything", genesys.EdgeOptions{Recurse: true}, []string{
			"e1/logs/deep/x/sip.log", "e1/logs/media.log", "e1/logs/old/sip.log.1", "e1/logs/sip.log", "e1/other/sip.log", "e2/logs/sip.log"}},
		{"one edge, one folder", genesys.EdgeOptions{Edges: []string{"e1"}, Path: "logs"}, []string{"e1/logs/media.log", "e1/logs/sip.log"}},
		{"patterns, recursive", genesys.EdgeOptions{Edges: []string{"e1"}, Path: "logs", Query: "sip.log|*.1", Recurse: true},
			[]string{"e1/logs/deep/x/sip.log", "e1/logs/old/sip.log.1", "e1/logs/sip.log"}},
		{"nothing matches", genesys.EdgeOptions{Query: "*.pcap", Recurse: true}, nil},
	}
	h := newHarness(t, sim.Config{Edges: edges}, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, err := genesys.NewEdgeSource(h.client, fastEdge(tt.o))
			if err != nil {
				t.Fatal(err)
			}
			files, err := src.List(context.Background(), manifest.Window{})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range files {
				got = append(got, f.ID)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("listed %v, want %v", got, tt.want)
			}
		})
	}
}

// malformedJobs answers every read of a log job with broken JSON.
func malformedJobs(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/logs/jobs/") {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"id":"x","files":[{"id":`)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// TestEdgeSourceListFailures: what goes wrong before any file is opened
// fails the run with a clear error and no manifest.
func TestEdgeSourceListFailures(t *testing.T) {
	edges := smallEdges(2, 2)
	tests := []struct {
		name     string
		cfg      sim.Config
		wrap     func(http.Handler) http.Handler
		client   func(*genesys.Config)
		o        genesys.EdgeOptions
		wantErr  error
		wantText []string
	}{
		{"wrong client secret", sim.Config{Edges: edges}, nil, func(c *genesys.Config) { c.ClientSecret = "wrong-secret" },
			genesys.EdgeOptions{}, genesys.ErrBadCredentials, []string{"/oauth/token", "invalid_client", "check client_id and client_secret"}},
		{"unknown edge", sim.Config{Edges: edges}, nil, nil,
			genesys.EdgeOptions{Edges: []string{edges[0].ID, "no-such-edge"}}, genesys.ErrNotFound, []string{"edge no-such-edge is not known", "correlation id"}},
		{"missing permission", sim.Config{Edges: edges, Permissions: []string{}}, nil, nil,
			genesys.EdgeOptions{}, genesys.ErrPermission, []string{"lacks permission telephony:plugin:all"}},
		{"malformed JSON", sim.Config{Edges: edges}, malformedJobs, nil,
			genesys.EdgeOptions{Edges: []string{edges[1].ID}}, genesys.ErrMalformed, []string{"edge " + edges[1].ID + " log job", "get log job"}},
		{"job that never lists its files", sim.Config{Edges: []sim.Edge{edges[0], {ID: "stuck-edge", Stuck: true}}}, nil, nil,
			genesys.EdgeOptions{JobTimeout: 100 * time.Millisecond}, genesys.ErrTimeout, []string{"log job file listing (edge stuck-edge, job "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarnessWrapped(t, tt.cfg, tt.client, tt.wrap)
			src, err := genesys.NewEdgeSource(h.client, fastEdge(tt.o))
			if err != nil {
				t.Fatal(err)
			}
			a := newArchive(t, "edges")
			res, err := a.run(src, time.Time{})
			if !errors.Is(err, tt.wantErr) || res != nil {
				t.Fatalf("run: %+v, %v; want no result and an error wrapping %v", res, err, tt.wantErr)
			}
			for _, want := range tt.wantText {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			if n := a.manifests(); n != 0 {
				t.Fatalf("%d manifests written by a failed run", n)
			}
			h.checkNoSecrets(err.Error())
			t.Log(err)
		})
	}
}

// TestEdgeSourceFileFailuresRetriedNextRun: a file whose download or
// upload fails is recorded as a failure, not archived, and the next run
// archives it.
func TestEdgeSourceFileFailuresRetriedNextRun(t *testing.T) {
	edges := smallEdges(2, 3)
	tests := []struct {
		name   string
		break_ func(h *harness)
		fix    func(h *harness)
		o      genesys.EdgeOptions
		want   []string
	}{
		{"expired download URLs",
			func(h *harness) { h.sim.SetStaleURLs(1 << 20) }, func(h *harness) { h.sim.SetStaleURLs(0) },
			genesys.EdgeOptions{}, []string{"download URL was refused", "edge " + edges[0].ID}},
		{"uploads failing at the edge",
			func(h *harness) { h.sim.SetEdge(edges[0].ID, func(e *sim.Edge) { e.FailUploads = true }) },
			func(h *harness) { h.sim.SetEdge(edges[0].ID, func(e *sim.Edge) { e.FailUploads = false }) },
			genesys.EdgeOptions{}, []string{"upload status \"Failed\"", "edge " + edges[0].ID + ", job "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, sim.Config{Seed: 7, Edges: edges}, func(c *genesys.Config) { c.MaxURLRefreshes = 2 })
			src, err := genesys.NewEdgeSource(h.client, fastEdge(genesys.EdgeOptions{Recurse: true}))
			if err != nil {
				t.Fatal(err)
			}
			a := newArchive(t, "edges")
			tt.break_(h)
			res, err := a.run(src, time.Time{})
			if !errors.Is(err, export.ErrFilesFailed) || res == nil || res.Failed == 0 {
				t.Fatalf("run: %+v, %v; want failed files in a manifest", res, err)
			}
			for _, want := range tt.want {
				if !strings.Contains(res.Manifest.Failures[0].Error, want) {
					t.Errorf("failure %q does not say %q", res.Manifest.Failures[0].Error, want)
				}
			}
			failed := res.Failed
			t.Log(res.Manifest.Failures[0].Error)
			for _, f := range res.Manifest.Failures {
				h.checkNoSecrets(f.Error)
			}
			for _, o := range res.Manifest.Objects {
				for _, f := range res.Manifest.Failures {
					if f.Path == o.Source.Path {
						t.Fatalf("%s is both archived and failed", f.Path)
					}
				}
			}
			tt.fix(h)
			res, err = a.run(src, time.Time{})
			if err != nil || res.Files != failed || res.Failed != 0 {
				t.Fatalf("next run: %+v, %v; want the %d failed files archived", res, err, failed)
			}
			a.verify()
			h.checkNoSecrets()
		})
	}
}

// TestEdgeSourceSurvivesRevokedToken: a token the API stops accepting is
// replaced once and the run goes on.
func TestEdgeSourceSurvivesRevokedToken(t *testing.T) {
	h := newHarness(t, sim.Config{Edges: smallEdges(1, 3)}, nil)
	src, _ := genesys.NewEdgeSource(h.client, fastEdge(genesys.EdgeOptions{Recurse: true}))
	a := newArchive(t, "edges")
	if _, err := a.run(src, time.Time{}); err != nil {
		t.Fatal(err)
	}
	h.sim.ExpireTokens()
	h.sim.SetEdge(smallEdges(1, 3)[0].ID, func(e *sim.Edge) { e.Files[0].Size++ })
	res, err := a.run(src, time.Time{})
	if err != nil || res.Files != 1 {
		t.Fatalf("run after revocation: %+v, %v", res, err)
	}
	if st := h.client.Stats(); st.TokenRequests != 2 || st.TokenRefreshes != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestEdgeSourceTruncationsAndStaleURLs: short bodies and expired URLs are
// repaired on the fly; every byte arrives.
func TestEdgeSourceTruncationsAndStaleURLs(t *testing.T) {
	cfg := sim.Config{Seed: 3, Edges: sim.GenerateEdges(3, 2, 5, 50<<10, 200<<10, modified), TruncateRate: 0.5, StaleURLs: 3}
	h := newHarness(t, cfg, func(c *genesys.Config) { c.MaxRetries = 20 })
	src, _ := genesys.NewEdgeSource(h.client, fastEdge(genesys.EdgeOptions{Recurse: true, MaxResumes: 50}))
	a := newArchive(t, "edges")
	res, err := a.run(src, time.Time{})
	if err != nil || res.Files != 10 {
		t.Fatalf("run: %+v, %v", res, err)
	}
	for _, o := range res.Manifest.Objects {
		ids := o.Source.IDs
		if o.SHA256 != sim.ContentSHA256(cfg.Seed, ids[genesys.IDEdge], ids[genesys.IDEdgePath], o.Size) {
			t.Fatalf("%s: bytes differ", o.Source.ID)
		}
	}
	st := h.client.Stats()
	if st.Resumes == 0 || st.URLRefreshes != 3 {
		t.Fatalf("stats %+v: want resumes and 3 URL refreshes", st)
	}
	a.verify()
}

// TestEdgeSourceUploadTimeout: an upload that never finishes fails that
// file, naming edge, job and file, within the bounded wait.
func TestEdgeSourceUploadTimeout(t *testing.T) {
	h := newHarness(t, sim.Config{Edges: smallEdges(1, 1), UploadDelay: time.Hour}, nil)
	src, _ := genesys.NewEdgeSource(h.client, fastEdge(genesys.EdgeOptions{Recurse: true, UploadTimeout: 100 * time.Millisecond}))
	files, err := src.List(context.Background(), manifest.Window{})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = src.Open(context.Background(), files[0])
	var te *genesys.TimeoutError
	if !errors.As(err, &te) || te.Edge == "" || te.Job == "" || !strings.Contains(te.File, files[0].IDs[genesys.IDFile]) {
		t.Fatalf("error %v, want a TimeoutError naming edge, job and file", err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("waited %v", el)
	}
}

// TestEdgeSourceSharesJobReads: however many files wait for uploads, the
// job is read about once per poll interval, not once per file.
func TestEdgeSourceSharesJobReads(t *testing.T) {
	cfg := sim.Config{Edges: smallEdges(1, 30), UploadDelay: 100 * time.Millisecond}
	counting := make(chan struct{}, 10000)
	h := newHarnessWrapped(t, cfg, nil, func(inner http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/logs/jobs/") {
				counting <- struct{}{}
			}
			inner.ServeHTTP(w, r)
		})
	})
	src, _ := genesys.NewEdgeSource(h.client, fastEdge(genesys.EdgeOptions{Recurse: true, PollInterval: 20 * time.Millisecond}))
	a := newArchive(t, "edges")
	if res, err := a.run(src, time.Time{}); err != nil || res.Files != 30 {
		t.Fatalf("run: %+v, %v", res, err)
	}
	reads := len(counting)
	// 30 files waiting ~100 ms each, polling every 20 ms: shared reads
	// stay well below one per file per poll (30 x 5).
	if reads > 60 {
		t.Fatalf("%d job reads for 30 files", reads)
	}
	t.Logf("%d job reads for 30 files", reads)
}

// TestOpenStreams: a 20 MiB file goes through Open without being held in
// memory: the bytes allocated while reading it (client and simulator
// together) stay far below its size.
func TestOpenStreams(t *testing.T) {
	const size = 20 << 20
	edges := []sim.Edge{{ID: "e1", Files: []sim.File{{Path: "logs/big.pcap", Size: size, Modified: modified}}}}
	h := newHarness(t, sim.Config{Seed: 5, Edges: edges}, nil)
	src, _ := genesys.NewEdgeSource(h.client, fastEdge(genesys.EdgeOptions{Recurse: true}))
	files, err := src.List(context.Background(), manifest.Window{})
	if err != nil {
		t.Fatal(err)
	}
	rc, err := src.Open(context.Background(), files[0])
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	n, err := io.CopyBuffer(io.Discard, rc, make([]byte, 32<<10))
	runtime.ReadMemStats(&after)
	if err != nil || n != size {
		t.Fatalf("read %d bytes, %v", n, err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > size/4 {
		t.Fatalf("reading %d bytes allocated %d bytes", size, alloc)
	} else {
		t.Logf("reading %d MiB allocated %d KiB", size>>20, alloc>>10)
	}
}
