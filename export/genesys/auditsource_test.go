package genesys_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/logkeeper/logkeeper/export"
	"github.com/logkeeper/logkeeper/export/genesys"
	"github.com/logkeeper/logkeeper/export/genesys/sim"
	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/internal/store/fsstore"
	"github.com/logkeeper/logkeeper/manifest"
)

// auditStart is when the simulated audit trail begins: one record every
// 10 minutes for two days.
var auditStart = time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)

func auditSim() sim.Config {
	return sim.Config{Seed: 11, AuditRecords: sim.GenerateAuditRecords(11, 288, auditStart, 10*time.Minute), AuditDelay: 30 * time.Millisecond}
}

func fastAudit(o genesys.AuditOptions) genesys.AuditOptions {
	if o.PollInterval == 0 {
		o.PollInterval = 5 * time.Millisecond
	}
	if o.QueryTimeout == 0 {
		o.QueryTimeout = 5 * time.Second
	}
	if o.SinceDate.IsZero() {
		o.SinceDate = time.Unix(0, 0).UTC()
	}
	if o.MaxInterval == 0 {
		o.MaxInterval = 100 * 365 * 24 * time.Hour
	}
	if o.Settle == 0 {
		o.Settle = -1 // none
	}
	return o
}

// expectedAudit returns the JSON lines of the records in [start, end) that
// match.
func expectedAudit(recs []sim.AuditRecord, start, end time.Time, keep func(sim.AuditRecord) bool) []string {
	var lines []string
	for _, r := range recs {
		if !r.EventDate.Before(start) && r.EventDate.Before(end) && keep(r) {
			lines = append(lines, string(r.JSON()))
		}
	}
	return lines
}

func readLines(t *testing.T, a *archive, o manifest.Object) []string {
	t.Helper()
	rc, _, err := a.st.Get(context.Background(), o.Key, store.GetOptions{VersionID: o.VersionID})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var lines []string
	sc := bufio.NewScanner(rc)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines
}

// TestAuditSourceArchivesEachWindowOnce: each run archives its window's
// records, filtered, as one JSON Lines object; windows meet and the chain
// verifies.
func TestAuditSourceArchivesEachWindowOnce(t *testing.T) {
	cfg := auditSim()
	h := newHarness(t, cfg, nil)
	src, err := genesys.NewAuditSource(h.client, fastAudit(genesys.AuditOptions{ServiceName: "Architect", Query: "Action=Publish", PageSize: 3}))
	if err != nil {
		t.Fatal(err)
	}
	a := newArchive(t, "audit")
	keep := func(r sim.AuditRecord) bool { return r.ServiceName == "Architect" && r.Action == "Publish" }
	ends := []time.Time{auditStart.Add(24 * time.Hour), auditStart.Add(30 * time.Hour), auditStart.Add(30 * time.Hour), auditStart.Add(72 * time.Hour)}
	prev := time.Unix(0, 0).UTC()
	total := 0
	for i, end := range ends {
		res, err := a.run(src, end)
		if err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
		want := expectedAudit(cfg.AuditRecords, prev, end, keep)
		if end.Equal(prev) {
			if res.Files != 0 {
				t.Fatalf("run %d: an empty window archived %d files", i, res.Files)
			}
			continue
		}
		if res.Files != 1 {
			t.Fatalf("run %d: %d files, want 1", i, res.Files)
		}
		o := res.Manifest.Objects[0]
		if got := readLines(t, a, o); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("run %d: archived %d lines, want the %d matching records", i, len(got), len(want))
		}
		ids := o.Source.IDs
		if ids[genesys.IDRecords] != strconv.Itoa(len(want)) || ids[genesys.IDQuery] == "" || ids[genesys.IDServiceName] != "Architect" ||
			ids[genesys.IDFilters] != "Action=Publish" || ids[genesys.IDCorrelation] == "" || ids[genesys.IDOrg] == "" {
			t.Fatalf("run %d: provenance %v", i, ids)
		}
		if o.Source.ID != "audit/"+prev.Format("2006-01-02T15:04:05.000Z07:00")+"/"+end.Format("2006-01-02T15:04:05.000Z07:00") {
			t.Fatalf("run %d: ID %q", i, o.Source.ID)
		}
		total += len(want)
		prev = end
	}
	if total == 0 {
		t.Fatal("no records matched at all: the test proves nothing")
	}
	a.verify()
}

