package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type harness struct {
	t   *testing.T
	dir string
}

func (c harness) run(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// setup writes a key, a source folder and a config for a file store.
func setup(t *testing.T) (harness, string) {
	dir := t.TempDir()
	c := harness{t, dir}
	if code, _, errs := c.run("keys", "generate", "--out", filepath.Join(dir, "key.pem")); code != 0 {
		t.Fatalf("keys generate: %d %s", code, errs)
	}
	src := filepath.Join(dir, "logs")
	os.MkdirAll(filepath.Join(src, "a"), 0o755)
	os.WriteFile(filepath.Join(src, "a", "x.log"), []byte("hello\n"), 0o644)
	os.WriteFile(filepath.Join(src, "empty.log"), nil, 0o644)
	cfg := filepath.Join(dir, "lk.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`store:
  url: file://%s/archive
signing:
  key: file://%s/key.pem
streams:
  - name: edge
    source: {type: dir, path: %s}
`, dir, dir, src)), 0o644)
	return c, cfg
}

func TestKeysGenerateMode(t *testing.T) {
	c, _ := setup(t)
	fi, err := os.Stat(filepath.Join(c.dir, "key.pem"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("private key mode %v, %v; want 0600", fi.Mode(), err)
	}
	if code, _, _ := c.run("keys", "generate", "--out", filepath.Join(c.dir, "key.pem")); code == 0 {
		t.Fatal("keys generate overwrote an existing key")
	}
}

func TestExportVerifyExitCodes(t *testing.T) {
	c, cfg := setup(t)
	code, out, errs := c.run("export", "-c", cfg, "--stream", "edge", "--json")
	if code != 0 {
		t.Fatalf("export: %d %s", code, errs)
	}
	var res map[string]any
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("export --json: %v: %s", err, out)
	}
	for _, k := range []string{"run_id", "stream", "sequence", "files", "bytes", "manifest_key"} {
		if _, ok := res[k]; !ok {
			t.Fatalf("export --json lacks %q: %s", k, out)
		}
	}
	if res["files"].(float64) != 2 || res["sequence"].(float64) != 1 {
		t.Fatalf("export --json: %s", out)
	}
	code, out, _ = c.run("verify", "-c", cfg, "--stream", "edge", "--json")
	var rep map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || rep["manifests_checked"].(float64) != 1 || rep["objects_checked"].(float64) != 2 {
		t.Fatalf("verify --json: %d %s", code, out)
	}
	if _, ok := rep["problems"].([]any); !ok {
		t.Fatalf("verify --json: problems is not a list: %s", out)
	}

	// keys public prints the configured signer's public key, equal to FILE.pub.
	code, out, _ = c.run("keys", "public", "-c", cfg)
	pub, _ := os.ReadFile(filepath.Join(c.dir, "key.pem.pub"))
	if code != 0 || out != string(pub) {
		t.Fatalf("keys public: %d %q, want %q", code, out, pub)
	}

	// Another key: every manifest's signature is wrong -> exit 1.
	if code, _, _ := c.run("keys", "generate", "--out", filepath.Join(c.dir, "other.pem")); code != 0 {
		t.Fatal("keys generate other")
	}
	code, out, _ = c.run("verify", "-c", cfg, "--stream", "edge", "--pubkey", filepath.Join(c.dir, "other.pem.pub"))
	if code != 1 || !strings.Contains(out, "signature_wrong_key") {
		t.Fatalf("verify with another key: %d %s", code, out)
	}

	// One byte changed in a manifest -> exit 1, named.
	m := filepath.Join(c.dir, "archive", "edge", "manifests", "00000000000000000001.json")
	b, _ := os.ReadFile(m)
	os.WriteFile(m, bytes.Replace(b, []byte(`"type": "dir"`), []byte(`"type": "dix"`), 1), 0o644)
	code, out, _ = c.run("verify", "-c", cfg, "--stream", "edge")
	if code != 1 || !strings.Contains(out, "signature_invalid") || !strings.Contains(out, "0 of 1 manifest valid, 2 of 2 objects valid") {
		t.Fatalf("verify after a manifest edit: %d %s", code, out)
	}
}

func TestUsageAndConfigErrors(t *testing.T) {
	c, cfg := setup(t)
	bad := filepath.Join(c.dir, "bad.yaml")
	os.WriteFile(bad, []byte("store:\n  url: ftp://x\n  bogus: 1\nstreams: []\n"), 0o644)
	code, _, errs := c.run("export", "-c", bad, "--stream", "edge")
	if code != 2 {
		t.Fatalf("broken config: exit %d, want 2", code)
	}
	for _, want := range []string{"store.url", "store.bogus", "signing.key", "streams"} {
		if !strings.Contains(errs, want) {
			t.Errorf("config errors lack %q:\n%s", want, errs)
		}
	}
	for _, args := range [][]string{
		{},
		{"nope"},
		{"export", "--stream", "edge"},
		{"verify", "-c", cfg},
		{"verify", "-c", cfg, "--stream", "unknown"},
		{"export", "-c", cfg, "--stream", "edge", "extra"},
	} {
		if code, _, _ := c.run(args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

// A store that cannot be reached: verify exits 3, export fails without a manifest.
func TestUnreachableStore(t *testing.T) {
	c, _ := setup(t)
	cfg := filepath.Join(c.dir, "s3.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`store:
  url: s3://bucket/prefix
  path_style: true
signing:
  key: file://%s/key.pem
streams:
  - name: edge
    source: {type: dir, path: %s/logs}
`, c.dir, c.dir)), 0o644)
	t.Setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:1")
	t.Setenv("AWS_ACCESS_KEY_ID", "x")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "not-a-real-secret-value")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_MAX_ATTEMPTS", "1")
	code, _, errs := c.run("verify", "-c", cfg, "--stream", "edge")
	if code != 3 {
		t.Fatalf("verify against an unreachable store: exit %d, want 3: %s", code, errs)
	}
	code, _, errs = c.run("export", "-c", cfg, "--stream", "edge")
	if code != 3 || !strings.Contains(errs, "127.0.0.1:1") {
		t.Fatalf("export against an unreachable store: exit %d: %s", code, errs)
	}
	if strings.Contains(errs, "not-a-real-secret-value") {
		t.Fatal("the secret key appears in an error")
	}
}

// A checkpoint from an earlier verify catches manifests cut off the end,
// which the chain alone cannot show.
func TestCheckpointCatchesTruncation(t *testing.T) {
	c, cfg := setup(t)
	for range 3 {
		if code, _, errs := c.run("export", "-c", cfg, "--stream", "edge"); code != 0 {
			t.Fatalf("export: %s", errs)
		}
	}
	_, out, _ := c.run("verify", "-c", cfg, "--stream", "edge", "--json")
	var rep struct {
		Head       uint64 `json:"head"`
		HeadSHA256 string `json:"head_sha256"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || rep.Head != 3 || len(rep.HeadSHA256) != 64 {
		t.Fatalf("verify --json head: %+v %v", rep, err)
	}
	cp := fmt.Sprintf("%d:%s", rep.Head, rep.HeadSHA256)
	if code, out, _ := c.run("verify", "-c", cfg, "--stream", "edge", "--checkpoint", cp); code != 0 || !strings.Contains(out, "checkpoint "+cp) {
		t.Fatalf("verify with a matching checkpoint: %d %s", code, out)
	}
	// Cut the newest manifest off: without the checkpoint the chain looks whole.
	if err := os.Remove(filepath.Join(c.dir, "archive", "edge", "manifests", "00000000000000000003.json")); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := c.run("verify", "-c", cfg, "--stream", "edge"); code != 0 {
		t.Fatalf("a truncated chain without a checkpoint: exit %d (expected to look whole)", code)
	}
	code, out, _ := c.run("verify", "-c", cfg, "--stream", "edge", "--checkpoint", cp)
	if code != 1 || !strings.Contains(out, "chain_truncated") {
		t.Fatalf("verify of a truncated chain with a checkpoint: %d %s", code, out)
	}
	if code, _, _ := c.run("verify", "-c", cfg, "--stream", "edge", "--checkpoint", "3:xyz"); code != 2 {
		t.Fatalf("bad --checkpoint: exit %d, want 2", code)
	}
}
