package custody

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/manifest"
)

// checkUnclaimed reports the objects in the folder of a run whose manifest
// was read but does not list them (object_unclaimed), and, when the whole
// chain was verified, counts and lists the objects and signatures of runs
// that wrote no manifest: crashed runs, or writers that lost the race for
// a sequence number. Those are orphans, not failures (pass 5). It lists the
// objects again, one at a time, rather than keeping them from pass 1.
func (v *verifier) checkUnclaimed(ctx context.Context, l *listing, whole bool) error {
	slices.SortFunc(v.claimed, compareClaims)
	op := v.stream + "/objects/"
	var orphans int
	var first []string // the first orphaned objects, in key order
	// The whole stream, as pass 1 lists it (a prefix that is itself
	// something odd, such as objects/ replaced by a link, is listed and
	// reported the same way).
	err := v.st.List(ctx, v.stream+"/", func(oi store.ObjectInfo) error {
		k := oi.Key
		if !strings.HasPrefix(k, op) {
			return nil
		}
		run, _, ok := strings.Cut(strings.TrimPrefix(k, op), "/")
		if !ok || run == "" {
			return nil // reported as stray by pass 1
		}
		seq, known := v.runs[run]
		switch {
		case v.isClaimed(k):
		case known:
			v.problem(Problem{Kind: KindObjectUnclaimed, Key: k, Sequence: seq,
				Detail: fmt.Sprintf("in the folder of run %s, whose manifest %d does not list it", run, seq)})
		default:
			orphans++
			if len(first) < maxOrphanKeys {
				first = append(first, k)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("list objects of %s: %w", v.stream, err)
	}
	var sigs []string
	for _, k := range l.sigs {
		if !v.ownSigs[k] {
			sigs = append(sigs, k)
		}
	}
	if !whole {
		return nil
	}
	// Signatures (under manifests/) sort before objects.
	sort.Strings(sigs)
	keys := append(sigs, first...)
	v.rep.Orphans = len(sigs) + orphans
	v.rep.OrphanKeys = keys[:min(len(keys), maxOrphanKeys)]
	return nil
}

// claimKey is how a claimed object key is remembered: 128 bits of its
// SHA-256, in a slice sorted before pass 5: 16 bytes a key, 16 MB for a
// million objects, instead of a map of the keys themselves.
type claimKey [16]byte

func keyOf(k string) claimKey {
	s := sha256.Sum256([]byte(k))
	return claimKey(s[:16])
}

func (v *verifier) claim(k string) {
	v.mu.Lock()
	v.claimed = append(v.claimed, keyOf(k))
	v.mu.Unlock()
}

func compareClaims(a, b claimKey) int { return bytes.Compare(a[:], b[:]) }

// isClaimed reports whether k is claimed; v.claimed is sorted by then.
func (v *verifier) isClaimed(k string) bool {
	_, ok := slices.BinarySearchFunc(v.claimed, keyOf(k), compareClaims)
	return ok
}

// checkFreshness reports chain_stale when the head's window ended longer
// than MaxAge ago (pass 6). The head is read when the range stops before it.
func (v *verifier) checkFreshness(ctx context.Context, l *listing, to uint64) error {
	if v.opts.MaxAge <= 0 {
		return nil
	}
	key := manifest.Key(v.stream, l.head)
	head := v.heads
	if head == nil && to < l.head {
		raw, err := readCapped(ctx, v.st, key, MaxManifestBytes)
		if err != nil && !errors.Is(err, store.ErrNotFound) && !isUnreadable(err) {
			return err
		}
		if err == nil {
			head, _ = manifest.Parse(raw)
		}
	}
	now := v.opts.Now().UTC()
	switch {
	case head == nil:
		v.problem(Problem{Kind: KindChainStale, Key: key, Sequence: l.head,
			Detail: "the newest manifest cannot be read, so the archive cannot be shown to have grown within " + v.opts.MaxAge.String()})
	case now.Sub(head.Window.End) > v.opts.MaxAge:
		v.problem(Problem{Kind: KindChainStale, Key: key, Sequence: l.head,
			Detail: fmt.Sprintf("the newest manifest's window ended %s, %s ago, longer than the allowed %s: the archive stopped growing",
				head.Window.End.UTC().Format(time.RFC3339), now.Sub(head.Window.End).Round(time.Second), v.opts.MaxAge)})
	}
	return nil
}
