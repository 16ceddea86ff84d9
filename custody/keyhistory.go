package custody

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/logkeeper/logkeeper/custody/bundle"
	"github.com/logkeeper/logkeeper/internal/signing"
	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/manifest"
)

// KindKeyTransition is the problem of a key transition record (see
// manifest.KeyTransition) that is not signed by both of its keys, names
// keys that are not what it says, or does not hand over from the key the
// chain had: it breaks (or forks) the chain's key history.
const KindKeyTransition = "key_transition_invalid"

// ErrKeyNotCurrent means the key an exporter (or a rotation) holds is not
// the chain's current key.
var ErrKeyNotCurrent = errors.New("signing key is not the chain's current key")

// transitionRec is a key transition record as read from the store.
type transitionRec struct {
	Seq      uint64
	Key      string
	SHA256   string
	Manifest *manifest.Manifest
	// Old and New are the keys the record names (nil when unreadable),
	// with their fingerprints as the record states them.
	Old, New     crypto.PublicKey
	OldID, NewID string
	// Err says why the record is not a valid transition on its own: a
	// key that does not parse or is not the fingerprint stated, a
	// signature by either key that is missing or does not verify.
	Err error
}

// transitionSeqs returns the sequence numbers that the keys of a stream's
// manifests folder show to hold a key transition (a new key's signature
// sidecar), ascending and once each.
func transitionSeqs(stream string, keys []string) []uint64 {
	seen := map[uint64]bool{}
	var out []uint64
	mp := manifest.ManifestsPrefix(stream)
	for _, k := range keys {
		name, ok := strings.CutPrefix(k, mp)
		if !ok || !manifest.IsTransitionSignatureKey(name) || !isSignatureKey(name) {
			continue
		}
		n, err := strconv.ParseUint(name[:20], 10, 64)
		if err == nil && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// readTransitions reads and checks the key transition records at seqs.
// A sequence number whose manifest is missing, unreadable or not a
// transition is left out (the chain pass reports what is wrong with it).
// Only store errors are returned.
func readTransitions(ctx context.Context, st store.Store, stream string, seqs []uint64) ([]*transitionRec, error) {
	var out []*transitionRec
	for _, n := range seqs {
		key := manifest.Key(stream, n)
		raw, err := readCapped(ctx, st, key, MaxManifestBytes)
		if errors.Is(err, store.ErrNotFound) || isUnreadable(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		m, err := manifest.Parse(raw)
		if err != nil || m.KeyTransition == nil || m.Sequence != n || m.Stream != stream {
			continue
		}
		t, err := checkTransition(ctx, st, key, raw, m)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// checkTransition checks a key transition record on its own: both keys
// parse and have the fingerprints stated, and both signatures verify over
// raw. What is wrong is in the record's Err; store errors are returned.
func checkTransition(ctx context.Context, st store.Store, key string, raw []byte, m *manifest.Manifest) (*transitionRec, error) {
	kt := m.KeyTransition
	t := &transitionRec{Seq: m.Sequence, Key: key, SHA256: manifest.SHA256(raw), Manifest: m, OldID: kt.Old.KeyID, NewID: kt.New.KeyID}
	var errs []error
	parse := func(which string, k manifest.TransitionKey) crypto.PublicKey {
		pub, err := signing.ParsePublicKeyPEM([]byte(k.PublicKey))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s key: %v", which, err))
			return nil
		}
		if id, err := signing.KeyID(pub); err != nil || id != k.KeyID {
			errs = append(errs, fmt.Errorf("%s key: its PEM has fingerprint %s, the record says %s", which, id, k.KeyID))
			return nil
		}
		return pub
	}
	t.Old, t.New = parse("old", kt.Old), parse("new", kt.New)
	sign := func(which, sigKey string, pub crypto.PublicKey) error {
		if pub == nil {
			return nil
		}
		err := checkSig(ctx, st, sigKey, key, raw, pub)
		var sp *signatureProblem
		if errors.As(err, &sp) {
			errs = append(errs, fmt.Errorf("signature by the %s key %s: %s", which, strings.TrimSpace(sp.detail), sigKey))
			return nil
		}
		return err
	}
	if err := sign("old", manifest.SignatureKey(key, m.RunID), t.Old); err != nil {
		return nil, err
	}
	if err := sign("new", manifest.TransitionSignatureKey(key, m.RunID), t.New); err != nil {
		return nil, err
	}
	t.Err = errors.Join(errs...)
	return t, nil
}

// keySpan is a stretch of the chain signed by one key: from the manifest
// after a transition (or 1) to the next transition (or the head, To 0).
type keySpan struct {
	pub      crypto.PublicKey
	id       string
	from, to uint64
	trusted  bool
}

// keyHistory is a chain's key history as its transition records tell it,
// anchored at the keys a verifier trusts.
type keyHistory struct {
	trans []*transitionRec
	spans []keySpan // len(trans)+1
	// fromState: the history is what a start-up state vouches for
	// (stateKeys), not read from the chain.
	fromState bool
	// problems are the transitions that break the history.
	problems []Problem
}

// newKeyHistory builds the key history from the transitions, in chain
// order, trusting the spans whose key is one of anchors and, from those,
// every span reached through valid transitions. first is the key id that
// signed the first manifest, to choose among several anchors for a chain
// without transitions ("" when unknown).
func newKeyHistory(trans []*transitionRec, anchors []crypto.PublicKey, first string) *keyHistory {
	h := &keyHistory{trans: trans, spans: make([]keySpan, len(trans)+1)}
	anchorIDs := map[string]bool{}
	for _, a := range anchors {
		if id, err := signing.KeyID(a); err == nil {
			anchorIDs[id] = true
		}
	}
	if len(trans) == 0 {
		var pick crypto.PublicKey
		for _, a := range anchors {
			if id, _ := signing.KeyID(a); pick == nil || id == first {
				pick = a
			}
		}
		id, _ := signing.KeyID(pick)
		h.spans[0] = keySpan{pub: pick, id: id, from: 1, trusted: pick != nil}
		return h
	}
	for i := range h.spans {
		s := &h.spans[i]
		s.from = 1
		if i > 0 {
			s.from = trans[i-1].Seq + 1
		}
		if i < len(trans) {
			s.to = trans[i].Seq
		}
		switch {
		case i > 0 && trans[i-1].New != nil:
			s.pub, s.id = trans[i-1].New, trans[i-1].NewID
		case i < len(trans) && trans[i].Old != nil:
			s.pub, s.id = trans[i].Old, trans[i].OldID
		}
		s.trusted = s.pub != nil && anchorIDs[s.id]
	}
	// link[i]: transition i hands span i over to span i+1.
	link := make([]bool, len(trans))
	for i, t := range trans {
		detail := ""
		switch {
		case t.Err != nil:
			detail = oneLine(t.Err)
		case i > 0 && t.OldID != trans[i-1].NewID:
			detail = fmt.Sprintf("forks the key history: it hands over from key %s, but the chain's key since sequence %d is %s", t.OldID, trans[i-1].Seq+1, trans[i-1].NewID)
		default:
			link[i] = true
			continue
		}
		h.problems = append(h.problems, Problem{Kind: KindKeyTransition, Key: t.Key, Sequence: t.Seq, Detail: detail})
	}
	trusted := make([]bool, len(h.spans))
	for i := range h.spans {
		trusted[i] = h.spans[i].trusted
	}
	bundle.SpreadTrust(trusted, link)
	for i := range h.spans {
		h.spans[i].trusted = trusted[i]
	}
	return h
}

// at returns the span of sequence number n.
func (h *keyHistory) at(n uint64) *keySpan {
	i := sort.Search(len(h.trans), func(i int) bool { return h.trans[i].Seq >= n })
	return &h.spans[i]
}

// isTransition reports whether the history knows a transition at n.
func (h *keyHistory) isTransition(n uint64) bool {
	i := sort.Search(len(h.trans), func(i int) bool { return h.trans[i].Seq >= n })
	return i < len(h.trans) && h.trans[i].Seq == n
}

// check verifies the signature of manifest n (the bytes raw, of run runID)
// against the key current at n. A span the trusted keys do not reach is a
// *signatureProblem of kind signature_wrong_key.
func (h *keyHistory) check(ctx context.Context, st store.Store, key string, n uint64, runID string, raw []byte) error {
	s := h.at(n)
	if !s.trusted {
		detail := "no trusted key: the chain's key history does not reach sequence " + strconv.FormatUint(n, 10) + " from the trusted keys"
		if s.id != "" {
			detail = fmt.Sprintf("the chain's key at sequence %d is %s, which no trusted key reaches through valid key transitions", n, s.id)
		}
		return &signatureProblem{KindSignatureKey, detail}
	}
	err := checkSignature(ctx, st, key, runID, raw, s.pub)
	var sp *signatureProblem
	if errors.As(err, &sp) && sp.kind == KindSignatureKey && len(h.trans) > 0 {
		sp.detail = fmt.Sprintf("%s (the key current at sequence %d)", sp.detail, n)
	}
	return err
}

// current is the key of the chain's last span.
func (h *keyHistory) current() *keySpan { return &h.spans[len(h.spans)-1] }

// keysOf returns the trusted keys of the history, once each.
func (h *keyHistory) keysOf() []crypto.PublicKey {
	seen := map[string]bool{}
	var out []crypto.PublicKey
	for _, s := range h.spans {
		if s.trusted && s.pub != nil && !seen[s.id] {
			seen[s.id] = true
			out = append(out, s.pub)
		}
	}
	return out
}

// KeyRange is a key of a chain's history with the manifests it signed.
type KeyRange struct {
	KeyID string `json:"key_id"`
	// From and To are the first and last sequence numbers the key signed
	// (a transition record is signed by both keys and counts in the old
	// key's range).
	From uint64 `json:"from"`
	To   uint64 `json:"to"`
	// Trusted says whether a trusted key reaches this one through valid
	// transitions.
	Trusted bool `json:"trusted"`
}

// ranges lists the history's keys with their sequence ranges up to head.
func (h *keyHistory) ranges(head uint64) []KeyRange {
	var out []KeyRange
	for _, s := range h.spans {
		to := s.to
		if to == 0 {
			to = head
		}
		if s.from > to {
			continue
		}
		out = append(out, KeyRange{KeyID: s.id, From: s.from, To: to, Trusted: s.trusted})
	}
	return out
}

// chainKeys reads a chain's key history for an exporter holding pub: every
// transition must be valid and hand over from the key before it, and pub
// must be the chain's current key. Failures wrap ErrChainBroken or
// ErrKeyNotCurrent.
func chainKeys(ctx context.Context, st store.Store, stream string, transSeqs []uint64, pub crypto.PublicKey) (*keyHistory, error) {
	trans, err := readTransitions(ctx, st, stream, transSeqs)
	if err != nil {
		return nil, err
	}
	h := newKeyHistory(trans, []crypto.PublicKey{pub}, "")
	if len(h.problems) > 0 {
		p := h.problems[0]
		return nil, fmt.Errorf("%w: %s: key history broken: %s", ErrChainBroken, p.Key, p.Detail)
	}
	if cur := h.current(); len(trans) > 0 && !cur.trusted {
		id, _ := signing.KeyID(pub)
		if h.isKnown(id) {
			return nil, fmt.Errorf("%w: %w: the chain's signing key was rotated to %s at sequence %d; the key held (%s) signs no more: name the new key in signing.key", ErrChainBroken, ErrKeyNotCurrent, cur.id, cur.from-1, id)
		}
		return nil, fmt.Errorf("%w: %w: the chain's current key is %s, the key held is %s", ErrChainBroken, ErrKeyNotCurrent, cur.id, id)
	}
	if cur := h.current(); len(trans) > 0 {
		if id, _ := signing.KeyID(pub); id != cur.id {
			return nil, fmt.Errorf("%w: %w: the chain's signing key was rotated to %s at sequence %d; the key held (%s) signs no more: name the new key in signing.key", ErrChainBroken, ErrKeyNotCurrent, cur.id, cur.from-1, id)
		}
	}
	return h, nil
}

// isKnown reports whether key id is one of the history's keys.
func (h *keyHistory) isKnown(id string) bool {
	for _, s := range h.spans {
		if s.id == id {
			return true
		}
	}
	return false
}

// AppendTransition appends a key transition record handing the chain
// from the key of signer (which must be the chain's current key: the
// chain was loaded with it) to the key of next: the record names both
// keys, lists nothing, has an empty window at the head's end, and is
// signed by both (the old key's signature and the new key's are stored
// before the record is created conditionally, as Append does). m carries
// the record's run id, times, exporter, reason, store and source; its
// key transition, window and lists are filled here.
func (c *Chain) AppendTransition(ctx context.Context, st store.Store, signer, next signing.Signer, m *manifest.Manifest, opts store.PutOptions) (*Entry, error) {
	if c.Head == nil {
		return nil, fmt.Errorf("stream %s has no manifest yet: there is no key to hand over from (its first run is signed by the new key)", c.Stream)
	}
	old, err := transitionKey(signer)
	if err != nil {
		return nil, err
	}
	nk, err := transitionKey(next)
	if err != nil {
		return nil, err
	}
	if old.KeyID == nk.KeyID {
		return nil, fmt.Errorf("the new key %s is the chain's current key", nk.KeyID)
	}
	end := c.Head.Manifest.Window.End
	m.KeyTransition = &manifest.KeyTransition{Old: old, New: nk}
	m.Window = manifest.Window{Start: end, End: end}
	m.Objects, m.Failures, m.Skipped, m.Part = []manifest.Object{}, nil, nil, nil
	return c.appendSigned(ctx, st, signer, next, m, opts)
}

func transitionKey(s signing.Signer) (manifest.TransitionKey, error) {
	pem, err := signing.MarshalPublicKeyPEM(s.Public())
	if err != nil {
		return manifest.TransitionKey{}, err
	}
	return manifest.TransitionKey{KeyID: s.KeyID(), Algorithm: s.Algorithm(), PublicKey: string(pem)}, nil
}

// broken reports whether the transition at n breaks the history.
func (h *keyHistory) broken(n uint64) bool {
	for _, p := range h.problems {
		if p.Sequence == n {
			return true
		}
	}
	return false
}

// anchors returns the verifier's trust anchors.
func (o *VerifyOptions) anchors() []crypto.PublicKey {
	var out []crypto.PublicKey
	if o.PublicKey != nil {
		out = append(out, o.PublicKey)
	}
	for _, k := range o.TrustedKeys {
		if k != nil {
			out = append(out, k)
		}
	}
	return out
}

// readKeys derives the chain's key history from its transition records
// and the trust anchors, and reports the transitions that break it.
func (v *verifier) readKeys(ctx context.Context, l *listing) error {
	var present []uint64
	for _, n := range transitionSeqs(v.stream, l.sigs) {
		if l.present[n] {
			present = append(present, n)
		}
	}
	trans, err := readTransitions(ctx, v.st, v.stream, present)
	if err != nil {
		return err
	}
	anchors := v.opts.anchors()
	first := ""
	if len(trans) == 0 && len(anchors) > 1 && l.present[1] {
		first, err = firstSigner(ctx, v.st, v.stream)
		if err != nil {
			return err
		}
	}
	v.keys = newKeyHistory(trans, anchors, first)
	for _, p := range v.keys.problems {
		v.problem(p)
	}
	v.rep.Keys = v.keys.ranges(l.head)
	return nil
}

// firstSigner returns the key id the first manifest's signature names
// ("" when it cannot be read).
func firstSigner(ctx context.Context, st store.Store, stream string) (string, error) {
	key := manifest.Key(stream, 1)
	raw, err := readCapped(ctx, st, key, MaxManifestBytes)
	if errors.Is(err, store.ErrNotFound) || isUnreadable(err) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	m, err := manifest.Parse(raw)
	if err != nil {
		return "", nil
	}
	sb, err := readCapped(ctx, st, manifest.SignatureKey(key, m.RunID), MaxSignatureBytes)
	if err != nil && !errors.Is(err, store.ErrNotFound) && !isUnreadable(err) && !errors.Is(err, store.ErrInvalidKey) {
		return "", err
	}
	if sig, perr := manifest.ParseSignature(sb); err == nil && perr == nil {
		return sig.KeyID, nil
	}
	return "", nil
}

// HistoryKeys returns the keys of a stream's key history that the trust
// anchors reach through valid key transitions (the anchors themselves
// when the chain was never rotated): the keys its manifests and
// checkpoints may be signed with.
func HistoryKeys(ctx context.Context, st store.Store, stream string, anchors ...crypto.PublicKey) ([]crypto.PublicKey, error) {
	_, transSeqs, err := listChain(ctx, st, stream)
	if err != nil {
		return nil, err
	}
	trans, err := readTransitions(ctx, st, stream, transSeqs)
	if err != nil {
		return nil, err
	}
	if len(trans) == 0 {
		return anchors, nil
	}
	return newKeyHistory(trans, anchors, "").keysOf(), nil
}

// CurrentKey returns the fingerprint of the stream's current signing key
// as its key transition records tell, from the trust anchor pub, and
// since which sequence number it signs ("" and 0 when the chain was
// never rotated, or when pub does not reach its current key).
func CurrentKey(ctx context.Context, st store.Store, stream string, pub crypto.PublicKey) (string, uint64, error) {
	_, transSeqs, err := listChain(ctx, st, stream)
	if err != nil {
		return "", 0, err
	}
	trans, err := readTransitions(ctx, st, stream, transSeqs)
	if err != nil || len(trans) == 0 {
		return "", 0, err
	}
	cur := newKeyHistory(trans, []crypto.PublicKey{pub}, "").current()
	if !cur.trusted {
		return "", 0, nil
	}
	return cur.id, cur.from, nil
}

// writeTransitions copies the chain's key transition records and both
// their signatures into the bundle, so that any one key of the history
// verifies it offline.
func (w *bundleWriter) writeTransitions(ctx context.Context, st store.Store, trans []*transitionRec) ([]bundle.Transition, error) {
	var out []bundle.Transition
	for _, t := range trans {
		bt := bundle.Transition{Sequence: t.Seq, Key: t.Key, SHA256: t.SHA256, Path: path.Join(bundle.TransitionsDir, path.Base(t.Key))}
		raw, err := readCapped(ctx, st, t.Key, MaxManifestBytes)
		if err != nil {
			return nil, err
		}
		if err := w.write(bt.Path, raw); err != nil {
			return nil, err
		}
		for _, sk := range []struct {
			key string
			dst *string
		}{{manifest.SignatureKey(t.Key, t.Manifest.RunID), &bt.Signature}, {manifest.TransitionSignatureKey(t.Key, t.Manifest.RunID), &bt.NewSignature}} {
			sb, err := readCapped(ctx, st, sk.key, MaxSignatureBytes)
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", sk.key, err)
			}
			*sk.dst = path.Join(bundle.TransitionsDir, path.Base(sk.key))
			if err := w.write(*sk.dst, sb); err != nil {
				return nil, err
			}
		}
		out = append(out, bt)
	}
	return out, nil
}

// errKeysUnknown says a chain started from its start-up state (or a chain
// cached before) met a key transition record: the state vouches for one
// key, so the chain's key history must be read, from the listing of the
// whole chain (Load).
var errKeysUnknown = errors.New("a key transition after the start-up state: the key history is read whole")

// stateKeys is the key history a start-up state signed by pub vouches
// for: pub, current at the state's head, with no transition known. A
// transition met after it is errKeysUnknown, not a broken chain.
func stateKeys(pub crypto.PublicKey) *keyHistory {
	h := newKeyHistory(nil, []crypto.PublicKey{pub}, "")
	h.fromState = true
	return h
}

// checkTransition refuses a key transition record that the history does
// not know as one (a record without the new key's signature).
func (h *keyHistory) checkTransition(e *Entry) error {
	if e.Manifest.KeyTransition == nil || h.isTransition(e.Sequence) {
		return nil
	}
	if h.fromState {
		return errKeysUnknown
	}
	return fmt.Errorf("%w: %s: key transition record without the new key's signature", ErrChainBroken, e.Key)
}
