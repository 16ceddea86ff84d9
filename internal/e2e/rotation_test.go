package e2e

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/logkeeper/logkeeper/custody"
	"github.com/logkeeper/logkeeper/custody/bundle"
	"github.com/logkeeper/logkeeper/internal/signing"
	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/internal/testenv"
	"github.com/logkeeper/logkeeper/manifest"
)

// rotation is a chain exported by key A (two runs), handed to key B, and
// exported by B (two runs, the second sealed in parts through the
// archived-file index), with checkpoints in a witness.
type rotation struct {
	h       *harness
	witness store.Store
	a, b    signing.Signer
	run     int
}

func (r *rotation) export(signer signing.Signer, parts bool) error {
	r.h.t.Helper()
	r.run++
	for i := range 4 {
		writeFile(r.h.t, r.h.src, fmt.Sprintf("r%d/f%d.log", r.run, i), randData(3000, uint64(r.run*10+i)))
	}
	j := r.h.job()
	j.Signer, j.Witness = signer, r.witness
	if parts {
		j.StateDir, j.PartBytes, j.Workers = r.h.t.TempDir(), 1<<10, 1
	}
	_, err := j.Run(context.Background(), time.Time{}, "test")
	return err
}

func newRotation(t *testing.T, st store.Store, a, b signing.Signer) *rotation {
	r := &rotation{h: &harness{t: t, st: st, signer: a, src: t.TempDir(), stream: "app"}, witness: newFS(t), a: a, b: b}
	for range 2 {
		if err := r.export(a, false); err != nil {
			t.Fatalf("export by A: %v", err)
		}
	}
	j := r.h.job()
	j.Witness = r.witness
	rot, err := j.Rotate(context.Background(), b, "yearly rotation")
	if err != nil || rot.Outcome != "rotated" || rot.Sequence != 3 {
		t.Fatalf("rotate: %+v %v", rot, err)
	}
	// A no longer signs: its export is refused, nothing written.
	if err := r.export(a, false); !errors.Is(err, custody.ErrKeyNotCurrent) {
		t.Fatalf("export by the old key after the rotation: %v, want ErrKeyNotCurrent", err)
	}
	if err := r.export(b, false); err != nil {
		t.Fatalf("export by B: %v", err)
	}
	if err := r.export(b, true); err != nil {
		t.Fatalf("export by B in parts: %v", err)
	}
	// Rotating again to B is a no-op.
	if again, err := j.Rotate(context.Background(), b, ""); err == nil || again != nil {
		// j holds A, which is no longer current, and B is: already rotated.
		if again == nil || again.Outcome != "already_rotated" {
			t.Fatalf("second rotation: %+v %v", again, err)
		}
	}
	return r
}

func (r *rotation) verify(anchors ...crypto.PublicKey) *custody.Report {
	r.h.t.Helper()
	rep, err := custody.Verify(context.Background(), r.h.st, r.h.stream, custody.VerifyOptions{
		PublicKey: anchors[0], TrustedKeys: anchors[1:], Deep: true, Witness: r.witness,
	})
	if err != nil {
		r.h.t.Fatalf("verify: %v", err)
	}
	return rep
}

