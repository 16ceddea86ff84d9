package tsa

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/digitorus/timestamp"

	"github.com/logkeeper/logkeeper/internal/testenv"
)

func roots(t testing.TB, path string) *x509.CertPool {
	t.Helper()
	p, err := LoadRoots(path)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// A token from the test authority (openssl ts -reply) verifies, attests a
// time near ours, and is refused for any other message.
func TestStampOpenSSL(t *testing.T) {
	env := testenv.TSA(t)
	c := &Client{URL: env.URL, Roots: roots(t, env.Roots)}
	msg := []byte("origin\n3\nroot\n")
	before := time.Now().Add(-2 * time.Second)
	token, st, err := c.Stamp(context.Background(), msg)
	if err != nil {
		t.Fatal(err)
	}
	if st.Time.Before(before) || st.Time.After(time.Now().Add(2*time.Second)) {
		t.Fatalf("attested time %v, want about now", st.Time)
	}
	if !strings.Contains(st.Authority, "Test TSA") || st.Serial == "" || st.Policy != "1.3.6.1.4.1.55555.1.1" {
		t.Fatalf("stamp = %+v", st)
	}
	again, err := Verify(token, msg, c.Roots)
	if err != nil || !again.Time.Equal(st.Time) {
		t.Fatalf("Verify = %+v, %v", again, err)
	}
	// The message changed after stamping: one byte.
	changed := append([]byte{}, msg...)
	changed[len(changed)-2] ^= 1
	if _, err := Verify(token, changed, c.Roots); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "imprint") {
		t.Fatalf("changed message: %v", err)
	}
	// Another root is not trusted for this token.
	other := roots(t, strings.TrimSuffix(env.Roots, "root.pem")+"other-root.pem")
	if _, err := Verify(token, msg, other); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "does not chain") {
		t.Fatalf("other root: %v", err)
	}
}

// An authority under another root is refused at stamping time, so that a
// misconfigured TSA fails the run instead of writing tokens verify refuses.
func TestStampOtherRoot(t *testing.T) {
	env := testenv.TSA(t)
	c := &Client{URL: env.OtherURL, Roots: roots(t, env.Roots)}
	_, _, err := c.Stamp(context.Background(), []byte("x"))
	if !errors.Is(err, ErrAuthority) || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "Other TSA") {
		t.Fatalf("err = %v", err)
	}
	// With its own root it verifies: the refusal above is the root's.
	c.Roots = roots(t, strings.TrimSuffix(env.Roots, "root.pem")+"other-root.pem")
	if _, _, err := c.Stamp(context.Background(), []byte("x")); err != nil {
		t.Fatal(err)
	}
}

// An authority that is down, answers an error, a non-token or an endless
// body fails with ErrAuthority, bounded.
func TestStampAuthorityFails(t *testing.T) {
	pool := x509.NewCertPool()
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	cases := map[string]http.HandlerFunc{
		"500":     func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", 500) },
		"garbage": func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("<html>hello</html>")) },
		"endless": func(w http.ResponseWriter, r *http.Request) {
			b := make([]byte, 32<<10)
			for i := 0; i < 100; i++ {
				if _, err := w.Write(b); err != nil {
					return
				}
			}
		},
		"rejection": func(w http.ResponseWriter, r *http.Request) {
			b, _ := timestamp.CreateErrorResponse(timestamp.Rejection, timestamp.BadAlgorithm)
			w.Write(b)
		},
	}
	for name, h := range cases {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(h)
			defer srv.Close()
			_, _, err := (&Client{URL: srv.URL, Roots: pool}).Stamp(context.Background(), []byte("x"))
			if !errors.Is(err, ErrAuthority) {
				t.Fatalf("err = %v", err)
			}
			t.Log(err)
		})
	}
	_, _, err := (&Client{URL: down.URL, Roots: pool}).Stamp(context.Background(), []byte("x"))
	if !errors.Is(err, ErrAuthority) || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("down: %v", err)
	}
}

