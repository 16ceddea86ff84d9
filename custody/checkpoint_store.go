package custody

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/logkeeper/logkeeper/internal/signing"
	"github.com/logkeeper/logkeeper/internal/store"
)

// CheckpointsPrefix is where a stream's checkpoints are kept, in the store
// and in a witness: outside the stream's own folder, so that the chain's
// layout (and verify's object_unclaimed check) is unchanged.
func CheckpointsPrefix(stream string) string { return "_checkpoints/" + stream + "/" }

// CheckpointKey is the key of the checkpoint of tree size n.
func CheckpointKey(stream string, n uint64) string {
	return fmt.Sprintf("%s%020d.note", CheckpointsPrefix(stream), n)
}

// parseCheckpointKey returns the tree size a checkpoint key names.
func parseCheckpointKey(stream, key string) (uint64, bool) {
	name, ok := strings.CutPrefix(key, CheckpointsPrefix(stream))
	if !ok {
		return 0, false
	}
	digits, ok := strings.CutSuffix(name, ".note")
	if !ok || len(digits) != 20 {
		return 0, false
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	return n, err == nil
}

// ErrWitness means a checkpoint could not be written to the witness: the
// run's manifest is stored, but it is not witnessed.
var ErrWitness = errors.New("checkpoint not witnessed")

// ErrNoTree means the chain was not loaded with its tree.
var ErrNoTree = errors.New("chain has no transparency log")

// TreeHead signs the checkpoint of the chain's current tree. origin is the
// store the manifests record (Manifest.Store).
//
// Every loader gives the chain its tree (from the manifests or from the
// signed start-up state); a chain without one has it rebuilt here from the
// manifests in st, O(chain) reads.
func (c *Chain) TreeHead(ctx context.Context, st store.Store, signer signing.Signer, storeURL string) (*TreeHead, error) {
	if c.tree == nil && c.Head != nil {
		t, err := rebuildTree(ctx, st, c.Stream, c.Head)
		if err != nil {
			return nil, err
		}
		c.tree = t
	}
	if c.tree == nil {
		return nil, ErrNoTree
	}
	return SignTreeHead(ctx, signer, Origin(storeURL, c.Stream), c.tree.size(), c.tree.root())
}

// Root returns the size and root hash of the chain's transparency log.
func (c *Chain) Root() (uint64, []byte, error) {
	if c.tree == nil {
		return 0, nil, ErrNoTree
	}
	return c.tree.size(), c.tree.root(), nil
}

// PublishTreeHead writes the checkpoint next to the chain, then to the
// witness when there is one (nil: none). Both writes are write-once
// (If-None-Match: *). A witness that cannot be written is an error
// wrapping ErrWitness: a run that could not be witnessed is not accepted
// silently.
func PublishTreeHead(ctx context.Context, st, witness store.Store, stream string, th *TreeHead) error {
	key := CheckpointKey(stream, th.Size)
	put := func(s store.Store) error {
		_, err := s.Put(ctx, key, bytes.NewReader(th.Note), store.PutOptions{
			IfNotExists: true, ContentType: "text/plain; charset=utf-8", Size: int64(len(th.Note)),
		})
		return err
	}
	if err := put(st); err != nil {
		return fmt.Errorf("store checkpoint %s: %w", key, err)
	}
	if witness == nil {
		return nil
	}
	if err := put(witness); err != nil {
		return fmt.Errorf("%w: %s at %s: %w", ErrWitness, key, witness.Describe(), err)
	}
	return nil
}

// ReadTreeHead reads and opens the checkpoint of size n from st, signed
// by pub or, for a chain whose key was rotated, one of more.
func ReadTreeHead(ctx context.Context, st store.Store, stream string, n uint64, pub crypto.PublicKey, origin string, more ...crypto.PublicKey) (*TreeHead, error) {
	raw, err := readCapped(ctx, st, CheckpointKey(stream, n), MaxNoteBytes)
	if err != nil {
		return nil, err
	}
	return OpenTreeHeadKeys(raw, append([]crypto.PublicKey{pub}, more...), origin)
}

// witnessed is one checkpoint key found in a witness.
type witnessed struct {
	key  string
	size uint64
}

// listWitnessed lists a stream's checkpoints in a witness, by size; other
// keys under its prefix are returned as odd.
func listWitnessed(ctx context.Context, w store.Store, stream string) (found []witnessed, odd []string, err error) {
	err = w.List(ctx, CheckpointsPrefix(stream), func(oi store.ObjectInfo) error {
		if n, ok := parseCheckpointKey(stream, oi.Key); ok {
			found = append(found, witnessed{oi.Key, n})
		} else {
			odd = append(odd, oi.Key)
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("list witness %s: %w", w.Describe(), err)
	}
	sort.Slice(found, func(i, j int) bool { return found[i].size < found[j].size })
	return found, odd, nil
}

// rebuildTree computes the tree over manifests 1..head from the store,
// checking that it ends at head's exact bytes.
func rebuildTree(ctx context.Context, st store.Store, stream string, head *Entry) (*treeRange, error) {
	seqs := make([]uint64, head.Sequence)
	for i := range seqs {
		seqs[i] = uint64(i + 1)
	}
	t := newTreeRange()
	var last string
	err := eachManifest(ctx, st, stream, seqs, func(e *Entry) error {
		last = e.SHA256
		return t.append(e.SHA256)
	})
	if err != nil {
		return nil, fmt.Errorf("rebuild the transparency log of %s: %w", stream, err)
	}
	if last != head.SHA256 {
		return nil, fmt.Errorf("%w: %s changed while its transparency log was rebuilt", ErrChainBroken, head.Key)
	}
	return t, nil
}
