package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logkeeper/logkeeper/custody"
	"github.com/logkeeper/logkeeper/custody/bundle"
	"github.com/logkeeper/logkeeper/internal/cli"
	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/internal/store/fsstore"
	"github.com/logkeeper/logkeeper/internal/store/s3store"
	"github.com/logkeeper/logkeeper/internal/testenv"
	"github.com/logkeeper/logkeeper/manifest"
	"github.com/logkeeper/logkeeper/service/app"
)

// custodyLog is custody log --json with every field an event shows.
type custodyLog struct {
	Valid  bool `json:"valid"`
	Events []struct {
		Sequence uint64            `json:"sequence"`
		Type     string            `json:"type"`
		Time     time.Time         `json:"time"`
		Actor    string            `json:"actor"`
		Matter   string            `json:"matter"`
		Reason   string            `json:"reason"`
		Stream   string            `json:"stream"`
		Host     string            `json:"host"`
		Version  string            `json:"version"`
		Details  map[string]string `json:"details"`
	} `json:"events"`
}

// steps is the log as "type matter actor: reason" lines, after checking
// that every event says where and when.
func (l custodyLog) steps(t *testing.T) string {
	t.Helper()
	var out []string
	for i, e := range l.Events {
		if e.Sequence != uint64(i+1) || e.Time.IsZero() || e.Time.Location() != time.UTC || e.Host == "" || e.Version == "" {
			t.Fatalf("event %d does not say where and when: %+v", i+1, e)
		}
		out = append(out, fmt.Sprintf("%s %s %s: %s", e.Type, e.Matter, e.Actor, e.Reason))
	}
	return strings.Join(out, "\n")
}