// goTSA makes a token with the pure-Go library's own responder, signed by
// a certificate with the given extended key usages under a fresh root.
func goTSA(t *testing.T, msg []byte, eku []x509.ExtKeyUsage, nonce *big.Int) (token []byte, root *x509.CertPool) {
	t.Helper()
	rk, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	rt := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "go root"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	rder, _ := x509.CreateCertificate(rand.Reader, rt, rt, &rk.PublicKey, rk)
	rc, _ := x509.ParseCertificate(rder)
	lk, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	lt := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "go tsa"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: eku}
	lder, err := x509.CreateCertificate(rand.Reader, lt, rc, &lk.PublicKey, rk)
	if err != nil {
		t.Fatal(err)
	}
	lc, _ := x509.ParseCertificate(lder)
	sum := sha256.Sum256(msg)
	ts := &timestamp.Timestamp{HashAlgorithm: crypto.SHA256, HashedMessage: sum[:], Time: now, Policy: []int{1, 2, 3}, Nonce: nonce, AddTSACertificate: true}
	resp, err := ts.CreateResponse(lc, lk)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := timestamp.ParseResponse(resp)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(rc)
	return parsed.RawToken, pool
}

// The TSA certificate must carry timeStamping as its only EKU: a signing
// certificate without it (valid "for any purpose" to x509) is refused.
func TestVerifyEKU(t *testing.T) {
	msg := []byte("m")
	for name, eku := range map[string][]x509.ExtKeyUsage{
		"none":       nil,
		"codesign":   {x509.ExtKeyUsageCodeSigning},
		"and server": {x509.ExtKeyUsageTimeStamping, x509.ExtKeyUsageServerAuth},
	} {
		token, pool := goTSA(t, msg, eku, nil)
		if _, err := Verify(token, msg, pool); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "extended key usage") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// A replayed reply (a real token for the same message, from an earlier
// request) is refused: its nonce is not the request's.
func TestStampNonce(t *testing.T) {
	env := testenv.TSA(t)
	var recorded []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if recorded == nil {
			resp, err := http.Post(env.URL, "application/timestamp-query", r.Body)
			if err != nil {
				http.Error(w, err.Error(), 502)
				return
			}
			defer resp.Body.Close()
			recorded, _ = io.ReadAll(resp.Body)
		}
		w.Write(recorded)
	}))
	defer srv.Close()
	c := &Client{URL: srv.URL, Roots: roots(t, env.Roots)}
	msg := []byte("m")
	if _, _, err := c.Stamp(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	_, _, err := c.Stamp(context.Background(), msg)
	if !errors.Is(err, ErrAuthority) || !strings.Contains(err.Error(), "nonce") {
		t.Fatalf("replayed reply: %v", err)
	}
}

// Hostile tokens: nothing that is not a token parses, nothing panics.
func TestVerifyHostile(t *testing.T) {
	pool := x509.NewCertPool()
	for _, b := range [][]byte{nil, {0x30}, {0x30, 0x80}, {0x30, 0x84, 0xff, 0xff, 0xff, 0xff}, make([]byte, MaxTokenBytes+1), []byte(strings.Repeat("\x30\x80", 5000))} {
		if _, err := Verify(b, []byte("m"), pool); !errors.Is(err, ErrInvalid) {
			t.Errorf("%x...: %v", b[:min(len(b), 8)], err)
		}
	}
}

func FuzzVerify(f *testing.F) {
	if b, err := os.ReadFile("testdata/token.der"); err == nil {
		f.Add(b)
	}
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x01})
	pool := x509.NewCertPool()
	f.Fuzz(func(t *testing.T, b []byte) {
		if st, err := Verify(b, []byte("m"), pool); err == nil {
			t.Fatalf("verified with an empty pool: %+v", st)
		}
	})
}
