package s3store_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/internal/store/s3store"
	"github.com/logkeeper/logkeeper/internal/store/storetest"
	"github.com/logkeeper/logkeeper/internal/testenv"
)

const testPartSize = s3store.MinPartSize

// newStore returns a store on bucket of the test server with 5 MiB parts
// and 2 parts in flight; client, when not nil, replaces the default one.
func newStore(t testing.TB, env testenv.S3Env, bucket, prefix string, client *s3.Client) *s3store.Store {
	t.Helper()
	if client == nil {
		client = env.Client()
	}
	s, err := s3store.New(context.Background(), s3store.Options{
		Bucket:      bucket,
		Prefix:      prefix,
		PathStyle:   true,
		PartSize:    testPartSize,
		Concurrency: 2,
		Client:      client,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	t.Parallel()
	env := testenv.S3(t)
	// With a key prefix: the other tests cover the store without one.
	storetest.Run(t, func(t *testing.T) store.Store {
		return newStore(t, env, env.NewBucket(t, false), "archive/conformance", nil)
	}, storetest.Options{PartSize: testPartSize})
}

func TestNewOptions(t *testing.T) {
	ctx := context.Background()
	client := func(endpoint string) *s3.Client {
		return s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint)})
	}
	tests := []struct {
		name    string
		opts    s3store.Options
		wantErr string // substring; "" means success
	}{
		{"loopback http", s3store.Options{Bucket: "b", Client: client("http://127.0.0.1:9000")}, ""},
		{"localhost http", s3store.Options{Bucket: "b", Client: client("http://localhost:9000")}, ""},
		{"ipv6 loopback http", s3store.Options{Bucket: "b", Client: client("http://[::1]:9000")}, ""},
		{"https anywhere", s3store.Options{Bucket: "b", Client: client("https://s3.example.com")}, ""},
		{"remote http refused", s3store.Options{Bucket: "b", Client: client("http://s3.example.com:9000")}, "plain http off loopback"},
		{"remote http allowed", s3store.Options{Bucket: "b", Client: client("http://s3.example.com:9000"), AllowHTTP: true}, ""},
		{"no bucket", s3store.Options{Client: client("https://s3.example.com")}, "bucket"},
		{"small parts", s3store.Options{Bucket: "b", PartSize: 1 << 20, Client: client("https://s3.example.com")}, "part size"},
		{"bad prefix", s3store.Options{Bucket: "b", Prefix: "a/../b", Client: client("https://s3.example.com")}, "prefix"},
		{"bad concurrency", s3store.Options{Bucket: "b", Concurrency: -1, Client: client("https://s3.example.com")}, "concurrency"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s3store.New(ctx, tc.opts)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("New: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("New: error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestNewFromEnvironment(t *testing.T) {
	t.Setenv("AWS_ENDPOINT_URL_S3", "http://192.0.2.1:9000")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	_, err := s3store.New(context.Background(), s3store.Options{Bucket: "b"})
	if err == nil || !strings.Contains(err.Error(), "http://192.0.2.1:9000") {
		t.Fatalf("New with AWS_ENDPOINT_URL_S3 on plain http off loopback: %v, want a refusal naming the endpoint", err)
	}
	t.Setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9000")
	if _, err := s3store.New(context.Background(), s3store.Options{Bucket: "b", PathStyle: true}); err != nil {
		t.Fatalf("New with a loopback AWS_ENDPOINT_URL_S3: %v", err)
	}
}

func TestDescribe(t *testing.T) {
	c := s3.New(s3.Options{Region: "us-east-1"})
	for prefix, want := range map[string]string{"": "s3://logs", "/a/b/": "s3://logs/a/b", "x": "s3://logs/x"} {
		s, err := s3store.New(context.Background(), s3store.Options{Bucket: "logs", Prefix: prefix, Client: c})
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Describe(); got != want {
			t.Errorf("Describe with prefix %q = %q, want %q", prefix, got, want)
		}
	}
}

func TestPrefixIsolation(t *testing.T) {
	t.Parallel()
	env := testenv.S3(t)
	ctx := context.Background()
	bucket := env.NewBucket(t, false)
	a := newStore(t, env, bucket, "tenant/a", nil)
	b := newStore(t, env, bucket, "tenant/ab", nil)
	if _, err := a.Put(ctx, "x", strings.NewReader("a"), store.PutOptions{Size: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Put(ctx, "x", strings.NewReader("b"), store.PutOptions{Size: 1}); err != nil {
		t.Fatal(err)
	}
	out, err := env.Client().HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: aws.String("tenant/a/x")})
	if err != nil || aws.ToInt64(out.ContentLength) != 1 {
		t.Fatalf("object not at bucket key tenant/a/x: %v", err)
	}
	var keys []string
	if err := a.List(ctx, "", func(oi store.ObjectInfo) error { keys = append(keys, oi.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0] != "x" {
		t.Fatalf("list of tenant/a = %v, want [x]", keys)
	}
}

func TestErrorsReadClearly(t *testing.T) {
	t.Parallel()
	env := testenv.S3(t)
	ctx := context.Background()
	missing := newStore(t, env, "lk-no-such-bucket-here", "", nil)
	_, err := missing.Put(ctx, "k", strings.NewReader("x"), store.PutOptions{Size: 1})
	if err == nil || !strings.Contains(err.Error(), `bucket "lk-no-such-bucket-here" does not exist`) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("put to a missing bucket: %v", err)
	}

	bad := s3.New(s3.Options{
		Region:       env.Region,
		Credentials:  testenv.S3Env{AccessKey: "LKWRONGKEY", SecretKey: "wrong-secret"}.Credentials(),
		BaseEndpoint: aws.String(env.Endpoint),
		UsePathStyle: true,
	})
	denied := newStore(t, env, env.NewBucket(t, false), "", bad)
	_, err = denied.Put(ctx, "k", strings.NewReader("x"), store.PutOptions{Size: 1})
	if err == nil || errors.Is(err, store.ErrNotFound) || !strings.Contains(err.Error(), "access key") || strings.Contains(err.Error(), "wrong-secret") {
		t.Fatalf("put with unknown credentials: %v", err)
	}
	t.Logf("errors read: %v", err)

	// versitygw's root user may do anything: a proxy stands in for a
	// policy that denies writes.
	p := newProxy(t, env)
	p.intercept = func(w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>`)
		return true
	}
	bucket := env.NewBucket(t, false)
	_, err = newStore(t, env, bucket, "pre", p.client(env)).Put(ctx, "k", strings.NewReader("x"), store.PutOptions{Size: 1})
	if err == nil || !strings.Contains(err.Error(), "access denied to s3://"+bucket+"/pre/k") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("put denied by policy: %v", err)
	}
	t.Logf("errors read: %v", err)
}

// proxy is a reverse proxy on 127.0.0.1 in front of the S3 test server. It
// records each request's method, URL and headers, and can corrupt a request
// body or add response headers.
type proxy struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []recorded
	// corrupt, if set, says whether to flip a bit of this request's body.
	corrupt func(*http.Request) bool
	// respHeader, if set, gives headers to add to the response to r.
	respHeader func(r *http.Request) http.Header
	// intercept, if set, may answer a request itself (returning true).
	intercept func(w http.ResponseWriter, r *http.Request) bool
}

type recorded struct {
	method string
	url    *url.URL
	header http.Header
}

func newProxy(t testing.TB, env testenv.S3Env) *proxy {
	t.Helper()
	target, err := url.Parse(env.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{}
	rp := &httputil.ReverseProxy{
		// Requests cancelled on purpose (a part refused, a Put cancelled)
		// are not news.
		ErrorLog: log.New(io.Discard, "", 0),
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host = target.Scheme, target.Host
			pr.Out.Host = pr.In.Host // the signature covers the host the client used
		},
		ModifyResponse: func(resp *http.Response) error {
			p.mu.Lock()
			f := p.respHeader
			p.mu.Unlock()
			if f != nil {
				for k, vs := range f(resp.Request) {
					resp.Header[http.CanonicalHeaderKey(k)] = vs
				}
			}
			return nil
		},
	}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.reqs = append(p.reqs, recorded{method: r.Method, url: r.URL, header: r.Header.Clone()})
		corrupt := p.corrupt != nil && p.corrupt(r)
		intercept := p.intercept
		p.mu.Unlock()
		if intercept != nil && intercept(w, r) {
			return
		}
		if corrupt && r.Body != nil {
			r.Body = &flipper{ReadCloser: r.Body, at: 1000}
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.Close)
	return p
}

// client is an S3 client that goes through the proxy.
func (p *proxy) client(env testenv.S3Env, optFns ...func(*s3.Options)) *s3.Client {
	return s3.New(s3.Options{
		Region:       env.Region,
		Credentials:  env.Credentials(),
		BaseEndpoint: aws.String(p.URL),
		UsePathStyle: true,
	}, optFns...)
}

func (p *proxy) requests() []recorded {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]recorded(nil), p.reqs...)
}

// flipper flips one bit of the byte at offset at of a body.
type flipper struct {
	io.ReadCloser
	at, n int
}

func (f *flipper) Read(p []byte) (int, error) {
	n, err := f.ReadCloser.Read(p)
	if i := f.at - f.n; i >= 0 && i < n {
		p[i] ^= 0x01
	}
	f.n += n
	return n, err
}

func randBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, ^seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func sha(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}

func mustNotFound(t *testing.T, s store.Store, key string) {
	t.Helper()
	if _, err := s.Head(context.Background(), key, store.GetOptions{}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("head %s: want ErrNotFound, got %v", key, err)
	}
}

func within(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
