package e2e

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/logkeeper/logkeeper/custody"
	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/internal/testenv"
	"github.com/logkeeper/logkeeper/manifest"
)

// witnessStores are the store pairs (archive, witness) the witness
// guarantees are shown on: two folders, and two versitygw buckets.
func witnessStores() map[string]func(t *testing.T) (store.Store, store.Store) {
	return map[string]func(t *testing.T) (store.Store, store.Store){
		"fs": func(t *testing.T) (store.Store, store.Store) { return newFS(t), newFS(t) },
		"versitygw": func(t *testing.T) (store.Store, store.Store) {
			env := testenv.S3(t)
			return newS3(t, env, env.NewBucket(t, false)), newS3(t, env, env.NewBucket(t, false))
		},
	}
}

// witnessHarness exports runs runs of one new file each, with the witness.
func witnessHarness(t *testing.T, st, witness store.Store, runs int) (*harness, store.Store) {
	h := &harness{t: t, st: st, signer: fixedSigner(t, 9), src: t.TempDir(), stream: "witnessed"}
	for i := range runs {
		writeFile(t, h.src, fmt.Sprintf("f%d.log", i), []byte(fmt.Sprintf("run %d\n", i)))
		j := h.job()
		j.Witness = witness
		if _, err := j.Run(context.Background(), time.Time{}, "test"); err != nil {
			t.Fatalf("export %d: %v", i+1, err)
		}
	}
	return h, witness
}

func (h *harness) verifyWitnessed(w store.Store) *custody.Report {
	h.t.Helper()
	rep, err := custody.Verify(context.Background(), h.st, h.stream, custody.VerifyOptions{PublicKey: h.signer.Public(), Witness: w})
	if err != nil {
		h.t.Fatalf("verify: %v", err)
	}
	return rep
}

// removeRun deletes manifest n, its signature and its objects, as an
// intruder who can delete from the archive (not from the witness) would.
func removeRun(t *testing.T, st store.Store, stream string, n uint64) {
	t.Helper()
	ctx := context.Background()
	d := st.(store.Deleter)
	m := readManifest(t, st, stream, n)
	keys := []string{manifest.Key(stream, n), manifest.SignatureKey(manifest.Key(stream, n), m.RunID), custody.CheckpointKey(stream, n)}
	for _, o := range m.Objects {
		keys = append(keys, o.Key)
	}
	for _, k := range keys {
		if err := d.Delete(ctx, k); err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("delete %s: %v", k, err)
		}
	}
}

func countKinds(rep *custody.Report, kind string) int {
	n := 0
	for _, p := range rep.Problems {
		if p.Kind == kind {
			n++
		}
	}
	return n
}

// The "done when", on each store: with a witness, deleting the
// newest two runs is chain_truncated (one per lost checkpoint), rewriting
// and re-signing the whole chain is chain_rewritten (one per witnessed
// checkpoint), and an untouched chain proves every witnessed checkpoint.
func TestWitnessCatchesTruncationAndRewrite(t *testing.T) {
	for name, open := range witnessStores() {
		t.Run(name, func(t *testing.T) {
			t.Run("clean", func(t *testing.T) {
				st, w := open(t)
				h, w := witnessHarness(t, st, w, 5)
				rep := h.verifyWitnessed(w)
				if len(rep.Problems) != 0 {
					t.Fatalf("problems: %v", rep.Problems)
				}
				if c := rep.Checkpoint; c == nil || c.Size != 5 || c.Witnessed != 5 || c.Root == "" {
					t.Fatalf("checkpoint = %+v, want size 5, 5 witnessed, a root", c)
				}
			})
			t.Run("newest two deleted", func(t *testing.T) {
				st, w := open(t)
				h, w := witnessHarness(t, st, w, 5)
				removeRun(t, st, h.stream, 5)
				removeRun(t, st, h.stream, 4)
				rep := h.verifyWitnessed(w)
				if got := kinds(rep); !slices.Equal(got, []string{custody.KindChainTruncated, custody.KindChainTruncated}) {
					t.Fatalf("kinds = %v, want two chain_truncated: %v", got, rep.Problems)
				}
				if c := rep.Checkpoint; c.Size != 3 || c.Witnessed != 3 {
					t.Fatalf("checkpoint = %+v, want size 3 proven against the 3 checkpoints it still extends", c)
				}
				// Without the witness the chain alone looks whole: the
				// witness is what catches it.
				if rep := h.verify(false); len(rep.Problems) != 0 {
					t.Fatalf("without a witness: %v", rep.Problems)
				}
			})
			t.Run("rewritten and re-signed", func(t *testing.T) {
				st, w := open(t)
				h, w := witnessHarness(t, st, w, 4)
				for n := uint64(4); n >= 1; n-- {
					removeRun(t, st, h.stream, n)
				}
				// The intruder holds the key and writes a new chain of 5,
				// with other content, without the witness.
				h2, _ := witnessHarness(t, st, nil, 5)
				rep := h2.verifyWitnessed(w)
				if got := countKinds(rep, custody.KindChainRewritten); got != 4 || len(rep.Problems) != 4 {
					t.Fatalf("want 4 chain_rewritten and nothing else, got %v", rep.Problems)
				}
				if rep.Checkpoint.Witnessed != 0 {
					t.Fatalf("witnessed = %d, want 0", rep.Checkpoint.Witnessed)
				}
			})
			t.Run("rewrite through logkeeper fails the run", func(t *testing.T) {
				st, w := open(t)
				h, w := witnessHarness(t, st, w, 2)
				for n := uint64(2); n >= 1; n-- {
					removeRun(t, st, h.stream, n)
				}
				writeFile(t, h.src, "other.log", []byte("other\n"))
				j := h.job()
				j.Witness = w
				_, err := j.Run(context.Background(), time.Time{}, "test")
				if !errors.Is(err, custody.ErrWitness) || !errors.Is(err, store.ErrExists) {
					t.Fatalf("run over a witnessed size: err = %v, want ErrWitness wrapping ErrExists", err)
				}
			})
		})
	}
}

