package s3store_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/internal/store/s3store"
	"github.com/logkeeper/logkeeper/internal/testenv"
)

var errSource = errors.New("source broke")

// brokenReader yields n bytes of r, then fails.
type brokenReader struct {
	r io.Reader
	n int
}

func (b *brokenReader) Read(p []byte) (int, error) {
	if b.n <= 0 {
		return 0, errSource
	}
	p = p[:min(len(p), b.n)]
	n, err := b.r.Read(p)
	b.n -= n
	return n, err
}

// cancelAt cancels a context once n bytes have been read through it.
type cancelAt struct {
	r      io.Reader
	n      int
	cancel context.CancelFunc
}

func (c *cancelAt) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if c.n -= n; c.n <= 0 {
		c.cancel()
	}
	return n, err
}

// onlyReader hides any io.Seeker or io.ReaderAt of the reader it wraps.
type onlyReader struct{ io.Reader }

func openUploads(t *testing.T, env testenv.S3Env, bucket string) []string {
	t.Helper()
	out, err := env.Client().ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: &bucket})
	if err != nil {
		t.Fatalf("list multipart uploads: %v", err)
	}
	var ids []string
	for _, u := range out.Uploads {
		ids = append(ids, aws.ToString(u.Key)+" "+aws.ToString(u.UploadId))
	}
	return ids
}

// TestFailedPutsLeaveNoUploads: whatever makes a multipart Put fail, the
// upload is aborted before Put returns: no object, no upload, no parts.
func TestFailedPutsLeaveNoUploads(t *testing.T) {
	t.Parallel()
	env := testenv.S3(t)
	bucket := env.NewBucket(t, false)
	s := newStore(t, env, bucket, "p", nil)
	const n = 3*testPartSize + 100
	data := randBytes(n, 7)

	tests := []struct {
		name string
		put  func(ctx context.Context, key string) error
		want error // errors.Is target, if any
	}{
		{"reader fails, size known", func(ctx context.Context, key string) error {
			_, err := s.Put(ctx, key, &brokenReader{r: bytes.NewReader(data), n: 2*testPartSize + 10}, store.PutOptions{Size: n})
			return err
		}, errSource},
		{"reader fails, size unknown", func(ctx context.Context, key string) error {
			_, err := s.Put(ctx, key, &brokenReader{r: bytes.NewReader(data), n: testPartSize + 1}, store.PutOptions{Size: -1})
			return err
		}, errSource},
		{"reader short", func(ctx context.Context, key string) error {
			_, err := s.Put(ctx, key, bytes.NewReader(data[:n-1]), store.PutOptions{Size: n})
			return err
		}, store.ErrSizeMismatch},
		{"reader long", func(ctx context.Context, key string) error {
			_, err := s.Put(ctx, key, bytes.NewReader(data), store.PutOptions{Size: n - 1})
			return err
		}, store.ErrSizeMismatch},
		{"context cancelled", func(ctx context.Context, key string) error {
			ctx, cancel := context.WithCancel(ctx)
			defer cancel()
			_, err := s.Put(ctx, key, &cancelAt{r: bytes.NewReader(data), n: 2 * testPartSize, cancel: cancel}, store.PutOptions{Size: n})
			return err
		}, context.Canceled},
		{"deadline", func(ctx context.Context, key string) error {
			ctx, cancel := context.WithTimeout(ctx, time.Millisecond)
			defer cancel()
			slow := io.MultiReader(bytes.NewReader(data[:testPartSize+1]), readerFunc(func(p []byte) (int, error) {
				<-ctx.Done()
				return 0, ctx.Err()
			}))
			_, err := s.Put(ctx, key, slow, store.PutOptions{Size: -1})
			return err
		}, context.DeadlineExceeded},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key := fmt.Sprintf("failed/%d", i)
			err := tc.put(within(t, time.Minute), key)
			if err == nil {
				t.Fatal("put succeeded")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want one wrapping %v", err, tc.want)
			}
			mustNotFound(t, s, key)
			if ids := openUploads(t, env, bucket); len(ids) > 0 {
				t.Fatalf("uploads left after a failed put: %v", ids)
			}
			if held, _, _ := s3store.BufferStats(s); held != 0 {
				t.Fatalf("%d buffer bytes still held after the put returned", held)
			}
		})
	}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