func testRotation(t *testing.T, st store.Store, a, b signing.Signer) {
	r := newRotation(t, st, a, b)
	head := r.verify(a.Public()).Head
	if head < 6 {
		t.Fatalf("head %d: the run in parts should have sealed several manifests", head)
	}
	for name, anchors := range map[string][]crypto.PublicKey{
		"only A": {a.Public()}, "only B": {b.Public()}, "A and B": {a.Public(), b.Public()},
	} {
		rep := r.verify(anchors...)
		if len(rep.Problems) != 0 || rep.ManifestsValid != int(head) {
			t.Fatalf("%s: %d of %d valid, problems %v", name, rep.ManifestsValid, head, rep.Problems)
		}
		want := []custody.KeyRange{{KeyID: a.KeyID(), From: 1, To: 3, Trusted: true}, {KeyID: b.KeyID(), From: 4, To: head, Trusted: true}}
		if !slices.Equal(rep.Keys, want) {
			t.Fatalf("%s: keys %+v, want %+v", name, rep.Keys, want)
		}
		if rep.Checkpoint == nil || rep.Checkpoint.Witnessed < 4 {
			t.Fatalf("%s: witnessed checkpoints (signed by A and by B) not all proven: %+v", name, rep.Checkpoint)
		}
	}
	// A bundle made with the configured key (B) holds runs signed by A
	// and by B, and the transition: it verifies offline with A alone, B
	// alone, or its bundled key.
	out := filepath.Join(t.TempDir(), "bundle")
	if _, err := custody.WriteBundle(context.Background(), st, r.h.stream, custody.BundleOptions{Matter: "M-1", Out: out, PublicKey: b.Public(), Actor: "test"}); err != nil {
		t.Fatalf("bundle after rotation: %v", err)
	}
	for name, pub := range map[string]crypto.PublicKey{"A": a.Public(), "B": b.Public(), "bundled": nil} {
		brep, err := bundle.Verify(out, pub)
		if err != nil || len(brep.Problems) != 0 {
			t.Fatalf("verify-bundle with %s: %v %+v", name, err, brep)
		}
	}
	// With a third key it does not.
	if brep, err := bundle.Verify(out, fixedSigner(t, 9).Public()); err != nil || len(brep.Problems) == 0 {
		t.Fatalf("verify-bundle with a key of no history: %v %+v", err, brep)
	}
	// The checkpoint signed by A (tree size 2) and the newest (by B)
	// verify with the keys of the history that B alone reaches.
	keys, err := custody.HistoryKeys(context.Background(), st, r.h.stream, b.Public())
	if err != nil || len(keys) != 2 {
		t.Fatalf("history keys from B: %d %v", len(keys), err)
	}
	for _, n := range []uint64{2, head} {
		raw := readAll(t, r.witness, custody.CheckpointKey(r.h.stream, n))
		if _, err := custody.OpenTreeHead(raw, b.Public(), custody.Origin(st.Describe(), r.h.stream)); n == 2 && err == nil {
			t.Fatalf("checkpoint %d is signed by A: B alone should not open it", n)
		}
		if _, err := custody.OpenTreeHeadKeys(raw, keys, custody.Origin(st.Describe(), r.h.stream)); err != nil {
			t.Fatalf("checkpoint %d with the history's keys: %v", n, err)
		}
	}
}

