package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/logkeeper/logkeeper/custody/bundle"
	"github.com/logkeeper/logkeeper/internal/cli"
	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/internal/testenv"
	"github.com/logkeeper/logkeeper/manifest"
)

type bundleOut struct {
	Matter, Stream, Out string
	Files, Manifests    int
	Bytes               int64
}

func (a *archived) bundle(t *testing.T, out string, args ...string) bundleOut {
	t.Helper()
	code, stdout, errs := a.run(append([]string{"bundle", "-c", a.cfg, "--stream", "edge", "--matter", "M-1", "--out", out, "--json", "--actor", "counsel"}, args...)...)
	if code != 0 {
		t.Fatalf("bundle: exit %d: %s", code, errs)
	}
	var r bundleOut
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("bundle --json: %v: %s", err, stdout)
	}
	return r
}

func (a *archived) verifyBundle(t *testing.T, args ...string) (int, *bundle.Report) {
	t.Helper()
	code, out, errs := a.run(append([]string{"verify-bundle", "--json"}, args...)...)
	var rep bundle.Report
	if code == 0 || code == 1 {
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("verify-bundle --json (exit %d): %v: %s %s", code, err, out, errs)
		}
	}
	return code, &rep
}

// sumsPaths lists the paths SHA256SUMS names.
func sumsPaths(t *testing.T, dir string) []string {
	b, err := os.ReadFile(filepath.Join(dir, bundle.SumsFile))
	if err != nil {
		t.Fatal(err)
	}
	var ps []string
	for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		_, p, ok := bundle.ParseSumLine(line)
		if !ok {
			t.Fatalf("bad SHA256SUMS line %q", line)
		}
		ps = append(ps, p)
	}
	return ps
}

// rewriteSums recomputes SHA256SUMS as a tamperer would.
func rewriteSums(t *testing.T, dir string) {
	var b strings.Builder
	for _, p := range sumsPaths(t, dir) {
		data, err := os.ReadFile(filepath.Join(dir, p))
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(bundle.SumLine(manifest.SHA256(data), p))
	}
	os.WriteFile(filepath.Join(dir, bundle.SumsFile), []byte(b.String()), 0o644)
}

func TestBundleVerifiesOffline(t *testing.T) {
	a := newArchived(t)
	out := filepath.Join(a.dir, "bundle")
	r := a.bundle(t, out)
	if r.Files != 4 || r.Manifests != 3 || r.Bytes != int64(len("hello\nb.log\nc.log\n")) || r.Matter != "M-1" || r.Stream != "edge" || r.Out != out {
		t.Fatalf("bundle --json = %+v, want 4 files, 3 manifests", r)
	}
	pub := filepath.Join(a.dir, "key.pem.pub")
	code, rep := a.verifyBundle(t, out, "--pubkey", pub)
	if code != 0 || rep.FilesChecked != 4 || rep.FilesValid != 4 || rep.ManifestsChecked != 3 || rep.ManifestsValid != 3 || len(rep.Problems) != 0 || rep.KeySource != bundle.KeyGiven {
		t.Fatalf("verify-bundle: exit %d, %+v", code, rep)
	}
	if code, rep := a.verifyBundle(t, out); code != 0 || rep.KeySource != bundle.KeyBundled {
		t.Fatalf("verify-bundle with the bundled key: exit %d, %+v", code, rep)
	}
	if _, err := exec.LookPath("sha256sum"); err == nil {
		cmd := exec.Command("sha256sum", "--strict", "-c", bundle.SumsFile)
		cmd.Dir = out
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("sha256sum -c: %v\n%s", err, b)
		}
	}
	html, _ := os.ReadFile(filepath.Join(out, bundle.HTMLFile))
	if strings.Contains(string(html), "http://") || strings.Contains(string(html), "https://") || strings.Contains(string(html), "<script") || !strings.Contains(string(html), "a/x.log") {
		t.Fatalf("index.html refers outside, runs script, or lacks the files:\n%s", html)
	}
	// Producing the bundle is a custody event with the bundle's digest.
	code, logOut, _ := a.run("custody", "log", "-c", a.cfg, "--json")
	if code != 0 || !strings.Contains(logOut, `"type": "bundle_produced"`) || !strings.Contains(logOut, `"actor": "counsel"`) ||
		!strings.Contains(logOut, `"bundle_sha256sums_digest": "`+manifest.SHA256(mustRead(t, filepath.Join(out, bundle.SumsFile)))+`"`) {
		t.Fatalf("custody log after a bundle: exit %d\n%s", code, logOut)
	}
	// An existing, non-empty folder is refused (exit 2), unchanged.
	if code, _, errs := a.run("bundle", "-c", a.cfg, "--stream", "edge", "--matter", "M-1", "--out", out); code != cli.ExitUsage || !strings.Contains(errs, "not empty") {
		t.Fatalf("bundle into a full folder: exit %d %s", code, errs)
	}
	// Another key: every signature is named, and the bundled key too.
	other := filepath.Join(a.dir, "other.pem")
	a.run("keys", "generate", "--out", other)
	code, rep = a.verifyBundle(t, out, "--pubkey", other+".pub")
	kinds := map[string]int{}
	for _, p := range rep.Problems {
		kinds[p.Kind]++
	}
	if code != 1 || kinds[bundle.KindSignatureKey] != 3 || kinds[bundle.KindKeyMismatch] != 1 || rep.ManifestsValid != 0 {
		t.Fatalf("verify-bundle with another key: exit %d, %v", code, rep.Problems)
	}
	if code, _ := a.verifyBundle(t); code != cli.ExitUsage {
		t.Fatalf("verify-bundle without DIR: exit %d", code)
	}
}

