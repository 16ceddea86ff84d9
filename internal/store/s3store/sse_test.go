package s3store_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"maps"
	"net/http"
	"testing"
	"time"

	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/internal/testenv"
)

// TestSSEHeadersSent checks what Put sends for SSE-KMS: versitygw accepts
// and ignores SSE, so a recording proxy looks at the requests themselves.
func TestSSEHeadersSent(t *testing.T) {
	t.Parallel()
	env := testenv.S3(t)
	p := newProxy(t, env)
	s := newStore(t, env, env.NewBucket(t, false), "sse", p.client(env))
	ctx := within(t, time.Minute)
	keyID := "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	if env.Encrypts {
		keyID = env.SSEKey // a server that encrypts needs a key it knows
	}
	sse := &store.SSE{
		Algorithm: "aws:kms",
		KMSKeyID:  keyID,
		Context:   map[string]string{"logkeeper:stream": "edge-1", "logkeeper:run": "2026-01-02T03:04:05Z"},
	}
	multi := randBytes(2*testPartSize+5, 8)
	for name, data := range map[string][]byte{"single": []byte("hello"), "multipart": multi} {
		info, err := s.Put(ctx, name, bytes.NewReader(data), store.PutOptions{Size: int64(len(data)), SSE: sse, IfNotExists: true})
		if err != nil {
			t.Fatalf("put %s: %v", name, err)
		}
		if info.SSE == nil || info.SSE.KMSKeyID != sse.KMSKeyID || !maps.Equal(info.SSE.Context, sse.Context) {
			t.Fatalf("put %s reports SSE %+v", name, info.SSE)
		}
	}

	var put, create, parts, complete int
	for _, r := range p.requests() {
		q := r.url.Query()
		switch {
		case r.method == http.MethodPut && !q.Has("uploadId"): // PutObject
			put++
			wantSSE(t, "PutObject", r.header, sse)
			wantHeader(t, "PutObject", r.header, "X-Amz-Checksum-Sha256", base64.StdEncoding.EncodeToString(sha([]byte("hello"))))
			wantHeader(t, "PutObject", r.header, "If-None-Match", "*")
		case r.method == http.MethodPost && q.Has("uploads"): // CreateMultipartUpload
			create++
			wantSSE(t, "CreateMultipartUpload", r.header, sse)
			wantHeader(t, "CreateMultipartUpload", r.header, "X-Amz-Checksum-Algorithm", "SHA256")
			wantHeader(t, "CreateMultipartUpload", r.header, "X-Amz-Checksum-Type", "COMPOSITE")
		case r.method == http.MethodPut: // UploadPart
			parts++
			if v := r.header.Get("X-Amz-Server-Side-Encryption"); v != "" {
				t.Errorf("UploadPart sent SSE header %q: S3 refuses SSE-KMS headers on parts", v)
			}
			var i int
			switch q.Get("partNumber") {
			case "1":
				i = 0
			case "2":
				i = 1
			case "3":
				i = 2
			}
			part := multi[i*testPartSize : min((i+1)*testPartSize, len(multi))]
			wantHeader(t, "UploadPart", r.header, "X-Amz-Checksum-Sha256", base64.StdEncoding.EncodeToString(sha(part)))
			// The payload hash signed is the part's SHA-256, computed once.
			wantHeader(t, "UploadPart", r.header, "X-Amz-Content-Sha256", hexOf(sha(part)))
		case r.method == http.MethodPost && q.Has("uploadId"): // CompleteMultipartUpload
			complete++
			wantHeader(t, "CompleteMultipartUpload", r.header, "If-None-Match", "*")
		}
	}
	if put != 1 || create != 1 || parts != 3 || complete != 1 {
		t.Fatalf("saw %d PutObject, %d CreateMultipartUpload, %d UploadPart, %d Complete; want 1, 1, 3, 1", put, create, parts, complete)
	}
}

func wantSSE(t *testing.T, op string, h http.Header, sse *store.SSE) {
	t.Helper()
	wantHeader(t, op, h, "X-Amz-Server-Side-Encryption", "aws:kms")
	wantHeader(t, op, h, "X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id", sse.KMSKeyID)
	raw, err := base64.StdEncoding.DecodeString(h.Get("X-Amz-Server-Side-Encryption-Context"))
	if err != nil {
		t.Fatalf("%s: encryption context header is not base64: %v", op, err)
	}
	var got map[string]string
	if err := json.Unmarshal(raw, &got); err != nil || !maps.Equal(got, sse.Context) {
		t.Fatalf("%s: encryption context %s (%v), want %v", op, raw, err, sse.Context)
	}
}

func wantHeader(t *testing.T, op string, h http.Header, name, want string) {
	t.Helper()
	if got := h.Get(name); got != want {
		t.Errorf("%s: %s = %q, want %q", op, name, got, want)
	}
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

// TestSSEContextRead: the encryption context, which the SDK has no output
// field for, is read from the raw response header of Head and Get. The
// proxy adds the headers a KMS-capable server (AWS, SeaweedFS) returns.
func TestSSEContextRead(t *testing.T) {
	t.Parallel()
	env := testenv.S3(t)
	p := newProxy(t, env)
	s := newStore(t, env, env.NewBucket(t, false), "", p.client(env))
	ctx := within(t, time.Minute)
	if _, err := s.Put(ctx, "obj", bytes.NewReader([]byte("hello")), store.PutOptions{Size: 5}); err != nil {
		t.Fatal(err)
	}
	want := &store.SSE{
		Algorithm: "aws:kms",
		KMSKeyID:  "arn:aws:kms:us-east-1:111122223333:key/k1",
		Context:   map[string]string{"logkeeper:stream": "edge-1", "aws:s3:arn": "arn:aws:s3:::b/obj"},
	}
	ctxJSON, _ := json.Marshal(want.Context)
	contextHeader := base64.StdEncoding.EncodeToString(ctxJSON)
	p.mu.Lock()
	p.respHeader = func(r *http.Request) http.Header {
		return http.Header{
			"X-Amz-Server-Side-Encryption":                {"aws:kms"},
			"X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id": {want.KMSKeyID},
			"X-Amz-Server-Side-Encryption-Context":        {contextHeader},
		}
	}
	p.mu.Unlock()

	h, err := s.Head(ctx, "obj", store.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if h.SSE == nil || h.SSE.Algorithm != want.Algorithm || h.SSE.KMSKeyID != want.KMSKeyID || !maps.Equal(h.SSE.Context, want.Context) {
		t.Fatalf("head SSE = %+v, want %+v", h.SSE, want)
	}
	rc, g, err := s.Get(ctx, "obj", store.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if g.SSE == nil || !maps.Equal(g.SSE.Context, want.Context) {
		t.Fatalf("get SSE = %+v, want %+v", g.SSE, want)
	}

	p.mu.Lock()
	p.respHeader = func(r *http.Request) http.Header {
		return http.Header{"X-Amz-Server-Side-Encryption": {"aws:kms"}, "X-Amz-Server-Side-Encryption-Context": {"not base64 JSON!"}}
	}
	p.mu.Unlock()
	if _, err := s.Head(ctx, "obj", store.GetOptions{}); err == nil {
		t.Fatal("head accepted a malformed encryption context header")
	}

	p.mu.Lock()
	p.respHeader = nil
	p.mu.Unlock()
	if h, err := s.Head(ctx, "obj", store.GetOptions{}); err != nil || h.SSE != nil {
		t.Fatalf("head without SSE headers: SSE %+v, %v", h.SSE, err)
	}
}
