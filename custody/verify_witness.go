package custody

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"

	"golang.org/x/sync/errgroup"

	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/manifest"
)

// KindCheckpointInvalid: a checkpoint in the witness that does not open
// with the trusted key for this log, cannot be read, or is misplaced.
const KindCheckpointInvalid = "checkpoint_invalid"

// TreeReport is the stream's transparency log as verify found it.
type TreeReport struct {
	// Size is the tree size: the head's sequence number.
	Size uint64 `json:"size"`
	// Root is the base64 root hash, as in a checkpoint note; empty when a
	// manifest could not be read, so the tree could not be computed.
	Root string `json:"root"`
	// Witnessed counts the witness's checkpoints proven consistent with
	// the tree (consistency proofs, RFC 6962).
	Witnessed int `json:"witnessed"`
	// Timestamp is the time-stamp of the tree's checkpoint, when verify
	// was given TimestampRoots and its token verified.
	Timestamp *TimestampReport `json:"timestamp,omitempty"`
	// Timestamped counts the witness's time-stamp tokens that verified
	// over their checkpoints (with TimestampRoots).
	Timestamped int `json:"timestamped,omitempty"`
}

// leaf records the SHA-256 of manifest n for the tree (chain pass).
func (v *verifier) leaf(n uint64, sha256Hex string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.leaves == nil {
		v.leaves = map[uint64]string{}
	}
	v.leaves[n] = sha256Hex
}

// checkWitnessed computes the tree over the chain and proves that it
// extends every witnessed checkpoint and every checkpoint note given
// (opts.TreeHeads): chain_truncated when a checkpoint is larger than the
// tree, chain_rewritten when the tree is not an extension of it. It runs
// when the whole chain is verified; the tree needs every manifest.
func (v *verifier) checkWitnessed(ctx context.Context, l *listing, whole bool) error {
	if !whole {
		return nil
	}
	tr := &TreeReport{Size: l.head}
	v.rep.Checkpoint = tr
	// The tree is known up to the first manifest that could not be read.
	var leaves [][]byte
	for n := uint64(1); n <= l.head; n++ {
		h, err := ManifestLeafHash(v.leaves[n])
		if err != nil {
			break
		}
		leaves = append(leaves, h)
	}
	tree := newFullTree(leaves)
	var root []byte
	if tree.size() == l.head {
		r, err := tree.rootAt(l.head)
		if err != nil {
			return err
		}
		root = r
		tr.Root = base64.StdEncoding.EncodeToString(root)
	}
	for _, th := range v.opts.TreeHeads {
		v.proveTreeHead(tree, l.head, manifest.Key(v.stream, max(th.Size, 1)), "the checkpoint given", th)
	}
	if v.opts.Witness == nil {
		return v.checkTimestamps(ctx, l.head, root, nil, nil)
	}
	heads, stamped, err := v.readWitnessed(ctx)
	if err != nil {
		return err
	}
	for _, w := range heads {
		if v.proveTreeHead(tree, l.head, w.key, "witnessed checkpoint", w.th) {
			tr.Witnessed++
		}
	}
	return v.checkTimestamps(ctx, l.head, root, heads, stamped)
}

// proveTreeHead reports th against the tree and says whether it was
// proven consistent.
func (v *verifier) proveTreeHead(tree *fullTree, head uint64, key, what string, th *TreeHead) bool {
	switch {
	case th.Size > head:
		v.problem(Problem{Kind: KindChainTruncated, Key: key, Sequence: th.Size,
			Detail: fmt.Sprintf("%s has tree size %d, but the newest manifest is %d: manifests were removed from the end", what, th.Size, head)})
	case th.Size > tree.size():
		// A manifest up to th.Size could not be read: reported by the
		// chain pass; nothing can be proven.
	default:
		if err := tree.proveExtends(th.Size, th.Root); err != nil {
			found := "no root"
			if r, rerr := tree.rootAt(th.Size); rerr == nil {
				found = "root " + base64.StdEncoding.EncodeToString(r)
			}
			v.problem(Problem{Kind: KindChainRewritten, Key: key, Sequence: th.Size,
				Detail: fmt.Sprintf("%s has tree size %d and root %s, the chain's first %d manifests have %s: the chain of %d was rewritten, not extended (consistency proof fails)",
					what, th.Size, base64.StdEncoding.EncodeToString(th.Root), th.Size, found, tree.size())})
			return false
		}
		return true
	}
	return false
}

type witnessedHead struct {
	key string
	th  *TreeHead
	raw []byte // the note as stored, for its time-stamp token
}

// readWitnessed reads and opens every checkpoint of the stream in the
// witness; one that does not open is checkpoint_invalid. It also returns
// the keys of the time-stamp tokens there, by tree size.
func (v *verifier) readWitnessed(ctx context.Context) ([]witnessedHead, map[uint64]string, error) {
	w := v.opts.Witness
	found, odd, err := listWitnessed(ctx, w, v.stream)
	if err != nil {
		return nil, nil, err
	}
	stamped := map[uint64]string{}
	for _, k := range odd {
		if n, ok := parseTimestampKey(v.stream, k); ok {
			stamped[n] = k
			continue
		}
		v.problem(Problem{Kind: KindCheckpointInvalid, Key: k, Detail: "in the witness " + w.Describe() + ", but not a checkpoint (<20-digit size>.note) or its time-stamp token (.tst)"})
	}
	origin := Origin(v.origin, v.stream)
	out := make([]*TreeHead, len(found))
	raws := make([][]byte, len(found))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i, f := range found {
		g.Go(func() error {
			raw, err := readCapped(gctx, w, f.key, MaxNoteBytes)
			if errors.Is(err, store.ErrNotFound) || isUnreadable(err) {
				v.problem(Problem{Kind: KindCheckpointInvalid, Key: f.key, Detail: "witness " + w.Describe() + ": " + oneLine(err)})
				return nil
			}
			if err != nil {
				return err
			}
			th, err := OpenTreeHeadKeys(raw, v.keys.keysOf(), origin)
			if err == nil && th.Size != f.size {
				err = fmt.Errorf("%w: stored as tree size %d, says %d", ErrNoteFormat, f.size, th.Size)
			}
			if err != nil {
				v.problem(Problem{Kind: KindCheckpointInvalid, Key: f.key, Detail: "witness " + w.Describe() + ": " + oneLine(err)})
				return nil
			}
			out[i], raws[i] = th, raw
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, fmt.Errorf("read witness %s: %w", w.Describe(), err)
	}
	var heads []witnessedHead
	for i, th := range out {
		if th != nil {
			heads = append(heads, witnessedHead{found[i].key, th, raws[i]})
		}
	}
	return heads, stamped, nil
}