func TestBundleSubRangeAndEmpty(t *testing.T) {
	a := newArchived(t)
	w := a.ms[1].Window
	out := filepath.Join(a.dir, "sub")
	r := a.bundle(t, out, "--from", w.Start.Format(time.RFC3339Nano), "--to", w.End.Format(time.RFC3339Nano))
	if r.Files != 1 || r.Manifests != 1 {
		t.Fatalf("sub-range bundle = %+v, want manifest 2 and its one file", r)
	}
	if _, err := os.Stat(filepath.Join(out, bundle.FilesDir, a.ms[1].Objects[0].Key)); err != nil {
		t.Fatal(err)
	}
	if code, rep := a.verifyBundle(t, out, "--pubkey", filepath.Join(a.dir, "key.pem.pub")); code != 0 || rep.FilesValid != 1 || rep.ManifestsValid != 1 {
		t.Fatalf("verify-bundle of a sub-range: exit %d %+v", code, rep)
	}
	empty := filepath.Join(a.dir, "empty")
	r = a.bundle(t, empty, "--from", "2099-01-01T00:00:00Z", "--to", "2099-01-02T00:00:00Z")
	readme, _ := os.ReadFile(filepath.Join(empty, bundle.ReadmeFile))
	if r.Files != 0 || r.Manifests != 0 || !strings.Contains(string(readme), "THIS BUNDLE IS EMPTY") {
		t.Fatalf("empty bundle = %+v, README:\n%s", r, readme)
	}
	if code, rep := a.verifyBundle(t, empty); code != 0 || rep.FilesChecked != 0 {
		t.Fatalf("verify-bundle of an empty bundle: exit %d %+v", code, rep)
	}
	if code, _, _ := a.run("bundle", "-c", a.cfg, "--stream", "edge", "--matter", "M-1", "--out", filepath.Join(a.dir, "x"), "--from", "yesterday"); code != cli.ExitUsage {
		t.Fatalf("bundle --from yesterday: exit %d", code)
	}
}

// Every bundled file, proof, manifest and signature altered by one byte,
// even with SHA256SUMS recomputed to match, is named with its path and a
// kind that does not rest on SHA256SUMS; any other file is named through
// SHA256SUMS.
func TestBundleTamper(t *testing.T) {
	a := newArchived(t)
	for _, m := range []string{"M-1", "M-2"} {
		if code, _, errs := a.run("hold", "place", "-c", a.cfg, "--matter", m, "--stream", "edge", "--reason", "r"); code != 0 {
			t.Fatalf("hold place: %s", errs)
		}
	}
	if code, _, errs := a.run("hold", "release", "-c", a.cfg, "--matter", "M-1", "--reason", "r"); code != 0 {
		t.Fatalf("hold release: %s", errs)
	}
	out := filepath.Join(a.dir, "bundle")
	a.bundle(t, out)
	pub := filepath.Join(a.dir, "key.pem.pub")
	var ix bundle.Index
	if err := json.Unmarshal(mustRead(t, filepath.Join(out, bundle.IndexFile)), &ix); err != nil || len(ix.Events) != 2 || ix.Events[0].Sequence != 4 || ix.Events[1].Sequence != 6 {
		t.Fatalf("bundle of M-1 holds events %+v (%v), want 4 and 6 (M-1 placed and released, after 3 export runs)", ix.Events, err)
	}
	paths := sumsPaths(t, out)
	sort.Strings(paths)
	for _, p := range append(paths, bundle.SumsFile) {
		t.Run(p, func(t *testing.T) {
			full := filepath.Join(out, p)
			orig, err := os.ReadFile(full)
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				os.WriteFile(full, orig, 0o644)
				rewriteSums(t, out)
			}()
			bad := append([]byte{}, orig...)
			if len(bad) == 0 {
				bad = []byte("x")
			} else {
				bad[len(bad)/2] ^= 1
			}
			os.WriteFile(full, bad, 0o644)
			code, rep := a.verifyBundle(t, out, "--pubkey", pub)
			// SHA256SUMS altered: a mismatch cannot say which side changed,
			// so any problem will do.
			if code != 1 || !named(rep, p, "") && (p != bundle.SumsFile || len(rep.Problems) == 0) {
				t.Fatalf("%s flipped: exit %d, problems %v", p, code, rep.Problems)
			}
			var want string
			switch {
			case strings.HasPrefix(p, bundle.FilesDir+"/"):
				want = bundle.KindFileHash
			case strings.HasPrefix(p, bundle.ProofsDir+"/"):
				want = bundle.KindProofInvalid
			case strings.HasSuffix(p, ".sig"):
				want = bundle.KindSignatureInvalid
			case strings.HasPrefix(p, bundle.ManifestsDir+"/"), strings.HasPrefix(p, bundle.EventsDir+"/"):
				want = "" // the signature, parse or chain
			default:
				return
			}
			rewriteSums(t, out)
			code, rep = a.verifyBundle(t, out, "--pubkey", pub)
			if code != 1 || !named(rep, p, want) || named(rep, p, bundle.KindSumsMismatch) {
				t.Fatalf("%s flipped and SHA256SUMS rewritten: exit %d, want %q on it; problems %v", p, code, want, rep.Problems)
			}
		})
	}
	if code, rep := a.verifyBundle(t, out, "--pubkey", pub); code != 0 {
		t.Fatalf("restored bundle: exit %d %v", code, rep.Problems)
	}
}

