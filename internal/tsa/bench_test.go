package tsa

import (
	"context"
	"testing"

	"github.com/logkeeper/logkeeper/internal/testenv"
)

// BenchmarkStamp is one token from the test authority: request, openssl
// ts -reply (a process per token), and the client's own verification.
func BenchmarkStamp(b *testing.B) {
	env := testenv.TSA(b)
	c := &Client{URL: env.URL, Roots: roots(b, env.Roots)}
	msg := []byte("origin\n3\nroot\n")
	for b.Loop() {
		if _, _, err := c.Stamp(context.Background(), msg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerify is verify's cost per token: parse, CMS signature, chain
// to the roots (through an intermediate), imprint.
func BenchmarkVerify(b *testing.B) {
	env := testenv.TSA(b)
	c := &Client{URL: env.URL, Roots: roots(b, env.Roots)}
	msg := []byte("origin\n3\nroot\n")
	token, _, err := c.Stamp(context.Background(), msg)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(len(token)), "token-bytes")
	for b.Loop() {
		if _, err := Verify(token, msg, c.Roots); err != nil {
			b.Fatal(err)
		}
	}
}
