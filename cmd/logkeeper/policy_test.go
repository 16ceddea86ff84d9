package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/logkeeper/logkeeper/internal/cli"
	"github.com/logkeeper/logkeeper/internal/testenv"
	"github.com/logkeeper/logkeeper/policies"
)

// policyCheckJSON is the contract of policy check --json.
type policyCheckJSON struct {
	Checks []struct {
		Name   string `json:"name"`
		Status string `json:"status"`
		Detail string `json:"detail"`
		Fix    string `json:"fix"`
	} `json:"checks"`
}

func decodePolicyCheck(t *testing.T, out string) map[string]string {
	t.Helper()
	var res policyCheckJSON
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&res); err != nil || len(res.Checks) == 0 {
		t.Fatalf("policy check --json: %v\n%s", err, out)
	}
	m := map[string]string{}
	for _, c := range res.Checks {
		m[c.Name] = c.Status
	}
	return m
}

// Against versitygw: a bucket without versioning exits 1 naming it; a
// bucket with Object Lock passes those checks; a store that cannot be
// reached exits 3.
func TestPolicyCheckCommandS3(t *testing.T) {
	s := newS3Setup(t, "", "  - name: edge\n    source: {type: dir, path: /tmp}\n")
	for _, kv := range s.env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	c := harness{t, s.dir}
	code, out, errs := c.run("policy", "check", "-c", s.cfg)
	if code != cli.ExitProblems || !strings.Contains(out, "FAIL    versioning: bucket "+s.bucket+": versioning was never enabled") ||
		!strings.Contains(out, "fix: aws s3api put-bucket-versioning --bucket "+s.bucket+" --versioning-configuration Status=Enabled") {
		t.Fatalf("bucket without versioning: exit %d\n%s%s", code, out, errs)
	}
	code, out, _ = c.run("policy", "check", "-c", s.cfg, "--json")
	if m := decodePolicyCheck(t, out); code != cli.ExitProblems || m["versioning"] != "fail" || m["object_lock"] != "fail" {
		t.Fatalf("--json: exit %d %v", code, m)
	}

	// The same archive in a bucket with Object Lock.
	locked := testenv.S3(t).NewBucket(t, true)
	cfg := strings.Replace(string(mustRead(t, s.cfg)), "s3://"+s.bucket+"/", "s3://"+locked+"/", 1)
	os.WriteFile(s.cfg, []byte(cfg), 0o644)
	code, out, _ = c.run("policy", "check", "-c", s.cfg)
	if code != cli.ExitProblems || !strings.Contains(out, "FAIL    object_lock: bucket "+locked+": Object Lock enabled, but nothing locks the objects: store.object_lock is not set") {
		t.Fatalf("bucket with Object Lock and nothing to lock objects: exit %d\n%s", code, out)
	}
	cfg = strings.Replace(cfg, "  path_style: true\n", "  path_style: true\n  object_lock: {mode: GOVERNANCE, retain_days: 1}\n", 1)
	os.WriteFile(s.cfg, []byte(cfg), 0o644)
	code, out, _ = c.run("policy", "check", "-c", s.cfg, "--json")
	m := decodePolicyCheck(t, out)
	if code != cli.ExitProblems || m["versioning"] != "pass" || m["object_lock"] != "pass" || m["default_retention"] != "pass" || m["default_encryption"] != "unknown" {
		t.Fatalf("bucket with Object Lock: exit %d %v\n%s", code, m, out)
	}

	// Unreachable: exit 3, the secret never printed.
	t.Setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:1")
	t.Setenv("AWS_MAX_ATTEMPTS", "1")
	if code, out, errs := c.run("policy", "check", "-c", s.cfg); code != cli.ExitIncomplete || strings.Contains(out+errs, testenv.S3(t).SecretKey) {
		t.Fatalf("unreachable store: exit %d\n%s%s", code, out, errs)
	}
}

// A file store: folder permissions and the not-applicable checks; exit 0
// when none fails, 1 with --strict (unknowns), 3 when the folder is
// missing.
func TestPolicyCheckCommandFileStore(t *testing.T) {
	c, cfg := setup(t)
	if code, _, errs := c.run("export", "-c", cfg, "--stream", "edge"); code != 0 {
		t.Fatalf("export: %s", errs)
	}
	code, out, errs := c.run("policy", "check", "-c", cfg)
	if code != 0 || !strings.Contains(out, "PASS    folder_permissions: ") || !strings.Contains(out, "UNKNOWN object_lock: not applicable to a file store") {
		t.Fatalf("file store: exit %d\n%s%s", code, out, errs)
	}
	if code, _, _ := c.run("policy", "check", "-c", cfg, "--strict"); code != cli.ExitProblems {
		t.Fatalf("--strict with unknown checks: exit %d", code)
	}
	os.Chmod(filepath.Join(c.dir, "archive"), 0o777)
	if code, out, _ := c.run("policy", "check", "-c", cfg, "--json"); code != cli.ExitProblems || decodePolicyCheck(t, out)["folder_permissions"] != "fail" {
		t.Fatalf("folder writable by all: exit %d\n%s", code, out)
	}
	os.Chmod(filepath.Join(c.dir, "archive"), 0o755)
	os.Rename(filepath.Join(c.dir, "archive"), filepath.Join(c.dir, "moved"))
	if code, _, errs := c.run("policy", "check", "-c", cfg); code != cli.ExitIncomplete || !strings.Contains(errs, "store does not exist") {
		t.Fatalf("missing folder: exit %d %s", code, errs)
	}
}

