package custody

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"sort"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/logkeeper/logkeeper/custody/archindex"
	"github.com/logkeeper/logkeeper/internal/signing"
	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/manifest"
)

// ErrChainBroken means the stored chain failed a check that an exporter
// makes before appending to it. Run `logkeeper verify` for the full report.
var ErrChainBroken = errors.New("chain of custody broken")

// ErrSequenceTaken means another writer created the manifest with the
// sequence number this run meant to write.
var ErrSequenceTaken = errors.New("manifest sequence number already taken")

// Entry is one stored manifest.
type Entry struct {
	Sequence uint64
	Key      string
	// SHA256 is the hex SHA-256 of the manifest's exact bytes.
	SHA256   string
	Manifest *manifest.Manifest
}

// Chain is a stream's chain as an exporter sees it.
type Chain struct {
	Stream string
	// Head is the newest manifest, nil when the stream has none yet.
	Head *Entry
	// Archived maps a source file's ID to the provenance of its newest
	// archived copy.
	Archived map[string]manifest.Provenance
	// Failed maps a source file's ID to its latest recorded failure, for
	// files that no later run archived: they are owed to the archive.
	Failed map[string]manifest.Failure
	// tree is the compact range of the stream's transparency log over
	// the manifests read (see tlog.go).
	tree *treeRange
	// index, when set (LoadIndexed), holds what Archived and Failed would,
	// on disk; both maps are then nil.
	index *archindex.Index
}

// record folds one manifest into what the chain knows. A chain loaded
// through the index learns of its own appends at the next LoadIndexed.
func (c *Chain) record(m *manifest.Manifest) {
	if c.index != nil {
		return
	}
	for _, o := range m.Objects {
		c.Archived[o.Source.ID] = o.Source
		delete(c.Failed, o.Source.ID)
	}
	for _, f := range m.Failures {
		if f.ID != "" {
			c.Failed[f.ID] = f
		}
	}
}

// NeedsArchiving reports whether a source file with this provenance still needs
// archiving: it was never archived, or its size or modification time
// changed since.
func (c *Chain) NeedsArchiving(p manifest.Provenance) bool {
	if c.index != nil {
		// An index that cannot be read says "archive it": a second copy
		// costs space, a skipped file would be lost.
		e, ok, err := c.index.Lookup(p.ID)
		return err != nil || !ok || e.NeedsArchiving(p.Size, p.Modified)
	}
	prev, ok := c.Archived[p.ID]
	return !ok || prev.Size != p.Size || !prev.Modified.Equal(p.Modified)
}

// NextSequence is the sequence number of the next manifest.
func (c *Chain) NextSequence() uint64 {
	if c.Head == nil {
		return 1
	}
	return c.Head.Sequence + 1
}

// listManifests returns the sequence numbers and keys of a stream's
// manifests in ascending order.
func listManifests(ctx context.Context, st store.Store, stream string) ([]uint64, error) {
	seqs, _, err := listChain(ctx, st, stream)
	return seqs, err
}

