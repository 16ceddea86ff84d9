package bundle

import (
	"fmt"
	"testing"

	"github.com/logkeeper/logkeeper/manifest"
)

func objects(n int) []manifest.Object {
	out := make([]manifest.Object, n)
	for i := range out {
		out[i] = manifest.Object{Key: fmt.Sprintf("s/objects/r/%d.log", i), Size: int64(i),
			SHA256: fmt.Sprintf("%064x", i)}
	}
	return out
}

// Every proof of every tree size up to 70 verifies against manifest.Root,
// and fails for another leaf, another index, a changed hash or size.
func TestProofs(t *testing.T) {
	for n := 1; n <= 70; n++ {
		m := &manifest.Manifest{Objects: objects(n)}
		root, err := manifest.Root(m.Objects)
		if err != nil {
			t.Fatal(err)
		}
		m.Merkle = manifest.Merkle{Algorithm: manifest.MerkleAlgorithm, TreeSize: uint64(n), Root: root}
		tree := NewTree("k", m)
		for i := range n {
			p, err := tree.Proof(i)
			if err != nil {
				t.Fatalf("n=%d i=%d: %v", n, i, err)
			}
			if err := VerifyProof(p, m.Objects[i], root, uint64(n)); err != nil {
				t.Fatalf("n=%d i=%d: valid proof rejected: %v", n, i, err)
			}
			if n > 1 {
				other := m.Objects[(i+1)%n]
				if VerifyProof(p, other, root, uint64(n)) == nil {
					t.Fatalf("n=%d i=%d: proof accepted for another object", n, i)
				}
				q := *p
				q.LeafIndex = uint64((i + 1) % n)
				if VerifyProof(&q, m.Objects[i], root, uint64(n)) == nil {
					t.Fatalf("n=%d i=%d: proof accepted at another index", n, i)
				}
				q = *p
				q.Hashes = append([]string{}, p.Hashes...)
				q.Hashes[0] = fmt.Sprintf("%064x", 7)
				if VerifyProof(&q, m.Objects[i], root, uint64(n)) == nil {
					t.Fatalf("n=%d i=%d: proof with a changed hash accepted", n, i)
				}
			}
			if VerifyProof(p, m.Objects[i], root, uint64(n+1)) == nil {
				t.Fatalf("n=%d i=%d: proof accepted for another tree size", n, i)
			}
		}
		if _, err := tree.Proof(n); err == nil {
			t.Fatalf("n=%d: proof of a leaf past the end", n)
		}
	}
}

func TestSumLineRoundTrip(t *testing.T) {
	sum := fmt.Sprintf("%064x", 1)
	for _, p := range []string{"files/a.log", `files/a\b.log`, "files/a\nb.log", "files/x  y"} {
		gs, gp, ok := ParseSumLine(SumLine(sum, p)[:len(SumLine(sum, p))-1])
		if !ok || gs != sum || gp != p {
			t.Errorf("%q: round trip gave %q %q %v", p, gs, gp, ok)
		}
	}
}

func FuzzParseIndex(f *testing.F) {
	b, _ := Marshal(&Index{Schema: IndexSchema, Matter: "m", Files: []File{{Path: "files/x"}}})
	f.Add(b)
	f.Add([]byte(`{"schema":"logkeeper.bundle/v1"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ix, err := ParseIndex(data)
		if err == nil && ix.Schema != IndexSchema {
			t.Fatal("accepted another schema")
		}
	})
}

func FuzzParseProof(f *testing.F) {
	m := &manifest.Manifest{Objects: objects(5)}
	m.Merkle.Root, _ = manifest.Root(m.Objects)
	p, _ := NewTree("k", m).Proof(3)
	b, _ := Marshal(p)
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseProof(data)
		if err != nil {
			return
		}
		_ = VerifyProof(p, m.Objects[3], m.Merkle.Root, 5) // never panics
	})
}

func BenchmarkProof(b *testing.B) {
	m := &manifest.Manifest{Objects: objects(100_000)}
	m.Merkle.Root, _ = manifest.Root(m.Objects)
	tree := NewTree("k", m)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := tree.Proof(i % 100_000); err != nil {
			b.Fatal(err)
		}
	}
}