func TestConditionalMultipartCreate(t *testing.T) {
	t.Parallel()
	env := testenv.S3(t)
	bucket := env.NewBucket(t, false)
	s := newStore(t, env, bucket, "", nil)
	ctx := within(t, time.Minute)
	first := randBytes(2*testPartSize+1, 1)
	if _, err := s.Put(ctx, "m", bytes.NewReader(first), store.PutOptions{Size: int64(len(first)), IfNotExists: true}); err != nil {
		t.Fatal(err)
	}
	second := randBytes(2*testPartSize+1, 2)
	_, err := s.Put(ctx, "m", bytes.NewReader(second), store.PutOptions{Size: -1, IfNotExists: true})
	if !errors.Is(err, store.ErrExists) {
		t.Fatalf("second conditional multipart create: want ErrExists, got %v", err)
	}
	rc, _, err := s.Get(ctx, "m", store.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, first) {
		t.Fatalf("content after refused create differs from the first object (%v)", err)
	}
	if ids := openUploads(t, env, bucket); len(ids) > 0 {
		t.Fatalf("uploads left after a refused create: %v", ids)
	}
}

// TestServerRejectsWrongChecksum shows, at the SDK level, the server check
// Put relies on: a part or object whose SHA-256 checksum does not match its
// bytes is refused, with a code of the "corrupted bytes" class (BadDigest on
// versitygw and AWS, XAmzContentChecksumMismatch on MinIO).
func TestServerRejectsWrongChecksum(t *testing.T) {
	t.Parallel()
	env := testenv.S3(t)
	bucket := env.NewBucket(t, false)
	c := env.Client()
	ctx := within(t, time.Minute)
	body := []byte("the bytes that are sent")
	wrong := base64.StdEncoding.EncodeToString(sha([]byte("other bytes")))

	_, err := c.PutObject(ctx, &s3.PutObjectInput{
		Bucket: &bucket, Key: aws.String("single"), Body: bytes.NewReader(body),
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256, ChecksumSHA256: &wrong,
	})
	wantCorrupted(t, "PutObject", err)

	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: &bucket, Key: aws.String("multi"),
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256, ChecksumType: types.ChecksumTypeComposite,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.AbortMultipartUpload(context.Background(), &s3.AbortMultipartUploadInput{Bucket: &bucket, Key: aws.String("multi"), UploadId: up.UploadId})
	_, err = c.UploadPart(ctx, &s3.UploadPartInput{
		Bucket: &bucket, Key: aws.String("multi"), UploadId: up.UploadId, PartNumber: aws.Int32(1),
		Body: bytes.NewReader(body), ChecksumAlgorithm: types.ChecksumAlgorithmSha256, ChecksumSHA256: &wrong,
	})
	wantCorrupted(t, "UploadPart", err)
	parts, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: &bucket, Key: aws.String("multi"), UploadId: up.UploadId})
	if err != nil {
		t.Fatal(err)
	}
	if len(parts.Parts) != 0 {
		t.Fatalf("a part with a wrong checksum was stored: %+v", parts.Parts)
	}
}

// wantCorrupted: err is a refusal of corrupted bytes, as the raw SDK error
// of the server's code or as Put's store.ErrCorrupted.
func wantCorrupted(t *testing.T, op string, err error) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || !s3store.IsCorruptCode(ae.ErrorCode()) {
		t.Fatalf("%s with a wrong SHA-256 checksum: want a refusal of corrupted bytes, got %v", op, err)
	}
	if strings.HasPrefix(op, "Put ") && !errors.Is(err, store.ErrCorrupted) {
		t.Fatalf("%s: %v does not wrap store.ErrCorrupted", op, err)
	}
}

