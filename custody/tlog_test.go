package custody

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"
)

func leafSums(n int) []string {
	out := make([]string, n)
	for i := range out {
		s := sha256.Sum256(fmt.Appendf(nil, "manifest %d", i+1))
		out[i] = hex.EncodeToString(s[:])
	}
	return out
}

func treeOf(t testing.TB, sums []string) (*fullTree, *treeRange) {
	t.Helper()
	r := newTreeRange()
	var leaves [][]byte
	for _, s := range sums {
		if err := r.append(s); err != nil {
			t.Fatal(err)
		}
		h, err := ManifestLeafHash(s)
		if err != nil {
			t.Fatal(err)
		}
		leaves = append(leaves, h)
	}
	return newFullTree(leaves), r
}

// Every earlier size of a tree is proven consistent with it, the full
// tree's roots agree with the compact range's (an exporter's), and a tree
// with any one leaf changed is proven inconsistent with every size that
// includes that leaf, and consistent with the sizes before it.
func TestTreeConsistency(t *testing.T) {
	for _, n := range []int{1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 33} {
		sums := leafSums(n)
		tree, _ := treeOf(t, sums)
		for size := 1; size <= n; size++ {
			_, prefix := treeOf(t, sums[:size])
			got, err := tree.rootAt(uint64(size))
			if err != nil || !bytes.Equal(got, prefix.root()) {
				t.Fatalf("n=%d: rootAt(%d) = %x, %v; compact range gives %x", n, size, got, err, prefix.root())
			}
			if err := tree.proveExtends(uint64(size), prefix.root()); err != nil {
				t.Fatalf("n=%d: size %d not proven consistent: %v", n, size, err)
			}
		}
		for changed := 0; changed < n; changed++ {
			other := append([]string(nil), sums...)
			other[changed] = leafSums(n + 1)[n]
			rewritten, _ := treeOf(t, other)
			for size := 1; size <= n; size++ {
				_, prefix := treeOf(t, sums[:size])
				err := rewritten.proveExtends(uint64(size), prefix.root())
				if (size > changed) != (err != nil) {
					t.Fatalf("n=%d, leaf %d changed: size %d: err = %v", n, changed, size, err)
				}
			}
		}
	}
}

// A manifest leaf is domain-separated: it is not the RFC 6962 leaf hash
// of the bare SHA-256, and a malformed sum is an error.
func TestManifestLeafHash(t *testing.T) {
	sum := leafSums(1)[0]
	h, err := ManifestLeafHash(sum)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := hex.DecodeString(sum)
	if bytes.Equal(h, treeHasher.HashLeaf(raw)) {
		t.Fatal("leaf hash is not domain-separated")
	}
	for _, bad := range []string{"", "00", sum[:63], sum + "00", "zz" + sum[2:]} {
		if _, err := ManifestLeafHash(bad); err == nil {
			t.Errorf("ManifestLeafHash(%q): no error", bad)
		}
	}
}

func BenchmarkVerifyTree(b *testing.B) {
	sums := leafSums(10000)
	_, small := treeOf(b, sums[:5000])
	b.ReportAllocs()
	for b.Loop() {
		tree, _ := treeOf(b, sums)
		if err := tree.proveExtends(5000, small.root()); err != nil {
			b.Fatal(err)
		}
	}
}