// TestAuditSourceEmptyWindow: a window without records is archived as an
// empty object, attesting the absence.
func TestAuditSourceEmptyWindow(t *testing.T) {
	h := newHarness(t, auditSim(), nil)
	src, _ := genesys.NewAuditSource(h.client, fastAudit(genesys.AuditOptions{}))
	a := newArchive(t, "audit")
	res, err := a.run(src, auditStart.Add(-time.Hour))
	if err != nil || res.Files != 1 || res.Bytes != 0 || res.Manifest.Objects[0].Source.IDs[genesys.IDRecords] != "0" {
		t.Fatalf("run: %+v, %v", res, err)
	}
	a.verify()
}

// TestAuditSourceSinceSettleSplit: the first window reaches back to the
// since bound, is shifted by the settle delay and is split into intervals
// of at most MaxInterval, one file each, records oldest first.
func TestAuditSourceSinceSettleSplit(t *testing.T) {
	cfg := auditSim()
	h := newHarness(t, cfg, nil)
	since := auditStart.Add(6 * time.Hour)
	settle := 30 * time.Minute
	src, _ := genesys.NewAuditSource(h.client, fastAudit(genesys.AuditOptions{SinceDate: since, Settle: settle, MaxInterval: 12 * time.Hour}))
	end := auditStart.Add(48 * time.Hour)
	files, err := src.List(context.Background(), manifest.Window{Start: time.Unix(0, 0), End: end})
	if err != nil {
		t.Fatal(err)
	}
	// [since, end-settle) = 41.5 h: three 12 h intervals and one of 5.5 h.
	if len(files) != 4 {
		t.Fatalf("%d files, want 4", len(files))
	}
	from := since
	all := func(sim.AuditRecord) bool { return true }
	for i, f := range files {
		to := from.Add(12 * time.Hour)
		if to.After(end.Add(-settle)) {
			to = end.Add(-settle)
		}
		want := expectedAudit(cfg.AuditRecords, from, to, all)
		ids := f.IDs
		if ids[genesys.IDWindowClamped] != "true" || ids[genesys.IDRecords] != strconv.Itoa(len(want)) ||
			ids[genesys.IDInterval] != from.Format("2006-01-02T15:04:05.000Z")+"/"+to.Format("2006-01-02T15:04:05.000Z") {
			t.Fatalf("file %d: ids %v, want [%s, %s) with %d records", i, ids, from, to, len(want))
		}
		rc, err := src.Open(context.Background(), f)
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || string(data) != strings.Join(want, "\n")+"\n" {
			t.Fatalf("file %d: read %d bytes, %v; want the %d records in order", i, len(data), err, len(want))
		}
		from = to
	}
	// A window that ends within the settle delay of its start lists
	// nothing yet.
	if files, err := src.List(context.Background(), manifest.Window{Start: end, End: end.Add(time.Minute)}); err != nil || len(files) != 1 {
		t.Fatalf("next window: %v, %v; want its settled interval", files, err)
	}
}

// TestAuditSourceUnknownState: a query state the models do not list keeps
// the source polling until the query succeeds.
func TestAuditSourceUnknownState(t *testing.T) {
	cfg := auditSim()
	cfg.UnknownEnums = true
	cfg.AuditDelay = 600 * time.Millisecond
	h := newHarness(t, cfg, nil)
	src, _ := genesys.NewAuditSource(h.client, fastAudit(genesys.AuditOptions{}))
	a := newArchive(t, "audit")
	res, err := a.run(src, auditStart.Add(24*time.Hour))
	if err != nil || res.Files != 1 {
		t.Fatalf("run: %+v, %v", res, err)
	}
	if !strings.Contains(h.logs.String(), "audit query state this version does not know") {
		t.Fatal("no warning about the unknown state")
	}
}

// TestAuditSourceLateRecords: records indexed after their interval was
// queried are archived exactly once, by a later run, in a supplemental
// object; records indexed later than RecheckWindows runs are not (the
// documented bound).
func TestAuditSourceLateRecords(t *testing.T) {
	for _, st := range burstStores {
		t.Run(st.name, func(t *testing.T) { testLateRecords(t, st.open(t)) })
	}
}