// unsignedPayload makes the client sign requests with UNSIGNED-PAYLOAD, so
// that a body changed in transit is caught by the checksum and nothing else.
func unsignedPayload(o *s3.Options) {
	o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
		// The signer's payload-hash step; its id changed across SDK versions.
		var id string
		for _, name := range []string{"ComputePayloadHash", "ComputePayloadSHA256"} {
			if _, ok := st.Finalize.Get(name); ok {
				id = name
			}
		}
		if id == "" {
			return nil // an operation without a payload to sign
		}
		return st.Finalize.Insert(middleware.FinalizeMiddlewareFunc("testUnsignedPayload",
			func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (
				middleware.FinalizeOutput, middleware.Metadata, error,
			) {
				return next.HandleFinalize(v4.SetPayloadHash(ctx, "UNSIGNED-PAYLOAD"), in)
			}), id, middleware.Before)
	})
}

// TestCorruptionInTransitRejected flips one bit of a part (and of a single
// PutObject) between Put and the server. The request is signed without a
// payload hash, so only the SHA-256 checksum Put sends can catch it: the
// server must refuse the data, and Put must fail and leave nothing.
func TestCorruptionInTransitRejected(t *testing.T) {
	t.Parallel()
	env := testenv.S3(t)
	bucket := env.NewBucket(t, false)
	p := newProxy(t, env)
	s := newStore(t, env, bucket, "", p.client(env, unsignedPayload))
	ctx := within(t, time.Minute)
	multi := randBytes(3*testPartSize, 3)

	// Without corruption the same path works: the failure below is the checksum's.
	if _, err := s.Put(ctx, "control", bytes.NewReader(multi), store.PutOptions{Size: -1}); err != nil {
		t.Fatalf("put through the proxy without corruption: %v", err)
	}
	var sawUnsigned bool
	for _, r := range p.requests() {
		if r.method == http.MethodPut && r.header.Get("X-Amz-Content-Sha256") == "UNSIGNED-PAYLOAD" {
			sawUnsigned = true
		}
	}
	if !sawUnsigned {
		t.Fatal("the test client did not send UNSIGNED-PAYLOAD: the test would not isolate the checksum")
	}

	p.mu.Lock()
	p.corrupt = func(r *http.Request) bool {
		return r.Method == http.MethodPut && (r.URL.Query().Get("partNumber") == "2" || r.URL.Query().Get("uploadId") == "")
	}
	p.mu.Unlock()
	for _, tc := range []struct {
		name string
		data []byte
	}{{"multipart", multi}, {"single", randBytes(100_000, 4)}} {
		t.Run(tc.name, func(t *testing.T) {
			key := "corrupt/" + tc.name
			_, err := s.Put(ctx, key, bytes.NewReader(tc.data), store.PutOptions{Size: int64(len(tc.data))})
			wantCorrupted(t, "Put of a body corrupted in transit", err)
			mustNotFound(t, s, key)
			if ids := openUploads(t, env, bucket); len(ids) > 0 {
				t.Fatalf("uploads left after a rejected part: %v", ids)
			}
		})
	}
}

// TestBufferBudget: concurrent Puts on one Store share one buffer budget of
// (Concurrency+1) x PartSize, and every buffer returns to it.
func TestBufferBudget(t *testing.T) {
	t.Parallel()
	env := testenv.S3(t)
	s := newStore(t, env, env.NewBucket(t, false), "", nil)
	ctx := within(t, 2*time.Minute)
	data := randBytes(4*testPartSize+3, 9)
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		wg.Go(func() {
			var r io.Reader = onlyReader{bytes.NewReader(data)}
			if i == 5 {
				r = &brokenReader{r: r, n: 3 * testPartSize}
			}
			_, errs[i] = s.Put(ctx, fmt.Sprintf("budget/%d", i), r, store.PutOptions{Size: -1})
		})
	}
	wg.Wait()
	for i, err := range errs[:5] {
		if err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
	}
	if !errors.Is(errs[5], errSource) {
		t.Fatalf("failing put: %v", errs[5])
	}
	held, peak, budget := s3store.BufferStats(s)
	if held != 0 {
		t.Fatalf("%d bytes of buffers not returned", held)
	}
	if budget != 3*testPartSize || peak > budget {
		t.Fatalf("peak %d bytes in buffers, budget %d, want at most 3 parts of %d", peak, budget, testPartSize)
	}
	t.Logf("6 concurrent puts of %d bytes: at most %d bytes in part buffers (budget %d)", len(data), peak, budget)
}

