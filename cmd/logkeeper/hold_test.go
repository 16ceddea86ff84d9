package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/logkeeper/logkeeper/custody"
	"github.com/logkeeper/logkeeper/internal/cli"
	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/internal/store/fsstore"
	"github.com/logkeeper/logkeeper/internal/store/s3store"
	"github.com/logkeeper/logkeeper/internal/testenv"
	"github.com/logkeeper/logkeeper/service/app"
)

type placeOut struct {
	Matter        string `json:"matter"`
	Stream        string `json:"stream"`
	ObjectsHeld   int    `json:"objects_held"`
	ManifestsHeld int    `json:"manifests_held"`
}

type releaseOut struct {
	Matter    string `json:"matter"`
	Released  int    `json:"released"`
	StillHeld int    `json:"still_held"`
}

type listOut struct {
	Holds []struct {
		Matter     string     `json:"matter"`
		Stream     string     `json:"stream"`
		From       *time.Time `json:"from"`
		To         *time.Time `json:"to"`
		Objects    int        `json:"objects"`
		PlacedAt   time.Time  `json:"placed_at"`
		PlacedBy   string     `json:"placed_by"`
		Reason     string     `json:"reason"`
		ReleasedAt *time.Time `json:"released_at"`
	} `json:"holds"`
}

// runJSON runs a command with --json, wants exit 0, and decodes stdout.
func (c harness) runJSON(t *testing.T, v any, args ...string) {
	t.Helper()
	code, out, errs := c.run(append(args, "--json")...)
	if code != 0 {
		t.Fatalf("%v: exit %d: %s", args, code, errs)
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("%v --json: %v: %s", args, err, out)
	}
}

// holdScenario: two matters over one object on store st (reached through
// cfg): a held version cannot be deleted; it stays held until both
// matters are released. del deletes one version of a key.
func holdScenario(t *testing.T, a *archived, del func(key, version string) error) {
	t.Helper()
	cfg := a.cfg
	var p placeOut
	a.runJSON(t, &p, "hold", "place", "-c", cfg, "--matter", "M-A", "--stream", "edge", "--reason", "letter A", "--actor", "alice")
	if p != (placeOut{"M-A", "edge", 4, 3}) {
		t.Fatalf("hold place M-A = %+v, want 4 objects and 3 manifests", p)
	}
	// Idempotent: a re-run holds the same, changes nothing else.
	a.runJSON(t, &p, "hold", "place", "-c", cfg, "--matter", "M-A", "--stream", "edge", "--reason", "letter A", "--actor", "alice")
	if p != (placeOut{"M-A", "edge", 4, 3}) {
		t.Fatalf("hold place M-A again = %+v", p)
	}
	w := a.ms[1].Window
	a.runJSON(t, &p, "hold", "place", "-c", cfg, "--matter", "M-B", "--stream", "edge", "--reason", "letter B", "--actor", "bob",
		"--from", w.Start.Format(time.RFC3339Nano), "--to", w.End.Format(time.RFC3339Nano))
	if p != (placeOut{"M-B", "edge", 1, 1}) {
		t.Fatalf("hold place M-B = %+v, want manifest 2's object", p)
	}
	first, shared := a.ms[0].Objects[0], a.ms[1].Objects[0]
	for _, o := range []struct{ key, version string }{{first.Key, first.VersionID}, {shared.Key, shared.VersionID}} {
		if err := del(o.key, o.version); err == nil {
			t.Fatalf("delete of held %s succeeded", o.key)
		}
	}
	var r releaseOut
	a.runJSON(t, &r, "hold", "release", "-c", cfg, "--matter", "M-A", "--reason", "settled", "--actor", "alice")
	if r != (releaseOut{"M-A", 10 - 3, 3}) {
		t.Fatalf("release M-A = %+v, want 7 released and 3 still held by M-B", r)
	}
	if err := del(shared.Key, shared.VersionID); err == nil {
		t.Fatal("delete of an object M-B still holds succeeded")
	}
	if err := del(first.Key, first.VersionID); err != nil {
		t.Fatalf("delete of a released object: %v", err)
	}
	a.runJSON(t, &r, "hold", "release", "-c", cfg, "--matter", "M-B", "--reason", "closed", "--actor", "bob")
	if r != (releaseOut{"M-B", 3, 0}) {
		t.Fatalf("release M-B = %+v", r)
	}
	if err := del(shared.Key, shared.VersionID); err != nil {
		t.Fatalf("delete after both releases: %v", err)
	}
	var l listOut
	a.runJSON(t, &l, "hold", "list", "-c", cfg)
	if len(l.Holds) != 2 || l.Holds[0].Matter != "M-A" || l.Holds[0].PlacedBy != "alice" || l.Holds[0].Objects != 4 || l.Holds[0].Reason != "letter A" ||
		l.Holds[0].ReleasedAt == nil || l.Holds[0].From != nil || l.Holds[1].Matter != "M-B" || l.Holds[1].Objects != 1 || l.Holds[1].From == nil || l.Holds[1].ReleasedAt == nil {
		t.Fatalf("hold list = %+v", l)
	}
	// The custody log shows every step with actor and reason.
	var log struct {
		Valid  bool `json:"valid"`
		Events []struct {
			Sequence uint64    `json:"sequence"`
			Type     string    `json:"type"`
			Time     time.Time `json:"time"`
			Actor    string    `json:"actor"`
			Matter   string    `json:"matter"`
			Reason   string    `json:"reason"`
		} `json:"events"`
	}
	a.runJSON(t, &log, "custody", "log", "-c", cfg)
	var steps []string
	for i, e := range log.Events {
		if e.Sequence != uint64(i+1) || e.Time.IsZero() {
			t.Fatalf("event %d: %+v", i, e)
		}
		steps = append(steps, strings.Join([]string{e.Type, e.Matter, e.Actor, e.Reason}, " "))
	}
	exported := "export_run  " + app.OSUser() + " manual export"
	want := []string{exported, exported, exported, "hold_placed M-A alice letter A", "hold_placed M-A alice letter A", "hold_placed M-B bob letter B",
		"hold_released M-A alice settled", "hold_released M-B bob closed"}
	if !log.Valid || strings.Join(steps, "\n") != strings.Join(want, "\n") {
		t.Fatalf("custody log: valid %v\n%s\nwant\n%s", log.Valid, strings.Join(steps, "\n"), strings.Join(want, "\n"))
	}
	a.runJSON(t, &log, "custody", "log", "-c", cfg, "--matter", "M-B")
	if len(log.Events) != 2 || log.Events[0].Matter != "M-B" || log.Events[0].Sequence != 6 {
		t.Fatalf("custody log --matter M-B: %+v", log.Events)
	}
	code, _, errs := a.run("hold", "release", "-c", cfg, "--matter", "M-Z", "--reason", "x")
	if code != cli.ExitUsage || !strings.Contains(errs, "unknown matter: M-Z") {
		t.Fatalf("release of an unknown matter: exit %d %s", code, errs)
	}
	code, _, errs = a.run("hold", "place", "-c", cfg, "--matter", "M-A", "--stream", "edge", "--reason", "again")
	if code != cli.ExitUsage || !strings.Contains(errs, "released") {
		t.Fatalf("place of a released matter: exit %d %s", code, errs)
	}
}

