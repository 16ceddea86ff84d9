package main

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/logkeeper/logkeeper/custody"
	"github.com/logkeeper/logkeeper/internal/cli"
	"github.com/logkeeper/logkeeper/internal/signing"
	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/internal/store/fsstore"
	"github.com/logkeeper/logkeeper/internal/store/s3store"
	"github.com/logkeeper/logkeeper/internal/testenv"
	"github.com/logkeeper/logkeeper/manifest"
)

// witnessed is an archive with a witness, driven through the command.
type witnessed struct {
	harness
	cfg, plain, src string // plain: the same archive without the witness
	st              store.Store
	origin          string // the store URL manifests record
}

func newWitnessed(t *testing.T, kind string) *witnessed {
	dir := t.TempDir()
	w := &witnessed{harness: harness{t, dir}, src: filepath.Join(dir, "logs")}
	if code, _, errs := w.run("keys", "generate", "--out", filepath.Join(dir, "key.pem")); code != 0 {
		t.Fatalf("keys generate: %s", errs)
	}
	must(t, os.MkdirAll(w.src, 0o755))
	var storeYAML, witnessURL string
	switch kind {
	case "fs":
		w.origin = "file://" + dir + "/archive"
		storeYAML = "  url: " + w.origin + "\n"
		witnessURL = "file://" + dir + "/witness"
		st, err := fsstore.New(dir + "/archive")
		must(t, err)
		w.st = st
	case "versitygw":
		e := testenv.S3(t)
		bucket, wbucket := e.NewBucket(t, false), e.NewBucket(t, false)
		for k, v := range map[string]string{"AWS_ENDPOINT_URL_S3": e.Endpoint, "AWS_ACCESS_KEY_ID": e.AccessKey, "AWS_SECRET_ACCESS_KEY": e.SecretKey,
			"AWS_REGION": e.Region, "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_PROFILE": ""} {
			t.Setenv(k, v)
		}
		w.origin = "s3://" + bucket + "/archive"
		storeYAML = "  url: " + w.origin + "\n  path_style: true\n"
		witnessURL = "s3://" + wbucket + "/witness"
		st, err := s3store.New(context.Background(), s3store.Options{Bucket: bucket, Prefix: "archive", PathStyle: true, Client: e.Client()})
		must(t, err)
		w.st = st
	}
	streams := fmt.Sprintf("signing:\n  key: file://%s/key.pem\nstreams:\n  - name: edge\n    source: {type: dir, path: %s}\n  - name: other\n    source: {type: dir, path: %s}\n", dir, w.src, w.src)
	w.cfg, w.plain = filepath.Join(dir, "witnessed.yaml"), filepath.Join(dir, "plain.yaml")
	must(t, os.WriteFile(w.cfg, []byte("store:\n"+storeYAML+"  witness: "+witnessURL+"\n"+streams), 0o644))
	must(t, os.WriteFile(w.plain, []byte("store:\n"+storeYAML+streams), 0o644))
	return w
}

// export archives one new file per run, runs times, with cfg.
func (w *witnessed) export(cfg, stream string, runs int, wantCode int) {
	w.t.Helper()
	for range runs {
		n, _ := os.ReadDir(w.src)
		must(w.t, os.WriteFile(filepath.Join(w.src, fmt.Sprintf("f%d.log", len(n))), []byte("x\n"), 0o644))
		if code, _, errs := w.run("export", "-c", cfg, "--stream", stream); code != wantCode {
			w.t.Fatalf("export: exit %d, want %d: %s", code, wantCode, errs)
		}
	}
}

// removeRun deletes manifest n of edge, its signature, its objects and
// its checkpoint from the archive (never from the witness).
func (w *witnessed) removeRun(n uint64) {
	w.t.Helper()
	ctx := context.Background()
	key := manifest.Key("edge", n)
	rc, _, err := w.st.Get(ctx, key, store.GetOptions{})
	must(w.t, err)
	raw := make([]byte, 1<<20)
	k, _ := rc.Read(raw)
	rc.Close()
	m, err := manifest.Parse(raw[:k])
	must(w.t, err)
	keys := []string{key, manifest.SignatureKey(key, m.RunID), custody.CheckpointKey("edge", n)}
	for _, o := range m.Objects {
		keys = append(keys, o.Key)
	}
	for _, k := range keys {
		if err := w.st.(store.Deleter).Delete(ctx, k); err != nil && !errors.Is(err, store.ErrNotFound) {
			w.t.Fatal(err)
		}
	}
}

type verifyJSON struct {
	Problems []struct {
		Kind string `json:"kind"`
	} `json:"problems"`
	Checkpoint *struct {
		Size      uint64 `json:"size"`
		Root      string `json:"root"`
		Witnessed int    `json:"witnessed"`
	} `json:"checkpoint"`
}

func (w *witnessed) verifyJSON(args ...string) (int, verifyJSON) {
	w.t.Helper()
	code, out, errs := w.run(append([]string{"verify", "--stream", "edge", "--json"}, args...)...)
	var v verifyJSON
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		w.t.Fatalf("verify --json: exit %d: %v\n%s\n%s", code, err, out, errs)
	}
	return code, v
}