// policy render prints what the policies package renders for the
// configuration; what cannot be rendered is a usage error.
func TestPolicyRenderCommand(t *testing.T) {
	dir := t.TempDir()
	c := harness{t, dir}
	const arn = "arn:aws:kms:eu-west-1:111122223333:key/1111aaaa-22bb-33cc-44dd-555555eeeeee"
	cfg := filepath.Join(dir, "lk.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("store:\n  url: s3://archive-bucket/logs/prod\n  sse_kms_key_id: %s\nsigning: {key: file://%s/key.pem}\nstreams:\n  - {name: edge, source: {type: dir, path: %s}}\n", arn, dir, dir)), 0o644)
	for kind, want := range map[string][]byte{
		"bucket": must1(policies.BucketPolicy{Bucket: "archive-bucket", DataKeyARN: arn}.Render()),
		"kms": must1(policies.KeyPolicy{KeyARN: arn, Stores: []string{"s3://archive-bucket/logs/prod"}, Region: "eu-west-1",
			Exporters: []string{"arn:aws:iam::111122223333:role/lk"}}.Render()),
		"iam": must1(policies.ExporterPolicy{Bucket: "archive-bucket", Prefix: "logs/prod", Region: "eu-west-1", DataKeyARN: arn}.Render()),
	} {
		args := []string{"policy", "render", "-c", cfg, "--kind", kind}
		if kind == "kms" {
			args = append(args, "--principal", "arn:aws:iam::111122223333:role/lk")
		}
		code, out, errs := c.run(args...)
		if code != 0 || !bytes.Equal([]byte(out), want) || !json.Valid([]byte(out)) {
			t.Errorf("render %s: exit %d %s\n%s\nwant\n%s", kind, code, errs, out, want)
		}
	}
	// Usage errors: an unknown kind, --principal for another kind, a file store.
	fileCfg := filepath.Join(dir, "fs.yaml")
	os.WriteFile(fileCfg, []byte(fmt.Sprintf("store: {url: file://%s/a}\nsigning: {key: file://%s/key.pem}\nstreams:\n  - {name: edge, source: {type: dir, path: %s}}\n", dir, dir, dir)), 0o644)
	for _, args := range [][]string{
		{"policy", "render", "-c", cfg, "--kind", "acl"},
		{"policy", "render", "-c", cfg, "--kind", "bucket", "--principal", "arn:aws:iam::1:role/x"},
		{"policy", "render", "-c", cfg},
		{"policy", "render", "-c", fileCfg, "--kind", "bucket"},
	} {
		if code, _, errs := c.run(args...); code != cli.ExitUsage || errs == "" {
			t.Errorf("%v: exit %d %q, want 2", args, code, errs)
		}
	}
}

func must1(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// A key configured by its alias is rendered by its ARN, which local-kms
// resolves; a KMS that cannot be reached is exit 3 for render and check.
func TestPolicyRenderCommandKMS(t *testing.T) {
	k := testenv.KMS(t)
	ctx := context.Background()
	key, err := k.Client().CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	alias := "alias/lk-render-" + strings.ToLower(rand.Text()[:8])
	if _, err := k.Client().CreateAlias(ctx, &kms.CreateAliasInput{AliasName: &alias, TargetKeyId: key.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}
	for kk, v := range map[string]string{"AWS_ENDPOINT_URL_KMS": k.Endpoint, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test-secret-value",
		"AWS_REGION": k.Region, "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_PROFILE": ""} {
		t.Setenv(kk, v)
	}
	dir := t.TempDir()
	c := harness{t, dir}
	cfg := filepath.Join(dir, "lk.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("store:\n  url: s3://archive-bucket/logs\n  sse_kms_key_id: %s\nsigning: {key: file://%s/key.pem}\nstreams:\n  - {name: edge, source: {type: dir, path: %s}}\n", alias, dir, dir)), 0o644)
	arn := *key.KeyMetadata.Arn
	code, out, errs := c.run("policy", "render", "-c", cfg, "--kind", "kms")
	want := must1(policies.KeyPolicy{KeyARN: arn, Stores: []string{"s3://archive-bucket/logs"}, Region: k.Region}.Render())
	if code != 0 || out != string(want) {
		t.Fatalf("render kms with an alias: exit %d %s\n%s", code, errs, out)
	}
	t.Setenv("AWS_ENDPOINT_URL_KMS", "http://127.0.0.1:1")
	t.Setenv("AWS_MAX_ATTEMPTS", "1")
	if code, out, errs := c.run("policy", "render", "-c", cfg, "--kind", "bucket"); code != cli.ExitIncomplete || strings.Contains(out+errs, "test-secret-value") {
		t.Fatalf("render with KMS unreachable: exit %d %s%s", code, out, errs)
	}
}