// A witness that cannot be written fails the run loudly: an error wrapping
// ErrWitness, although the manifest is stored (the next run's checkpoint
// covers it).
func TestUnwritableWitnessFailsRun(t *testing.T) {
	st := newFS(t)
	h := &harness{t: t, st: st, signer: fixedSigner(t, 9), src: t.TempDir(), stream: "witnessed"}
	writeFile(t, h.src, "a.log", []byte("a\n"))
	j := h.job()
	j.Witness = &flakyStore{Store: newFS(t)}
	_, err := j.Run(context.Background(), time.Time{}, "test")
	if !errors.Is(err, custody.ErrWitness) {
		t.Fatalf("err = %v, want ErrWitness", err)
	}
	if rep := h.verify(false); rep.Head != 1 {
		t.Fatalf("head = %d, want the manifest stored", rep.Head)
	}
}

// Checkpoints signed by a KMS ECDSA key (local-kms, signed-note type 0x02)
// are witnessed and proven like Ed25519 ones, and a note of that key opens
// only with it.
func TestWitnessWithKMSSigner(t *testing.T) {
	env := testenv.S3(t)
	st, w := newS3(t, env, env.NewBucket(t, false)), newS3(t, env, env.NewBucket(t, false))
	h := &harness{t: t, st: st, signer: kmsSigner(t), src: t.TempDir(), stream: "kms"}
	for i := range 3 {
		writeFile(t, h.src, fmt.Sprintf("f%d.log", i), []byte("x\n"))
		j := h.job()
		j.Witness = w
		if _, err := j.Run(context.Background(), time.Time{}, "test"); err != nil {
			t.Fatal(err)
		}
	}
	rep := h.verifyWitnessed(w)
	if len(rep.Problems) != 0 || rep.Checkpoint.Witnessed != 3 {
		t.Fatalf("problems %v, checkpoint %+v", rep.Problems, rep.Checkpoint)
	}
	origin := custody.Origin(st.Describe(), h.stream)
	if _, err := custody.ReadTreeHead(context.Background(), w, h.stream, 3, h.signer.Public(), origin); err != nil {
		t.Fatalf("open the KMS-signed note: %v", err)
	}
	if _, err := custody.ReadTreeHead(context.Background(), w, h.stream, 3, fixedSigner(t, 9).Public(), origin); !errors.Is(err, custody.ErrNoteKey) {
		t.Fatalf("another key: %v", err)
	}
	removeRun(t, st, h.stream, 3)
	if got := kinds(h.verifyWitnessed(w)); !slices.Equal(got, []string{custody.KindChainTruncated}) {
		t.Fatalf("after the newest run was deleted: %v", got)
	}
}