func testLateRecords(t *testing.T, st store.Store) {
	cfg := auditSim()
	h := newHarness(t, cfg, nil)
	src, _ := genesys.NewAuditSource(h.client, fastAudit(genesys.AuditOptions{RecheckWindows: 2}))
	a := newArchiveOn(t, "audit", st)
	all := func(sim.AuditRecord) bool { return true }
	ends := []time.Time{auditStart.Add(12 * time.Hour), auditStart.Add(24 * time.Hour), auditStart.Add(36 * time.Hour), auditStart.Add(40 * time.Hour), auditStart.Add(44 * time.Hour)}
	late := func(at time.Time, n int) []sim.AuditRecord {
		recs := sim.GenerateAuditRecords(uint64(at.Unix()), n, at, time.Minute)
		for i := range recs {
			recs[i].IndexedAt = time.Now()
		}
		return recs
	}
	res, err := a.run(src, ends[0])
	if err != nil || res.Files != 1 {
		t.Fatalf("run 1: %+v, %v", res, err)
	}
	// Three records of the first window and two of nothing archived yet
	// appear after the first run.
	late1 := late(auditStart.Add(3*time.Hour+time.Second), 3)
	h.sim.AddAuditRecords(late1...)
	res, err = a.run(src, ends[1])
	if err != nil || res.Files != 2 {
		t.Fatalf("run 2: %+v, %v; want the window and one supplemental object", res, err)
	}
	var sup *manifest.Object
	for i, o := range res.Manifest.Objects {
		if strings.HasPrefix(o.Source.ID, "audit-late/") {
			sup = &res.Manifest.Objects[i]
		}
	}
	if sup == nil {
		t.Fatalf("no supplemental object in %+v", res.Manifest.Objects)
	}
	if got, want := readLines(t, a, *sup), expectedAudit(late1, auditStart, ends[0], all); strings.Join(got, "\n") != strings.Join(want, "\n") || len(want) != 3 {
		t.Fatalf("supplemental: %d lines, want the %d late records", len(got), len(want))
	}
	if ids := sup.Source.IDs; ids[genesys.IDLateOf] != "audit/1970-01-01T00:00:00.000Z/"+ends[0].Format("2006-01-02T15:04:05.000Z") || ids[genesys.IDRecords] != "3" {
		t.Fatalf("supplemental provenance %v", ids)
	}
	// Nothing new: the late records are archived, not again.
	res, err = a.run(src, ends[2])
	if err != nil || res.Files != 1 {
		t.Fatalf("run 3: %+v, %v; want only its own window", res, err)
	}
	// One more late record in window 2 (still rechecked) and one in window
	// 1 (no longer among the last 2): only the first is archived.
	late2 := late(auditStart.Add(13*time.Hour+time.Second), 1)
	tooLate := late(auditStart.Add(5*time.Hour+time.Second), 1)
	h.sim.AddAuditRecords(append(late2, tooLate...)...)
	res, err = a.run(src, ends[3])
	if err != nil || res.Files != 2 {
		t.Fatalf("run 4: %+v, %v", res, err)
	}
	res, err = a.run(src, ends[4])
	if err != nil || res.Files != 1 {
		t.Fatalf("run 5: %+v, %v", res, err)
	}
	// Every record archived exactly once: the whole archive holds each id
	// once, and every record but tooLate.
	counts := map[string]int{}
	rep := a.verify()
	_ = rep
	for seq := uint64(1); seq <= 5; seq++ {
		rc, _, err := a.st.Get(context.Background(), manifest.Key("audit", seq), store.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(rc)
		rc.Close()
		m, err := manifest.Parse(data)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range m.Objects {
			for _, l := range readLines(t, a, o) {
				var v struct{ ID string }
				_ = json.Unmarshal([]byte(l), &v)
				counts[v.ID]++
			}
		}
	}
	want := expectedAudit(append(append(append(slices.Clone(cfg.AuditRecords), late1...), late2...), tooLate...), time.Unix(0, 0), ends[4], all)
	if len(counts) != len(want)-1 {
		t.Fatalf("%d distinct records archived, want %d (all but the one too late)", len(counts), len(want)-1)
	}
	for id, n := range counts {
		if n != 1 {
			t.Fatalf("record %s archived %d times", id, n)
		}
	}
	if counts[tooLate[0].ID] != 0 {
		t.Fatal("a record later than the recheck windows was archived")
	}
}

// TestAuditSourceFailures: a failed, stuck or forbidden query fails the
// run with no manifest.
func TestAuditSourceFailures(t *testing.T) {
	tests := []struct {
		name     string
		cfg      func(*sim.Config)
		o        genesys.AuditOptions
		wantErr  error
		wantText string
	}{
		{"query failed", func(c *sim.Config) { c.AuditState = "Failed" }, genesys.AuditOptions{}, genesys.ErrFailed, "state Failed"},
		{"query cancelled", func(c *sim.Config) { c.AuditState = "Cancelled" }, genesys.AuditOptions{}, genesys.ErrFailed, "state Cancelled"},
		{"query never done", func(c *sim.Config) { c.AuditDelay = time.Hour }, genesys.AuditOptions{QueryTimeout: 50 * time.Millisecond}, genesys.ErrTimeout, "audit query (query "},
		{"missing permission", func(c *sim.Config) { c.Permissions = []string{sim.PermTelephony} }, genesys.AuditOptions{}, genesys.ErrPermission, "audits:audit:view"},
		{"unknown filter property", nil, genesys.AuditOptions{Query: "Colour=Blue"}, genesys.ErrRejected, "unknown filter property"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := auditSim()
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			h := newHarness(t, cfg, nil)
			src, err := genesys.NewAuditSource(h.client, fastAudit(tt.o))
			if err != nil {
				t.Fatal(err)
			}
			a := newArchive(t, "audit")
			res, err := a.run(src, auditStart.Add(24*time.Hour))
			if res != nil || !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.wantText) {
				t.Fatalf("run: %+v, %v; want an error wrapping %v saying %q", res, err, tt.wantErr, tt.wantText)
			}
			if n := a.manifests(); n != 0 {
				t.Fatalf("%d manifests", n)
			}
			t.Log(err)
		})
	}
}