func kindsOf(v verifyJSON) string {
	var ks []string
	for _, p := range v.Problems {
		ks = append(ks, p.Kind)
	}
	return strings.Join(ks, " ")
}

// The "done when", through the command, on a folder and on
// versitygw: with a witness, a plain verify proves every witnessed
// checkpoint; deleting the newest two runs exits 1 with chain_truncated;
// rewriting and re-signing the chain exits 1 with chain_rewritten;
// checkpoint prints the note that verify --checkpoint takes, and a note of
// another key or another log is refused (exit 2).
func TestWitnessedCheckpointsCLI(t *testing.T) {
	for _, kind := range []string{"fs", "versitygw"} {
		t.Run(kind, func(t *testing.T) {
			w := newWitnessed(t, kind)
			w.export(w.cfg, "edge", 4, 0)
			w.export(w.cfg, "other", 1, 0)

			code, v := w.verifyJSON("-c", w.cfg)
			if code != 0 || v.Checkpoint == nil || v.Checkpoint.Size != 4 || v.Checkpoint.Witnessed != 4 || v.Checkpoint.Root == "" {
				t.Fatalf("clean verify: exit %d, %s, checkpoint %+v", code, kindsOf(v), v.Checkpoint)
			}
			code, note, errs := w.run("checkpoint", "-c", w.cfg, "--stream", "edge")
			wantText := custody.Origin(w.origin, "edge") + "\n4\n" + v.Checkpoint.Root + "\n\n\u2014 logkeeper/sha256-"
			if code != 0 || !strings.HasPrefix(note, wantText) {
				t.Fatalf("checkpoint: exit %d, %q, want it to start %q; %s", code, note, wantText, errs)
			}
			noteFile := filepath.Join(w.dir, "edge.checkpoint")
			must(t, os.WriteFile(noteFile, []byte(note), 0o644))
			if code, v := w.verifyJSON("-c", w.plain, "--checkpoint", noteFile); code != 0 || v.Checkpoint.Witnessed != 0 {
				t.Fatalf("verify --checkpoint NOTE without a witness: exit %d %s %+v", code, kindsOf(v), v.Checkpoint)
			}

			// Refused notes: another log, another key.
			_, otherNote, _ := w.run("checkpoint", "-c", w.cfg, "--stream", "other")
			otherFile := filepath.Join(w.dir, "other.checkpoint")
			must(t, os.WriteFile(otherFile, []byte(otherNote), 0o644))
			code, _, errs = w.run("verify", "-c", w.cfg, "--stream", "edge", "--checkpoint", otherFile)
			if code != cli.ExitUsage || !strings.Contains(errs, "checkpoint is for another log") {
				t.Fatalf("note of another stream: exit %d, %s", code, errs)
			}
			stranger, err := signing.NewKeySigner(ed25519.NewKeyFromSeed(make([]byte, 32)))
			must(t, err)
			th, err := custody.SignTreeHead(context.Background(), stranger, custody.Origin(w.origin, "edge"), 4, make([]byte, 32))
			must(t, err)
			must(t, os.WriteFile(otherFile, th.Note, 0o644))
			code, _, errs = w.run("verify", "-c", w.cfg, "--stream", "edge", "--checkpoint", otherFile)
			if code != cli.ExitUsage || !strings.Contains(errs, "checkpoint is not signed by the trusted key") {
				t.Fatalf("note of another key: exit %d, %s", code, errs)
			}

			// Truncation: the newest two runs deleted.
			w.removeRun(4)
			w.removeRun(3)
			if code, v := w.verifyJSON("-c", w.plain); code != 0 {
				t.Fatalf("without the witness the truncated chain looks whole: exit %d %s", code, kindsOf(v))
			}
			code, v = w.verifyJSON("-c", w.cfg)
			if code != cli.ExitProblems || kindsOf(v) != "chain_truncated chain_truncated" || v.Checkpoint.Witnessed != 2 {
				t.Fatalf("truncated: exit %d, %q, %+v", code, kindsOf(v), v.Checkpoint)
			}
			if code, _, _ := w.run("verify", "-c", w.plain, "--stream", "edge", "--checkpoint", noteFile); code != cli.ExitProblems {
				t.Fatalf("truncated, with the kept note: exit %d", code)
			}

			// Rewrite: the intruder, who holds the key, writes a new chain
			// of 5 without the witness.
			w.removeRun(2)
			w.removeRun(1)
			w.export(w.plain, "edge", 5, 0)
			code, v = w.verifyJSON("-c", w.cfg)
			if code != cli.ExitProblems || kindsOf(v) != strings.TrimSpace(strings.Repeat("chain_rewritten ", 4)) || v.Checkpoint.Witnessed != 0 {
				t.Fatalf("rewritten: exit %d, %q, %+v", code, kindsOf(v), v.Checkpoint)
			}
		})
	}
}
