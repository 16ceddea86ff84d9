package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logkeeper/logkeeper/custody"
	"github.com/logkeeper/logkeeper/internal/cli"
	"github.com/logkeeper/logkeeper/manifest"
)

// archived is a file store holding a 3-manifest chain of stream "edge":
// manifest 1 holds a/x.log and empty.log, 2 holds b.log, 3 holds c.log.
type archived struct {
	harness
	cfg, root string
	ms        []*manifest.Manifest
}

func newArchived(t *testing.T) *archived {
	t.Helper()
	c, cfg := setup(t)
	a := &archived{harness: c, cfg: cfg, root: filepath.Join(c.dir, "archive")}
	for i, name := range []string{"", "b.log", "c.log"} {
		if name != "" {
			os.WriteFile(filepath.Join(c.dir, "logs", name), []byte(name+"\n"), 0o644)
		}
		if code, _, errs := c.run("export", "-c", cfg, "--stream", "edge"); code != 0 {
			t.Fatalf("export %d: %s", i+1, errs)
		}
		m, err := manifest.Parse(a.read(t, manifest.Key("edge", uint64(i+1))))
		if err != nil {
			t.Fatal(err)
		}
		a.ms = append(a.ms, m)
	}
	return a
}

func (a *archived) path(key string) string { return filepath.Join(a.root, filepath.FromSlash(key)) }
func (a *archived) read(t *testing.T, key string) []byte {
	b, err := os.ReadFile(a.path(key))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
func (a *archived) sigKey(n int) string {
	return manifest.SignatureKey(manifest.Key("edge", uint64(n)), a.ms[n-1].RunID)
}

// verify runs verify --json with args and returns the exit code and report.
func (a *archived) verify(t *testing.T, args ...string) (int, *custody.Report, string) {
	t.Helper()
	code, out, errs := a.run(append([]string{"verify", "-c", a.cfg, "--stream", "edge", "--json"}, args...)...)
	var rep custody.Report
	if code == 0 || code == 1 {
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("verify --json (exit %d): %v: %s %s", code, err, out, errs)
		}
	}
	return code, &rep, errs
}

func sortedKinds(rep *custody.Report) []string {
	var ks []string
	for _, p := range rep.Problems {
		ks = append(ks, p.Kind)
	}
	slices.Sort(ks)
	return ks
}

