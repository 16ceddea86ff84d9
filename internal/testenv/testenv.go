// Package testenv connects integration tests to the real S3 (versitygw) and
// KMS (local-kms) servers that scripts/testenv.sh installs and starts on
// loopback ports.
//
// The script exports the servers' addresses in LOGKEEPER_TEST_* variables.
// When they are missing a test is skipped on a developer machine, but fails
// under CI (CI set) or when LOGKEEPER_REQUIRE_SERVERS=1: a guarantee that is
// only shown against a server must never pass silently without one.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"github.com/logkeeper/logkeeper/internal/loopback"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Environment variables written by scripts/testenv.sh.
const (
	EnvS3Endpoint  = "LOGKEEPER_TEST_S3_ENDPOINT"
	EnvS3AccessKey = "LOGKEEPER_TEST_S3_ACCESS_KEY"
	EnvS3SecretKey = "LOGKEEPER_TEST_S3_SECRET_KEY"
	EnvKMSEndpoint = "LOGKEEPER_TEST_KMS_ENDPOINT"
	EnvRegion      = "LOGKEEPER_TEST_REGION"
	EnvRequire     = "LOGKEEPER_REQUIRE_SERVERS"
	// Set by scripts/minio.sh: which S3 server runs ("minio"; unset means
	// versitygw), the KMS key it really encrypts SSE-KMS objects under, and
	// its data folder (to look for plaintext on disk).
	EnvS3Server = "LOGKEEPER_TEST_S3_SERVER"
	EnvS3SSEKey = "LOGKEEPER_TEST_S3_SSE_KEY"
	EnvS3Data   = "LOGKEEPER_TEST_S3_DATA"
)

// S3 servers the tests run on.
const (
	ServerVersityGW = "versitygw"
	ServerMinIO     = "minio"
)

// ignoredSSEKey is the SSE-KMS key tests request from a server that ignores
// SSE (versitygw): any name does.
const ignoredSSEKey = "alias/logkeeper-archive"

// Required reports whether a missing server is a failure rather than a skip.
func Required() bool {
	return os.Getenv("CI") != "" || os.Getenv(EnvRequire) == "1"
}

func missing(t testing.TB, what string) {
	t.Helper()
	msg := fmt.Sprintf("%s not configured: run the tests with `make test` (scripts/testenv.sh starts the servers)", what)
	if Required() {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// S3Env is a running S3 server.
type S3Env struct {
	Endpoint  string
	AccessKey string
	SecretKey string
	Region    string
	// Server is ServerVersityGW or ServerMinIO.
	Server string
	// SSEKey is the KMS key id to request SSE-KMS with: one the server
	// really encrypts under when Encrypts, any name otherwise.
	SSEKey string
	// Encrypts is true when the server really encrypts SSE-KMS objects
	// (MinIO with its built-in KMS); versitygw ignores SSE.
	Encrypts bool
	// DataDir is the server's data folder, when known.
	DataDir string
}

// KMSEnv is a running KMS server.
type KMSEnv struct {
	Endpoint string
	Region   string
}

func region() string {
	if r := os.Getenv(EnvRegion); r != "" {
		return r
	}
	return "us-east-1"
}

func requireLoopback(t testing.TB, endpoint string) {
	t.Helper()
	u, err := url.Parse(endpoint)
	if err != nil {
		t.Fatalf("test endpoint %q: %v", endpoint, err)
	}
	if !loopback.Is(u.Hostname()) {
		t.Fatalf("test endpoint %q is not on loopback: test traffic goes to 127.0.0.1 only", endpoint)
	}
}

// S3 returns the test S3 server, or skips/fails the test when there is none.
func S3(t testing.TB) S3Env {
	t.Helper()
	e := S3Env{
		Endpoint:  os.Getenv(EnvS3Endpoint),
		AccessKey: os.Getenv(EnvS3AccessKey),
		SecretKey: os.Getenv(EnvS3SecretKey),
		Region:    region(),
		Server:    os.Getenv(EnvS3Server),
		SSEKey:    os.Getenv(EnvS3SSEKey),
		DataDir:   os.Getenv(EnvS3Data),
	}
	if e.Server == "" {
		e.Server = ServerVersityGW
	}
	e.Encrypts = e.SSEKey != ""
	if !e.Encrypts {
		e.SSEKey = ignoredSSEKey
	}
	if e.Endpoint == "" || e.AccessKey == "" || e.SecretKey == "" {
		missing(t, "S3 test server ("+EnvS3Endpoint+")")
	}
	requireLoopback(t, e.Endpoint)
	return e
}

// KMS returns the test KMS server, or skips/fails the test when there is none.
func KMS(t testing.TB) KMSEnv {
	t.Helper()
	e := KMSEnv{Endpoint: os.Getenv(EnvKMSEndpoint), Region: region()}
	if e.Endpoint == "" {
		missing(t, "KMS test server ("+EnvKMSEndpoint+")")
	}
	requireLoopback(t, e.Endpoint)
	return e
}

// Credentials are the static test credentials (local-kms accepts any).
func (e S3Env) Credentials() aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider(e.AccessKey, e.SecretKey, "")
}

// Client returns an S3 client for the test server, path-style.
func (e S3Env) Client() *s3.Client {
	return s3.New(s3.Options{
		Region:       e.Region,
		Credentials:  e.Credentials(),
		BaseEndpoint: aws.String(e.Endpoint),
		UsePathStyle: true,
	})
}

// Client returns a KMS client for the test server (local-kms accepts any
// credentials; static test ones are signed with).
func (e KMSEnv) Client() *kms.Client {
	return kms.New(kms.Options{
		Region:       e.Region,
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint: aws.String(e.Endpoint),
	})
}

// NewBucket creates a bucket with a unique name for this test. With
// objectLock the bucket is created with Object Lock (and so versioning).
func (e S3Env) NewBucket(t testing.TB, objectLock bool) string {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "lk-" + strings.ToLower(hex.EncodeToString(b[:]))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	in := &s3.CreateBucketInput{Bucket: aws.String(name)}
	if objectLock {
		in.ObjectLockEnabledForBucket = aws.Bool(true)
	}
	if _, err := e.Client().CreateBucket(ctx, in); err != nil {
		t.Fatalf("create test bucket %s: %v", name, err)
	}
	return name
}

// EnableVersioning turns versioning on for bucket.
func (e S3Env) EnableVersioning(t testing.TB, bucket string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := e.Client().PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{
		Bucket:                  aws.String(bucket),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled},
	})
	if err != nil {
		t.Fatalf("enable versioning on %s: %v", bucket, err)
	}
}
