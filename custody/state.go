package custody

import (
	"bytes"
	"context"
	"crypto"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/logkeeper/logkeeper/custody/archindex"
	"github.com/logkeeper/logkeeper/internal/signing"
	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/manifest"
)

// The start-up state of a stream lets an exporter start in a few requests
// whatever the length of its chain: a signed object, rewritten after each
// checkpoint, that holds the chain head it was written for (key, sequence,
// SHA-256), the compact range of the stream's transparency log at that
// head, and what the source needs to stay incremental (the archived and
// failed files of a chain held in memory; the head of the local
// archived-file index of a chain loaded through it).
//
// An exporter trusts the state only once its signature verifies with the
// configured key and the head manifest it names is found in the store
// with the same SHA-256; it then probes the next sequence numbers for
// manifests written after it and folds them in. A state that is missing,
// unsigned, signed by another key, of another stream, malformed or whose
// head is not in the store is not used: the chain is read whole, as
// before, and a warning says why. verify never reads it.

// StateFormat is the value of a state's format field.
const StateFormat = "logkeeper.state/v1"

// stateSignPrefix separates a state's signed bytes from a manifest's.
const stateSignPrefix = "logkeeper-state/v1\n"

// MaxStateBytes bounds a stored state, as manifests are bounded: a state
// whose files would make it larger is written without them.
const MaxStateBytes = manifest.MaxBytes

// StateKey is the key of a stream's start-up state, next to its
// checkpoints.
func StateKey(stream string) string { return CheckpointsPrefix(stream) + "state.json" }

// State is a stream's start-up state.
type State struct {
	Format  string     `json:"format"`
	Stream  string     `json:"stream"`
	Written time.Time  `json:"written"`
	Head    StateHead  `json:"head"`
	Tree    StateTree  `json:"tree"`
	Files   *StateFile `json:"files,omitempty"`
	// Index is the head of the local archived-file index the writer used
	// (a chain loaded through it); the index itself stays local.
	Index *archindex.Head `json:"index,omitempty"`
}

// StateHead names the manifest the state was written for.
type StateHead struct {
	Sequence uint64 `json:"sequence"`
	Key      string `json:"key"`
	SHA256   string `json:"sha256"`
}

// StateTree is the compact range [0, size) of the stream's transparency
// log: the roots of its perfect subtrees, left to right, and its root.
type StateTree struct {
	Size   uint64   `json:"size"`
	Root   string   `json:"root"`
	Hashes []string `json:"hashes"`
}

// StateFile is what a chain held in memory knows of the source's files.
type StateFile struct {
	Archived []manifest.Provenance `json:"archived"`
	Failed   []manifest.Failure    `json:"failed"`
}

// stateEnvelope is the stored form: the state's bytes and their signature.
type stateEnvelope struct {
	State     []byte `json:"state"`
	Algorithm string `json:"algorithm"`
	KeyID     string `json:"key_id"`
	Signature []byte `json:"signature"`
}

// state returns the chain's start-up state; withFiles adds the archived
// and failed files of a chain held in memory.
func (c *Chain) state(withFiles bool) (*State, error) {
	if c.Head == nil || c.tree == nil {
		return nil, ErrNoTree
	}
	if c.tree.size() != c.Head.Sequence {
		return nil, fmt.Errorf("tree of size %d for head %s", c.tree.size(), c.Head.Key)
	}
	s := &State{
		Format: StateFormat, Stream: c.Stream, Written: time.Now().UTC(),
		Head: StateHead{Sequence: c.Head.Sequence, Key: c.Head.Key, SHA256: c.Head.SHA256},
		Tree: StateTree{Size: c.tree.size(), Root: hex.EncodeToString(c.tree.root())},
	}
	for _, h := range c.tree.r.Hashes() {
		s.Tree.Hashes = append(s.Tree.Hashes, hex.EncodeToString(h))
	}
	if c.index != nil {
		h := c.index.Head()
		s.Index = &h
	} else if withFiles {
		f := &StateFile{Archived: []manifest.Provenance{}, Failed: []manifest.Failure{}}
		for _, p := range c.Archived {
			f.Archived = append(f.Archived, p)
		}
		for _, x := range c.Failed {
			f.Failed = append(f.Failed, x)
		}
		sort.Slice(f.Archived, func(a, b int) bool { return f.Archived[a].ID < f.Archived[b].ID })
		sort.Slice(f.Failed, func(a, b int) bool { return f.Failed[a].ID < f.Failed[b].ID })
		s.Files = f
	}
	return s, nil
}