// custodyScenario runs every step of a discovery on the archive of cfg
// (stream edge, source folder src): two exports, a hold, a recorded deep
// verification, a bundle verified offline, the release. The custody log
// shows each step with who, where, when and why, and what it concerned.
// exporter is the actor the exports record without --actor.
func custodyScenario(t *testing.T, c harness, cfg, src string, read func(key string) []byte, exporter string) {
	t.Helper()
	os.WriteFile(filepath.Join(src, "one.log"), []byte("one\n"), 0o644)
	if code, _, errs := c.run("export", "-c", cfg, "--stream", "edge", "--reason", "ticket 4711"); code != 0 {
		t.Fatalf("export: %s", errs)
	}
	os.WriteFile(filepath.Join(src, "two.log"), []byte("two\n"), 0o644)
	if code, _, errs := c.run("export", "-c", cfg, "--stream", "edge", "--reason", "ticket 4712", "--actor", "ops-bot"); code != 0 {
		t.Fatalf("export --actor: %s", errs)
	}
	objects := 0
	for n := range 2 {
		m, err := manifest.Parse(read(manifest.Key("edge", uint64(n+1))))
		if err != nil {
			t.Fatal(err)
		}
		objects += len(m.Objects)
	}
	var p placeOut
	c.runJSON(t, &p, "hold", "place", "-c", cfg, "--matter", "M-9", "--stream", "edge", "--reason", "litigation hold", "--actor", "counsel")
	if p.ObjectsHeld != objects || p.ManifestsHeld != 2 {
		t.Fatalf("hold place = %+v", p)
	}
	code, out, errs := c.run("verify", "-c", cfg, "--stream", "edge", "--deep", "--record", "--matter", "M-9", "--actor", "auditor", "--reason", "before production")
	if code != 0 || !strings.Contains(out, "checkpoint 2:") {
		t.Fatalf("verify --record: exit %d %s %s", code, out, errs)
	}
	dir := filepath.Join(c.dir, "M-9")
	var b struct {
		bundleOut
		Digest string
	}
	c.runJSON(t, &b, "bundle", "-c", cfg, "--matter", "M-9", "--stream", "edge", "--out", dir, "--actor", "paralegal", "--reason", "production to plaintiff")
	if b.Files != objects {
		t.Fatalf("bundle = %+v", b)
	}
	code, out, errs = c.run("verify-bundle", dir, "--pubkey", filepath.Join(c.dir, "key.pem.pub"))
	if code != 0 {
		t.Fatalf("verify-bundle: exit %d %s %s", code, out, errs)
	}
	var r releaseOut
	c.runJSON(t, &r, "hold", "release", "-c", cfg, "--matter", "M-9", "--reason", "matter closed", "--actor", "counsel")

	var l custodyLog
	c.runJSON(t, &l, "custody", "log", "-c", cfg)
	want := strings.Join([]string{
		"export_run  " + exporter + ": ticket 4711",
		"export_run  ops-bot: ticket 4712",
		"hold_placed M-9 counsel: litigation hold",
		"verification M-9 auditor: before production",
		"bundle_produced M-9 paralegal: production to plaintiff",
		"hold_released M-9 counsel: matter closed",
	}, "\n")
	if got := l.steps(t); !l.Valid || got != want {
		t.Fatalf("custody log (valid %v):\n%s\nwant\n%s", l.Valid, got, want)
	}
	// What each step concerned: the export's manifest and its digest, the
	// verification's range, result and checkpoint, the bundle's digest.
	m2 := manifest.Key("edge", 2)
	sum2 := manifest.SHA256(read(m2))
	ms, err := manifest.Parse(read(m2))
	if err != nil {
		t.Fatal(err)
	}
	ex, v, bu := l.Events[1].Details, l.Events[3].Details, l.Events[4].Details
	if l.Events[1].Stream != "edge" || ex["sequences"] != "2" || ex["manifest_sha256"] != sum2 || ex["run_id"] != ms.RunID || ex["files"] != "1" {
		t.Fatalf("export_run event: %+v, want manifest 2 %s of run %s", l.Events[1], sum2, ms.RunID)
	}
	if v["from"] != "1" || v["to"] != "2" || v["result"] != "valid" || v["mode"] != "deep" || v["checkpoint"] != "2:"+sum2 {
		t.Fatalf("verification event: %+v", v)
	}
	if bu["bundle_sha256sums_digest"] != b.Digest || b.Digest == "" {
		t.Fatalf("bundle event: %+v, bundle digest %s", bu, b.Digest)
	}
	// The bundle carries the matter's events up to its production.
	var ix bundle.Index
	readJSON(t, filepath.Join(dir, bundle.IndexFile), &ix)
	if len(ix.Events) != 2 || ix.Events[0].Sequence != 3 || ix.Events[1].Sequence != 4 {
		t.Fatalf("bundled events %+v, want the hold (3) and the verification (4)", ix.Events)
	}
	c.runJSON(t, &l, "custody", "log", "-c", cfg, "--matter", "M-9")
	if len(l.Events) != 4 {
		t.Fatalf("custody log --matter M-9: %d events", len(l.Events))
	}
	// --actor and --matter without --record are a mistake, not ignored.
	if code, _, errs := c.run("verify", "-c", cfg, "--stream", "edge", "--actor", "x"); code != cli.ExitUsage || !strings.Contains(errs, "--record") {
		t.Fatalf("verify --actor without --record: exit %d %s", code, errs)
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	if err := json.Unmarshal(mustRead(t, path), v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func TestCustodyScenarioFileStore(t *testing.T) {
	c, cfg := setup(t)
	root := filepath.Join(c.dir, "archive")
	custodyScenario(t, c, cfg, filepath.Join(c.dir, "logs"), func(key string) []byte {
		return mustRead(t, filepath.Join(root, filepath.FromSlash(key)))
	}, app.OSUser())
}

// On versitygw, with the actor of the exports made without --actor taken
// from STS GetCallerIdentity at an STS endpoint on 127.0.0.1 (versitygw
// has no STS).
func TestCustodyScenarioS3(t *testing.T) {
	src := t.TempDir()
	s := newS3Setup(t, "", "  - name: edge\n    source: {type: dir, path: "+src+"}\n")
	env := testenv.S3(t)
	for _, kv := range s.env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	t.Setenv("AWS_ENDPOINT_URL_STS", stubSTS(t, "arn:aws:sts::123456789012:assumed-role/Exporter/i-0abc"))
	locked := env.NewBucket(t, true)
	cfg := strings.Replace(string(mustRead(t, s.cfg)), "s3://"+s.bucket+"/", "s3://"+locked+"/", 1)
	os.WriteFile(s.cfg, []byte(cfg), 0o644)
	ctx := context.Background()
	st, err := s3store.New(ctx, s3store.Options{Bucket: locked, Prefix: "archive", PathStyle: true, Client: env.Client()})
	if err != nil {
		t.Fatal(err)
	}
	custodyScenario(t, harness{t, s.dir}, s.cfg, src, func(key string) []byte {
		rc, _, err := st.Get(ctx, key, store.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}, "arn:aws:sts::123456789012:assumed-role/Exporter/i-0abc")
}

// stubSTS answers GetCallerIdentity with arn on 127.0.0.1.
func stubSTS(t *testing.T, arn string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/xml")
		fmt.Fprintf(w, `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>%s</Arn><UserId>U</UserId><Account>123456789012</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></GetCallerIdentityResponse>`, arn)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// run --once records each export run in the custody log, as --actor.
func TestDaemonRecordsRuns(t *testing.T) {
	c, _ := setup(t)
	cfg := filepath.Join(c.dir, "daemon.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("store: {url: file://%s/archive}\nsigning: {key: file://%s/key.pem}\nstreams:\n  - {name: edge, schedule: '@every 1h', window: 1h, source: {type: dir, path: %s/logs}}\n", c.dir, c.dir, c.dir)), 0o644)
	if code, out, errs := c.run("run", "-c", cfg, "--once", "--actor", "scheduler"); code != 0 {
		t.Fatalf("run --once: exit %d %s %s", code, out, errs)
	}
	var l custodyLog
	c.runJSON(t, &l, "custody", "log", "-c", cfg)
	if len(l.Events) == 0 {
		t.Fatal("run --once recorded nothing")
	}
	for i, e := range l.Events {
		if e.Type != custody.EventExportRun || e.Actor != "scheduler" || e.Stream != "edge" || e.Details["sequences"] != fmt.Sprint(i+1) ||
			!strings.HasPrefix(e.Reason, "scheduled") {
			t.Fatalf("event %d: %+v", i+1, e)
		}
	}
}

// hold list --rebuild: a matter record deleted and another damaged are
// rewritten from the custody log as they were, and the open matter's
// holds set again; a log that fails verification rebuilds nothing.
func TestHoldListRebuild(t *testing.T) {
	a := newArchived(t)
	st, err := fsstore.New(a.root)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	w := a.ms[1].Window
	a.runJSON(t, &placeOut{}, "hold", "place", "-c", a.cfg, "--matter", "M-A", "--stream", "edge", "--reason", "letter A", "--actor", "alice")
	// A later run: M-A (open-ended) was placed before it and holds none of it.
	os.WriteFile(filepath.Join(a.dir, "logs", "d.log"), []byte("d\n"), 0o644)
	if code, _, errs := a.run("export", "-c", a.cfg, "--stream", "edge"); code != 0 {
		t.Fatal(errs)
	}
	a.runJSON(t, &placeOut{}, "hold", "place", "-c", a.cfg, "--matter", "M-B", "--stream", "edge", "--reason", "letter B", "--actor", "bob",
		"--from", w.Start.Format(time.RFC3339Nano), "--to", w.End.Format(time.RFC3339Nano))
	a.runJSON(t, &releaseOut{}, "hold", "release", "-c", a.cfg, "--matter", "M-B", "--reason", "closed", "--actor", "bob")
	var before listOut
	a.runJSON(t, &before, "hold", "list", "-c", a.cfg)
	recA, recB := a.read(t, custody.HoldKey("M-A")), a.read(t, custody.HoldKey("M-B"))

	os.Remove(a.path(custody.HoldKey("M-A")))
	os.WriteFile(a.path(custody.HoldKey("M-B")), []byte("{not json"), 0o644)
	o := a.ms[0].Objects[0]
	if err := st.SetLegalHold(ctx, o.Key, "", false); err != nil { // lost with the record
		t.Fatal(err)
	}
	code, _, errs := a.run("hold", "list", "-c", a.cfg)
	if code == 0 || !strings.Contains(errs, custody.HoldKey("M-B")) {
		t.Fatalf("hold list with a damaged record: exit %d %s", code, errs)
	}

	var after struct {
		listOut
		Rebuilt []custody.Rebuilt `json:"rebuilt"`
	}
	a.runJSON(t, &after, "hold", "list", "-c", a.cfg, "--rebuild")
	if fmt.Sprint(after.Rebuilt) != fmt.Sprint([]custody.Rebuilt{{Matter: "M-A", Was: "missing", Held: 4 + 3*2}, {Matter: "M-B", Was: "damaged"}}) {
		t.Fatalf("rebuilt %+v", after.Rebuilt)
	}
	if fmt.Sprintf("%+v", after.Holds) != fmt.Sprintf("%+v", before.Holds) {
		t.Fatalf("rebuilt list\n%+v\nwant\n%+v", after.Holds, before.Holds)
	}
	for _, k := range []string{"M-A", "M-B"} {
		was := map[string][]byte{"M-A": recA, "M-B": recB}[k]
		if got := a.read(t, custody.HoldKey(k)); string(got) != string(was) {
			t.Fatalf("rebuilt record of %s:\n%s\nwant\n%s", k, got, was)
		}
	}
	if held, err := st.LegalHold(ctx, o.Key, ""); !held || err != nil {
		t.Fatalf("%s not held again: %v %v", o.Key, held, err)
	}
	// Nothing left to rebuild: a second run changes nothing.
	after.Rebuilt = nil
	a.runJSON(t, &after, "hold", "list", "-c", a.cfg, "--rebuild")
	if len(after.Rebuilt) != 0 {
		t.Fatalf("second rebuild: %+v", after.Rebuilt)
	}

	// An altered log is not trusted to rebuild anything.
	os.Remove(a.path(custody.HoldKey("M-A")))
	ev := a.path(custody.EventKey(4))
	os.WriteFile(ev, []byte(strings.Replace(string(mustRead(t, ev)), "letter A", "letter Z", 1)), 0o644)
	code, _, errs = a.run("hold", "list", "-c", a.cfg, "--rebuild")
	if code != cli.ExitProblems || !strings.Contains(errs, "nothing rebuilt") || !strings.Contains(errs, custody.EventKey(4)) {
		t.Fatalf("rebuild from an altered log: exit %d %s", code, errs)
	}
	if _, err := os.Stat(a.path(custody.HoldKey("M-A"))); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a record was rebuilt from an altered log: %v", err)
	}
}

// Two processes placing the same matter at once, and two placing two
// matters at once, end with one record each, every version held, and a
// custody log that verifies; releasing both at once leaves nothing held.
func TestHoldRace(t *testing.T) {
	a := newArchived(t)
	st, err := fsstore.New(a.root)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	codes := make([]string, 4)
	for i, m := range []string{"M-A", "M-A", "M-B", "M-B"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, _, errs := a.run("hold", "place", "-c", a.cfg, "--matter", m, "--stream", "edge", "--reason", "race")
			codes[i] = fmt.Sprint(code, errs)
		}()
	}
	wg.Wait()
	for i, c := range codes {
		if c != "0" {
			t.Fatalf("placer %d: %s", i, c)
		}
	}
	ctx := context.Background()
	for _, m := range a.ms {
		for _, o := range m.Objects {
			if held, _ := st.LegalHold(ctx, o.Key, ""); !held {
				t.Fatalf("%s not held", o.Key)
			}
		}
	}
	for i, m := range []string{"M-A", "M-B"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, _, errs := a.run("hold", "release", "-c", a.cfg, "--matter", m, "--reason", "race")
			codes[i] = fmt.Sprint(code, errs)
		}()
	}
	wg.Wait()
	for i := range 2 {
		if codes[i] != "0" {
			t.Fatalf("releaser %d: %s", i, codes[i])
		}
	}
	var l custodyLog
	a.runJSON(t, &l, "custody", "log", "-c", a.cfg)
	if !l.Valid || len(l.Events) != 3+4+2 {
		t.Fatalf("custody log after the race: valid %v, %d events", l.Valid, len(l.Events))
	}
	// Both released at once: whichever lifted last saw the other released.
	for _, m := range a.ms {
		for _, o := range m.Objects {
			if held, _ := st.LegalHold(ctx, o.Key, ""); held {
				t.Fatalf("%s still held after both matters were released", o.Key)
			}
		}
	}
}

// A release that stopped after marking the record released but before
// lifting every hold (a crash) is finished by running it again, which
// keeps the first release's time and records another event.
func TestHoldReleaseRerunAfterCrash(t *testing.T) {
	a := newArchived(t)
	st, err := fsstore.New(a.root)
	if err != nil {
		t.Fatal(err)
	}
	a.runJSON(t, &placeOut{}, "hold", "place", "-c", a.cfg, "--matter", "M-A", "--stream", "edge", "--reason", "r")
	a.runJSON(t, &releaseOut{}, "hold", "release", "-c", a.cfg, "--matter", "M-A", "--reason", "done")
	var l listOut
	a.runJSON(t, &l, "hold", "list", "-c", a.cfg)
	first := l.Holds[0].ReleasedAt
	ctx := context.Background()
	o := a.ms[1].Objects[0]
	if err := st.SetLegalHold(ctx, o.Key, "", true); err != nil { // as if never lifted
		t.Fatal(err)
	}
	var r releaseOut
	a.runJSON(t, &r, "hold", "release", "-c", a.cfg, "--matter", "M-A", "--reason", "done")
	if held, _ := st.LegalHold(ctx, o.Key, ""); held || r.Released != 10 {
		t.Fatalf("re-run of a release: %s held %v, %+v", o.Key, held, r)
	}
	a.runJSON(t, &l, "hold", "list", "-c", a.cfg)
	if first == nil || !l.Holds[0].ReleasedAt.Equal(*first) {
		t.Fatalf("re-run changed the release time: %v, was %v", l.Holds[0].ReleasedAt, first)
	}
}