// TestAuditSourceChangedResults: results that differ between listing and
// reading fail the read, so the file is recorded as failed rather than
// archived with a wrong record count.
func TestAuditSourceChangedResults(t *testing.T) {
	h := newHarness(t, auditSim(), nil)
	src, _ := genesys.NewAuditSource(h.client, fastAudit(genesys.AuditOptions{}))
	files, err := src.List(context.Background(), manifest.Window{Start: auditStart, End: auditStart.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	f := files[0]
	f.IDs = map[string]string{genesys.IDQuery: f.IDs[genesys.IDQuery], genesys.IDRecords: "5"}
	rc, err := src.Open(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(rc); !errors.Is(err, genesys.ErrMalformed) {
		t.Fatalf("read: %v, want ErrMalformed", err)
	}
}

func TestParseAuditFilters(t *testing.T) {
	tests := []struct {
		q       string
		want    []genesys.AuditFilter
		wantErr bool
	}{
		{"", nil, false},
		{"Action=Delete", []genesys.AuditFilter{{Property: "Action", Value: "Delete"}}, false},
		{"Action=Delete&EntityType=Flow", []genesys.AuditFilter{{Property: "Action", Value: "Delete"}, {Property: "EntityType", Value: "Flow"}}, false},
		{"EntityId=a%26b", []genesys.AuditFilter{{Property: "EntityId", Value: "a&b"}}, false},
		{"Action", nil, true},
		{"Action=", nil, true},
		{"=x", nil, true},
		{"a=%zz", nil, true},
		{"Action=Delete&", nil, true},
	}
	for _, tt := range tests {
		got, err := genesys.ParseAuditFilters(tt.q)
		if (err != nil) != tt.wantErr || len(got) != len(tt.want) {
			t.Errorf("ParseAuditFilters(%q) = %v, %v", tt.q, got, err)
			continue
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("ParseAuditFilters(%q) = %v", tt.q, got)
			}
		}
	}
}

// failOnce fails the first Open of one file; Retry is the audit source's.
type failOnce struct {
	*genesys.AuditSource
	id     string
	failed bool
}

func (f *failOnce) Open(ctx context.Context, file export.File) (io.ReadCloser, error) {
	if file.ID == f.id && !f.failed {
		f.failed = true
		return nil, errors.New("injected: download interrupted")
	}
	return f.AuditSource.Open(ctx, file)
}

// TestAuditSourceRetriesFailedWindow: a window whose file failed is queried
// again by the next run (a later window's run would never list it), so no
// window of the audit trail is lost.
func TestAuditSourceRetriesFailedWindow(t *testing.T) {
	cfg := auditSim()
	h := newHarness(t, cfg, nil)
	inner, err := genesys.NewAuditSource(h.client, fastAudit(genesys.AuditOptions{}))
	if err != nil {
		t.Fatal(err)
	}
	epoch := time.Unix(0, 0).UTC()
	end1, end2 := auditStart.Add(24*time.Hour), auditStart.Add(30*time.Hour)
	layout := "2006-01-02T15:04:05.000Z07:00"
	src := &failOnce{AuditSource: inner, id: "audit/" + epoch.Format(layout) + "/" + end1.Format(layout)}
	a := newArchive(t, "audit")

	res, err := a.run(src, end1)
	if !errors.Is(err, export.ErrFilesFailed) || res.Files != 0 || len(res.Manifest.Failures) != 1 || res.Manifest.Failures[0].ID != src.id {
		t.Fatalf("first run: %+v, %v", res, err)
	}
	res, err = a.run(src, end2)
	if err != nil || res.Files != 2 {
		t.Fatalf("second run: %+v, %v; want the failed window and the new one", res, err)
	}
	all := func(r sim.AuditRecord) bool { return true }
	for _, o := range res.Manifest.Objects {
		start, end := epoch, end1
		if o.Source.ID != src.id {
			start, end = end1, end2
		}
		if got, want := readLines(t, a, o), expectedAudit(cfg.AuditRecords, start, end, all); strings.Join(got, "\n") != strings.Join(want, "\n") || len(want) == 0 {
			t.Fatalf("%s: %d lines, want %d", o.Source.ID, len(got), len(want))
		}
	}
	if res, err = a.run(src, end2.Add(time.Hour)); err != nil || res.Files != 1 {
		t.Fatalf("third run: %+v, %v; want only its own window", res, err)
	}
	a.verify()
}

// TestAuditSourceRecheckTamperedArchive: the recheck learns what is
// archived from the archive itself; an archived object altered since its
// manifest fails the run (no manifest) instead of re-archiving or skipping
// records on false evidence.
func TestAuditSourceRecheckTamperedArchive(t *testing.T) {
	cfg := auditSim()
	h := newHarness(t, cfg, nil)
	src, _ := genesys.NewAuditSource(h.client, fastAudit(genesys.AuditOptions{}))
	root := t.TempDir()
	st, err := fsstore.New(root)
	if err != nil {
		t.Fatal(err)
	}
	a := newArchiveOn(t, "audit", st)
	res, err := a.run(src, auditStart.Add(12*time.Hour))
	if err != nil || res.Files != 1 || res.Bytes == 0 {
		t.Fatalf("run 1: %+v, %v", res, err)
	}
	before := a.manifests()
	path := filepath.Join(root, filepath.FromSlash(res.Manifest.Objects[0].Key))
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 1
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	res, err = a.run(src, auditStart.Add(24*time.Hour))
	if err == nil || res != nil || !strings.Contains(err.Error(), "recheck recent windows") || !strings.Contains(err.Error(), "does not match its manifest") {
		t.Fatalf("run 2: %+v, %v; want the run to fail on the altered object", res, err)
	}
	if n := a.manifests(); n != before {
		t.Fatalf("%d manifest objects after the failed run, want %d", n, before)
	}
}

// TestAuditSourceSettleChanged: when settle changes between runs (or a
// chain was written before settle existed), the next run's queries start
// exactly where the archive's latest interval ends: no gap, no record
// twice.
func TestAuditSourceSettleChanged(t *testing.T) {
	cfg := auditSim()
	h := newHarness(t, cfg, nil)
	a := newArchive(t, "audit")
	end1, end2 := auditStart.Add(12*time.Hour), auditStart.Add(24*time.Hour)
	for i, settle := range []time.Duration{30 * time.Minute, 10 * time.Minute, -1} {
		src, _ := genesys.NewAuditSource(h.client, fastAudit(genesys.AuditOptions{Settle: settle}))
		res, err := a.run(src, []time.Time{end1, end2, end2.Add(time.Hour)}[i])
		if err != nil || res.Files != 1 {
			t.Fatalf("run %d: %+v, %v", i+1, res, err)
		}
	}
	a.verify()
	var ivs []string
	for seq := uint64(1); seq <= 3; seq++ {
		rc, _, err := a.st.Get(context.Background(), manifest.Key("audit", seq), store.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(rc)
		rc.Close()
		m, err := manifest.Parse(data)
		if err != nil {
			t.Fatal(err)
		}
		ivs = append(ivs, m.Objects[0].Source.IDs[genesys.IDInterval])
	}
	const l = "2006-01-02T15:04:05.000Z"
	want := []string{
		"1970-01-01T00:00:00.000Z/" + end1.Add(-30*time.Minute).Format(l),
		end1.Add(-30*time.Minute).Format(l) + "/" + end2.Add(-10*time.Minute).Format(l),
		end2.Add(-10*time.Minute).Format(l) + "/" + end2.Add(time.Hour).Format(l),
	}
	if !slices.Equal(ivs, want) {
		t.Fatalf("intervals\n%v\nwant\n%v", ivs, want)
	}
}