// listChain is listManifests, with the sequence numbers that hold a key
// transition (transitionSeqs).
func listChain(ctx context.Context, st store.Store, stream string) (seqs, trans []uint64, err error) {
	var newSigs []string
	err = st.List(ctx, manifest.ManifestsPrefix(stream), func(oi store.ObjectInfo) error {
		if n, ok := manifest.ParseKey(stream, oi.Key); ok {
			seqs = append(seqs, n)
		} else if manifest.IsTransitionSignatureKey(oi.Key) {
			newSigs = append(newSigs, oi.Key)
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("list manifests of %s: %w", stream, err)
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	return seqs, transitionSeqs(stream, newSigs), nil
}

// readCapped reads the object at key whole, but never more than limit
// bytes: a larger object is an error wrapping store.ErrUnreadable, as is
// one the store cannot serve as a plain object. The read ends with ctx.
func readCapped(ctx context.Context, st store.Store, key string, limit int64) ([]byte, error) {
	rc, _, err := st.Get(ctx, key, store.GetOptions{})
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(store.ContextReader(ctx, rc), limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes: %w", key, limit, store.ErrUnreadable)
	}
	return b, nil
}

// isUnreadable reports whether err says something is stored at a key, but
// not a plain object that may be read (a link, a FIFO, too large...).
func isUnreadable(err error) bool { return errors.Is(err, store.ErrUnreadable) }

// fetchManifests reads the given manifests concurrently, in order.
func fetchManifests(ctx context.Context, st store.Store, stream string, seqs []uint64) ([][]byte, error) {
	out := make([][]byte, len(seqs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i, n := range seqs {
		g.Go(func() error {
			b, err := readCapped(gctx, st, manifest.Key(stream, n), MaxManifestBytes)
			out[i] = b
			return err
		})
	}
	return out, g.Wait()
}

// Load reads a stream's chain for an exporter, all of it. It checks that
// sequence numbers have no gaps, that every manifest parses and links to
// the exact bytes of its predecessor, and that the head's signature
// verifies with pub; together these authenticate the whole chain. Any
// failure wraps ErrChainBroken; store errors are returned as they are.
// Resume starts from the stream's signed start-up state instead.
func Load(ctx context.Context, st store.Store, stream string, pub crypto.PublicKey) (*Chain, error) {
	seqs, transSeqs, err := listChain(ctx, st, stream)
	if err != nil {
		return nil, err
	}
	keys, err := chainKeys(ctx, st, stream, transSeqs, pub)
	if err != nil {
		return nil, err
	}
	for i, n := range seqs {
		if n != uint64(i+1) {
			return nil, fmt.Errorf("%w: %s: manifest %d is missing", ErrChainBroken, stream, i+1)
		}
	}
	c := &Chain{Stream: stream, Archived: map[string]manifest.Provenance{}, Failed: map[string]manifest.Failure{}, tree: newTreeRange()}
	if len(seqs) == 0 {
		return c, nil
	}
	raws, err := fetchManifests(ctx, st, stream, seqs)
	if err != nil {
		return nil, fmt.Errorf("read manifests of %s: %w", stream, err)
	}
	if err := c.fold(seqs, raws, keys); err != nil {
		return nil, err
	}
	if err := keys.check(ctx, st, c.Head.Key, c.Head.Sequence, c.Head.Manifest.RunID, raws[len(raws)-1]); err != nil {
		return nil, fmt.Errorf("%w: head %s: %v", ErrChainBroken, c.Head.Key, err)
	}
	return c, nil
}

// Resume is Load in a few requests, whatever the length of the chain: it
// starts from the stream's signed start-up state (state.go) once that
// checks out against the head manifest it names, probes for manifests
// written after it and folds them in (checking their links), and verifies
// the head's signature. Without a usable state (logged on log) it is Load.
func Resume(ctx context.Context, st store.Store, stream string, pub crypto.PublicKey, log *slog.Logger) (*Chain, error) {
	return resume(ctx, st, stream, pub, nil, log)
}

// resume starts from base, a chain loaded before, when its head is found
// unchanged in the store; else from the start-up state; else it is Load.
func resume(ctx context.Context, st store.Store, stream string, pub crypto.PublicKey, base *Chain, log *slog.Logger) (*Chain, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var c *Chain
	var headRaw []byte
	if base != nil && base.Head != nil {
		raw, err := readCapped(ctx, st, base.Head.Key, MaxManifestBytes)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		if err == nil && manifest.SHA256(raw) == base.Head.SHA256 {
			c, headRaw = base.clone(), raw
		}
	}
	if c == nil {
		var err error
		c, headRaw, err = resumeState(ctx, st, stream, pub, true, log)
		if errors.Is(err, errNoState) {
			return Load(ctx, st, stream, pub)
		}
		if err != nil {
			return nil, err
		}
	}
	last, err := probeStored(ctx, st, stream, c.Head.Sequence)
	if err != nil {
		return nil, err
	}
	if seqs := seqRange(c.Head.Sequence+1, last); len(seqs) > 0 {
		raws, err := fetchManifests(ctx, st, stream, seqs)
		if err != nil {
			return nil, fmt.Errorf("read manifests of %s: %w", stream, err)
		}
		if err := c.fold(seqs, raws, stateKeys(pub)); errors.Is(err, errKeysUnknown) {
			log.Info("a key transition since the start-up state: reading the chain's key history", "stream", stream)
			return Load(ctx, st, stream, pub)
		} else if err != nil {
			return nil, err
		}
		headRaw = raws[len(raws)-1]
	}
	if c.Head.Manifest.KeyTransition != nil {
		// The head hands over to a new key: which key is current is the
		// key history's to say.
		return Load(ctx, st, stream, pub)
	}
	if err := checkSignature(ctx, st, c.Head.Key, c.Head.Manifest.RunID, headRaw, pub); err != nil {
		return nil, fmt.Errorf("%w: head %s: %v", ErrChainBroken, c.Head.Key, err)
	}
	return c, nil
}

// fold appends the manifests seqs (their bytes raws) to the chain, checking
// each against its key and its link to the one before, and each key
// transition record against the key history keys.
func (c *Chain) fold(seqs []uint64, raws [][]byte, keys *keyHistory) error {
	prev := c.Head
	for i, n := range seqs {
		key := manifest.Key(c.Stream, n)
		m, err := manifest.Parse(raws[i])
		if err != nil {
			return fmt.Errorf("%w: %s: %v", ErrChainBroken, key, err)
		}
		if m.Stream != c.Stream || m.Sequence != n {
			return fmt.Errorf("%w: %s holds stream %q sequence %d", ErrChainBroken, key, m.Stream, m.Sequence)
		}
		e := &Entry{Sequence: n, Key: key, SHA256: manifest.SHA256(raws[i]), Manifest: m}
		if prev != nil && (m.Previous == nil || m.Previous.Key != prev.Key || m.Previous.SHA256 != prev.SHA256) {
			return fmt.Errorf("%w: %s: link to previous manifest does not match %s", ErrChainBroken, key, prev.Key)
		}
		if err := checkPartOrder(prev, m); err != nil {
			return fmt.Errorf("%w: %s: %v", ErrChainBroken, key, err)
		}
		if err := keys.checkTransition(e); err != nil {
			return err
		}
		c.record(m)
		if err := c.tree.append(e.SHA256); err != nil {
			return err
		}
		prev = e
	}
	c.Head = prev
	return nil
}

// clone copies the chain, so that appending to the copy leaves c as it is.
func (c *Chain) clone() *Chain {
	return &Chain{Stream: c.Stream, Head: c.Head, Archived: maps.Clone(c.Archived), Failed: maps.Clone(c.Failed), tree: c.tree.clone()}
}

// Cache keeps the chains it loaded in memory, so that the next Load of a
// stream reads only the manifests appended since (after checking that the
// head it knows is still there, byte for byte), instead of the whole
// history: a daemon loads each chain once, not once per window, and that
// once from the stream's start-up state (Resume) when it checks out.
// Losing the cache loses nothing; it is rebuilt from the store. Safe for
// concurrent use.
type Cache struct {
	// Log receives the warnings of Resume (nil: none).
	Log *slog.Logger

	mu     sync.Mutex
	chains map[string]*Chain
}

// Load is Resume, incremental over what the cache knows. The chain
// returned is the caller's own: appending to it does not change the cache.
func (cc *Cache) Load(ctx context.Context, st store.Store, stream string, pub crypto.PublicKey) (*Chain, error) {
	key := st.Describe() + "\x00" + stream
	cc.mu.Lock()
	base := cc.chains[key]
	cc.mu.Unlock()
	c, err := resume(ctx, st, stream, pub, base, cc.Log)
	if err != nil {
		return nil, err
	}
	cc.mu.Lock()
	if cc.chains == nil {
		cc.chains = map[string]*Chain{}
	}
	if old := cc.chains[key]; old == nil || old.Head == nil || (c.Head != nil && c.Head.Sequence >= old.Head.Sequence) {
		cc.chains[key] = c.clone()
	}
	cc.mu.Unlock()
	return c, nil
}

// signatureProblem is a reason a signature did not verify.
type signatureProblem struct {
	kind, detail string
}

func (p *signatureProblem) Error() string { return p.detail }

// checkSignature verifies the sidecar signature of the manifest bytes raw.
// A *signatureProblem says what is wrong with the signature; other errors
// come from the store.
func checkSignature(ctx context.Context, st store.Store, key, runID string, raw []byte, pub crypto.PublicKey) error {
	err := checkSig(ctx, st, manifest.SignatureKey(key, runID), key, raw, pub)
	var sp *signatureProblem
	if errors.As(err, &sp) && sp.kind == KindSignatureMissing && strings.HasPrefix(sp.detail, "invalid key ") {
		// The run id (from the manifest, which may be tampered with)
		// makes no valid key: there can be no signature.
		return &signatureProblem{KindSignatureMissing, fmt.Sprintf("run id %q gives no valid signature key", runID)}
	}
	return err
}

// checkSig verifies the signature sidecar at sigKey of the manifest bytes
// raw stored at key.
func checkSig(ctx context.Context, st store.Store, sigKey, key string, raw []byte, pub crypto.PublicKey) error {
	sb, err := readCapped(ctx, st, sigKey, MaxSignatureBytes)
	if errors.Is(err, store.ErrNotFound) {
		return &signatureProblem{KindSignatureMissing, "no signature at " + sigKey}
	}
	if isUnreadable(err) {
		return &signatureProblem{KindSignatureInvalid, err.Error()}
	}
	if errors.Is(err, store.ErrInvalidKey) {
		return &signatureProblem{KindSignatureMissing, "invalid key " + sigKey}
	}
	if err != nil {
		return err
	}
	sig, err := manifest.ParseSignature(sb)
	if err != nil {
		return &signatureProblem{KindSignatureInvalid, err.Error()}
	}
	want, err := signing.KeyID(pub)
	if err != nil {
		return err
	}
	if sig.KeyID != want {
		return &signatureProblem{KindSignatureKey, fmt.Sprintf("signed by key %s, trusted key is %s", sig.KeyID, want)}
	}
	if sig.ManifestKey != key {
		return &signatureProblem{KindSignatureInvalid, fmt.Sprintf("signature is for %s", sig.ManifestKey)}
	}
	if got := manifest.SHA256(raw); sig.ManifestSHA256 != got {
		return &signatureProblem{KindSignatureInvalid, fmt.Sprintf("signature covers manifest sha256 %s, stored manifest has %s", sig.ManifestSHA256, got)}
	}
	if err := signing.Verify(pub, sig.Algorithm, raw, sig.Value); err != nil {
		return &signatureProblem{KindSignatureInvalid, err.Error()}
	}
	return nil
}

// Append signs m and stores it as the next manifest of the chain, filling
// its stream, sequence and link to the head. The signature is stored first,
// under a key unique to m.RunID; the manifest is then created
// conditionally. If another writer already created that sequence number,
// Append returns an error wrapping ErrSequenceTaken and the chain is
// unchanged. opts carries encryption and retention for both objects.
func (c *Chain) Append(ctx context.Context, st store.Store, signer signing.Signer, m *manifest.Manifest, opts store.PutOptions) (*Entry, error) {
	return c.appendSigned(ctx, st, signer, nil, m, opts)
}

// appendSigned is Append; when next is set (a key transition record), the
// manifest is also signed by next, in its transition signature sidecar,
// stored before the manifest.
func (c *Chain) appendSigned(ctx context.Context, st store.Store, signer, next signing.Signer, m *manifest.Manifest, opts store.PutOptions) (*Entry, error) {
	m.Stream = c.Stream
	m.Sequence = c.NextSequence()
	m.Previous = nil
	if c.Head != nil {
		m.Previous = &manifest.Link{Key: c.Head.Key, SHA256: c.Head.SHA256}
	}
	raw, err := manifest.Marshal(m)
	if err != nil {
		return nil, err
	}
	key := manifest.Key(c.Stream, m.Sequence)
	sum := manifest.SHA256(raw)
	opts.IfNotExists = true
	opts.ContentType = "application/json"
	put := func(s signing.Signer, sigKey string) error {
		value, err := s.Sign(ctx, raw)
		if err != nil {
			return fmt.Errorf("sign %s: %w", key, err)
		}
		sb, err := manifest.MarshalSignature(&manifest.Signature{
			ManifestKey: key, ManifestSHA256: sum,
			Algorithm: s.Algorithm(), KeyID: s.KeyID(), Value: value,
		})
		if err != nil {
			return err
		}
		o := opts
		o.Size = int64(len(sb))
		if _, err := st.Put(ctx, sigKey, bytes.NewReader(sb), o); err != nil {
			return fmt.Errorf("store signature of %s: %w", key, err)
		}
		return nil
	}
	if err := put(signer, manifest.SignatureKey(key, m.RunID)); err != nil {
		return nil, err
	}
	if next != nil {
		if err := put(next, manifest.TransitionSignatureKey(key, m.RunID)); err != nil {
			return nil, err
		}
	}
	opts.Size = int64(len(raw))
	if _, err := st.Put(ctx, key, bytes.NewReader(raw), opts); err != nil {
		if errors.Is(err, store.ErrExists) {
			return nil, fmt.Errorf("%w: %s was written by another exporter; run again", ErrSequenceTaken, key)
		}
		return nil, fmt.Errorf("store manifest %s: %w", key, err)
	}
	e := &Entry{Sequence: m.Sequence, Key: key, SHA256: sum, Manifest: m}
	c.Head = e
	c.record(m)
	if c.tree != nil {
		if err := c.tree.append(sum); err != nil {
			return nil, err
		}
	}
	return e, nil
}