// The examples, and more of the same classes, on the file store:
// exact exit code, problem kinds and counts.
func TestVerifyRegressions(t *testing.T) {
	type counts struct{ mc, mv, oc, ov int }
	tests := []struct {
		name    string
		tamper  func(t *testing.T, a *archived) []string // returns extra verify args
		code    int
		kinds   []string
		counts  counts
		orphans int
	}{
		{name: "untouched", code: 0, counts: counts{3, 3, 4, 4}},
		{name: "middle manifest deleted", code: 1, kinds: []string{custody.KindManifestMissing}, counts: counts{3, 1, 3, 3}, orphans: 2,
			tamper: func(t *testing.T, a *archived) []string {
				must(t, os.Remove(a.path(manifest.Key("edge", 2))))
				return nil
			}},
		{name: "manifest before --from deleted", code: 1, kinds: []string{custody.KindManifestMissing}, counts: counts{2, 1, 2, 2},
			tamper: func(t *testing.T, a *archived) []string {
				must(t, os.Remove(a.path(manifest.Key("edge", 1))))
				return []string{"--from", "2"}
			}},
		{name: "manifest before --from is garbage", code: 1, kinds: []string{custody.KindManifestInvalid}, counts: counts{1, 0, 1, 1},
			tamper: func(t *testing.T, a *archived) []string {
				must(t, os.WriteFile(a.path(manifest.Key("edge", 2)), []byte("garbage"), 0o644))
				return []string{"--from", "3"}
			}},
		{name: "manifest named with the largest sequence", code: 1, kinds: []string{custody.KindManifestUnexpected}, counts: counts{3, 3, 4, 4},
			tamper: func(t *testing.T, a *archived) []string {
				must(t, os.WriteFile(a.path("edge/manifests/18446744073709551615.json"), []byte("{}"), 0o644))
				return nil
			}},
		{name: "FIFO in place of an object", code: 1, kinds: []string{custody.KindObjectUnreadable}, counts: counts{3, 3, 4, 3},
			tamper: func(t *testing.T, a *archived) []string {
				p := a.path(a.ms[1].Objects[0].Key)
				must(t, os.Remove(p))
				must(t, syscall.Mkfifo(p, 0o644))
				return nil
			}},
		{name: "FIFO in place of a manifest", code: 1, kinds: []string{custody.KindManifestInvalid}, counts: counts{3, 1, 3, 3}, orphans: 2,
			tamper: func(t *testing.T, a *archived) []string {
				p := a.path(manifest.Key("edge", 2))
				must(t, os.Remove(p))
				must(t, syscall.Mkfifo(p, 0o644))
				return nil
			}},
		{name: "signature is a symlink to /dev/zero", code: 1, kinds: []string{custody.KindSignatureInvalid}, counts: counts{3, 2, 4, 4},
			tamper: func(t *testing.T, a *archived) []string {
				p := a.path(a.sigKey(2))
				must(t, os.Remove(p))
				must(t, os.Symlink("/dev/zero", p))
				return nil
			}},
		{name: "object is a symlink to a file of the same size", code: 1, kinds: []string{custody.KindObjectUnreadable}, counts: counts{3, 3, 4, 3},
			tamper: func(t *testing.T, a *archived) []string {
				o := a.ms[2].Objects[0]
				other := filepath.Join(t.TempDir(), "same")
				must(t, os.WriteFile(other, a.read(t, o.Key), 0o644))
				must(t, os.Remove(a.path(o.Key)))
				must(t, os.Symlink(other, a.path(o.Key)))
				return nil
			}},
		{name: "objects folder replaced by a symlink", code: 1,
			kinds:  []string{custody.KindObjectUnclaimed, custody.KindObjectUnreadable, custody.KindObjectUnreadable, custody.KindObjectUnreadable, custody.KindObjectUnreadable},
			counts: counts{3, 3, 4, 0},
			tamper: func(t *testing.T, a *archived) []string {
				must(t, os.Rename(a.path("edge/objects"), filepath.Join(t.TempDir(), "moved")))
				must(t, os.Symlink(t.TempDir(), a.path("edge/objects")))
				return nil
			}},
		{name: "object slipped into a run's folder", code: 1, kinds: []string{custody.KindObjectUnclaimed}, counts: counts{3, 3, 4, 4},
			tamper: func(t *testing.T, a *archived) []string {
				must(t, os.WriteFile(a.path(manifest.ObjectsPrefix("edge", a.ms[0].RunID)+"planted.log"), []byte("x"), 0o644))
				return nil
			}},
		{name: "objects of a crashed run", code: 0, counts: counts{3, 3, 4, 4}, orphans: 1,
			tamper: func(t *testing.T, a *archived) []string {
				must(t, os.MkdirAll(a.path("edge/objects/crashed-run"), 0o755))
				must(t, os.WriteFile(a.path("edge/objects/crashed-run/x.log"), []byte("x"), 0o644))
				return nil
			}},
		{name: "garbage metadata beside one object and another object deleted", code: 1,
			kinds: []string{custody.KindObjectMissing, custody.KindObjectUnreadable}, counts: counts{3, 3, 4, 2},
			tamper: func(t *testing.T, a *archived) []string {
				// The metadata is in the object's attribute, or in a side
				// file where the filesystem has no user attributes.
				key := a.ms[1].Objects[0].Key
				if err := syscall.Setxattr(a.path(key), "user.logkeeper.meta", []byte("{garbage"), 0); err != nil {
					must(t, os.WriteFile(filepath.Join(a.root, ".logkeeper/meta", key+".json"), []byte("{garbage"), 0o644))
				}
				must(t, os.Remove(a.path(a.ms[2].Objects[0].Key)))
				return nil
			}},
		{name: "named origin that is not where it was written", code: 1,
			kinds: slices.Repeat([]string{custody.KindStoreMismatch}, 3), counts: counts{3, 0, 4, 4},
			tamper: func(t *testing.T, a *archived) []string { return []string{"--origin", "s3://elsewhere/prefix"} }},
		{name: "head older than --max-age", code: 1, kinds: []string{custody.KindChainStale}, counts: counts{3, 3, 4, 4},
			tamper: func(t *testing.T, a *archived) []string { return []string{"--max-age", "1ns"} }},
		{name: "head within --max-age", code: 0, counts: counts{3, 3, 4, 4},
			tamper: func(t *testing.T, a *archived) []string { return []string{"--max-age", "1h"} }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := newArchived(t)
			var args []string
			if tc.tamper != nil {
				args = tc.tamper(t, a)
			}
			start := time.Now()
			code, rep, errs := a.verify(t, args...)
			if d := time.Since(start); d > 10*time.Second {
				t.Fatalf("verify took %v", d)
			}
			if code != tc.code {
				t.Fatalf("exit %d, want %d: %s %+v", code, tc.code, errs, rep.Problems)
			}
			if got := sortedKinds(rep); !slices.Equal(got, tc.kinds) {
				t.Fatalf("kinds %v, want %v: %+v", got, tc.kinds, rep.Problems)
			}
			if got := (counts{rep.ManifestsChecked, rep.ManifestsValid, rep.ObjectsChecked, rep.ObjectsValid}); got != tc.counts {
				t.Fatalf("counts %+v, want %+v: %+v", got, tc.counts, rep.Problems)
			}
			if rep.Orphans != tc.orphans {
				t.Fatalf("orphans %d %v, want %d", rep.Orphans, rep.OrphanKeys, tc.orphans)
			}
			if (rep.HeadSHA256 != "") != (tc.code == 0 && len(args) < 2 || tc.name == "head within --max-age") {
				t.Fatalf("checkpoint %q, no checkpoint because %q", rep.HeadSHA256, rep.NoCheckpoint)
			}
		})
	}
}

