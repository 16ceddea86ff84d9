package custody

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/manifest"
)

// prefetchAhead is how many manifests (with their signatures) are read
// ahead of the one being checked: 4 parts of a large run (2 MiB each) are
// a few tens of MB with their parsed form.
const prefetchAhead = 4

// fetched is a manifest read ahead: its bytes, parsed form and signature check.
type fetched struct {
	raw      []byte
	err      error // reading the manifest: a store error
	unread   error // the manifest is there but cannot be read (too large, not a file)
	m        *manifest.Manifest
	parseErr error
	sigErr   error // from checkSignature
}

func (v *verifier) fetch(ctx context.Context, n uint64) fetched {
	key := manifest.Key(v.stream, n)
	raw, err := readCapped(ctx, v.st, key, MaxManifestBytes)
	if err != nil {
		if isUnreadable(err) {
			return fetched{unread: err}
		}
		return fetched{err: err}
	}
	m, err := manifest.Parse(raw)
	if err != nil {
		return fetched{raw: raw, parseErr: err}
	}
	return fetched{raw: raw, m: m, sigErr: v.keys.check(ctx, v.st, key, n, m.RunID, raw)}
}

// prefetch reads the manifests seqs in the background, at most
// prefetchAhead beyond the one taken last; next returns them in order.
func (v *verifier) prefetch(ctx context.Context, seqs []uint64) (next func() (fetched, error)) {
	slots := make([]chan fetched, len(seqs))
	for i := range slots {
		slots[i] = make(chan fetched, 1)
	}
	sem := make(chan struct{}, prefetchAhead)
	go func() {
		for i, n := range seqs {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			go func() { slots[i] <- v.fetch(ctx, n) }()
		}
	}()
	i := 0
	return func() (fetched, error) {
		select {
		case f := <-slots[i]:
			i++
			<-sem
			return f, nil
		case <-ctx.Done():
			return fetched{}, ctx.Err()
		}
	}
}

// checkChain checks the manifests from..to in order (pass 3), after
// reading the one before from, whose link into the range is checked too.
func (v *verifier) checkChain(ctx context.Context, l *listing, from, to uint64) error {
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	prev, err := v.predecessor(pctx, l, from)
	if err != nil {
		return err
	}
	var inRange []uint64
	for _, n := range l.seqs {
		if n >= from && n <= to {
			inRange = append(inRange, n)
		}
	}
	next := v.prefetch(pctx, inRange)
	for n := from; n <= to; n++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		v.rep.ManifestsChecked++
		if !l.present[n] {
			v.problem(Problem{Kind: KindManifestMissing, Key: manifest.Key(v.stream, n), Sequence: n, Detail: fmt.Sprintf("sequence %d has no manifest (head is %d)", n, l.head)})
			prev = nil
			continue
		}
		f, err := next()
		if err != nil {
			return err
		}
		e, valid, err := v.checkManifest(n, prev, f)
		if err != nil {
			return err
		}
		if valid {
			v.rep.ManifestsValid++
		}
		prev = e
	}
	return nil
}

// predecessor reads the manifest before from, when from > 1, and reports
// it when it is missing or unreadable: then the link into the range
// cannot be checked.
func (v *verifier) predecessor(ctx context.Context, l *listing, from uint64) (*Entry, error) {
	if from <= 1 {
		return nil, nil
	}
	n := from - 1
	key := manifest.Key(v.stream, n)
	report := func(kind, detail string) {
		v.problem(Problem{Kind: kind, Key: key, Sequence: n, Detail: detail + fmt.Sprintf(": the link of %d into the range cannot be checked", from)})
	}
	if !l.present[n] {
		report(KindManifestMissing, fmt.Sprintf("sequence %d, before the range, has no manifest", n))
		return nil, nil
	}
	raw, err := readCapped(ctx, v.st, key, MaxManifestBytes)
	switch {
	case errors.Is(err, store.ErrNotFound):
		report(KindManifestMissing, "listed but could not be read")
		return nil, nil
	case isUnreadable(err):
		report(KindManifestInvalid, err.Error())
		return nil, nil
	case err != nil:
		return nil, err
	}
	m, err := manifest.Parse(raw)
	if err != nil {
		report(KindManifestInvalid, oneLine(err))
		return nil, nil
	}
	return &Entry{Sequence: n, Key: key, SHA256: manifest.SHA256(raw), Manifest: m}, nil
}