func readAll(t *testing.T, st store.Store, key string) []byte {
	t.Helper()
	rc, _, err := st.Get(context.Background(), key, store.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRotationFS(t *testing.T) { testRotation(t, newFS(t), fixedSigner(t, 1), fixedSigner(t, 2)) }

func TestRotationS3(t *testing.T) {
	env := testenv.S3(t)
	testRotation(t, newS3(t, env, env.NewBucket(t, false)), fixedSigner(t, 1), fixedSigner(t, 2))
}

// Ed25519 -> KMS -> Ed25519, on versitygw: every key of the history
// alone verifies the whole chain.
func TestRotationKMSRoundTrip(t *testing.T) {
	env := testenv.S3(t)
	st := newS3(t, env, env.NewBucket(t, false))
	a, k, d := fixedSigner(t, 1), kmsSigner(t), fixedSigner(t, 4)
	r := newRotation(t, st, a, k)
	j := r.h.job()
	j.Signer, j.Witness = k, r.witness
	if rot, err := j.Rotate(context.Background(), d, "back to a file key"); err != nil || rot.Outcome != "rotated" {
		t.Fatalf("rotate KMS -> Ed25519: %+v %v", rot, err)
	}
	if err := r.export(d, false); err != nil {
		t.Fatalf("export by D: %v", err)
	}
	for _, anchor := range []signing.Signer{a, k, d} {
		rep := r.verify(anchor.Public())
		if len(rep.Problems) != 0 || len(rep.Keys) != 3 {
			t.Fatalf("anchor %s: problems %v keys %+v", anchor.KeyID(), rep.Problems, rep.Keys)
		}
	}
}

// lyingSigner names one key and signs with another: a transition record
// "from B" made by someone holding only C.
type lyingSigner struct {
	signing.Signer
	claims signing.Signer
}

func (l lyingSigner) Public() crypto.PublicKey { return l.claims.Public() }
func (l lyingSigner) KeyID() string            { return l.claims.KeyID() }

func testRotationAttacks(t *testing.T, newStore func(t *testing.T) store.Store) {
	a, b, c, c2 := fixedSigner(t, 1), fixedSigner(t, 2), fixedSigner(t, 3), fixedSigner(t, 5)
	attacks := map[string]func(t *testing.T, st store.Store, chain *custody.Chain){
		"manifest by a third key": func(t *testing.T, st store.Store, chain *custody.Chain) {
			appendBy(t, st, chain, c)
		},
		"transition from B signed by C only": func(t *testing.T, st store.Store, chain *custody.Chain) {
			if _, err := chain.AppendTransition(context.Background(), st, lyingSigner{c, b}, c, transitionManifest(st), store.PutOptions{Size: -1}); err != nil {
				t.Fatal(err)
			}
			appendBy(t, st, chain, c)
		},
		"transition from C to C2, both signing": func(t *testing.T, st store.Store, chain *custody.Chain) {
			if _, err := chain.AppendTransition(context.Background(), st, c, c2, transitionManifest(st), store.PutOptions{Size: -1}); err != nil {
				t.Fatal(err)
			}
			appendBy(t, st, chain, c2)
		},
		"second transition from A": func(t *testing.T, st store.Store, chain *custody.Chain) {
			if _, err := chain.AppendTransition(context.Background(), st, a, c, transitionManifest(st), store.PutOptions{Size: -1}); err != nil {
				t.Fatal(err)
			}
			appendBy(t, st, chain, c)
		},
	}
	for name, attack := range attacks {
		t.Run(name, func(t *testing.T) {
			st := newStore(t)
			r := newRotation(t, st, a, b)
			chain, err := custody.Load(context.Background(), st, r.h.stream, b.Public())
			if err != nil {
				t.Fatal(err)
			}
			attack(t, st, chain)
			for _, anchor := range []signing.Signer{a, b, c, c2} {
				rep := r.verify(anchor.Public())
				if len(rep.Problems) == 0 {
					t.Fatalf("anchor %s: verify found nothing", anchor.KeyID())
				}
				bad := kinds(rep)
				if !slices.Contains(bad, custody.KindSignatureKey) && !slices.Contains(bad, custody.KindKeyTransition) {
					t.Fatalf("anchor %s: problems %v", anchor.KeyID(), rep.Problems)
				}
			}
			// Export refuses to append after it, whichever key it holds.
			for _, s := range []signing.Signer{a, b, c, c2} {
				if err := r.export(s, false); !errors.Is(err, custody.ErrChainBroken) {
					t.Fatalf("export by %s after the attack: %v", s.KeyID(), err)
				}
			}
		})
	}
}

func TestRotationAttacksFS(t *testing.T) {
	testRotationAttacks(t, func(t *testing.T) store.Store { return newFS(t) })
}

func TestRotationAttacksS3(t *testing.T) {
	env := testenv.S3(t)
	testRotationAttacks(t, func(t *testing.T) store.Store { return newS3(t, env, env.NewBucket(t, false)) })
}

func transitionManifest(st store.Store) *manifest.Manifest {
	now := time.Now().UTC()
	return &manifest.Manifest{Schema: manifest.SchemaV1, RunID: fmt.Sprintf("forged-%d", now.UnixNano()), StartedAt: now, FinishedAt: now,
		Exporter: manifest.Exporter{Name: "x"}, Store: st.Describe(), Source: manifest.Source{Type: "key-rotation"}}
}

func appendBy(t *testing.T, st store.Store, chain *custody.Chain, s signing.Signer) {
	t.Helper()
	end := chain.Head.Manifest.Window.End
	now := time.Now().UTC()
	m := &manifest.Manifest{Schema: manifest.SchemaV1, RunID: fmt.Sprintf("forged-%d", now.UnixNano()), StartedAt: now, FinishedAt: now,
		Window: manifest.Window{Start: end, End: end.Add(time.Minute)}, Exporter: manifest.Exporter{Name: "x"},
		Store: st.Describe(), Source: manifest.Source{Type: "folder"}, Objects: []manifest.Object{}}
	if _, err := chain.Append(context.Background(), st, s, m, store.PutOptions{Size: -1}); err != nil {
		t.Fatal(err)
	}
}
