package custody

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/manifest"
)

// listing is every key under a stream's prefix, classified. Everything
// Verify walks comes from here: sequence numbers are the ones listed, never
// counted up to the largest name found.
type listing struct {
	// seqs are the manifests of the chain, ascending; head the last.
	seqs    []uint64
	present map[uint64]bool
	head    uint64
	// far are manifests more than MaxGap past the one before them.
	far []uint64
	// odd are keys among the manifests that are neither a manifest nor a
	// signature; stray are keys under the stream outside manifests/ and
	// objects/, or directly in objects/.
	odd, stray []string
	// sigs are signature keys. The objects in runs' folders are not kept:
	// pass 5 lists them again, one at a time (a million objects would not
	// fit in memory).
	sigs []string
}

// list reads the stream's keys (pass 1).
func (v *verifier) list(ctx context.Context) (*listing, error) {
	l := &listing{present: map[uint64]bool{}}
	mp := manifest.ManifestsPrefix(v.stream)
	op := v.stream + "/objects/"
	var seqs []uint64
	err := v.st.List(ctx, v.stream+"/", func(oi store.ObjectInfo) error {
		k := oi.Key
		switch {
		case strings.HasPrefix(k, mp):
			if n, ok := manifest.ParseKey(v.stream, k); ok {
				seqs = append(seqs, n)
			} else if isSignatureKey(strings.TrimPrefix(k, mp)) {
				l.sigs = append(l.sigs, k)
			} else {
				l.odd = append(l.odd, k)
			}
		case strings.HasPrefix(k, op):
			run, _, ok := strings.Cut(strings.TrimPrefix(k, op), "/")
			if !ok || run == "" {
				l.stray = append(l.stray, k)
			}
		default:
			l.stray = append(l.stray, k)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list stream %s: %w", v.stream, err)
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	var last uint64
	for i, n := range seqs {
		if i > 0 && n == seqs[i-1] {
			continue // a store that lists a key twice
		}
		if n-last > MaxGap {
			l.far = append(l.far, n)
			continue
		}
		l.seqs = append(l.seqs, n)
		l.present[n] = true
		last = n
	}
	l.head = last
	return l, nil
}

// isSignatureKey reports whether name (below manifests/) has the form of a
// signature key: 20 digits, a run id, ".sig".
func isSignatureKey(name string) bool {
	rest, ok := strings.CutSuffix(name, ".sig")
	if !ok || len(rest) < 22 || rest[20] != '.' || strings.Contains(rest, "/") {
		return false
	}
	n, err := strconv.ParseUint(rest[:20], 10, 64)
	return err == nil && n > 0
}

// reportUnexpected reports the keys that are no part of a chain.
func (l *listing) reportUnexpected(v *verifier) {
	for _, k := range l.odd {
		v.problem(Problem{Kind: KindManifestUnexpected, Key: k, Detail: "among the manifests, but neither a manifest (<20-digit sequence>.json) nor a signature"})
	}
	for _, n := range l.far {
		v.problem(Problem{Kind: KindManifestUnexpected, Key: manifest.Key(v.stream, n),
			Detail: fmt.Sprintf("sequence %d is more than %d past the manifest before it (%d): not part of the chain, and the numbers in between are not walked", n, MaxGap, l.prevOf(n))})
	}
	for _, k := range l.stray {
		v.problem(Problem{Kind: KindObjectUnclaimed, Key: k, Detail: "outside any run's folder: no run writes here"})
	}
}

// prevOf returns the chain's last sequence number below n (0 for none).
func (l *listing) prevOf(n uint64) uint64 {
	i := sort.Search(len(l.seqs), func(i int) bool { return l.seqs[i] >= n })
	if i == 0 {
		return 0
	}
	return l.seqs[i-1]
}
