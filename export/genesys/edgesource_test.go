package genesys_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
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
	return newArchiveOn(t, stream, newFS(t))
}

// newArchiveOn is an archive on st (the file store or the test S3 server).
func newArchiveOn(t testing.TB, stream string, st store.Store) *archive {
	return &archive{t: t, st: st, signer: fixedSigner(t), stream: stream}
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

// TestEdgeSourceListFailures: what would fail every edge (credentials,
// permissions) fails the run with a clear error and no manifest.
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
		{"missing permission", sim.Config{Edges: edges, Permissions: []string{}}, nil, nil,
			genesys.EdgeOptions{}, genesys.ErrPermission, []string{"lacks permission telephony:plugin:all"}},
		{"missing permission, configured edges", sim.Config{Edges: edges, Permissions: []string{}}, nil, nil,
			genesys.EdgeOptions{Edges: []string{edges[0].ID, edges[1].ID}}, genesys.ErrPermission, []string{"lacks permission telephony:plugin:all"}},
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
		// oneEdge: only the files of edges[0] fail.
		oneEdge bool
	}{
		{"expired download URLs",
			func(h *harness) { h.sim.SetStaleURLs(1 << 20) }, func(h *harness) { h.sim.SetStaleURLs(0) },
			genesys.EdgeOptions{}, []string{"download URL was refused", "edge " + edges[0].ID}, false},
		{"uploads failing at the edge (ERROR_ON_UPLOAD)",
			func(h *harness) { h.sim.SetEdge(edges[0].ID, func(e *sim.Edge) { e.FailUploads = true }) },
			func(h *harness) { h.sim.SetEdge(edges[0].ID, func(e *sim.Edge) { e.FailUploads = false }) },
			genesys.EdgeOptions{}, []string{"uploadStatus ERROR_ON_UPLOAD", "edge " + edges[0].ID + ", job "}, true},
		{"uploads stuck in UPLOADING",
			func(h *harness) { h.sim.SetEdge(edges[0].ID, func(e *sim.Edge) { e.StuckUploads = true }) },
			func(h *harness) { h.sim.SetEdge(edges[0].ID, func(e *sim.Edge) { e.StuckUploads = false }) },
			genesys.EdgeOptions{UploadTimeout: 150 * time.Millisecond}, []string{"log file upload (uploadStatus UPLOADING)", "edge " + edges[0].ID + ", job ", "not ready after"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, sim.Config{Seed: 7, Edges: edges}, func(c *genesys.Config) { c.MaxURLRefreshes = 2 })
			o := tt.o
			o.Recurse = true
			src, err := genesys.NewEdgeSource(h.client, fastEdge(o))
			if err != nil {
				t.Fatal(err)
			}
			a := newArchive(t, "edges")
			tt.break_(h)
			res, err := a.run(src, time.Time{})
			if !errors.Is(err, export.ErrFilesFailed) || res == nil || res.Failed == 0 {
				t.Fatalf("run: %+v, %v; want failed files in a manifest", res, err)
			}
			if tt.oneEdge && (res.Failed != len(edges[0].Files) || res.Files != len(edges[1].Files)) {
				t.Fatalf("run: %d archived, %d failed; want the files of one edge each", res.Files, res.Failed)
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

// TestEdgeSourceEdgeFailuresRecorded: an edge whose log job fails, is
// unknown, answers malformed JSON or never lists its files is a recorded
// failure of that edge; the other edges' files are archived, the run ends
// in bounded time, and the next run collects the edge once it is fixed.
func TestEdgeSourceEdgeFailuresRecorded(t *testing.T) {
	edges := smallEdges(3, 2)
	tests := []struct {
		name     string
		cfg      sim.Config
		wrap     func(http.Handler) http.Handler
		o        genesys.EdgeOptions
		failed   string
		wantErr  error
		wantText []string
	}{
		{"unknown edge", sim.Config{Edges: edges}, nil,
			genesys.EdgeOptions{Edges: []string{edges[0].ID, "no-such-edge"}}, "no-such-edge/", genesys.ErrNotFound,
			[]string{"edge no-such-edge is not known", "context id", "correlation id"}},
		{"malformed job answer", sim.Config{Edges: edges}, malformedJobsOf(edges[1].ID), genesys.EdgeOptions{}, edges[1].ID + "/", genesys.ErrMalformed,
			[]string{"edge " + edges[1].ID + " log job", "get log job"}},
		{"job that never lists its files", sim.Config{Edges: append(slices.Clone(edges), sim.Edge{ID: "stuck-edge", Stuck: true})}, nil,
			genesys.EdgeOptions{JobTimeout: 100 * time.Millisecond}, "stuck-edge/", genesys.ErrTimeout,
			[]string{"log job file listing (edge stuck-edge, job "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarnessWrapped(t, tt.cfg, nil, tt.wrap)
			tt.o.Recurse = true
			src, err := genesys.NewEdgeSource(h.client, fastEdge(tt.o))
			if err != nil {
				t.Fatal(err)
			}
			a := newArchive(t, "edges")
			start := time.Now()
			res, err := a.run(src, time.Time{})
			if !errors.Is(err, export.ErrFilesFailed) || res == nil || res.Failed != 1 {
				t.Fatalf("run: %+v, %v; want one recorded failure", res, err)
			}
			if took := time.Since(start); took > 10*time.Second {
				t.Fatalf("run took %s", took)
			}
			f := res.Manifest.Failures[0]
			if f.ID != tt.failed {
				t.Fatalf("failure of %q, want %q", f.ID, tt.failed)
			}
			for _, want := range tt.wantText {
				if !strings.Contains(f.Error, want) {
					t.Errorf("failure %q does not say %q", f.Error, want)
				}
			}
			wantFiles := 0
			for _, e := range tt.cfg.Edges {
				if (len(tt.o.Edges) == 0 || slices.Contains(tt.o.Edges, e.ID)) && e.ID+"/" != tt.failed {
					wantFiles += len(e.Files)
				}
			}
			if res.Files != wantFiles {
				t.Fatalf("%d files archived, want the other edges' %d: %+v", res.Files, wantFiles, res.Manifest)
			}
			h.checkNoSecrets(f.Error)
			a.verify()
		})
	}
}

// malformedJobsOf answers the reads of one edge's log jobs with broken
// JSON.
func malformedJobsOf(edge string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && strings.Contains(r.URL.Path, edge+"/logs/jobs/") {
				w.Header().Set("Content-Type", "application/json")
				_, _ = io.WriteString(w, `{"id":"x","files":[{"id":`)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// badFieldJobs rewrites one file of every log job: its sizeBytes becomes a
// fraction, as a server with a bug might send.
func badFieldJobs(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || !strings.Contains(r.URL.Path, "/logs/jobs/") {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		body := rec.Body.String()
		if i := strings.Index(body, `"sizeBytes":`); i >= 0 {
			j := i + len(`"sizeBytes":`)
			k := j + strings.IndexAny(body[j:], ",}")
			body = body[:j] + "12.5" + body[k:]
		}
		for k, v := range rec.Header() {
			if k != "Content-Length" {
				w.Header()[k] = v
			}
		}
		w.WriteHeader(rec.Code)
		_, _ = io.WriteString(w, body)
	})
}

// TestEdgeSourceBadFieldRecorded: a file whose sizeBytes is not a whole
// number is a recorded failure naming the field and the endpoint; the
// job's other files are archived.
func TestEdgeSourceBadFieldRecorded(t *testing.T) {
	edges := smallEdges(2, 3)
	h := newHarnessWrapped(t, sim.Config{Seed: 7, Edges: edges}, nil, badFieldJobs)
	src, err := genesys.NewEdgeSource(h.client, fastEdge(genesys.EdgeOptions{Recurse: true}))
	if err != nil {
		t.Fatal(err)
	}
	a := newArchive(t, "edges")
	res, err := a.run(src, time.Time{})
	if !errors.Is(err, export.ErrFilesFailed) || res == nil || res.Failed != 2 || res.Files != 4 {
		t.Fatalf("run: %+v, %v; want one failed file per edge and 4 archived", res, err)
	}
	for _, f := range res.Manifest.Failures {
		for _, want := range []string{"files[0].sizeBytes: 12.5 is not a whole number", "GET /api/v2/telephony/providers/edges/", "malformed answer"} {
			if !strings.Contains(f.Error, want) {
				t.Errorf("failure %q does not say %q", f.Error, want)
			}
		}
	}
	a.verify()
}

// TestEdgeSourceOfflineEdge is the acceptance test, against the
// simulator following the published models: with no edges configured and
// one edge offline (and a cloud media device, and a deleted edge), every
// file of the online edges is archived byte for byte, uploads are
// requested in one batch per job, the offline edge is in the manifest's
// skipped list, the run ends in bounded time and verifies, and a rerun
// archives nothing. Once the edge is back, its files are collected.
func TestEdgeSourceOfflineEdge(t *testing.T) {
	for _, tc := range []struct {
		store   int
		unknown bool
	}{{0, false}, {0, true}, {1, false}} {
		unknown := tc.unknown
		t.Run(fmt.Sprintf("%s/unknown enums %v", burstStores[tc.store].name, unknown), func(t *testing.T) {
			edges := smallEdges(4, 5)
			edges[2].Offline = true
			edges = append(edges, sim.Edge{ID: "cloud-media-1", Name: "cdm", CloudMedia: true, Stuck: true},
				sim.Edge{ID: "deleted-1", Name: "old", State: "deleted", Stuck: true})
			cfg := sim.Config{Seed: 7, Edges: edges, JobDelay: 20 * time.Millisecond, UploadDelay: 40 * time.Millisecond, UnknownEnums: unknown}
			h := newHarness(t, cfg, nil)
			// A job timeout far longer than the test: an offline edge must
			// not be waited for.
			src, err := genesys.NewEdgeSource(h.client, fastEdge(genesys.EdgeOptions{Recurse: true, JobTimeout: 10 * time.Minute}))
			if err != nil {
				t.Fatal(err)
			}
			a := newArchiveOn(t, "edges", burstStores[tc.store].open(t))
			start := time.Now()
			res, err := a.run(src, time.Time{})
			if err != nil || res.Files != 15 || res.NotCollected != 2 || res.Failed != 0 {
				t.Fatalf("run: %+v, %v; want 15 files, 2 edges not collected", res, err)
			}
			if took := time.Since(start); took > 20*time.Second {
				t.Fatalf("run took %s", took)
			}
			sk := res.Manifest.Skipped
			if len(sk) != 2 || sk[0].ID != edges[2].ID+"/" && sk[1].ID != edges[2].ID+"/" {
				t.Fatalf("skipped %+v", sk)
			}
			for _, k := range sk {
				if !strings.Contains(k.Reason, "was not collected") {
					t.Errorf("reason %q", k.Reason)
				}
				if k.ID == edges[2].ID+"/" && !strings.Contains(k.Reason, "onlineStatus OFFLINE") {
					t.Errorf("offline edge: reason %q", k.Reason)
				}
				if k.ID == "deleted-1/" && !strings.Contains(k.Reason, "state deleted") {
					t.Errorf("deleted edge: reason %q", k.Reason)
				}
			}
			for _, o := range res.Manifest.Objects {
				ids := o.Source.IDs
				rc, _, err := a.st.Get(context.Background(), o.Key, store.GetOptions{VersionID: o.VersionID})
				if err != nil {
					t.Fatal(err)
				}
				got, _ := io.ReadAll(rc)
				rc.Close()
				want, _ := io.ReadAll(sim.Content(cfg.Seed, ids[genesys.IDEdge], ids[genesys.IDEdgePath], o.Size))
				if !bytes.Equal(got, want) || ids[genesys.IDEdge] == edges[2].ID {
					t.Fatalf("%s: archived bytes differ, or from the offline edge", o.Source.ID)
				}
				if ids[genesys.IDSizeBytes] != fmt.Sprintf("%d.0", o.Size) {
					t.Fatalf("%s: size_bytes %q, want the double as sent", o.Source.ID, ids[genesys.IDSizeBytes])
				}
			}
			if n := h.sim.UploadRequests(); n != 3 {
				t.Fatalf("%d upload requests for 3 jobs, want one batch each", n)
			}
			a.verify()
			res, err = a.run(src, time.Time{})
			if err != nil || res.Files != 0 || res.Skipped != 15 || res.NotCollected != 2 {
				t.Fatalf("rerun: %+v, %v; want nothing archived again", res, err)
			}
			h.sim.SetEdge(edges[2].ID, func(e *sim.Edge) { e.Offline = false })
			res, err = a.run(src, time.Time{})
			if err != nil || res.Files != 5 || res.NotCollected != 1 {
				t.Fatalf("edge back online: %+v, %v; want its 5 files", res, err)
			}
			a.verify()
			if unknown && !strings.Contains(h.logs.String(), "upload status this version does not know") {
				t.Fatal("no warning about the unknown upload status")
			}
			h.checkNoSecrets()
		})
	}
}

// TestEdgeSourceConfiguredOfflineEdge: a configured edge that the listing
// reports offline is recorded as not collected at once, not waited for.
func TestEdgeSourceConfiguredOfflineEdge(t *testing.T) {
	edges := smallEdges(2, 3)
	edges[1].Offline = true
	h := newHarness(t, sim.Config{Seed: 7, Edges: edges}, nil)
	src, err := genesys.NewEdgeSource(h.client, fastEdge(genesys.EdgeOptions{Edges: []string{edges[0].ID, edges[1].ID}, Recurse: true, JobTimeout: 10 * time.Minute}))
	if err != nil {
		t.Fatal(err)
	}
	a := newArchive(t, "edges")
	start := time.Now()
	res, err := a.run(src, time.Time{})
	if err != nil || res.Files != 3 || res.NotCollected != 1 || res.Manifest.Skipped[0].ID != edges[1].ID+"/" {
		t.Fatalf("run: %+v, %v", res, err)
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Fatalf("run took %s", took)
	}
	a.verify()
}
