package report

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/logkeeper/logkeeper/custody"
	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/internal/store/memstore"
	"github.com/logkeeper/logkeeper/manifest"
)

func TestTimelineStatusesAndGaps(t *testing.T) {
	h := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Hour) }
	spans := []span{
		{start: time.Unix(0, 0), end: h(1), status: StatusData}, // a first run since the epoch
		{start: h(1), end: h(2), status: StatusEmpty},
		{start: h(2), end: h(3), status: StatusFailures},
		// h(3)..h(4) missing
		{start: h(4), end: h(5).Add(30 * time.Minute), status: StatusProblems},
		{start: h(5).Add(30 * time.Minute), end: h(6), status: StatusData},
		// the second half of h(6)..h(7) missing
		{start: h(6), end: h(6).Add(30 * time.Minute), status: StatusEmpty},
	}
	windows, gaps := timeline(h(0), h(7), time.Hour, spans)
	var got []string
	for _, w := range windows {
		got = append(got, w.Status)
	}
	want := []string{StatusData, StatusEmpty, StatusFailures, StatusGap, StatusProblems, StatusProblems, StatusGap}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("statuses %v, want %v", got, want)
	}
	wantGaps := []Gap{{Start: h(3), End: h(4), Windows: 1}, {Start: h(6).Add(30 * time.Minute), End: h(7), Windows: 1}}
	if !reflect.DeepEqual(gaps, wantGaps) {
		t.Fatalf("gaps %+v, want %+v", gaps, wantGaps)
	}
	// A range that does not start on a boundary is clipped, not widened.
	windows, gaps = timeline(h(0).Add(15*time.Minute), h(2), time.Hour, nil)
	if len(windows) != 2 || !windows[0].Start.Equal(h(0).Add(15*time.Minute)) || !windows[0].End.Equal(h(1)) || len(gaps) != 1 || gaps[0].Windows != 2 {
		t.Fatalf("clipped range: %+v %+v", windows, gaps)
	}
	if w, g := timeline(h(2), h(2), time.Hour, spans); len(w) != 0 || len(g) != 0 {
		t.Fatalf("empty range: %v %v", w, g)
	}
}

// Hostile spans (many, overlapping, each as long as the range) cost time
// in proportion to spans + windows, not their product.
func TestTimelineHostileSpansAreLinear(t *testing.T) {
	var spans []span
	for i := range 50_000 {
		spans = append(spans, span{start: time.Unix(0, 0), end: t0.Add(time.Duration(i) * time.Second), status: StatusData})
	}
	started := time.Now()
	windows, gaps := timeline(t0.Add(-MaxWindows*time.Hour), t0, time.Hour, spans)
	if len(windows) != MaxWindows || len(gaps) != 0 {
		t.Fatalf("%d windows, %d gaps", len(windows), len(gaps))
	}
	if took := time.Since(started); took > 5*time.Second {
		t.Fatalf("took %s", took)
	}
	if n := len(cells(windows)); n > maxCells {
		t.Fatalf("%d cells drawn, want at most %d", n, maxCells)
	}
}

// The report of the fixture: the deleted run's window and the outage are
// the gaps, verification names the missing manifest, every run in range is
// listed, and a string from the store is shown as text.
func TestBuildShowsTheGap(t *testing.T) {
	f := newFixture(t, memstore.New(memstore.Options{}))
	f.deleteRun(t, 4)
	r, err := Build(context.Background(), f.input())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r.Gaps, wantGaps) {
		t.Fatalf("gaps %+v, want %+v", r.Gaps, wantGaps)
	}
	if !r.From.Equal(t0) || !r.To.Equal(t0.Add(8*time.Hour)) || len(r.Windows) != 8 {
		t.Fatalf("range %s to %s, %d windows", r.From, r.To, len(r.Windows))
	}
	var seqs []uint64
	for _, run := range r.Runs {
		seqs = append(seqs, run.Sequence)
	}
	if !reflect.DeepEqual(seqs, []uint64{1, 2, 3, 5, 6}) {
		t.Fatalf("runs %v", seqs)
	}
	if r.Runs[0].Files != 1 || r.Runs[0].Bytes != 100 || r.Runs[0].KeyID == "" || r.Runs[3].Files != 0 {
		t.Fatalf("runs %+v", r.Runs)
	}
	if !hasProblem(r.Problems, custody.KindManifestMissing, 4) {
		t.Fatalf("problems %v lack manifest_missing 4", r.Problems)
	}
	if r.Windows[3].Status != StatusGap || r.Windows[0].Status != StatusData {
		t.Fatalf("windows %+v", r.Windows)
	}
	if r.Policy != nil || r.NoData != "" {
		t.Fatalf("policy %v, no data %q", r.Policy, r.NoData)
	}
	var buf bytes.Buffer
	if err := Render(&buf, r); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	for _, bad := range []string{"<script", "<img", "\x1b", "\u202e", "http://", "https://", "@import", "url(http"} {
		if strings.Contains(page, bad) {
			t.Errorf("the page holds %q", bad)
		}
	}
	for _, want := range []string{"&lt;script&gt;alert(1)&lt;/script&gt;", "Policy check: not run", `class="cell gap"`, "manifest_missing"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
}

func hasProblem(ps []custody.Problem, kind string, seq uint64) bool {
	for _, p := range ps {
		if p.Kind == kind && p.Sequence == seq {
			return true
		}
	}
	return false
}

