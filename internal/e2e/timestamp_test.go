package e2e

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/logkeeper/logkeeper/custody"
	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/internal/testenv"
	"github.com/logkeeper/logkeeper/internal/tsa"
)

// tsaRoots loads a roots file of the test authority (root.pem, or
// other-root.pem beside it).
func tsaRoots(t testing.TB, env testenv.TSAEnv, name string) *x509.CertPool {
	t.Helper()
	p, err := tsa.LoadRoots(filepath.Join(filepath.Dir(env.Roots), name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// stampedHarness exports runs runs of one new file each, with the witness
// and time-stamps from the test authority (openssl ts -reply).
func stampedHarness(t *testing.T, st, witness store.Store, runs int, stamper custody.Stamper) *harness {
	h := &harness{t: t, st: st, signer: fixedSigner(t, 9), src: t.TempDir(), stream: "stamped"}
	for i := range runs {
		writeFile(t, h.src, fmt.Sprintf("f%d.log", i), []byte(fmt.Sprintf("run %d\n", i)))
		j := h.job()
		j.Witness, j.Timestamps = witness, stamper
		if _, err := j.Run(context.Background(), time.Time{}, "test"); err != nil {
			t.Fatalf("export %d: %v", i+1, err)
		}
	}
	return h
}

func (h *harness) verifyStamped(w store.Store, roots *x509.CertPool) *custody.Report {
	h.t.Helper()
	rep, err := custody.Verify(context.Background(), h.st, h.stream, custody.VerifyOptions{PublicKey: h.signer.Public(), Witness: w, TimestampRoots: roots})
	if err != nil {
		h.t.Fatalf("verify: %v", err)
	}
	return rep
}

// replace overwrites key in st with b, as an intruder who can write to the
// store would (the store's own writes are write-once).
func replace(t *testing.T, st store.Store, key string, b []byte) {
	t.Helper()
	ctx := context.Background()
	if err := st.(store.Deleter).Delete(ctx, key); err != nil {
		t.Fatalf("delete %s: %v", key, err)
	}
	if _, err := st.Put(ctx, key, bytes.NewReader(b), store.PutOptions{Size: int64(len(b))}); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

func read(t *testing.T, st store.Store, key string) []byte {
	t.Helper()
	rc, _, err := st.Get(context.Background(), key, store.GetOptions{})
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer rc.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(rc); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Trusted time, on a folder and on versitygw: every checkpoint gets a
// token from the authority, beside it in the store and in the witness;
// verify checks them against the roots and reports the attested time. A
// token under another root, a checkpoint changed after it was stamped, a
// token removed, are each found and named; an authority that is down
// fails the run.
func TestTimestampedCheckpoints(t *testing.T) {
	env := testenv.TSA(t)
	trusted := tsaRoots(t, env, "root.pem")
	stamper := &tsa.Client{URL: env.URL, Roots: trusted}
	for name, open := range witnessStores() {
		t.Run(name, func(t *testing.T) {
			t.Run("clean", func(t *testing.T) {
				st, w := open(t)
				before := time.Now().Add(-2 * time.Second)
				h := stampedHarness(t, st, w, 3, stamper)
				after := time.Now().Add(2 * time.Second)
				rep := h.verifyStamped(w, trusted)
				if len(rep.Problems) != 0 {
					t.Fatalf("problems: %v", rep.Problems)
				}
				c := rep.Checkpoint
				if c == nil || c.Timestamp == nil || c.Timestamp.Size != 3 || c.Timestamped != 3 || c.Witnessed != 3 {
					t.Fatalf("checkpoint = %+v, want the head's time-stamp and 3 witnessed tokens", c)
				}
				if ts := c.Timestamp; ts.Time.Before(before) || ts.Time.After(after) || !strings.Contains(ts.Authority, "Test TSA") {
					t.Fatalf("timestamp = %+v, want between %v and %v by the test TSA", ts, before, after)
				}
				// Without roots, verify is as before.
				if rep := h.verifyStamped(w, nil); len(rep.Problems) != 0 || rep.Checkpoint.Timestamp != nil {
					t.Fatalf("without roots: %v %+v", rep.Problems, rep.Checkpoint)
				}
				// Under roots that do not include the authority's, every
				// token is refused.
				rep = h.verifyStamped(w, tsaRoots(t, env, "other-root.pem"))
				if got := countKinds(rep, custody.KindTimestampInvalid); got != 4 || len(rep.Problems) != 4 || rep.Checkpoint.Timestamp != nil {
					t.Fatalf("other roots: want 4 timestamp_invalid, got %v", rep.Problems)
				}
			})
			t.Run("token from another root", func(t *testing.T) {
				st, w := open(t)
				h := stampedHarness(t, st, w, 2, stamper)
				note := read(t, st, custody.CheckpointKey(h.stream, 2))
				// A real token over the very note, by a TSA under a root
				// the verifier does not trust.
				other := &tsa.Client{URL: env.OtherURL, Roots: tsaRoots(t, env, "other-root.pem")}
				token, _, err := other.Stamp(context.Background(), note)
				if err != nil {
					t.Fatal(err)
				}
				replace(t, st, custody.TimestampKey(h.stream, 2), token)
				rep := h.verifyStamped(w, trusted)
				if got := kinds(rep); !slices.Equal(got, []string{custody.KindTimestampInvalid}) || !strings.Contains(rep.Problems[0].Detail, "does not chain") {
					t.Fatalf("problems = %v", rep.Problems)
				}
				if rep.Checkpoint.Timestamp != nil || rep.Checkpoint.Timestamped != 2 {
					t.Fatalf("checkpoint = %+v", rep.Checkpoint)
				}
			})
			t.Run("checkpoint changed after stamping", func(t *testing.T) {
				st, w := open(t)
				h := stampedHarness(t, st, w, 2, stamper)
				key := custody.CheckpointKey(h.stream, 2)
				// Still a checkpoint of the same tree that opens with the
				// key (one more signature line), but not the bytes stamped.
				note := append(read(t, st, key), []byte("\u2014 someone AAAAAAAAAAA=\n")...)
				replace(t, st, key, note)
				rep := h.verifyStamped(w, trusted)
				if got := kinds(rep); !slices.Equal(got, []string{custody.KindTimestampInvalid}) || !strings.Contains(rep.Problems[0].Detail, "imprint") {
					t.Fatalf("problems = %v", rep.Problems)
				}
				// The same in the witness.
				replace(t, w, key, note)
				rep = h.verifyStamped(w, trusted)
				if got := countKinds(rep, custody.KindTimestampInvalid); got != 2 || len(rep.Problems) != 2 || rep.Checkpoint.Timestamped != 1 {
					t.Fatalf("problems = %v, checkpoint %+v", rep.Problems, rep.Checkpoint)
				}
			})
			t.Run("token removed", func(t *testing.T) {
				st, w := open(t)
				h := stampedHarness(t, st, w, 2, stamper)
				if err := st.(store.Deleter).Delete(context.Background(), custody.TimestampKey(h.stream, 2)); err != nil {
					t.Fatal(err)
				}
				if got := kinds(h.verifyStamped(w, trusted)); !slices.Equal(got, []string{custody.KindTimestampMissing}) {
					t.Fatalf("kinds = %v", got)
				}
			})
			t.Run("authority down fails the run", func(t *testing.T) {
				st, w := open(t)
				h := stampedHarness(t, st, w, 1, stamper)
				writeFile(t, h.src, "late.log", []byte("late\n"))
				j := h.job()
				j.Witness, j.Timestamps = w, &tsa.Client{URL: closedURL(t), Roots: trusted}
				_, err := j.Run(context.Background(), time.Time{}, "test")
				if !errors.Is(err, custody.ErrTimestamp) || !errors.Is(err, tsa.ErrAuthority) {
					t.Fatalf("err = %v, want ErrTimestamp wrapping ErrAuthority", err)
				}
				// The manifest and its checkpoint are stored and
				// witnessed; verify says the time-stamp is missing.
				rep := h.verifyStamped(w, trusted)
				if got := kinds(rep); rep.Head != 2 || !slices.Equal(got, []string{custody.KindTimestampMissing}) || rep.Checkpoint.Witnessed != 2 {
					t.Fatalf("head %d, problems %v, checkpoint %+v", rep.Head, rep.Problems, rep.Checkpoint)
				}
			})
			t.Run("authority under another root fails the run", func(t *testing.T) {
				st, w := open(t)
				h := &harness{t: t, st: st, signer: fixedSigner(t, 9), src: t.TempDir(), stream: "stamped"}
				writeFile(t, h.src, "a.log", []byte("a\n"))
				j := h.job()
				j.Witness, j.Timestamps = w, &tsa.Client{URL: env.OtherURL, Roots: trusted}
				_, err := j.Run(context.Background(), time.Time{}, "test")
				if !errors.Is(err, custody.ErrTimestamp) || !errors.Is(err, tsa.ErrInvalid) {
					t.Fatalf("err = %v, want ErrTimestamp wrapping ErrInvalid", err)
				}
			})
		})
	}
}

// closedURL is a loopback URL nothing listens on.
func closedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr + "/"
}

// BenchmarkRunTimestamp is the cost of the token per run and per verify:
// a run of one small file with a witness, without and with time-stamps
// (folders; the test authority on loopback), then a verify of the 10-run
// chain without and with the roots.
func BenchmarkRunTimestamp(b *testing.B) {
	env := testenv.TSA(b)
	trusted := tsaRoots(b, env, "root.pem")
	for _, mode := range []string{"none", "tsa"} {
		var stamper custody.Stamper
		var roots *x509.CertPool
		if mode == "tsa" {
			stamper, roots = &tsa.Client{URL: env.URL, Roots: trusted}, trusted
		}
		st, w := newFS(b), newFS(b)
		h := &harness{t: b, st: st, signer: fixedSigner(b, 9), src: b.TempDir(), stream: "bench"}
		i := 0
		run := func() {
			i++
			writeFile(b, h.src, fmt.Sprintf("f%d.log", i), []byte("x\n"))
			j := h.job()
			j.Witness, j.Timestamps = w, stamper
			if _, err := j.Run(context.Background(), time.Time{}, "bench"); err != nil {
				b.Fatal(err)
			}
		}
		b.Run("run/"+mode, func(b *testing.B) {
			for b.Loop() {
				run()
			}
		})
		for i < 10 {
			run()
		}
		b.Run("verify/"+mode, func(b *testing.B) {
			for b.Loop() {
				rep, err := custody.Verify(context.Background(), st, h.stream, custody.VerifyOptions{PublicKey: h.signer.Public(), Witness: w, TimestampRoots: roots})
				if err != nil || len(rep.Problems) != 0 {
					b.Fatal(err, rep.Problems)
				}
			}
		})
	}
}