func TestPutRejectsBadOptions(t *testing.T) {
	c := s3.New(s3.Options{Region: "us-east-1"})
	s, err := s3store.New(context.Background(), s3store.Options{Bucket: "b", Client: c})
	if err != nil {
		t.Fatal(err)
	}
	for name, opts := range map[string]store.PutOptions{
		"retention mode":  {Size: 1, Retention: &store.Retention{Mode: "FOREVER", Until: time.Now().Add(time.Hour)}},
		"retention until": {Size: 1, Retention: &store.Retention{Mode: "COMPLIANCE"}},
		"sse algorithm":   {Size: 1, SSE: &store.SSE{Algorithm: "AES256"}},
	} {
		if _, err := s.Put(context.Background(), "k", strings.NewReader("x"), opts); err == nil {
			t.Errorf("%s: put accepted %+v", name, opts)
		}
	}
}

// revivedUpload makes the proxy answer the first abort itself, with the
// 204 of a successful abort, without passing it on: after it the upload is
// still on the server, as it is when a part the server was still storing
// lands after an abort. S3 documents that in-flight parts "might succeed or
// fail" after an abort, and versitygw's UploadPart recreates the upload's
// folder when it links a part. That race cannot be staged through a proxy
// (the server reads the whole body before it checks the upload), so the
// proxy stages its outcome. hold, if set, is the part number whose first
// request the proxy keeps until the client gives up on it. held is closed
// once a held part's client has given up; swallowed once the abort was
// answered.
func revivedUpload(t *testing.T, p *proxy, hold string) (held, swallowed <-chan struct{}) {
	t.Helper()
	var (
		once, first         sync.Once
		heldCh, swallowedCh = make(chan struct{}), make(chan struct{})
	)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.intercept = func(w http.ResponseWriter, r *http.Request) bool {
		q := r.URL.Query()
		if r.Method == http.MethodDelete && q.Has("uploadId") {
			answered := false
			once.Do(func() {
				w.WriteHeader(http.StatusNoContent)
				answered = true
				close(swallowedCh)
			})
			return answered
		}
		if hold == "" || r.Method != http.MethodPut || q.Get("partNumber") != hold {
			return false
		}
		keep := false
		first.Do(func() { keep = true })
		if !keep {
			return false
		}
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-time.After(20 * time.Second):
		}
		close(heldCh)
		return true
	}
	return heldCh, swallowedCh
}

// TestLatePartAfterAbort: when a Put fails with a part request cut short,
// the server may store that part after the abort and bring the upload back.
// Put must abort again until the upload stays gone, and leave nothing.
func TestLatePartAfterAbort(t *testing.T) {
	t.Parallel()
	env := testenv.S3(t)
	bucket := env.NewBucket(t, false)
	p := newProxy(t, env)
	s := newStore(t, env, bucket, "", p.client(env, unsignedPayload))
	ctx := within(t, time.Minute)
	held, swallowed := revivedUpload(t, p, "1")
	p.mu.Lock()
	p.corrupt = func(r *http.Request) bool {
		return r.Method == http.MethodPut && r.URL.Query().Get("partNumber") == "2"
	}
	p.mu.Unlock()
	data := randBytes(3*testPartSize, 7)
	_, err := s.Put(ctx, "late/part", bytes.NewReader(data), store.PutOptions{Size: int64(len(data))})
	wantCorrupted(t, "Put with part 2 corrupted", err)
	for name, ch := range map[string]<-chan struct{}{"part 1 was not cut short": held, "no abort was sent": swallowed} {
		select {
		case <-ch:
		default:
			t.Fatal(name)
		}
	}
	mustNotFound(t, s, "late/part")
	if ids := openUploads(t, env, bucket); len(ids) > 0 {
		t.Fatalf("uploads left after an abort the upload survived: %v", ids)
	}
}