// checkManifest checks manifest n and queues the checks of its objects.
// It returns the entry to check the next link against (nil when
// unreadable) and whether the manifest passed every check of its own.
func (v *verifier) checkManifest(n uint64, prev *Entry, f fetched) (*Entry, bool, error) {
	key := manifest.Key(v.stream, n)
	valid := true
	mark := func(kind, detail string) {
		valid = false
		v.problem(Problem{Kind: kind, Key: key, Sequence: n, Detail: detail})
	}
	switch {
	case errors.Is(f.err, store.ErrNotFound):
		mark(KindManifestMissing, "listed but could not be read")
		return nil, false, nil
	case f.err != nil:
		return nil, false, f.err
	case f.unread != nil:
		mark(KindManifestInvalid, f.unread.Error())
		return nil, false, nil
	case f.parseErr != nil:
		mark(KindManifestInvalid, oneLine(f.parseErr))
		return nil, false, nil
	}
	m, raw := f.m, f.raw
	e := &Entry{Sequence: n, Key: key, SHA256: manifest.SHA256(raw), Manifest: m}
	v.leaf(n, e.SHA256)
	if n == v.rep.Head {
		v.rep.HeadSHA256 = e.SHA256
		v.heads = m
	}
	if _, dup := v.runs[m.RunID]; !dup {
		v.runs[m.RunID] = n
	}
	v.ownSigs[manifest.SignatureKey(key, m.RunID)] = true
	if m.KeyTransition != nil {
		v.ownSigs[manifest.TransitionSignatureKey(key, m.RunID)] = true
		switch {
		case !v.keys.isTransition(n):
			mark(KindKeyTransition, "key transition record without the new key's signature at "+manifest.TransitionSignatureKey(key, m.RunID))
		case v.keys.broken(n):
			valid = false // reported with the key history
		}
	}
	if m.Stream != v.stream || m.Sequence != n {
		mark(KindManifestMisplaced, fmt.Sprintf("stored as %s sequence %d, content says %s sequence %d", v.stream, n, m.Stream, m.Sequence))
	}
	if m.Store != v.origin {
		mark(KindStoreMismatch, fmt.Sprintf("manifest says its objects were written to %s, verifying %s (to verify a copy, name where it was written with --origin or store.origin)", m.Store, v.origin))
	}
	if err := f.sigErr; err != nil {
		var sp *signatureProblem
		if !errors.As(err, &sp) {
			return nil, false, err
		}
		mark(sp.kind, sp.detail)
	}
	v.trackParts(n, m)
	switch {
	case n == 1:
		if err := manifest.CheckPartOrder(nil, m); err != nil {
			mark(KindChainBroken, err.Error())
		}
	case prev == nil:
		valid = false // reported on the predecessor: the link cannot be checked
	case m.Previous != nil:
		if err := manifest.CheckPartOrder(prev.Manifest, m); err != nil {
			mark(KindChainBroken, err.Error())
		}
		if m.Previous.Key != prev.Key || m.Previous.SHA256 != prev.SHA256 {
			mark(KindChainBroken, fmt.Sprintf("previous is %s sha256 %s, stored predecessor %s has sha256 %s", m.Previous.Key, m.Previous.SHA256, prev.Key, prev.SHA256))
		}
		if !m.Window.Start.Equal(prev.Manifest.Window.End) {
			mark(KindWindowGap, fmt.Sprintf("window starts %s, previous window ended %s", m.Window.Start.Format("2006-01-02T15:04:05Z07:00"), prev.Manifest.Window.End.Format("2006-01-02T15:04:05Z07:00")))
		}
	}
	if v.rewrites[n] {
		valid = false // reported by the checkpoint
	}
	for _, cerr := range m.CheckCommitments() {
		kind := KindTotalsMismatch
		var ce *manifest.CommitmentError
		if errors.As(cerr, &ce) && strings.HasPrefix(ce.Field, "merkle") {
			kind = KindMerkleMismatch
		}
		mark(kind, cerr.Error())
	}
	v.checkObjects(n, m.Objects)
	return e, valid, nil
}

// oneLine joins a multi-line error into one line.
func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }

// checkCheckpoint compares the chain with the auditor's checkpoint.
func (v *verifier) checkCheckpoint(ctx context.Context, l *listing) error {
	cp := v.opts.Checkpoint
	if cp == nil {
		return nil
	}
	key := manifest.Key(v.stream, cp.Sequence)
	if l.head < cp.Sequence {
		v.problem(Problem{Kind: KindChainTruncated, Key: key, Sequence: cp.Sequence,
			Detail: fmt.Sprintf("checkpoint is at sequence %d, but the newest manifest is %d: manifests were removed from the end", cp.Sequence, l.head)})
		return nil
	}
	if !l.present[cp.Sequence] {
		return nil // reported as manifest_missing
	}
	raw, err := readCapped(ctx, v.st, key, MaxManifestBytes)
	if errors.Is(err, store.ErrNotFound) || isUnreadable(err) {
		return nil // reported by the chain pass
	}
	if err != nil {
		return err
	}
	if got := manifest.SHA256(raw); got != cp.SHA256 {
		v.rewrites[cp.Sequence] = true
		v.problem(Problem{Kind: KindChainRewritten, Key: key, Sequence: cp.Sequence,
			Detail: fmt.Sprintf("checkpoint says sha256 %s, stored manifest has %s: the chain was rewritten", cp.SHA256, got)})
	}
	return nil
}

// trackParts follows the runs sealed in parts (manifest.Part), in chain
// order, and records those whose last part never came: runs cut short.
func (v *verifier) trackParts(n uint64, m *manifest.Manifest) {
	if o := v.open; o != nil && (m.RunID != o.RunID || m.PartIndex() == 1) {
		v.rep.IncompleteRuns = append(v.rep.IncompleteRuns, *o)
		v.open = nil
	}
	if m.Complete() {
		v.open = nil
		return
	}
	if v.open == nil {
		v.open = &IncompleteRun{RunID: m.RunID}
	}
	v.open.Parts, v.open.LastSequence = int(m.PartIndex()), n
}