// PublishState signs the chain's start-up state and writes it at
// StateKey, replacing the one before; opts carries the encryption (a state
// lists file names, as manifests do). A state whose files would exceed
// MaxStateBytes is written without them (a chain held in memory then
// starts by reading all its manifests, as without a state). The state is
// a cache: a caller logs a failure and goes on.
func PublishState(ctx context.Context, st store.Store, signer signing.Signer, c *Chain, opts store.PutOptions) error {
	env, err := signState(ctx, signer, c, true)
	if err == nil && len(env) > MaxStateBytes {
		env, err = signState(ctx, signer, c, false)
	}
	if err != nil {
		return fmt.Errorf("start-up state of %s: %w", c.Stream, err)
	}
	key := StateKey(c.Stream)
	// Replaced with a conditional put: a store that is otherwise
	// write-once (the file store) replaces an object only so.
	opts.IfNotExists, opts.IfMatch = false, ""
	switch info, err := st.Head(ctx, key, store.GetOptions{}); {
	case errors.Is(err, store.ErrNotFound):
		opts.IfNotExists = true
	case err != nil:
		return fmt.Errorf("start-up state %s: %w", key, err)
	default:
		opts.IfMatch = info.ETag
	}
	opts.Retention = nil
	opts.ContentType = "application/json"
	opts.Size = int64(len(env))
	if _, err := st.Put(ctx, key, bytes.NewReader(env), opts); err != nil {
		return fmt.Errorf("store start-up state %s: %w", key, err)
	}
	return nil
}

func signState(ctx context.Context, signer signing.Signer, c *Chain, withFiles bool) ([]byte, error) {
	s, err := c.state(withFiles)
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	sig, err := signer.Sign(ctx, append([]byte(stateSignPrefix), raw...))
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	return json.Marshal(stateEnvelope{State: raw, Algorithm: signer.Algorithm(), KeyID: signer.KeyID(), Signature: sig})
}

// OpenState checks a stored state's signature with pub and its form, and
// returns it. It does not check it against the store (resumeState does).
func OpenState(env []byte, stream string, pub crypto.PublicKey) (*State, error) {
	var e stateEnvelope
	if err := json.Unmarshal(env, &e); err != nil {
		return nil, fmt.Errorf("not a state: %v", err)
	}
	want, err := signing.KeyID(pub)
	if err != nil {
		return nil, err
	}
	if e.KeyID != want {
		return nil, fmt.Errorf("signed by key %q, trusted key is %s", e.KeyID, want)
	}
	if err := signing.Verify(pub, e.Algorithm, append([]byte(stateSignPrefix), e.State...), e.Signature); err != nil {
		return nil, fmt.Errorf("signature: %v", err)
	}
	var s State
	dec := json.NewDecoder(bytes.NewReader(e.State))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("state: %v", err)
	}
	switch {
	case s.Format != StateFormat:
		return nil, fmt.Errorf("format %q, want %q", s.Format, StateFormat)
	case s.Stream != stream:
		return nil, fmt.Errorf("state of stream %q", s.Stream)
	case s.Head.Sequence == 0 || s.Head.Key != manifest.Key(stream, s.Head.Sequence):
		return nil, fmt.Errorf("head %q is not manifest %d of %s", s.Head.Key, s.Head.Sequence, stream)
	case s.Tree.Size != s.Head.Sequence:
		return nil, fmt.Errorf("tree of size %d for head sequence %d", s.Tree.Size, s.Head.Sequence)
	}
	if _, err := s.treeRange(); err != nil {
		return nil, err
	}
	return &s, nil
}

// treeRange rebuilds the compact range and checks it against the root.
func (s *State) treeRange() (*treeRange, error) {
	hashes := make([][]byte, len(s.Tree.Hashes))
	for i, h := range s.Tree.Hashes {
		b, err := hex.DecodeString(h)
		if err != nil || len(b) != treeHasher.Size() {
			return nil, fmt.Errorf("tree hash %d is not %d bytes of hex", i, treeHasher.Size())
		}
		hashes[i] = b
	}
	r, err := rangeFactory.NewRange(0, s.Tree.Size, hashes)
	if err != nil {
		return nil, fmt.Errorf("tree: %v", err)
	}
	t := &treeRange{r: r}
	if hex.EncodeToString(t.root()) != s.Tree.Root {
		return nil, fmt.Errorf("tree hashes do not give root %s", s.Tree.Root)
	}
	return t, nil
}

