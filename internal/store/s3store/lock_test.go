package s3store_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"

	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/internal/testenv"
)

func TestObjectLockRetention(t *testing.T) {
	t.Parallel()
	env := testenv.S3(t)
	ctx := within(t, time.Minute)
	until := time.Now().Add(10 * time.Minute).UTC().Truncate(time.Second)
	ret := &store.Retention{Mode: "COMPLIANCE", Until: until}

	locked := newStore(t, env, env.NewBucket(t, true), "", nil)
	for name, n := range map[string]int{"single": 1000, "multipart": 2*testPartSize + 1} {
		t.Run(name, func(t *testing.T) {
			key := "locked/" + name
			info, err := locked.Put(ctx, key, bytes.NewReader(randBytes(n, 5)), store.PutOptions{Size: int64(n), Retention: ret})
			if err != nil {
				t.Fatal(err)
			}
			if info.Retention == nil || *info.Retention != *ret {
				t.Fatalf("put reports retention %+v, want %+v", info.Retention, ret)
			}
			h, err := locked.Head(ctx, key, store.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if h.Retention == nil || h.Retention.Mode != "COMPLIANCE" || !h.Retention.Until.Equal(until) {
				t.Fatalf("head reports retention %+v, want COMPLIANCE until %v", h.Retention, until)
			}
		})
	}

	bucket := env.NewBucket(t, false)
	plain := newStore(t, env, bucket, "", nil)
	for name, n := range map[string]int{"single": 1000, "multipart": 2*testPartSize + 1} {
		t.Run("no lock/"+name, func(t *testing.T) {
			key := "unlocked/" + name
			_, err := plain.Put(ctx, key, bytes.NewReader(randBytes(n, 6)), store.PutOptions{Size: int64(n), Retention: ret})
			if err == nil {
				t.Fatal("put with retention on a bucket without Object Lock succeeded")
			}
			msg := err.Error()
			if !strings.Contains(msg, "Object Lock") || !strings.Contains(msg, bucket) || !strings.Contains(msg, key) || strings.Contains(msg, "\n") {
				t.Fatalf("error does not say in one line that bucket %s lacks Object Lock for %s: %v", bucket, key, err)
			}
			t.Logf("error reads: %v", err)
			mustNotFound(t, plain, key)
			if ids := openUploads(t, env, bucket); len(ids) > 0 {
				t.Fatalf("uploads left: %v", ids)
			}
		})
	}
}

func TestVersionsOnVersionedBucket(t *testing.T) {
	t.Parallel()
	env := testenv.S3(t)
	ctx := within(t, time.Minute)
	bucket := env.NewBucket(t, false)
	env.EnableVersioning(t, bucket)
	s := newStore(t, env, bucket, "v", nil)

	v1, err := s.Put(ctx, "obj", strings.NewReader("one"), store.PutOptions{Size: 3})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // distinct LastModified seconds
	v2, err := s.Put(ctx, "obj", strings.NewReader("second"), store.PutOptions{Size: 6})
	if err != nil {
		t.Fatal(err)
	}
	// Keys that share the prefix must not show up in obj's history.
	for _, k := range []string{"obj2", "obj.x", "ob"} {
		if _, err := s.Put(ctx, k, strings.NewReader("x"), store.PutOptions{Size: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if v1.VersionID == "" || v2.VersionID == "" || v1.VersionID == v2.VersionID {
		t.Fatalf("version ids %q, %q: want two distinct ids", v1.VersionID, v2.VersionID)
	}
	time.Sleep(1100 * time.Millisecond)
	if err := s.Delete(ctx, "obj"); err != nil {
		t.Fatal(err)
	}

	vs, err := s.Versions(ctx, "obj")
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 3 {
		t.Fatalf("versions = %+v, want a delete marker and two versions", vs)
	}
	if !vs[0].DeleteMarker || !vs[0].IsLatest {
		t.Errorf("newest entry %+v: want the latest, a delete marker", vs[0])
	}
	if vs[1].VersionID != v2.VersionID || vs[1].IsLatest || vs[1].DeleteMarker || vs[1].Size != 6 {
		t.Errorf("second entry %+v: want version %s of 6 bytes", vs[1], v2.VersionID)
	}
	if vs[2].VersionID != v1.VersionID || vs[2].Size != 3 {
		t.Errorf("third entry %+v: want version %s of 3 bytes", vs[2], v1.VersionID)
	}

	if _, err := s.Head(ctx, "obj", store.GetOptions{}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("head of a deleted key: want ErrNotFound, got %v", err)
	}
	rc, info, err := s.Get(ctx, "obj", store.GetOptions{VersionID: v1.VersionID})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "one" || info.VersionID != v1.VersionID {
		t.Fatalf("get of version 1 = %q (version %q)", b, info.VersionID)
	}
	// A well-formed id that names no version (a malformed one is a 400).
	// The last character changes within its own class (digit, lower or
	// upper case letter): MinIO's UUIDs compare case-insensitively, so
	// 'a' -> 'A' would name the same version (1 run in 16 failed).
	other := []byte(v1.VersionID)
	other[len(other)-1] = otherChar(other[len(other)-1])
	if _, err := s.Head(ctx, "obj", store.GetOptions{VersionID: string(other)}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("head of a missing version: want ErrNotFound, got %v", err)
	}
}

// TestObjectLockRefusedByServer: when the Object Lock check is not allowed
// (here the proxy denies GetObjectLockConfiguration), the Put goes ahead and
// the server's refusal still reads clearly. (versitygw 1.8 then keeps the
// object without retention, which is why Put checks first when it can.)
func TestObjectLockRefusedByServer(t *testing.T) {
	t.Parallel()
	env := testenv.S3(t)
	ctx := within(t, time.Minute)
	bucket := env.NewBucket(t, false)
	p := newProxy(t, env)
	p.intercept = func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodGet || !r.URL.Query().Has("object-lock") {
			return false
		}
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>`)
		return true
	}
	s := newStore(t, env, bucket, "", p.client(env))
	ret := &store.Retention{Mode: "GOVERNANCE", Until: time.Now().Add(time.Hour)}
	_, err := s.Put(ctx, "k", strings.NewReader("x"), store.PutOptions{Size: 1, Retention: ret})
	if err == nil || !strings.Contains(err.Error(), "does not have Object Lock enabled") || !strings.Contains(err.Error(), bucket) {
		t.Fatalf("put with retention on a bucket without Object Lock: %v", err)
	}
	t.Logf("error reads: %v", err)
}

// smallPages makes the client ask for pages of n entries, so that a few
// objects exercise the paging of List and Versions.
func smallPages(n int32) func(*s3.Options) {
	return func(o *s3.Options) {
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			return st.Initialize.Add(middleware.InitializeMiddlewareFunc("testSmallPages",
				func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (
					middleware.InitializeOutput, middleware.Metadata, error,
				) {
					switch p := in.Parameters.(type) {
					case *s3.ListObjectsV2Input:
						p.MaxKeys = aws.Int32(n)
					case *s3.ListObjectVersionsInput:
						p.MaxKeys = aws.Int32(n)
					}
					return next.HandleInitialize(ctx, in)
				}), middleware.Before)
		})
	}
}

func TestPaging(t *testing.T) {
	t.Parallel()
	env := testenv.S3(t)
	ctx := within(t, time.Minute)
	bucket := env.NewBucket(t, false)
	env.EnableVersioning(t, bucket)
	p := newProxy(t, env)
	s := newStore(t, env, bucket, "pg", p.client(env, smallPages(2)))
	var want []string
	for _, k := range []string{"a", "a-b", "a.", "a0", "b"} {
		for range 3 {
			if _, err := s.Put(ctx, k, strings.NewReader("x"), store.PutOptions{Size: 1}); err != nil {
				t.Fatal(err)
			}
		}
		want = append(want, k)
	}
	var got []string
	if err := s.List(ctx, "", func(oi store.ObjectInfo) error { got = append(got, oi.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("list in pages of 2 = %v, want %v", got, want)
	}
	for _, k := range []string{"a", "a0", "b"} {
		vs, err := s.Versions(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		if len(vs) != 3 || !vs[0].IsLatest || vs[1].IsLatest || vs[2].IsLatest {
			t.Fatalf("versions of %s in pages of 2 = %+v, want 3, the first latest", k, vs)
		}
	}
	var lists, versions int
	for _, r := range p.requests() {
		switch q := r.url.Query(); {
		case q.Get("list-type") == "2":
			lists++
		case q.Has("versions"):
			versions++
		}
	}
	// 5 keys in pages of 2; 3 versions each in pages of 2 (a0 and b also
	// see the next key or the end on their second page).
	if lists < 3 || versions < 6 {
		t.Fatalf("%d ListObjectsV2 and %d ListObjectVersions requests: the listings were not paged", lists, versions)
	}
}

// otherChar returns a character of c's class (digit, lower case, upper
// case) that is not c, even ignoring case.
func otherChar(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		if c == '0' {
			return '1'
		}
		return '0'
	case c >= 'a' && c <= 'z':
		if c == 'a' {
			return 'b'
		}
		return 'a'
	default:
		if c == 'A' {
			return 'B'
		}
		return 'A'
	}
}
