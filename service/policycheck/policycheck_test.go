package policycheck_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/logkeeper/logkeeper/internal/config"
	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/internal/store/s3store"
	"github.com/logkeeper/logkeeper/internal/testenv"
	"github.com/logkeeper/logkeeper/policies"
	"github.com/logkeeper/logkeeper/service/policycheck"
)

// loadConfig writes a configuration with the given store block and loads it.
func loadConfig(t *testing.T, storeYAML string) *config.Config {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "lk.yaml")
	yaml := "store:\n" + storeYAML + "signing:\n  key: file://" + dir + "/key.pem\nstreams:\n  - name: edge\n    source: {type: dir, path: " + dir + "}\n"
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("config: %v\n%s", err, yaml)
	}
	return cfg
}

func statuses(r policycheck.Result) map[string]policycheck.Item {
	m := map[string]policycheck.Item{}
	for _, c := range r.Checks {
		m[c.Name] = c
	}
	return m
}

// want asserts the status of each named check.
func want(t *testing.T, r policycheck.Result, status string, names ...string) {
	t.Helper()
	m := statuses(r)
	for _, n := range names {
		c, ok := m[n]
		if !ok {
			t.Errorf("no check %s in %+v", n, r.Checks)
			continue
		}
		if c.Status != status {
			t.Errorf("%s: %s (%s), want %s", n, c.Status, c.Detail, status)
		}
		if c.Status != policycheck.StatusPass && c.Fix == "" {
			t.Errorf("%s: %s without a fix", n, c.Status)
		}
	}
}

// Every check reports a status of the three, a detail, and in a fixed
// order, whatever the store.
func checkShape(t *testing.T, r policycheck.Result) {
	t.Helper()
	for _, c := range r.Checks {
		if c.Status != policycheck.StatusPass && c.Status != policycheck.StatusFail && c.Status != policycheck.StatusUnknown || c.Detail == "" {
			t.Errorf("check %+v", c)
		}
		if strings.Contains(c.Fix, "\n") || strings.Contains(c.Detail, "\n") {
			t.Errorf("check %s: fix or detail of more than one line", c.Name)
		}
	}
}

type s3env struct {
	e      testenv.S3Env
	client *s3.Client
	kms    *kms.Client
}

func newS3Env(t *testing.T) s3env {
	e := testenv.S3(t)
	return s3env{e: e, client: e.Client(), kms: testenv.KMS(t).Client()}
}

func (s s3env) store(t *testing.T, bucket, prefix string) *s3store.Store {
	st, err := s3store.New(context.Background(), s3store.Options{Bucket: bucket, Prefix: prefix, PathStyle: true, Client: s.client})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// newKey creates a symmetric key with an alias in local-kms; it returns
// the alias and the key's ARN.
func (s s3env) newKey(t *testing.T) (alias, arn string) {
	ctx := context.Background()
	out, err := s.kms.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatalf("create key: %v", err)
	}
	var b [4]byte
	rand.Read(b[:])
	alias = "alias/lk-policy-" + hex.EncodeToString(b[:])
	if _, err := s.kms.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: &alias, TargetKeyId: out.KeyMetadata.KeyId}); err != nil {
		t.Fatalf("create alias: %v", err)
	}
	return alias, aws.ToString(out.KeyMetadata.Arn)
}

// onlyStatement returns the policy document with only the statement sid.
func onlyStatement(t *testing.T, doc []byte, sid string) string {
	var d struct {
		Version   string
		Statement []map[string]any
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatal(err)
	}
	d.Statement = slices.DeleteFunc(d.Statement, func(s map[string]any) bool { return s["Sid"] != sid })
	out, err := json.Marshal(d)
	if err != nil || len(d.Statement) != 1 {
		t.Fatalf("statement %s: %v", sid, err)
	}
	return string(out)
}