func TestHoldsFileStore(t *testing.T) {
	a := newArchived(t)
	st, err := fsstore.New(a.root)
	if err != nil {
		t.Fatal(err)
	}
	holdScenario(t, a, func(key, _ string) error {
		err := st.Delete(context.Background(), key)
		if err != nil && !errors.Is(err, store.ErrHeld) {
			t.Fatalf("delete %s: %v, want ErrHeld", key, err)
		}
		return err
	})

	// An altered event, or one taken out, fails the log (exit 1), named.
	ev := filepath.Join(a.root, "_custody", "events", fmt.Sprintf("%020d.json", 6))
	orig := mustRead(t, ev)
	os.WriteFile(ev, []byte(strings.Replace(string(orig), "letter B", "letter C", 1)), 0o644)
	code, out, _ := a.run("custody", "log", "-c", a.cfg, "--json")
	if code != cli.ExitProblems || !strings.Contains(out, `"valid": false`) || !strings.Contains(out, `"kind": "signature_invalid",
      "key": "_custody/events/00000000000000000006.json"`) || !strings.Contains(out, `"kind": "chain_link_mismatch",
      "key": "_custody/events/00000000000000000007.json"`) {
		t.Fatalf("custody log with event 6 altered: exit %d\n%s", code, out)
	}
	os.Remove(ev)
	code, out, _ = a.run("custody", "log", "-c", a.cfg, "--json")
	if code != cli.ExitProblems || !strings.Contains(out, `"kind": "manifest_missing",
      "key": "_custody/events/00000000000000000006.json"`) {
		t.Fatalf("custody log with event 6 removed: exit %d\n%s", code, out)
	}
}

