package custody

import (
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"

	"golang.org/x/sync/errgroup"

	"github.com/logkeeper/logkeeper/custody/archindex"
	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/manifest"
)

// IndexFile is the path of a stream's archived-file index under a state
// folder: one folder per store (by the SHA-256 of its description), one
// file per stream.
func IndexFile(stateDir string, st store.Store, stream string) string {
	sum := sha256.Sum256([]byte(st.Describe()))
	return filepath.Join(stateDir, "index", hex.EncodeToString(sum[:8]), stream+".idx")
}

// LoadIndexed is Load for large chains: what the chain knows of archived
// files is kept in the stream's archived-file index under stateDir
// (archindex), not in memory, and the manifests are read a few at a time.
//
// The chain's head and tree come from the stream's signed start-up state
// when it checks out (state.go): the manifests after it are then found by
// probing, not by listing the chain; without one, the chain is listed.
// The index is trusted only for the chain head it names, and only once
// that manifest is found in the store with the same SHA-256; the manifests
// after it are then read and folded in. An index that is missing, damaged,
// of another chain or ahead of the store is rebuilt from all the
// manifests (and logged). The chain's links, part order and head signature
// are checked as Load checks them; the chain returned must be closed. Its
// Head.Manifest is the head's without its lists (objects, failures,
// skipped), which the index holds: a head of 16 MiB is not kept.
func LoadIndexed(ctx context.Context, st store.Store, stream string, pub crypto.PublicKey, stateDir string, log *slog.Logger) (*Chain, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c, err := loadIndexed(ctx, st, stream, pub, stateDir, log, false)
	if errors.Is(err, errKeysUnknown) {
		// A key transition since the start-up state: the state vouches for
		// one key only, so the chain is listed and its key history read.
		log.Info("a key transition since the start-up state: reading the chain's key history", "stream", stream)
		c, err = loadIndexed(ctx, st, stream, pub, stateDir, log, true)
	}
	return c, err
}

// loadIndexed is LoadIndexed, from the start-up state unless fullKeys.
func loadIndexed(ctx context.Context, st store.Store, stream string, pub crypto.PublicKey, stateDir string, log *slog.Logger, fullKeys bool) (*Chain, error) {
	// tree, when not nil, is the transparency log over manifests 1..treeAt.
	var tree *treeRange
	var treeAt, stored uint64
	var keys *keyHistory
	sc, _, err := resumeState(ctx, st, stream, pub, false, log)
	if !fullKeys && err == nil && sc.Head.Manifest != nil && sc.Head.Manifest.KeyTransition != nil {
		err = errNoState // the state's head hands over to a new key: read the key history
	}
	if fullKeys && err == nil {
		err = errNoState
	}
	switch {
	case err == nil:
		tree, treeAt, keys = sc.tree, sc.Head.Sequence, stateKeys(pub)
		if stored, err = probeStored(ctx, st, stream, treeAt); err != nil {
			return nil, err
		}
	case errors.Is(err, errNoState):
		seqs, transSeqs, err := listChain(ctx, st, stream)
		if err != nil {
			return nil, err
		}
		if keys, err = chainKeys(ctx, st, stream, transSeqs, pub); err != nil {
			return nil, err
		}
		for i, n := range seqs {
			if n != uint64(i+1) {
				return nil, fmt.Errorf("%w: %s: manifest %d is missing", ErrChainBroken, stream, i+1)
			}
		}
		stored, tree = uint64(len(seqs)), newTreeRange()
	default:
		return nil, err
	}
	path := IndexFile(stateDir, st, stream)
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("archive index folder: %w", err)
	}
	base, prev, err := trustedIndex(ctx, st, stream, path, stored, log)
	if err != nil {
		return nil, err
	}
	from := uint64(0)
	if prev != nil {
		from = prev.Sequence
	}
	if from > treeAt {
		// The index is ahead of the tree: carry the tree up to it.
		if err := eachManifest(ctx, st, stream, seqRange(treeAt+1, from), func(e *Entry) error {
			return tree.append(e.SHA256)
		}); err != nil {
			if base != nil {
				base.Close()
			}
			return nil, err
		}
		treeAt = from
	}
	if base != nil && from == stored {
		if err := checkHead(ctx, st, prev, keys); err != nil {
			base.Close()
			return nil, err
		}
		return &Chain{Stream: stream, Head: withoutLists(prev), index: base, tree: tree}, nil
	}
	b := archindex.NewBuilder(stream, filepath.Dir(path), base)
	defer b.Close()
	if base != nil {
		defer base.Close()
	}
	err = eachManifest(ctx, st, stream, seqRange(from+1, stored), func(e *Entry) error {
		if prev != nil && (e.Manifest.Previous == nil || e.Manifest.Previous.Key != prev.Key || e.Manifest.Previous.SHA256 != prev.SHA256) {
			return fmt.Errorf("%w: %s: link to previous manifest does not match %s", ErrChainBroken, e.Key, prev.Key)
		}
		if err := checkPartOrder(prev, e.Manifest); err != nil {
			return fmt.Errorf("%w: %s: %v", ErrChainBroken, e.Key, err)
		}
		if err := keys.checkTransition(e); err != nil {
			return err
		}
		if err := b.Add(e.Manifest); err != nil {
			return err
		}
		if e.Sequence > treeAt {
			if err := tree.append(e.SHA256); err != nil {
				return err
			}
			treeAt = e.Sequence
		}
		if prev != nil && prev.Sequence > from {
			prev.Manifest = nil // only the head's is kept
		}
		prev = e
		return nil
	})
	if err != nil {
		return nil, err
	}
	c := &Chain{Stream: stream, Head: prev, tree: tree}
	if prev != nil {
		if err := checkHead(ctx, st, prev, keys); err != nil {
			return nil, err
		}
		c.Head = withoutLists(prev)
	}
	head := archindex.Head{}
	if prev != nil {
		head = archindex.Head{Sequence: prev.Sequence, SHA256: prev.SHA256}
	}
	if c.index, err = b.Write(path, head); err != nil {
		return nil, err
	}
	return c, nil
}

