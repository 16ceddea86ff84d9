package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/logkeeper/logkeeper/internal/cli"
	"github.com/logkeeper/logkeeper/internal/testenv"
)

// TestKeysRotate is the operator's rotation: two exports by key A, a
// rotation to B, the configuration still naming A (config check warns,
// export refuses), then naming B: two exports, and verify passes with A's
// public key alone, B's alone, both, and the configured key. The custody
// log records the rotation and still verifies.
func TestKeysRotate(t *testing.T) {
	c, cfg := setup(t)
	src := filepath.Join(c.dir, "logs")
	exportOne := func(i int) (int, string) {
		os.WriteFile(filepath.Join(src, fmt.Sprintf("f%d.log", i)), []byte(fmt.Sprintf("line %d\n", i)), 0o644)
		code, _, errs := c.run("export", "-c", cfg, "--stream", "edge")
		return code, errs
	}
	for i := range 2 {
		if code, errs := exportOne(i); code != cli.ExitOK {
			t.Fatalf("export by A: %d %s", code, errs)
		}
	}
	keyB := filepath.Join(c.dir, "b.pem")
	if code, _, errs := c.run("keys", "generate", "--out", keyB); code != 0 {
		t.Fatalf("keys generate: %d %s", code, errs)
	}
	// A --to key that cannot be opened is refused, nothing written.
	code, _, errs := c.run("keys", "rotate", "-c", cfg, "--to", "file://"+filepath.Join(c.dir, "missing.pem"))
	if code != cli.ExitUsage || !strings.Contains(errs, "missing.pem") {
		t.Fatalf("rotate to a missing key: exit %d %s", code, errs)
	}
	// A KMS key that cannot be used (no such key in the test KMS, or no
	// KMS at all): exit 3, nothing written, no secret in the error.
	kmsEndpoint := os.Getenv(testenv.EnvKMSEndpoint)
	if kmsEndpoint == "" {
		kmsEndpoint = "http://127.0.0.1:1"
	}
	t.Setenv("AWS_ENDPOINT_URL_KMS", kmsEndpoint)
	t.Setenv("AWS_ACCESS_KEY_ID", "x")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "not-a-real-secret-value")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_MAX_ATTEMPTS", "1")
	code, _, errs = c.run("keys", "rotate", "-c", cfg, "--to", "awskms://alias/logkeeper-no-such-key")
	if code != cli.ExitIncomplete || strings.Contains(errs, "not-a-real-secret-value") || !strings.Contains(errs, "--to") {
		t.Fatalf("rotate to an unusable KMS key: exit %d %s", code, errs)
	}
	if _, err := os.Stat(filepath.Join(c.dir, "archive", "edge", "manifests", "00000000000000000003.json")); !os.IsNotExist(err) {
		t.Fatalf("a refused rotation wrote a manifest: %v", err)
	}
	code, out, errs := c.run("keys", "rotate", "-c", cfg, "--to", "file://"+keyB, "--reason", "yearly", "--json")
	if code != cli.ExitOK {
		t.Fatalf("rotate: %d %s %s", code, out, errs)
	}
	var res struct {
		Streams []struct{ Stream, Outcome string } `json:"streams"`
		Next    string                             `json:"next_step"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || len(res.Streams) != 1 || res.Streams[0].Outcome != "rotated" || !strings.Contains(res.Next, "signing.key") {
		t.Fatalf("rotate --json: %v %s", err, out)
	}
	// The configuration still names A.
	if code, out, _ := c.run("config", "check", "-c", cfg); code != cli.ExitOK || !strings.Contains(out, "warning: signing.key: stream edge was rotated to key") {
		t.Fatalf("config check naming the old key: exit %d\n%s", code, out)
	}
	if code, errs := exportOne(10); code == cli.ExitOK || !strings.Contains(errs, "rotated to") {
		t.Fatalf("export by the old key after the rotation: exit %d %s", code, errs)
	}
	cfgB := filepath.Join(c.dir, "lk-b.yaml")
	raw, _ := os.ReadFile(cfg)
	os.WriteFile(cfgB, []byte(strings.Replace(string(raw), filepath.Join(c.dir, "key.pem"), keyB, 1)), 0o644)
	if code, out, _ := c.run("config", "check", "-c", cfgB); code != cli.ExitOK || strings.Contains(out, "warning") {
		t.Fatalf("config check naming the new key: exit %d\n%s", code, out)
	}
	cfg = cfgB
	for i := 2; i < 4; i++ {
		if code, errs := exportOne(i); code != cli.ExitOK {
			t.Fatalf("export by B: %d %s", code, errs)
		}
	}
	for name, args := range map[string][]string{
		"configured B": nil,
		"only A":       {"--pubkey", filepath.Join(c.dir, "key.pem.pub")},
		"only B":       {"--pubkey", keyB + ".pub"},
		"A and B":      {"--pubkey", filepath.Join(c.dir, "key.pem.pub"), "--pubkey", keyB + ".pub"},
	} {
		code, out, errs := c.run(append([]string{"verify", "-c", cfg, "--stream", "edge", "--json"}, args...)...)
		var rep struct {
			Keys []struct {
				KeyID    string `json:"key_id"`
				From, To uint64
			} `json:"keys"`
		}
		if code != cli.ExitOK || json.Unmarshal([]byte(out), &rep) != nil || len(rep.Keys) != 2 || rep.Keys[0].To != 3 || rep.Keys[1].From != 4 || rep.Keys[1].To != 5 {
			t.Fatalf("verify with %s: exit %d %s %s", name, code, out, errs)
		}
	}
	// The newest checkpoint, from A's public key alone; a note signed by A
	// (tree size 2) passed to a verify that trusts B.
	if code, out, errs := c.run("checkpoint", "-c", cfg, "--stream", "edge", "--pubkey", filepath.Join(c.dir, "key.pem.pub")); code != cli.ExitOK {
		t.Fatalf("checkpoint with A's key: %d %s %s", code, out, errs)
	}
	note := filepath.Join(c.dir, "archive", "_checkpoints", "edge", "00000000000000000002.note")
	if code, out, errs := c.run("verify", "-c", cfg, "--stream", "edge", "--checkpoint", note); code != cli.ExitOK {
		t.Fatalf("verify against a checkpoint signed by A: %d %s %s", code, out, errs)
	}
	code, out, errs = c.run("custody", "log", "-c", cfg, "--json")
	if code != cli.ExitOK || !strings.Contains(out, `"key_rotated"`) {
		t.Fatalf("custody log: %d %s %s", code, out, errs)
	}
}