// Selections that hold nothing are usage errors.
func TestVerifyEmptySelectionIsUsage(t *testing.T) {
	a := newArchived(t)
	for _, args := range [][]string{{"--from", "5"}, {"--from", "4"}, {"--from", "3", "--to", "2"}, {"--max-age", "-1h"}, {"--origin", "http://x/y"}, {"--origin", "s3://b/p/"}} {
		if code, _, errs := a.verify(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2: %s", args, code, errs)
		}
	}
}

// A failing chain gets no checkpoint, and the output says why.
func TestNoCheckpointForFailedChain(t *testing.T) {
	a := newArchived(t)
	must(t, os.WriteFile(a.path(a.sigKey(3)), []byte("{}"), 0o644))
	code, out, _ := a.run("verify", "-c", a.cfg, "--stream", "edge")
	if code != 1 || strings.Contains(out, "checkpoint 3:") || !strings.Contains(out, "no checkpoint: the chain did not verify clean (1 problem") {
		t.Fatalf("verify of a chain with a bad signature: %d\n%s", code, out)
	}
	code, out, _ = a.run("verify", "-c", a.cfg, "--stream", "edge", "--to", "2")
	if code != 0 || !strings.Contains(out, "no checkpoint: the range ends at 2, before the head 3") {
		t.Fatalf("verify of a range before the head: %d\n%s", code, out)
	}
}

// A stream copied from another store verifies only when told where it was
// written, by flag or by configuration.
func TestVerifyCopiedArchive(t *testing.T) {
	a := newArchived(t)
	copyRoot := filepath.Join(a.dir, "copy")
	if err := os.CopyFS(copyRoot, os.DirFS(a.root)); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(a.dir, "copy.yaml")
	base := strings.Replace(string(mustRead(t, a.cfg)), "/archive", "/copy", 1)
	must(t, os.WriteFile(cfg, []byte(base), 0o644))
	code, out, _ := a.run("verify", "-c", cfg, "--stream", "edge")
	if code != 1 || strings.Count(out, custody.KindStoreMismatch) != 3 {
		t.Fatalf("copy verified without its origin: %d\n%s", code, out)
	}
	origin := "file://" + a.root
	if code, out, _ := a.run("verify", "-c", cfg, "--stream", "edge", "--origin", origin); code != 0 {
		t.Fatalf("copy verified with --origin: %d\n%s", code, out)
	}
	withOrigin := strings.Replace(base, "store:\n", "store:\n  origin: "+origin+"\n", 1)
	must(t, os.WriteFile(cfg, []byte(withOrigin), 0o644))
	if code, out, _ := a.run("verify", "-c", cfg, "--stream", "edge"); code != 0 {
		t.Fatalf("copy verified with store.origin: %d\n%s", code, out)
	}
}

// verify creates nothing in the store, and a missing root is exit 3 naming it.
func TestVerifyReadOnly(t *testing.T) {
	a := newArchived(t)
	must(t, os.RemoveAll(filepath.Join(a.root, ".logkeeper")))
	before := tree(t, a.root)
	if code, _, errs := a.verify(t); code != 0 {
		t.Fatalf("verify without .logkeeper: %d %s", code, errs)
	}
	if after := tree(t, a.root); !slices.Equal(before, after) {
		t.Fatalf("verify changed the store:\nbefore %v\nafter  %v", before, after)
	}
	missing := filepath.Join(a.dir, "archiv")
	cfg := filepath.Join(a.dir, "typo.yaml")
	must(t, os.WriteFile(cfg, []byte(strings.Replace(string(mustRead(t, a.cfg)), "/archive", "/archiv", 1)), 0o644))
	code, out, errs := a.run("verify", "-c", cfg, "--stream", "edge")
	if code != 3 || !strings.Contains(errs, missing) || !strings.Contains(errs, "store does not exist") || strings.Contains(out, "chain_empty") {
		t.Fatalf("verify of a misspelled store: %d %s %s", code, out, errs)
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Fatal("verify created the misspelled store")
	}
}

