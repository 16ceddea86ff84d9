package signers_test

import (
	"context"
	"errors"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/logkeeper/logkeeper/internal/signing"
	"github.com/logkeeper/logkeeper/internal/signing/awskms"
	"github.com/logkeeper/logkeeper/internal/signing/signers"
	"github.com/logkeeper/logkeeper/internal/testenv"
)

// noKMS fails the test if Open asks for a KMS client.
func noKMS(t *testing.T) func(context.Context) (*kms.Client, error) {
	return func(context.Context) (*kms.Client, error) {
		t.Error("KMS client requested")
		return nil, errors.New("no KMS in this test")
	}
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func signAndVerify(t *testing.T, s signing.Signer) {
	t.Helper()
	msg := []byte("manifest")
	sig, err := s.Sign(ctxFor(t), msg)
	if err != nil {
		t.Fatal(err)
	}
	if err := signing.Verify(s.Public(), s.Algorithm(), msg, sig); err != nil {
		t.Fatal(err)
	}
}

func TestOpenFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys dir")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "key.pem")
	pubPath, err := signing.GenerateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := signing.LoadPublicKeyFile(pubPath)
	if err != nil {
		t.Fatal(err)
	}
	wantID, _ := signing.KeyID(pub)
	escaped := (&url.URL{Scheme: "file", Path: path}).String() // "keys%20dir"
	for _, uri := range []string{
		escaped,
		"file://localhost" + (&url.URL{Path: path}).EscapedPath(),
		escaped[:len(escaped)-len("/key.pem")] + "/../keys%20dir/./key.pem", // cleaned
	} {
		t.Run(uri, func(t *testing.T) {
			s, err := signers.Open(ctxFor(t), uri, noKMS(t))
			if err != nil {
				t.Fatal(err)
			}
			if s.KeyID() != wantID || s.Algorithm() != signing.AlgEd25519 {
				t.Fatalf("opened %s %s, want %s", s.Algorithm(), s.KeyID(), wantID)
			}
			signAndVerify(t, s)
		})
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	loose := filepath.Join(dir, "loose.pem")
	if _, err := signing.GenerateKeyFile(loose); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(loose, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		uri     string
		msg     string
		wantErr error
	}{
		{"empty", "", "want file:///ABS/PATH.pem or awskms://", nil},
		{"bare path", "/etc/logkeeper/key.pem", "want file:///ABS/PATH.pem or awskms://", nil},
		{"other scheme", "gcpkms://projects/p/keys/k", `unsupported scheme "gcpkms"`, nil},
		{"capital scheme", "FILE:///etc/key.pem", `unsupported scheme "FILE"`, nil},
		{"relative file", "file://key.pem", `"key.pem" is read as a host name`, nil},
		{"remote host", "file://server/etc/key.pem", `"server" is read as a host name`, nil},
		{"query", "file:///etc/key.pem?x=1", "query or fragment", nil},
		{"fragment", "file:///etc/key.pem#x", "query or fragment", nil},
		{"credentials", "file://u:p@localhost/etc/key.pem", "credentials", nil},
		{"bad escape", "file:///etc/%zz", "invalid URL escape", nil},
		{"missing file", "file://" + filepath.Join(dir, "missing.pem"), "missing.pem", fs.ErrNotExist},
		{"group-readable key", "file://" + loose, "chmod 600", signing.ErrInsecureKeyFile},
		{"kms without key", "awskms://", "needs a key id", nil},
		{"kms three slashes", "awskms:///alias/x", "two slashes", nil},
		{"kms space", "awskms://alias/my key", "white space", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := signers.Open(ctxFor(t), tt.uri, noKMS(t))
			if err == nil {
				t.Fatalf("Open = %v, want an error", s)
			}
			if s != nil {
				t.Fatalf("Open returned a signer (%#v) with its error", s)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("error %q does not mention %q", err, tt.msg)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestOpenKMSClientError(t *testing.T) {
	boom := errors.New("no credentials")
	_, err := signers.Open(ctxFor(t), "awskms://alias/lk", func(context.Context) (*kms.Client, error) { return nil, boom })
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "alias/lk") {
		t.Fatalf("error = %v, want the client error naming the key", err)
	}
}

func testKMS(t *testing.T) (*kms.Client, testenv.KMSEnv) {
	t.Helper()
	e := testenv.KMS(t)
	return e.Client(), e
}

// newKMSKey creates an ECC_NIST_P256 signing key with an alias and returns
// the key ARN and the alias.
func newKMSKey(t *testing.T, c *kms.Client) (arn, alias string) {
	t.Helper()
	ctx := ctxFor(t)
	out, err := c.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: types.KeySpecEccNistP256, KeyUsage: types.KeyUsageTypeSignVerify})
	if err != nil {
		t.Fatal(err)
	}
	arn = aws.ToString(out.KeyMetadata.Arn)
	alias = "alias/logkeeper-signers-" + aws.ToString(out.KeyMetadata.KeyId)[:8]
	if _, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(alias), TargetKeyId: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	return arn, alias
}

func TestOpenKMS(t *testing.T) {
	c, _ := testKMS(t)
	arn, alias := newKMSKey(t, c)
	pub, err := awskms.PublicKey(ctxFor(t), c, arn)
	if err != nil {
		t.Fatal(err)
	}
	wantID, _ := signing.KeyID(pub)
	calls := 0
	client := func(context.Context) (*kms.Client, error) { calls++; return c, nil }
	for _, id := range []string{arn, alias, arn[strings.LastIndex(arn, "/")+1:]} {
		t.Run(id, func(t *testing.T) {
			s, err := signers.Open(ctxFor(t), "awskms://"+id, client)
			if err != nil {
				t.Fatal(err)
			}
			if s.KeyID() != wantID || s.Algorithm() != signing.AlgECDSAP256SHA256 {
				t.Fatalf("opened %s %s, want %s", s.Algorithm(), s.KeyID(), wantID)
			}
			if ks, ok := s.(*awskms.Signer); !ok || ks.KMSKeyARN() != arn {
				t.Fatalf("opened %T, want an *awskms.Signer for %s", s, arn)
			}
			signAndVerify(t, s)
		})
	}
	if calls != 3 {
		t.Fatalf("client built %d times, want once per Open", calls)
	}
	if _, err := signers.Open(ctxFor(t), "awskms://alias/logkeeper-signers-missing", client); !errors.Is(err, awskms.ErrKeyNotFound) {
		t.Fatalf("missing key: error = %v, want awskms.ErrKeyNotFound", err)
	}
}

// isolateAWSEnv points the SDK's default chain at the test KMS only.
func isolateAWSEnv(t *testing.T, endpoint, region string) {
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_CONFIG_FILE":             filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
		"AWS_PROFILE":                 "",
		"AWS_ACCESS_KEY_ID":           "test",
		"AWS_SECRET_ACCESS_KEY":       "test",
		"AWS_SESSION_TOKEN":           "",
		"AWS_REGION":                  region,
		"AWS_DEFAULT_REGION":          "",
		"AWS_ENDPOINT_URL":            "",
		"AWS_ENDPOINT_URL_KMS":        endpoint,
		"AWS_EC2_METADATA_DISABLED":   "true",
	} {
		t.Setenv(k, v)
	}
}

func TestDefaultKMSClient(t *testing.T) {
	c, e := testKMS(t)
	_, alias := newKMSKey(t, c)
	isolateAWSEnv(t, e.Endpoint, e.Region)
	// nil means DefaultKMSClient.
	s, err := signers.Open(ctxFor(t), "awskms://"+alias, nil)
	if err != nil {
		t.Fatal(err)
	}
	signAndVerify(t, s)
}

func TestDefaultKMSClientNoRegion(t *testing.T) {
	isolateAWSEnv(t, "http://127.0.0.1:1", "")
	_, err := signers.DefaultKMSClient(ctxFor(t))
	if err == nil || !strings.Contains(err.Error(), "AWS_REGION") {
		t.Fatalf("error = %v, want one saying to set AWS_REGION", err)
	}
}