// errNoState says the state cannot be used; the chain is read whole.
var errNoState = errors.New("no usable start-up state")

// resumeState returns the chain as the stream's state describes it, after
// checking the state's signature and that its head manifest is in the
// store with the same SHA-256, with that manifest's bytes. The chain's
// Archived and Failed are the state's files when needFiles (else nil).
// Anything that makes the state unusable is logged and returned as
// errNoState; other errors are the store's or the context's.
func resumeState(ctx context.Context, st store.Store, stream string, pub crypto.PublicKey, needFiles bool, log *slog.Logger) (*Chain, []byte, error) {
	key := StateKey(stream)
	unusable := func(why string, args ...any) (*Chain, []byte, error) {
		log.Warn("start-up state not used, reading the whole chain: "+why, append([]any{"key", key}, args...)...)
		return nil, nil, errNoState
	}
	env, err := readCapped(ctx, st, key, MaxStateBytes+(MaxStateBytes/2))
	if errors.Is(err, store.ErrNotFound) {
		log.Info("no start-up state yet, reading the whole chain", "key", key)
		return nil, nil, errNoState
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		return unusable("unreadable", "err", err.Error())
	}
	s, err := OpenState(env, stream, pub)
	if err != nil {
		return unusable("it does not verify", "err", err.Error())
	}
	if needFiles && s.Files == nil {
		return unusable("it does not hold the archived files")
	}
	raw, err := readCapped(ctx, st, s.Head.Key, MaxManifestBytes)
	if errors.Is(err, store.ErrNotFound) {
		return unusable("the store does not hold its head", "head", s.Head.Key)
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		return unusable("its head is unreadable", "head", s.Head.Key, "err", err.Error())
	}
	if sum := manifest.SHA256(raw); sum != s.Head.SHA256 {
		return unusable("its head differs in the store", "head", s.Head.Key, "state_sha256", s.Head.SHA256, "stored_sha256", sum)
	}
	m, err := manifest.Parse(raw)
	if err != nil || m.Stream != stream || m.Sequence != s.Head.Sequence {
		return unusable("its head does not parse as that manifest", "head", s.Head.Key)
	}
	t, err := s.treeRange()
	if err != nil {
		return unusable(err.Error())
	}
	c := &Chain{Stream: stream, Head: &Entry{Sequence: s.Head.Sequence, Key: s.Head.Key, SHA256: s.Head.SHA256, Manifest: m}, tree: t}
	if needFiles {
		c.Archived = make(map[string]manifest.Provenance, len(s.Files.Archived))
		c.Failed = make(map[string]manifest.Failure, len(s.Files.Failed))
		for _, p := range s.Files.Archived {
			c.Archived[p.ID] = p
		}
		for _, f := range s.Files.Failed {
			c.Failed[f.ID] = f
		}
	}
	return c, raw, nil
}

// probeStored returns the sequence number of the last manifest stored
// after head: it asks for head+1, head+2, ... until one is missing, and
// then for the one after it, so that a gap is found (ErrChainBroken)
// rather than written over. Two requests when nothing was appended.
func probeStored(ctx context.Context, st store.Store, stream string, head uint64) (uint64, error) {
	exists := func(n uint64) (bool, error) {
		_, err := st.Head(ctx, manifest.Key(stream, n), store.GetOptions{})
		if errors.Is(err, store.ErrNotFound) {
			return false, nil
		}
		return err == nil, err
	}
	n := head
	for {
		ok, err := exists(n + 1)
		if err != nil {
			return 0, fmt.Errorf("probe %s: %w", manifest.Key(stream, n+1), err)
		}
		if !ok {
			break
		}
		n++
	}
	ok, err := exists(n + 2)
	if err != nil {
		return 0, fmt.Errorf("probe %s: %w", manifest.Key(stream, n+2), err)
	}
	if ok {
		return 0, fmt.Errorf("%w: %s: manifest %d is missing", ErrChainBroken, stream, n+1)
	}
	return n, nil
}

func seqRange(from, to uint64) []uint64 {
	var out []uint64
	for n := from; n <= to; n++ {
		out = append(out, n)
	}
	return out
}