// checkHead verifies the head manifest's signature.
func checkHead(ctx context.Context, st store.Store, head *Entry, keys *keyHistory) error {
	if keys.fromState && head.Manifest != nil && head.Manifest.KeyTransition != nil {
		return errKeysUnknown // which key is current after it is the history's to say
	}
	raw, err := readCapped(ctx, st, head.Key, MaxManifestBytes)
	if err != nil {
		return err
	}
	if manifest.SHA256(raw) != head.SHA256 {
		return fmt.Errorf("%w: head %s changed while it was read", ErrChainBroken, head.Key)
	}
	if err := keys.check(ctx, st, head.Key, head.Sequence, head.Manifest.RunID, raw); err != nil {
		return fmt.Errorf("%w: head %s: %v", ErrChainBroken, head.Key, err)
	}
	return nil
}

// trustedIndex opens the index at path and returns it with the entry of
// the manifest it was built for, once that manifest is found unchanged in
// the store; or nil and nil when there is no index to trust (none, damaged,
// another chain's, ahead of the store), which is then rebuilt.
func trustedIndex(ctx context.Context, st store.Store, stream, path string, stored uint64, log *slog.Logger) (*archindex.Index, *Entry, error) {
	ix, err := archindex.Open(path, stream)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		log.Warn("archive index not usable, rebuilding it from the manifests", "path", path, "err", err)
		return nil, nil, nil
	}
	h := ix.Head()
	if h.Sequence == 0 {
		ix.Close()
		return nil, nil, nil
	}
	if h.Sequence > stored {
		ix.Close()
		log.Warn("archive index is ahead of the store, rebuilding it", "path", path, "index_head", h.Sequence, "stored", stored)
		return nil, nil, nil
	}
	key := manifest.Key(stream, h.Sequence)
	raw, err := readCapped(ctx, st, key, MaxManifestBytes)
	if err != nil {
		ix.Close()
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil, nil
		}
		return nil, nil, err
	}
	if manifest.SHA256(raw) != h.SHA256 {
		ix.Close()
		log.Warn("archive index was built for another chain, rebuilding it", "path", path, "manifest", key)
		return nil, nil, nil
	}
	m, err := manifest.Parse(raw)
	if err != nil {
		ix.Close()
		return nil, nil, fmt.Errorf("%w: %s: %v", ErrChainBroken, key, err)
	}
	return ix, &Entry{Sequence: h.Sequence, Key: key, SHA256: h.SHA256, Manifest: m}, nil
}

// eachManifest reads the manifests seqs in order, prefetch at a time,
// parses and checks each against its key, and calls fn with it: at most
// prefetch manifests (16 MiB each at most) are held at once.
func eachManifest(ctx context.Context, st store.Store, stream string, seqs []uint64, fn func(*Entry) error) error {
	const prefetch = 4
	raws := make([][]byte, prefetch)
	for len(seqs) > 0 {
		batch := seqs[:min(prefetch, len(seqs))]
		seqs = seqs[len(batch):]
		g, gctx := errgroup.WithContext(ctx)
		for i, n := range batch {
			g.Go(func() error {
				raw, err := readCapped(gctx, st, manifest.Key(stream, n), MaxManifestBytes)
				if err != nil {
					return fmt.Errorf("read manifest %s: %w", manifest.Key(stream, n), err)
				}
				raws[i] = raw
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return err
		}
		for i, n := range batch {
			key := manifest.Key(stream, n)
			m, err := manifest.Parse(raws[i])
			if err != nil {
				return fmt.Errorf("%w: %s: %v", ErrChainBroken, key, err)
			}
			if m.Stream != stream || m.Sequence != n {
				return fmt.Errorf("%w: %s holds stream %q sequence %d", ErrChainBroken, key, m.Stream, m.Sequence)
			}
			sum := manifest.SHA256(raws[i])
			raws[i] = nil
			if err := fn(&Entry{Sequence: n, Key: key, SHA256: sum, Manifest: m}); err != nil {
				return err
			}
		}
	}
	return nil
}

// Failures returns the failures owed to the archive (files whose latest
// record is a failure that no later run archived), sorted by file id.
func (c *Chain) Failures() ([]manifest.Failure, error) {
	var out []manifest.Failure
	if c.index != nil {
		if err := c.index.Failures(func(f manifest.Failure) error { out = append(out, f); return nil }); err != nil {
			return nil, err
		}
	} else {
		for _, f := range c.Failed {
			out = append(out, f)
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].ID < out[b].ID })
	return out, nil
}

// Close releases the chain's index, if it has one.
func (c *Chain) Close() error {
	if c.index == nil {
		return nil
	}
	return c.index.Close()
}

// withoutLists returns the entry with its manifest's lists dropped.
func withoutLists(e *Entry) *Entry {
	m := *e.Manifest
	m.Objects, m.Failures, m.Skipped = nil, nil, nil
	out := *e
	out.Manifest = &m
	return &out
}