// On versitygw: a bucket without Object Lock is refused before anything
// changes (exit 2, no matter record); on a bucket with Object Lock a held
// version cannot be deleted by its version id until both matters holding
// it are released.
func TestHoldsS3(t *testing.T) {
	src := t.TempDir()
	s := newS3Setup(t, "", "  - name: edge\n    source: {type: dir, path: "+src+"}\n")
	env := testenv.S3(t)
	for _, kv := range s.env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	c := harness{t, s.dir}
	env.EnableVersioning(t, s.bucket)
	os.WriteFile(filepath.Join(src, "a.log"), []byte("a\n"), 0o644)
	if code, _, errs := c.run("export", "-c", s.cfg, "--stream", "edge"); code != 0 {
		t.Fatalf("export: %s", errs)
	}
	code, _, errs := c.run("hold", "place", "-c", s.cfg, "--matter", "M-A", "--stream", "edge", "--reason", "r")
	if code != cli.ExitUsage || !strings.Contains(errs, "does not have Object Lock enabled") {
		t.Fatalf("hold on a bucket without Object Lock: exit %d %s", code, errs)
	}
	if _, err := s.st.Head(context.Background(), custody.HoldKey("M-A"), store.GetOptions{}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a refused hold left a record: %v", err)
	}

	// The same archive in a bucket with Object Lock.
	locked := env.NewBucket(t, true)
	cfg := strings.Replace(string(mustRead(t, s.cfg)), "s3://"+s.bucket+"/", "s3://"+locked+"/", 1)
	os.WriteFile(s.cfg, []byte(cfg), 0o644)
	a := &archived{harness: c, cfg: s.cfg}
	for i, name := range []string{"", "b.log", "c.log"} {
		if name == "" {
			os.WriteFile(filepath.Join(src, "x.log"), []byte("x\n"), 0o644)
		} else {
			os.WriteFile(filepath.Join(src, name), []byte(name+"\n"), 0o644)
		}
		if code, _, errs := c.run("export", "-c", s.cfg, "--stream", "edge"); code != 0 {
			t.Fatalf("export %d: %s", i+1, errs)
		}
	}
	s.st, _ = s3store.New(context.Background(), s3store.Options{Bucket: locked, Prefix: "archive", PathStyle: true, Client: env.Client()})
	a.ms = s.manifests(t, "edge")
	if len(a.ms) != 3 || len(a.ms[0].Objects) != 2 || a.ms[0].Objects[0].VersionID == "" {
		t.Fatalf("want 3 manifests, the first with 2 versioned objects: %+v", a.ms)
	}
	holdScenario(t, a, func(key, version string) error {
		full := "archive/" + key
		_, err := env.Client().DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: &locked, Key: &full, VersionId: &version})
		return err
	})
}

// A hold whose run stopped after its record was written but before every
// hold was set (a crash) is finished by running it again; a matter id that
// cannot name a record is refused.
func TestHoldRerunAfterCrash(t *testing.T) {
	a := newArchived(t)
	st, err := fsstore.New(a.root)
	if err != nil {
		t.Fatal(err)
	}
	var p placeOut
	a.runJSON(t, &p, "hold", "place", "-c", a.cfg, "--matter", "M-A", "--stream", "edge", "--reason", "r")
	ctx := context.Background()
	o := a.ms[2].Objects[0]
	if err := st.SetLegalHold(ctx, o.Key, "", false); err != nil { // as if never set
		t.Fatal(err)
	}
	if held, _ := st.LegalHold(ctx, o.Key, ""); held {
		t.Fatal("hold still set")
	}
	a.runJSON(t, &p, "hold", "place", "-c", a.cfg, "--matter", "M-A", "--stream", "edge", "--reason", "r")
	if held, err := st.LegalHold(ctx, o.Key, ""); !held || err != nil || p.ObjectsHeld != 4 {
		t.Fatalf("re-run: held %v %v, %+v", held, err, p)
	}
	for _, bad := range []string{"../x", "a/b", "", "-x"} {
		code, _, errs := a.run("hold", "place", "-c", a.cfg, "--matter", bad, "--stream", "edge", "--reason", "r")
		if code != cli.ExitUsage {
			t.Fatalf("--matter %q: exit %d %s", bad, code, errs)
		}
	}
	code, _, errs := a.run("hold", "place", "-c", a.cfg, "--matter", "M-A", "--stream", "edge", "--reason", "r", "--from", "2026-01-01T00:00:00Z")
	if code != cli.ExitUsage || !strings.Contains(errs, "already recorded differently") {
		t.Fatalf("same matter, another range: exit %d %s", code, errs)
	}
}
