package app

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/logkeeper/logkeeper/custody"
	"github.com/logkeeper/logkeeper/export"
	"github.com/logkeeper/logkeeper/internal/config"
	"github.com/logkeeper/logkeeper/internal/signing"
	"github.com/logkeeper/logkeeper/internal/store/memstore"
)

// stsServer answers GetCallerIdentity on 127.0.0.1 with status code and
// body, counting the requests and remembering their Authorization.
func stsServer(t *testing.T, code int, body string) (string, *atomic.Int32, *atomic.Value) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int32
	var auth atomic.Value
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		auth.Store(r.Header.Get("Authorization"))
		if err := r.ParseForm(); err != nil || r.Form.Get("Action") != "GetCallerIdentity" {
			t.Errorf("STS request %v: %v", r.Form, err)
		}
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(code)
		w.Write([]byte(body))
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String(), &n, &auth
}

const callerIdentity = `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <GetCallerIdentityResult>
    <Arn>arn:aws:sts::123456789012:assumed-role/Counsel/jane</Arn>
    <UserId>AROAEXAMPLE:jane</UserId>
    <Account>123456789012</Account>
  </GetCallerIdentityResult>
  <ResponseMetadata><RequestId>01234567-89ab-cdef-0123-456789abcdef</RequestId></ResponseMetadata>
</GetCallerIdentityResponse>`

const accessDenied = `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error><Type>Sender</Type><Code>InvalidClientTokenId</Code><Message>The security token AKIATESTKEYID0000000 included in the request is invalid.</Message></Error>
  <RequestId>01234567-89ab-cdef-0123-456789abcdef</RequestId>
</ErrorResponse>`

// awsEnv points the SDK at nothing but what the test sets: no profile,
// no shared files, test credentials.
func awsEnv(t *testing.T) {
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIATESTKEYID0000000")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test-secret-do-not-log")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_ENDPOINT_URL", "")
	t.Setenv("AWS_ENDPOINT_URL_STS", "")
	t.Setenv("AWS_ENDPOINT_URL_S3", "")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

func s3Config() *config.Config {
	return &config.Config{Store: config.Store{Scheme: config.SchemeS3, Bucket: "b"}}
}

func TestResolveActor(t *testing.T) {
	ctx := context.Background()
	awsEnv(t)
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	// --actor wins, whatever the store; a file store is the OS user.
	if got := ResolveActor(ctx, s3Config(), "alice", log); got != "alice" {
		t.Fatalf("--actor alice: %q", got)
	}
	if got := ResolveActor(ctx, &config.Config{Store: config.Store{Scheme: config.SchemeFile}}, "", log); got != OSUser() {
		t.Fatalf("file store: %q, want the OS user %q", got, OSUser())
	}

	// An explicit STS endpoint answers: the caller's ARN, signed with the
	// credentials (their key id, never the secret).
	ep, n, auth := stsServer(t, 200, callerIdentity)
	t.Setenv("AWS_ENDPOINT_URL_STS", ep)
	if got := ResolveActor(ctx, s3Config(), "", log); got != "arn:aws:sts::123456789012:assumed-role/Counsel/jane" || n.Load() != 1 {
		t.Fatalf("STS at %s: %q after %d requests", ep, got, n.Load())
	}
	if a, _ := auth.Load().(string); !strings.Contains(a, "AKIATESTKEYID0000000") || strings.Contains(a, "test-secret") {
		t.Fatalf("STS request authorization %q", a)
	}

	// A failing STS: the OS user, with a warning naming the error code and
	// nothing the server said (its message quotes the key id).
	ep, n, _ = stsServer(t, 403, accessDenied)
	t.Setenv("AWS_ENDPOINT_URL_STS", ep)
	logs.Reset()
	if got := ResolveActor(ctx, s3Config(), "", log); got != OSUser() || n.Load() == 0 {
		t.Fatalf("failing STS: %q after %d requests", got, n.Load())
	}
	if w := logs.String(); !strings.Contains(w, "level=WARN") || !strings.Contains(w, "InvalidClientTokenId") ||
		strings.Contains(w, "AKIATESTKEYID0000000") || strings.Contains(w, "test-secret") {
		t.Fatalf("warning of a failing STS call: %s", w)
	}

	// An STS that does not answer at all: the OS user, warned.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + ln.Addr().String()
	ln.Close()
	t.Setenv("AWS_ENDPOINT_URL_STS", dead)
	logs.Reset()
	if got := ResolveActor(ctx, s3Config(), "", log); got != OSUser() || !strings.Contains(logs.String(), "level=WARN") {
		t.Fatalf("unreachable STS: %q, log %s", got, logs.String())
	}

	// A store on another S3 server and no STS endpoint: AWS is not asked
	// (its credentials are that server's), the OS user is recorded.
	ep, n, _ = stsServer(t, 200, callerIdentity)
	t.Setenv("AWS_ENDPOINT_URL_STS", "")
	t.Setenv("AWS_ENDPOINT_URL_S3", ep)
	if got := ResolveActor(ctx, s3Config(), "", log); got != OSUser() || n.Load() != 0 {
		t.Fatalf("custom S3 endpoint, no STS endpoint: %q after %d requests", got, n.Load())
	}
	// AWS_ENDPOINT_URL sets every service's endpoint, STS's too.
	t.Setenv("AWS_ENDPOINT_URL", ep)
	if got := ResolveActor(ctx, s3Config(), "", log); !strings.HasPrefix(got, "arn:aws:sts::") || n.Load() != 1 {
		t.Fatalf("AWS_ENDPOINT_URL: %q after %d requests", got, n.Load())
	}
}

// The daemon's runner records every run that wrote a manifest (each part
// of a run sealed in parts), as the resolved actor; a run that wrote
// nothing records nothing, and its error is the run's.
func TestRecordingRunner(t *testing.T) {
	ctx := context.Background()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, err := signing.NewKeySigner(priv)
	if err != nil {
		t.Fatal(err)
	}
	st := memstore.New(memstore.Options{})
	rec := &Recorder{Store: st, Signer: signer, Actor: "scheduler"}
	res := &export.Result{RunID: "r1", Stream: "edge", Files: 3, Bytes: 30, Parts: 2,
		Sealed: []export.Sealed{{Sequence: 7, SHA256: "aa"}, {Sequence: 8, SHA256: "bb"}}}
	fail := errors.New("source down")
	runs := []struct {
		res *export.Result
		err error
	}{{res, nil}, {nil, fail}}
	for _, r := range runs {
		run := RecordingRunner(func(context.Context, time.Time, string) (*export.Result, error) { return r.res, r.err },
			rec, slog.New(slog.DiscardHandler))
		if got, err := run(ctx, time.Now(), "scheduled"); got != r.res || err != r.err {
			t.Fatalf("runner returned %v %v, want the run's %v %v", got, err, r.res, r.err)
		}
	}
	rep, err := custody.ReadLog(ctx, st, signer.Public())
	if err != nil || len(rep.Problems) != 0 || len(rep.Events) != 1 {
		t.Fatalf("log: %+v %v", rep, err)
	}
	e := rep.Events[0].Event
	if e.Type != custody.EventExportRun || e.Actor != "scheduler" || e.Reason != "scheduled" || e.Stream != "edge" || e.Host == "" ||
		e.Details["sequences"] != "7,8" || e.Details["manifest_sha256"] != "aa,bb" || e.Details["run_id"] != "r1" || e.Details["parts"] != "2" {
		t.Fatalf("event %+v", e)
	}
}
