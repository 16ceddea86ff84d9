package custody

import (
	"context"
	"sort"

	"golang.org/x/sync/errgroup"

	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/manifest"
)

// StoredRun is one manifest of a stream as it is stored, read without
// judging it: a reader that lists runs (a report) takes it as it is, and
// Verify says what is wrong with it.
type StoredRun struct {
	Sequence uint64
	Key      string
	// Manifest is nil when the manifest could not be read or parsed;
	// Err then says why.
	Manifest *manifest.Manifest
	Err      error
	// KeyID is the key id its signature sidecar names (not checked here;
	// Verify checks the signature with the trusted key); empty when the
	// sidecar is missing or unreadable.
	KeyID string
}

// ReadRuns reads every manifest of a stream that the store lists, in
// sequence order, each capped as Verify caps it. A manifest that cannot be
// read or parsed is returned with its error; the error of ReadRuns itself
// is a store that could not be listed or a cancelled ctx.
func ReadRuns(ctx context.Context, st store.Store, stream string) ([]StoredRun, error) {
	seqs, err := listManifests(ctx, st, stream)
	if err != nil {
		return nil, err
	}
	out := make([]StoredRun, len(seqs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i, n := range seqs {
		g.Go(func() error {
			r := StoredRun{Sequence: n, Key: manifest.Key(stream, n)}
			defer func() { out[i] = r }()
			raw, err := readCapped(gctx, st, r.Key, MaxManifestBytes)
			if err != nil {
				if gctx.Err() != nil {
					return gctx.Err()
				}
				r.Err = err
				return nil
			}
			if r.Manifest, r.Err = manifest.Parse(raw); r.Err != nil {
				r.Manifest = nil
				return nil
			}
			sig, err := readCapped(gctx, st, manifest.SignatureKey(r.Key, r.Manifest.RunID), MaxSignatureBytes)
			if err == nil {
				if s, err := manifest.ParseSignature(sig); err == nil {
					r.KeyID = s.KeyID
				}
			}
			return gctx.Err()
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

// WitnessedSizes lists the tree sizes of a stream's checkpoints in a
// witness, ascending.
func WitnessedSizes(ctx context.Context, w store.Store, stream string) ([]uint64, error) {
	found, _, err := listWitnessed(ctx, w, stream)
	if err != nil {
		return nil, err
	}
	sizes := make([]uint64, len(found))
	for i, f := range found {
		sizes[i] = f.size
	}
	sort.Slice(sizes, func(i, j int) bool { return sizes[i] < sizes[j] })
	return sizes, nil
}