// TestPolicyCheckVersityGW: a bucket without versioning fails by name; a
// bucket set up as the README says passes every check versitygw and
// local-kms can answer, and the ones they cannot are unknown, not pass.
func TestPolicyCheckVersityGW(t *testing.T) {
	s := newS3Env(t)
	ctx := context.Background()
	alias, arn := s.newKey(t)

	// A plain bucket: no versioning, no Object Lock, no policy.
	plain := s.e.NewBucket(t, false)
	cfg := loadConfig(t, fmt.Sprintf("  url: s3://%s/archive\n  path_style: true\n  sse_kms_key_id: %s\n", plain, alias))
	res, err := policycheck.Check(ctx, cfg, policycheck.Options{Store: s.store(t, plain, "archive"), KMS: s.kms})
	if err != nil {
		t.Fatal(err)
	}
	checkShape(t, res)
	want(t, res, policycheck.StatusFail, policycheck.CheckVersioning, policycheck.CheckObjectLock, policycheck.CheckKeyRotation, policycheck.CheckKeyPolicyContext,
		policycheck.CheckPolicyTLS, policycheck.CheckPolicyUnencrypted, policycheck.CheckPolicyOtherKey)
	want(t, res, policycheck.StatusUnknown, policycheck.CheckWitnessObjectLock)
	if !res.Failed() || !strings.Contains(statuses(res)[policycheck.CheckVersioning].Detail, "bucket "+plain+": versioning was never enabled") {
		t.Fatalf("versioning: %+v", statuses(res)[policycheck.CheckVersioning])
	}

	// A bucket set up right: Object Lock (so versioning), no default
	// retention, the rendered bucket policy as far as versitygw takes it,
	// key rotation on, the rendered key policy; a witness bucket with
	// Object Lock and a COMPLIANCE default retention.
	good, wb := s.e.NewBucket(t, true), s.e.NewBucket(t, true)
	_, err = s.client.PutObjectLockConfiguration(ctx, &s3.PutObjectLockConfigurationInput{Bucket: &wb, ObjectLockConfiguration: &types.ObjectLockConfiguration{
		ObjectLockEnabled: types.ObjectLockEnabledEnabled,
		Rule:              &types.ObjectLockRule{DefaultRetention: &types.DefaultRetention{Mode: types.ObjectLockRetentionModeCompliance, Days: aws.Int32(1)}},
	}})
	if err != nil {
		t.Fatalf("witness default retention: %v", err)
	}
	policy, err := policies.BucketPolicy{Bucket: good, DataKeyARN: arn}.Render()
	if err != nil {
		t.Fatal(err)
	}
	// versitygw refuses the condition keys on SSE headers (it does not
	// read them: MalformedPolicy "invalid condition key"); it takes the
	// TLS statement, so the rest of the policy is checked as missing.
	_, perr := s.client.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: &good, Policy: aws.String(string(policy))})
	if perr != nil {
		t.Logf("versitygw PutBucketPolicy of the rendered policy: %v; putting its TLS statement alone", perr)
		if _, err := s.client.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: &good, Policy: aws.String(onlyStatement(t, policy, policies.SidDenyInsecureTransport))}); err != nil {
			t.Fatalf("put the TLS statement: %v", err)
		}
	}
	if _, err := s.kms.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: &arn}); err != nil {
		t.Fatalf("enable rotation: %v", err)
	}
	keyPolicy, err := policies.KeyPolicy{KeyARN: arn, Stores: []string{"s3://" + good + "/archive"}}.Render()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.kms.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: &arn, PolicyName: aws.String("default"), Policy: aws.String(string(keyPolicy))}); err != nil {
		t.Fatalf("put key policy: %v", err)
	}
	cfg = loadConfig(t, fmt.Sprintf("  url: s3://%s/archive\n  path_style: true\n  sse_kms_key_id: %s\n  object_lock: {mode: COMPLIANCE, retain_days: 1}\n  witness: s3://%s/w\n", good, alias, wb))
	o := policycheck.Options{Store: s.store(t, good, "archive"), Witness: s.store(t, wb, "w"), KMS: s.kms}
	res, err = policycheck.Check(ctx, cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	checkShape(t, res)
	for _, c := range res.Checks {
		t.Logf("%s %s: %s", c.Status, c.Name, c.Detail)
	}
	want(t, res, policycheck.StatusPass, policycheck.CheckVersioning, policycheck.CheckObjectLock, policycheck.CheckDefaultRetention,
		policycheck.CheckKeyRotation, policycheck.CheckKeyPolicyContext, policycheck.CheckWitnessObjectLock)
	// versitygw answers 501 for bucket encryption: unknown, never pass.
	want(t, res, policycheck.StatusUnknown, policycheck.CheckDefaultEncryption)
	want(t, res, policycheck.StatusPass, policycheck.CheckPolicyTLS)
	if perr == nil {
		want(t, res, policycheck.StatusPass, policycheck.CheckPolicyUnencrypted, policycheck.CheckPolicyOtherKey)
		if res.Failed() {
			t.Fatalf("a bucket set up right failed: %+v", res.Checks)
		}
	} else {
		want(t, res, policycheck.StatusFail, policycheck.CheckPolicyUnencrypted, policycheck.CheckPolicyOtherKey)
		if d := statuses(res)[policycheck.CheckPolicyOtherKey].Detail; !strings.Contains(d, "no statement denies puts that name another KMS key") {
			t.Errorf("other key detail %q", d)
		}
	}

	// What breaks each of them.
	if _, err := s.kms.DisableKeyRotation(ctx, &kms.DisableKeyRotationInput{KeyId: &arn}); err != nil {
		t.Fatal(err)
	}
	other := strings.Replace(string(keyPolicy), "s3://"+good+"/archive", "s3://"+good+"/elsewhere", -1)
	if _, err := s.kms.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: &arn, PolicyName: aws.String("default"), Policy: &other}); err != nil {
		t.Fatal(err)
	}
	_, err = s.client.PutObjectLockConfiguration(ctx, &s3.PutObjectLockConfigurationInput{Bucket: &good, ObjectLockConfiguration: &types.ObjectLockConfiguration{
		ObjectLockEnabled: types.ObjectLockEnabledEnabled,
		Rule:              &types.ObjectLockRule{DefaultRetention: &types.DefaultRetention{Mode: types.ObjectLockRetentionModeGovernance, Days: aws.Int32(3)}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.client.PutObjectLockConfiguration(ctx, &s3.PutObjectLockConfigurationInput{Bucket: &wb, ObjectLockConfiguration: &types.ObjectLockConfiguration{
		ObjectLockEnabled: types.ObjectLockEnabledEnabled,
		Rule:              &types.ObjectLockRule{DefaultRetention: &types.DefaultRetention{Mode: types.ObjectLockRetentionModeGovernance, Days: aws.Int32(1)}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	res, err = policycheck.Check(ctx, cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	want(t, res, policycheck.StatusFail, policycheck.CheckKeyRotation, policycheck.CheckKeyPolicyContext, policycheck.CheckDefaultRetention, policycheck.CheckWitnessObjectLock)
	if d := statuses(res)[policycheck.CheckDefaultRetention].Detail; !strings.Contains(d, "GOVERNANCE 3 days, store.object_lock says COMPLIANCE 1 day") {
		t.Errorf("default retention detail %q", d)
	}

	// A witness in the store's own bucket is no witness.
	cfg = loadConfig(t, fmt.Sprintf("  url: s3://%s/archive\n  path_style: true\n  witness: s3://%s/w\n", good, good))
	res, err = policycheck.Check(ctx, cfg, policycheck.Options{Store: o.Store, Witness: s.store(t, good, "w"), KMS: s.kms})
	if err != nil {
		t.Fatal(err)
	}
	want(t, res, policycheck.StatusFail, policycheck.CheckWitnessObjectLock, policycheck.CheckKeyRotation, policycheck.CheckKeyPolicyContext, policycheck.CheckPolicyOtherKey)
}

// A file store: its folder's permissions are checked, the S3 checks are
// unknown (not applicable), a folder witness gets the folder check too.
func TestPolicyCheckFileStore(t *testing.T) {
	dir := t.TempDir()
	archive, witness := filepath.Join(dir, "archive"), filepath.Join(dir, "witness")
	for _, d := range []string{archive, filepath.Join(archive, "edge"), witness} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cfg := loadConfig(t, "  url: file://"+archive+"\n  witness: file://"+witness+"\n")
	res, err := policycheck.Check(context.Background(), cfg, policycheck.Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkShape(t, res)
	want(t, res, policycheck.StatusPass, policycheck.CheckFolderPermissions, policycheck.CheckWitnessPermissions)
	want(t, res, policycheck.StatusUnknown, policycheck.CheckVersioning, policycheck.CheckObjectLock, policycheck.CheckDefaultEncryption,
		policycheck.CheckKeyPolicyContext, policycheck.CheckWitnessObjectLock)
	if res.Failed() {
		t.Fatalf("failed: %+v", res.Checks)
	}

	// A stream folder anyone may write, a witness replaced by a link.
	if err := os.Chmod(filepath.Join(archive, "edge"), 0o777); err != nil {
		t.Fatal(err)
	}
	os.Remove(witness)
	if err := os.Symlink(archive, witness); err != nil {
		t.Fatal(err)
	}
	res, err = policycheck.Check(context.Background(), cfg, policycheck.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want(t, res, policycheck.StatusFail, policycheck.CheckFolderPermissions, policycheck.CheckWitnessPermissions)
	if d := statuses(res)[policycheck.CheckFolderPermissions].Detail; !strings.Contains(d, filepath.Join(archive, "edge")+" is -rwxrwxrwx (writable by group or others)") {
		t.Errorf("detail %q does not name the folder", d)
	}

	// A store folder that does not exist cannot be checked.
	cfg = loadConfig(t, "  url: file://"+filepath.Join(dir, "none")+"\n")
	if _, err := policycheck.Check(context.Background(), cfg, policycheck.Options{}); !errors.Is(err, policycheck.ErrUnreachable) || !errors.Is(err, store.ErrNoStore) {
		t.Fatalf("missing folder: %v", err)
	}
}

// A store that cannot be reached is an error, not a verdict: a closed
// port, a bucket that does not exist.
func TestPolicyCheckUnreachable(t *testing.T) {
	s := newS3Env(t)
	cfg := loadConfig(t, "  url: s3://nowhere/archive\n  path_style: true\n")
	closed := s3.New(s3.Options{Region: "us-east-1", Credentials: s.e.Credentials(), BaseEndpoint: aws.String("http://127.0.0.1:1"), UsePathStyle: true, RetryMaxAttempts: 1})
	st, err := s3store.New(context.Background(), s3store.Options{Bucket: "nowhere", Prefix: "archive", PathStyle: true, Client: closed})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := policycheck.Check(context.Background(), cfg, policycheck.Options{Store: st}); !errors.Is(err, policycheck.ErrUnreachable) {
		t.Fatalf("closed port: %v", err)
	}
	if _, err := policycheck.Check(context.Background(), cfg, policycheck.Options{Store: s.store(t, "lk-no-such-bucket-here", "archive")}); !errors.Is(err, policycheck.ErrUnreachable) || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("missing bucket: %v", err)
	}
}

// fakeBucket answers the bucket settings versitygw does not implement
// (default encryption, public access block) or refuses (a bucket policy
// with conditions on SSE headers), as AWS S3 documents them; everything
// else of the check is real (local-kms resolves the keys).
type fakeBucket struct {
	algorithm types.ServerSideEncryption
	key       string
	policy    string
}

func (f fakeBucket) Bucket() string   { return "archive-bucket" }
func (f fakeBucket) Prefix() string   { return "logs" }
func (f fakeBucket) Describe() string { return "s3://archive-bucket/logs" }
func (f fakeBucket) BucketVersioning(context.Context) (*s3.GetBucketVersioningOutput, error) {
	return &s3.GetBucketVersioningOutput{Status: types.BucketVersioningStatusEnabled}, nil
}
func (f fakeBucket) BucketObjectLock(context.Context) (*s3.GetObjectLockConfigurationOutput, error) {
	return &s3.GetObjectLockConfigurationOutput{ObjectLockConfiguration: &types.ObjectLockConfiguration{ObjectLockEnabled: types.ObjectLockEnabledEnabled}}, nil
}
func (f fakeBucket) BucketEncryption(context.Context) (*s3.GetBucketEncryptionOutput, error) {
	return &s3.GetBucketEncryptionOutput{ServerSideEncryptionConfiguration: &types.ServerSideEncryptionConfiguration{Rules: []types.ServerSideEncryptionRule{
		{ApplyServerSideEncryptionByDefault: &types.ServerSideEncryptionByDefault{SSEAlgorithm: f.algorithm, KMSMasterKeyID: aws.String(f.key)}},
	}}}, nil
}
func (f fakeBucket) BucketPublicAccessBlock(context.Context) (*s3.GetPublicAccessBlockOutput, error) {
	return nil, &smithy.GenericAPIError{Code: "AccessDenied", Message: "Access Denied"}
}
func (f fakeBucket) BucketPolicy(context.Context) (*s3.GetBucketPolicyOutput, error) {
	return &s3.GetBucketPolicyOutput{Policy: &f.policy}, nil
}

// Keys are compared as servers name them: the configured alias against
// the key ARN a bucket reports is resolved through KMS, a key id against
// its ARN by the strings; another key fails; a setting the credentials
// may not read is unknown.
func TestPolicyCheckKeyComparison(t *testing.T) {
	s := newS3Env(t)
	ctx := context.Background()
	alias, arn := s.newKey(t)
	otherAlias, otherARN := s.newKey(t)
	policy := func(key string) string {
		return string(must(policies.BucketPolicy{Bucket: "archive-bucket", DataKeyARN: key}.Render()))
	}
	keyID := arn[strings.LastIndex(arn, "/")+1:]
	for _, tc := range []struct {
		name, configured string
		bucket           fakeBucket
		status           string
	}{
		{"alias against ARN", alias, fakeBucket{types.ServerSideEncryptionAwsKms, arn, policy(arn)}, policycheck.StatusPass},
		{"key id against ARN", keyID, fakeBucket{types.ServerSideEncryptionAwsKms, arn, policy(arn)}, policycheck.StatusPass},
		{"ARN against alias", arn, fakeBucket{types.ServerSideEncryptionAwsKms, alias, policy(arn)}, policycheck.StatusPass},
		{"another key", alias, fakeBucket{types.ServerSideEncryptionAwsKms, otherARN, policy(otherARN)}, policycheck.StatusFail},
		{"another alias", alias, fakeBucket{types.ServerSideEncryptionAwsKms, otherAlias, policy(otherARN)}, policycheck.StatusFail},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := loadConfig(t, "  url: s3://archive-bucket/logs\n  sse_kms_key_id: "+tc.configured+"\n")
			res, err := policycheck.Check(ctx, cfg, policycheck.Options{Store: storeOf{tc.bucket}, KMS: s.kms})
			if err != nil {
				t.Fatal(err)
			}
			want(t, res, tc.status, policycheck.CheckDefaultEncryption, policycheck.CheckPolicyOtherKey)
			want(t, res, policycheck.StatusPass, policycheck.CheckPolicyTLS, policycheck.CheckPolicyUnencrypted)
			want(t, res, policycheck.StatusUnknown, policycheck.CheckPublicAccessBlock)
		})
	}
	cfg := loadConfig(t, "  url: s3://archive-bucket/logs\n  sse_kms_key_id: "+alias+"\n")
	res, err := policycheck.Check(ctx, cfg, policycheck.Options{Store: storeOf{fakeBucket{types.ServerSideEncryptionAes256, "", policy(arn)}}, KMS: s.kms})
	if err != nil {
		t.Fatal(err)
	}
	want(t, res, policycheck.StatusFail, policycheck.CheckDefaultEncryption)
}

// storeOf is a fakeBucket as a store.Store (only its bucket settings are
// read).
type storeOf struct{ fakeBucket }

func (storeOf) Put(context.Context, string, io.Reader, store.PutOptions) (store.ObjectInfo, error) {
	return store.ObjectInfo{}, errors.ErrUnsupported
}
func (storeOf) Head(context.Context, string, store.GetOptions) (store.ObjectInfo, error) {
	return store.ObjectInfo{}, errors.ErrUnsupported
}
func (storeOf) Get(context.Context, string, store.GetOptions) (io.ReadCloser, store.ObjectInfo, error) {
	return nil, store.ObjectInfo{}, errors.ErrUnsupported
}
func (storeOf) List(context.Context, string, func(store.ObjectInfo) error) error {
	return errors.ErrUnsupported
}
func (storeOf) Versions(context.Context, string) ([]store.Version, error) {
	return nil, errors.ErrUnsupported
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
