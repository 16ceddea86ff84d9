package bundle

import (
	"encoding/hex"
	"fmt"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/logkeeper/logkeeper/manifest"
)

// Tree holds every complete subtree hash of a manifest's Merkle tree, so
// that each inclusion proof costs about log2(n) lookups.
type Tree struct {
	m      *manifest.Manifest
	key    string
	levels [][][]byte // levels[0] are the leaf hashes
}

// NewTree hashes the objects of m, stored at key. It costs one pass over
// the objects.
func NewTree(key string, m *manifest.Manifest) *Tree {
	h := rfc6962.DefaultHasher
	leaves := make([][]byte, len(m.Objects))
	for i, o := range m.Objects {
		leaves[i] = h.HashLeaf(manifest.LeafData(o))
	}
	t := &Tree{m: m, key: key, levels: [][][]byte{leaves}}
	for cur := leaves; len(cur) > 1; {
		next := make([][]byte, len(cur)/2)
		for i := range next {
			next[i] = h.HashChildren(cur[2*i], cur[2*i+1])
		}
		t.levels = append(t.levels, next)
		cur = next
	}
	return t
}

// Proof returns the inclusion proof of object i.
func (t *Tree) Proof(i int) (*Proof, error) {
	n := uint64(len(t.m.Objects))
	if i < 0 || uint64(i) >= n {
		return nil, fmt.Errorf("inclusion proof: object %d of %d", i, n)
	}
	nodes, err := proof.Inclusion(uint64(i), n)
	if err != nil {
		return nil, fmt.Errorf("inclusion proof: %w", err)
	}
	hashes := make([][]byte, len(nodes.IDs))
	for j, id := range nodes.IDs {
		if int(id.Level) >= len(t.levels) || id.Index >= uint64(len(t.levels[id.Level])) {
			return nil, fmt.Errorf("inclusion proof: node %d.%d outside the tree", id.Level, id.Index)
		}
		hashes[j] = t.levels[id.Level][id.Index]
	}
	path, err := nodes.Rehash(hashes, rfc6962.DefaultHasher.HashChildren)
	if err != nil {
		return nil, fmt.Errorf("inclusion proof: %w", err)
	}
	p := &Proof{
		Schema:      ProofSchema,
		ManifestKey: t.key,
		Root:        t.m.Merkle.Root,
		TreeSize:    n,
		LeafIndex:   uint64(i),
		Leaf:        string(manifest.LeafData(t.m.Objects[i])),
		Hashes:      make([]string, len(path)),
	}
	for j, h := range path {
		p.Hashes[j] = hex.EncodeToString(h)
	}
	return p, nil
}

// VerifyProof checks that p proves object o at p.LeafIndex of a tree of
// p.TreeSize leaves whose root is root (hex), which the caller took from
// a signed manifest. The proof's own Root and Leaf are not trusted: the
// leaf is recomputed from o.
func VerifyProof(p *Proof, o manifest.Object, root string, treeSize uint64) error {
	if p.TreeSize != treeSize {
		return fmt.Errorf("proof is for a tree of %d leaves, manifest has %d", p.TreeSize, treeSize)
	}
	if p.Leaf != string(manifest.LeafData(o)) {
		return fmt.Errorf("proof's leaf record is not the manifest's object %s", o.Key)
	}
	want, err := hex.DecodeString(root)
	if err != nil {
		return fmt.Errorf("manifest root %q: %w", root, err)
	}
	path := make([][]byte, len(p.Hashes))
	for i, s := range p.Hashes {
		if path[i], err = hex.DecodeString(s); err != nil || len(path[i]) != 32 {
			return fmt.Errorf("proof hash %d is not a hex SHA-256", i)
		}
	}
	h := rfc6962.DefaultHasher
	if err := proof.VerifyInclusion(h, p.LeafIndex, treeSize, h.HashLeaf(manifest.LeafData(o)), path, want); err != nil {
		return fmt.Errorf("inclusion proof: %w", err)
	}
	return nil
}
