package custody

import (
	"encoding/hex"
	"fmt"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

// The transparency log of a stream is an RFC 6962 Merkle tree whose leaf
// i (from 0) is manifest i+1: the leaf data is
//
//	logkeeper-manifest/v1\n || SHA-256 of the manifest's exact bytes (32 bytes)
//
// and the leaf hash SHA-256(0x00 || leaf data), as RFC 6962 defines it.
// The prefix separates these leaves from the object leaves of a manifest's
// own Merkle tree (logkeeper-object/v1), so no leaf of one tree can stand
// for a leaf of the other. A tree of size n commits to manifests 1..n.
const manifestLeafPrefix = "logkeeper-manifest/v1\n"

var treeHasher = rfc6962.DefaultHasher

// ManifestLeafHash returns the tree's leaf hash of a manifest, given the
// hex SHA-256 of its exact bytes.
func ManifestLeafHash(sha256Hex string) ([]byte, error) {
	sum, err := hex.DecodeString(sha256Hex)
	if err != nil || len(sum) != 32 {
		return nil, fmt.Errorf("manifest sha256 %q is not 64 hex digits", sha256Hex)
	}
	return treeHasher.HashLeaf(append([]byte(manifestLeafPrefix), sum...)), nil
}

var rangeFactory = compact.RangeFactory{Hash: treeHasher.HashChildren}

// treeRange is the compact range of a chain's tree: enough to append a
// leaf and compute the new root without reading history again.
type treeRange struct{ r *compact.Range }

func newTreeRange() *treeRange { return &treeRange{r: rangeFactory.NewEmptyRange(0)} }

func (t *treeRange) size() uint64 { return t.r.End() }

func (t *treeRange) append(sha256Hex string) error {
	h, err := ManifestLeafHash(sha256Hex)
	if err != nil {
		return err
	}
	return t.r.Append(h, nil)
}

func (t *treeRange) root() []byte {
	if t.r.End() == 0 {
		return treeHasher.EmptyRoot()
	}
	root, err := t.r.GetRootHash(nil)
	if err != nil {
		panic(err) // a range from 0 always has a root
	}
	return root
}

func (t *treeRange) clone() *treeRange {
	r, err := rangeFactory.NewRange(t.r.Begin(), t.r.End(), append([][]byte(nil), t.r.Hashes()...))
	if err != nil {
		panic(err) // copied from a valid range
	}
	return &treeRange{r: r}
}

// fullTree holds every node of a tree's perfect subtrees (levels[0] the
// leaves), so that consistency proofs of any earlier size are read from it
// in O(log n) and checked with proof.VerifyConsistency.
type fullTree struct{ levels [][][]byte }

func newFullTree(leaves [][]byte) *fullTree {
	t := &fullTree{levels: [][][]byte{leaves}}
	for cur := leaves; len(cur) > 1; {
		next := make([][]byte, 0, len(cur)/2)
		for i := 0; i+1 < len(cur); i += 2 {
			next = append(next, treeHasher.HashChildren(cur[i], cur[i+1]))
		}
		t.levels = append(t.levels, next)
		cur = next
	}
	return t
}

func (t *fullTree) size() uint64 { return uint64(len(t.levels[0])) }

func (t *fullTree) node(id compact.NodeID) ([]byte, error) {
	if int(id.Level) >= len(t.levels) || id.Index >= uint64(len(t.levels[id.Level])) {
		return nil, fmt.Errorf("node %d/%d is not in a tree of size %d", id.Level, id.Index, t.size())
	}
	return t.levels[id.Level][id.Index], nil
}

// rootAt returns the root of the tree's first n leaves.
func (t *fullTree) rootAt(n uint64) ([]byte, error) {
	if n == 0 {
		return treeHasher.EmptyRoot(), nil
	}
	r := rangeFactory.NewEmptyRange(0)
	for begin := uint64(0); begin < n; {
		// The largest perfect subtree starting at begin that fits in n.
		level := uint(0)
		for {
			next := level + 1
			if begin%(1<<next) != 0 || begin+(1<<next) > n {
				break
			}
			level = next
		}
		h, err := t.node(compact.NewNodeID(level, begin>>level))
		if err != nil {
			return nil, err
		}
		sub, err := rangeFactory.NewRange(begin, begin+(1<<level), [][]byte{h})
		if err != nil {
			return nil, err
		}
		if err := r.AppendRange(sub, nil); err != nil {
			return nil, err
		}
		begin += 1 << level
	}
	return r.GetRootHash(nil)
}

// consistencyProof returns the RFC 6962 consistency proof from size1 to
// the tree's size.
func (t *fullTree) consistencyProof(size1 uint64) ([][]byte, error) {
	nodes, err := proof.Consistency(size1, t.size())
	if err != nil {
		return nil, err
	}
	hashes := make([][]byte, len(nodes.IDs))
	for i, id := range nodes.IDs {
		if hashes[i], err = t.node(id); err != nil {
			return nil, err
		}
	}
	return nodes.Rehash(hashes, treeHasher.HashChildren)
}

// proveExtends proves with a consistency proof that the tree extends the
// tree of size1 with root1. A nil error means it does.
func (t *fullTree) proveExtends(size1 uint64, root1 []byte) error {
	root2, err := t.rootAt(t.size())
	if err != nil {
		return err
	}
	p, err := t.consistencyProof(size1)
	if err != nil {
		return err
	}
	return proof.VerifyConsistency(treeHasher, size1, t.size(), p, root1, root2)
}