// named reports whether rep has a problem at path p (of kind, unless "").
func named(rep *bundle.Report, p, kind string) bool {
	for _, pr := range rep.Problems {
		if pr.Path == p && (kind == "" || pr.Kind == kind) {
			return true
		}
	}
	return false
}

// On versitygw (a versioned bucket): a bundle of a sub-range holds each
// file's recorded version even after a newer version was written over it,
// verifies offline with only the public key, passes sha256sum -c, and a
// flipped file is named.
func TestBundleS3(t *testing.T) {
	src := t.TempDir()
	s := newS3Setup(t, "", "  - name: edge\n    source: {type: dir, path: "+src+"}\n")
	testenv.S3(t).EnableVersioning(t, s.bucket)
	for _, kv := range s.env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	a := &archived{harness: harness{t, s.dir}, cfg: s.cfg}
	for i, name := range []string{"a.log", "b.log", "c.log"} {
		os.WriteFile(filepath.Join(src, name), []byte(strings.Repeat(name, 1000)), 0o644)
		if code, _, errs := a.run("export", "-c", s.cfg, "--stream", "edge"); code != 0 {
			t.Fatalf("export %d: %s", i+1, errs)
		}
	}
	a.ms = s.manifests(t, "edge")
	o := a.ms[1].Objects[0]
	if len(a.ms) != 3 || o.VersionID == "" {
		t.Fatalf("want 3 manifests with versioned objects, got %d (version %q)", len(a.ms), o.VersionID)
	}
	if _, err := s.st.Put(context.Background(), o.Key, strings.NewReader("overwritten"), store.PutOptions{Size: 11}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(s.dir, "bundle")
	w := a.ms[1].Window
	r := a.bundle(t, out, "--from", w.Start.Format(time.RFC3339Nano), "--to", w.End.Format(time.RFC3339Nano))
	if r.Files != 1 || r.Manifests != 1 || r.Bytes != o.Size {
		t.Fatalf("bundle = %+v, want manifest 2's one file of %d bytes", r, o.Size)
	}
	pub := filepath.Join(s.dir, "key.pem.pub")
	// Offline: no credentials, no endpoint.
	for _, kv := range s.env {
		k, _, _ := strings.Cut(kv, "=")
		t.Setenv(k, "")
	}
	if code, rep := a.verifyBundle(t, out, "--pubkey", pub); code != 0 || rep.FilesValid != 1 || rep.ManifestsValid != 1 {
		t.Fatalf("verify-bundle: exit %d %+v", code, rep)
	}
	if _, err := exec.LookPath("sha256sum"); err == nil {
		cmd := exec.Command("sha256sum", "--strict", "-c", bundle.SumsFile)
		cmd.Dir = out
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("sha256sum -c: %v\n%s", err, b)
		}
	}
	fp := filepath.Join(bundle.FilesDir, o.Key)
	b, _ := os.ReadFile(filepath.Join(out, fp))
	b[0] ^= 1
	os.WriteFile(filepath.Join(out, fp), b, 0o644)
	rewriteSums(t, out)
	if code, rep := a.verifyBundle(t, out, "--pubkey", pub); code != 1 || !named(rep, fp, bundle.KindFileHash) {
		t.Fatalf("flipped file: exit %d %v", code, rep.Problems)
	}
}