// A clean chain with no outage: no gap, no problem; the JSON has the
// contract's keys.
func TestBuildCleanAndJSONKeys(t *testing.T) {
	f := newFixture(t, memstore.New(memstore.Options{}))
	f.now = t0.Add(6*time.Hour + 30*time.Minute)
	in := f.input()
	in.Policy = []PolicyCheck{{Name: "versioning", Status: "fail", Detail: "versioning is " + hostile, Fix: "aws s3api put-bucket-versioning"}}
	r, err := Build(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Gaps) != 0 || len(r.Problems) != 0 || len(r.Runs) != 6 {
		t.Fatalf("gaps %v, problems %v, %d runs", r.Gaps, r.Problems, len(r.Runs))
	}
	b, _ := json.Marshal(r)
	var keys map[string]json.RawMessage
	json.Unmarshal(b, &keys)
	for _, k := range []string{"stream", "windows", "gaps", "runs", "problems", "out"} {
		if _, ok := keys[k]; !ok {
			t.Errorf("JSON lacks %q: %s", k, b)
		}
	}
	if string(keys["gaps"]) != "[]" || string(keys["problems"]) != "[]" {
		t.Errorf("gaps %s, problems %s: want empty lists", keys["gaps"], keys["problems"])
	}
	var buf bytes.Buffer
	Render(&buf, r)
	if !strings.Contains(buf.String(), `<span class="badge s-fail">fail</span>`) || strings.Contains(buf.String(), "Policy check: not run") {
		t.Errorf("the policy check is not drawn")
	}
}

// A range with no data makes a report that says so.
func TestBuildNoData(t *testing.T) {
	f := newFixture(t, memstore.New(memstore.Options{}))
	in := f.input()
	in.From, in.To = t0.Add(7*time.Hour), t0.Add(8*time.Hour)
	r, err := Build(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.NoData, "no run of stream edge covers this range") || len(r.Gaps) != 1 || len(r.Runs) != 0 {
		t.Fatalf("no data %q, gaps %v, runs %v", r.NoData, r.Gaps, r.Runs)
	}
	empty := &fixture{st: memstore.New(memstore.Options{}), signer: testSigner(t), now: t0}
	r, err = Build(context.Background(), empty.input())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.NoData, "has no manifests") || !hasProblem(r.Problems, custody.KindChainEmpty, 0) {
		t.Fatalf("empty stream: no data %q, problems %v", r.NoData, r.Problems)
	}
	var buf bytes.Buffer
	Render(&buf, r)
	if !strings.Contains(buf.String(), `id="nodata"`) {
		t.Fatal("the page does not say there is no data")
	}
}

func TestBuildRefusesHugeOrBackwardRanges(t *testing.T) {
	f := &fixture{st: memstore.New(memstore.Options{}), signer: testSigner(t), now: t0}
	in := f.input()
	in.Window = time.Minute
	in.From, in.To = t0.AddDate(-1, 0, 0), t0
	if _, err := Build(context.Background(), in); !errors.Is(err, ErrRange) {
		t.Fatalf("a year of minutes: %v", err)
	}
	in.Window = time.Hour
	in.From, in.To = t0, t0.Add(-time.Hour)
	if _, err := Build(context.Background(), in); !errors.Is(err, ErrRange) {
		t.Fatalf("backward range: %v", err)
	}
}

// WriteFile replaces the file whole and leaves no temporary file.
func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "r.html")
	os.WriteFile(out, []byte("old"), 0o600)
	r := &Report{Stream: "s", Windows: []Window{}, Gaps: []Gap{}, Runs: []Run{}}
	if err := WriteFile(out, r); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(out)
	fi, _ := os.Stat(out)
	if !bytes.HasPrefix(b, []byte("<!DOCTYPE html>")) || fi.Mode().Perm() != 0o644 {
		t.Fatalf("%q, mode %v", b[:20], fi.Mode())
	}
	if es, _ := os.ReadDir(dir); len(es) != 1 {
		t.Fatalf("left %v", es)
	}
}

// A forged manifest (unsigned, its window from year 1 to 9999, far past
// the head) neither covers the gap nor breaks the report: it is listed
// with its problems and not trusted.
func TestBuildForgedManifestCoversNothing(t *testing.T) {
	st := memstore.New(memstore.Options{})
	f := newFixture(t, st)
	f.deleteRun(t, 4)
	rc, _, err := st.Get(context.Background(), manifest.Key(stream, 6), store.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.NewDecoder(rc).Decode(&m)
	rc.Close()
	m["sequence"] = 7
	m["window"] = map[string]any{"start": "0001-01-01T00:00:00Z", "end": "9999-12-31T00:00:00Z"}
	m["reason"] = hostile
	raw, _ := json.Marshal(m)
	st.PutRaw(manifest.Key(stream, 7), raw)
	started := time.Now()
	r, err := Build(context.Background(), f.input())
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(started) > 10*time.Second {
		t.Fatalf("took %s", time.Since(started))
	}
	if !reflect.DeepEqual(r.Gaps, wantGaps) {
		t.Fatalf("gaps %+v, want %+v (a forged manifest covers nothing)", r.Gaps, wantGaps)
	}
	last := r.Runs[len(r.Runs)-1]
	if last.Sequence != 7 || !last.Untrusted || last.Problems == 0 {
		t.Fatalf("forged run %+v", last)
	}
	var buf bytes.Buffer
	if err := Render(&buf, r); err != nil || !strings.Contains(buf.String(), "manifest not trusted") {
		t.Fatalf("render: %v", err)
	}
}