// The exporter never writes through a folder of the store replaced by a
// symbolic link.
func TestExportNeverThroughSymlinkedFolder(t *testing.T) {
	a := newArchived(t)
	outside := t.TempDir()
	must(t, os.Rename(a.path("edge/objects"), filepath.Join(t.TempDir(), "moved")))
	must(t, os.Symlink(outside, a.path("edge/objects")))
	os.WriteFile(filepath.Join(a.dir, "logs", "d.log"), []byte("d\n"), 0o644)
	if code, _, _ := a.run("export", "-c", a.cfg, "--stream", "edge"); code == 0 {
		t.Fatal("export through a symlinked objects folder succeeded")
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Fatalf("export wrote outside the store: %v", ents)
	}
}

// SIGTERM ends a verify waiting on the store's lock within seconds (exit
// 130, interrupted), and a
// FIFO in the store neither hangs verify nor keeps the lock from an export.
func TestVerifySIGTERMAndFIFO(t *testing.T) {
	a := newArchived(t)
	lock, err := os.OpenFile(filepath.Join(a.root, ".logkeeper", "lock"), os.O_RDWR, 0)
	must(t, err)
	defer lock.Close()
	must(t, syscall.Flock(int(lock.Fd()), syscall.LOCK_EX))
	p := start(t, nil, "verify", "-c", a.cfg, "--stream", "edge")
	time.Sleep(500 * time.Millisecond)
	if p.cmd.ProcessState != nil {
		t.Fatalf("verify did not wait for the lock: %s", p.log())
	}
	sent := time.Now()
	must(t, p.cmd.Process.Signal(syscall.SIGTERM))
	if code := p.wait(5 * time.Second); code != cli.ExitInterrupted {
		t.Fatalf("verify after SIGTERM: exit %d, want %d: %s", code, cli.ExitInterrupted, p.log())
	}
	if d := time.Since(sent); d > 3*time.Second {
		t.Fatalf("verify took %v to end after SIGTERM", d)
	}
	must(t, syscall.Flock(int(lock.Fd()), syscall.LOCK_UN))

	fifo := a.path(a.ms[0].Objects[0].Key)
	must(t, os.Remove(fifo))
	must(t, syscall.Mkfifo(fifo, 0o644))
	p = start(t, nil, "verify", "-c", a.cfg, "--stream", "edge")
	if code := p.wait(10 * time.Second); code != 1 {
		t.Fatalf("verify with a FIFO in the store: exit %d, want 1: %s", code, p.log())
	}
	os.WriteFile(filepath.Join(a.dir, "logs", "e.log"), []byte("e\n"), 0o644)
	done := make(chan int, 1)
	go func() { code, _, _ := a.run("export", "-c", a.cfg, "--stream", "edge"); done <- code }()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("export after verify met a FIFO: exit %d", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("export blocked after verify met a FIFO")
	}
}

// tree lists every path below root with its type and size.
func tree(t *testing.T, root string) []string {
	var out []string
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		out = append(out, fmt.Sprintf("%s %v %d", strings.TrimPrefix(p, root), fi.Mode(), fi.Size()))
		return nil
	})
	return out
}

func mustRead(t *testing.T, p string) []byte {
	b, err := os.ReadFile(p)
	must(t, err)
	return b
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// A signature that is a symbolic link to /dev/zero neither exhausts memory
// nor hangs an export: the chain is refused as broken, at once.
func TestExportRefusesEndlessSignature(t *testing.T) {
	a := newArchived(t)
	p := a.path(a.sigKey(3))
	must(t, os.Remove(p))
	must(t, os.Symlink("/dev/zero", p))
	start := time.Now()
	code, _, errs := a.run("export", "-c", a.cfg, "--stream", "edge")
	if code != cli.ExitIncomplete || !strings.Contains(errs, "chain of custody broken") || !strings.Contains(errs, "symbolic link") {
		t.Fatalf("export over a /dev/zero signature: exit %d: %s", code, errs)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("export took %v", d)
	}
}
