package custody

import (
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/logkeeper/logkeeper/custody/bundle"
	"github.com/logkeeper/logkeeper/internal/signing"
	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/manifest"
)

// ErrOutNotEmpty means a bundle's output folder exists and holds something.
var ErrOutNotEmpty = errors.New("output folder is not empty")

// BundleOptions select what a discovery bundle holds.
type BundleOptions struct {
	Matter string
	// From and To select the runs whose window overlaps [From, To); a
	// zero time leaves that side open.
	From, To time.Time
	// Out is the folder to write; it must not exist or be empty.
	Out string
	// PublicKey is the key the chain is signed with; every bundled
	// manifest's signature is checked with it before anything is written.
	PublicKey crypto.PublicKey
	// Actor is who produces the bundle (recorded in index.json).
	Actor string
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Observer, when set, follows the copy of the files.
	Observer Observer
}

// BundleResult is what WriteBundle wrote.
type BundleResult struct {
	Matter    string `json:"matter"`
	Stream    string `json:"stream"`
	Files     int    `json:"files"`
	Bytes     int64  `json:"bytes"`
	Manifests int    `json:"manifests"`
	Out       string `json:"out"`
	// Digest is the SHA-256 of the bundle's SHA256SUMS, which names every
	// other file of the bundle by its hash.
	Digest string `json:"digest"`
}

// overlaps reports whether a run's window overlaps [from, to); a zero
// from or to is open. An empty window counts when its instant is inside.
func overlaps(w manifest.Window, from, to time.Time) bool {
	if !to.IsZero() && !w.Start.Before(to) {
		return false
	}
	if from.IsZero() {
		return true
	}
	return w.End.After(from) || (w.End.Equal(w.Start) && !w.Start.Before(from))
}

// WriteBundle writes a discovery bundle of stream's runs whose window
// overlaps the range: their files (the exact stored bytes, each checked
// against its manifest), an inclusion proof for each, the manifests and
// signatures, the public key, index.json, index.html, README.txt and
// SHA256SUMS. The manifests are checked (parse, commitments, links between
// them, signature) before anything is written; a stored object whose
// bytes are not what its manifest records stops the bundle with an error.
func WriteBundle(ctx context.Context, st store.Store, stream string, o BundleOptions) (*BundleResult, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Observer == nil {
		o.Observer = noObserver{}
	}
	if err := checkOut(o.Out); err != nil {
		return nil, err
	}
	entries, raws, trans, err := selectRunsKeys(ctx, st, stream, o)
	if err != nil {
		return nil, err
	}
	pubPEM, err := signing.MarshalPublicKeyPEM(o.PublicKey)
	if err != nil {
		return nil, err
	}
	keyID, err := signing.KeyID(o.PublicKey)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return nil, fmt.Errorf("create bundle folder: %w", err)
	}
	root, err := os.OpenRoot(o.Out)
	if err != nil {
		return nil, fmt.Errorf("open bundle folder: %w", err)
	}
	defer root.Close()
	w := &bundleWriter{root: root, sums: map[string]string{}}
	ix := &bundle.Index{Schema: bundle.IndexSchema, Matter: o.Matter, Stream: stream, CreatedAt: o.Now().UTC(),
		CreatedBy: o.Actor, Store: st.Describe(), PublicKey: bundle.PublicKeyFile, KeyID: keyID,
		Manifests: []bundle.Manifest{}, Files: []bundle.File{}, Events: []bundle.Event{}}
	if !o.From.IsZero() {
		f := o.From.UTC()
		ix.From = &f
	}
	if !o.To.IsZero() {
		t := o.To.UTC()
		ix.To = &t
	}
	if err := w.write(bundle.PublicKeyFile, pubPEM); err != nil {
		return nil, err
	}
	var total int64
	for i, e := range entries {
		sigKey := manifest.SignatureKey(e.Key, e.Manifest.RunID)
		sig, err := readCapped(ctx, st, sigKey, MaxSignatureBytes)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", sigKey, err)
		}
		be := bundle.Manifest{Sequence: e.Sequence, Key: e.Key, SHA256: e.SHA256,
			Path: path.Join(bundle.ManifestsDir, path.Base(e.Key)), Signature: path.Join(bundle.ManifestsDir, path.Base(sigKey))}
		if err := w.write(be.Path, raws[i]); err != nil {
			return nil, err
		}
		if err := w.write(be.Signature, sig); err != nil {
			return nil, err
		}
		ix.Manifests = append(ix.Manifests, be)
		tree := bundle.NewTree(e.Key, e.Manifest)
		for j, obj := range e.Manifest.Objects {
			p, err := tree.Proof(j)
			if err != nil {
				return nil, err
			}
			f := bundle.File{Path: path.Join(bundle.FilesDir, obj.Key), Key: obj.Key, VersionID: obj.VersionID,
				Size: obj.Size, SHA256: obj.SHA256, Manifest: e.Sequence, LeafIndex: uint64(j),
				Proof: path.Join(bundle.ProofsDir, obj.Key+".proof.json"), Source: obj.Source}
			if !fs.ValidPath(f.Path) || !fs.ValidPath(f.Proof) {
				return nil, fmt.Errorf("%s: object key %q cannot name a file in the bundle", e.Key, obj.Key)
			}
			pb, err := bundle.Marshal(p)
			if err != nil {
				return nil, err
			}
			if err := w.write(f.Proof, pb); err != nil {
				return nil, err
			}
			ix.Files = append(ix.Files, f)
			total += obj.Size
		}
	}
	ix.Bytes = total
	if ix.Transitions, err = w.writeTransitions(ctx, st, trans); err != nil {
		return nil, err
	}
	if ix.Events, err = w.writeEvents(ctx, st, o.Matter); err != nil {
		return nil, err
	}
	o.Observer.Total(len(ix.Files), total)
	if err := w.copyFiles(ctx, st, ix.Files, o.Observer); err != nil {
		return nil, err
	}
	ib, err := bundle.Marshal(ix)
	if err != nil {
		return nil, err
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{bundle.IndexFile, ib}, {bundle.HTMLFile, bundle.HTML(ix)}, {bundle.ReadmeFile, bundle.Readme(ix)}} {
		if err := w.write(f.name, f.data); err != nil {
			return nil, err
		}
	}
	sums := w.sumsFile()
	if err := w.write(bundle.SumsFile, sums); err != nil {
		return nil, err
	}
	return &BundleResult{Matter: o.Matter, Stream: stream, Files: len(ix.Files), Bytes: total,
		Manifests: len(ix.Manifests), Out: o.Out, Digest: manifest.SHA256(sums)}, nil
}

// checkOut refuses an output folder that exists and is not empty.
func checkOut(out string) error {
	if out == "" {
		return errors.New("no output folder")
	}
	d, err := os.Open(out)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("output folder: %w", err)
	}
	defer d.Close()
	names, err := d.Readdirnames(1)
	if err != nil && err != io.EOF {
		return fmt.Errorf("output folder %s: %w", out, err)
	}
	if len(names) > 0 {
		return fmt.Errorf("%s: %w", out, ErrOutNotEmpty)
	}
	return nil
}

// selectRuns reads the stream's chain, checks it, and returns the
// manifests whose window overlaps the range, with their exact bytes.
func selectRuns(ctx context.Context, st store.Store, stream string, o BundleOptions) ([]*Entry, [][]byte, error) {
	entries, raws, _, err := selectRunsKeys(ctx, st, stream, o)
	return entries, raws, err
}

// selectRunsKeys is selectRuns, with the chain's key transitions: each
// manifest's signature is checked with the key current at its position,
// from o.PublicKey through the transitions, which must all be valid.
func selectRunsKeys(ctx context.Context, st store.Store, stream string, o BundleOptions) ([]*Entry, [][]byte, []*transitionRec, error) {
	entries, raws, keys, err := selectChain(ctx, st, stream, o)
	if err != nil {
		return nil, nil, nil, err
	}
	return entries, raws, keys.trans, nil
}

// selectBatch is how many manifests selectChain reads at once.
const selectBatch = 16

func selectChain(ctx context.Context, st store.Store, stream string, o BundleOptions) ([]*Entry, [][]byte, *keyHistory, error) {
	seqs, transSeqs, err := listChain(ctx, st, stream)
	if err != nil {
		return nil, nil, nil, err
	}
	trans, err := readTransitions(ctx, st, stream, transSeqs)
	if err != nil {
		return nil, nil, nil, err
	}
	keys := newKeyHistory(trans, []crypto.PublicKey{o.PublicKey}, "")
	if len(keys.problems) > 0 {
		p := keys.problems[0]
		return nil, nil, nil, fmt.Errorf("%w: %s: key history broken: %s", ErrChainBroken, p.Key, p.Detail)
	}
	var (
		entries []*Entry
		out     [][]byte
		prev    *Entry
		raws    [][]byte
	)
	// The manifests are read selectBatch at a time, and only those in the
	// range are kept: a matter of one day over a long chain holds that
	// day's manifests, not the whole chain.
	for i, n := range seqs {
		if i%selectBatch == 0 {
			raws, err = fetchManifests(ctx, st, stream, seqs[i:min(i+selectBatch, len(seqs))])
			if err != nil {
				return nil, nil, nil, fmt.Errorf("read manifests of %s: %w", stream, err)
			}
		}
		raw := raws[i%selectBatch]
		raws[i%selectBatch] = nil
		key := manifest.Key(stream, n)
		m, err := manifest.Parse(raw)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("%w: %s: %v", ErrChainBroken, key, err)
		}
		if m.Stream != stream || m.Sequence != n || n != uint64(i+1) {
			return nil, nil, nil, fmt.Errorf("%w: %s: holds %q sequence %d, or a sequence before it is missing", ErrChainBroken, key, m.Stream, m.Sequence)
		}
		e := &Entry{Sequence: n, Key: key, SHA256: manifest.SHA256(raw), Manifest: m}
		if prev != nil && (m.Previous.Key != prev.Key || m.Previous.SHA256 != prev.SHA256) {
			return nil, nil, nil, fmt.Errorf("%w: %s: link to previous manifest does not match %s", ErrChainBroken, key, prev.Key)
		}
		prev = &Entry{Key: key, SHA256: e.SHA256}
		if !overlaps(m.Window, o.From, o.To) {
			continue
		}
		if errs := m.CheckCommitments(); len(errs) > 0 {
			return nil, nil, nil, fmt.Errorf("%w: %s: %w", ErrChainBroken, key, errors.Join(errs...))
		}
		if m.KeyTransition != nil && !keys.isTransition(n) {
			return nil, nil, nil, fmt.Errorf("%w: %s: key transition record without the new key's signature", ErrChainBroken, key)
		}
		if err := keys.check(ctx, st, key, n, m.RunID, raw); err != nil {
			return nil, nil, nil, fmt.Errorf("%w: %s: %v", ErrChainBroken, key, err)
		}
		entries = append(entries, e)
		out = append(out, raw)
	}
	return entries, out, keys, nil
}

type bundleWriter struct {
	root *os.Root
	mu   sync.Mutex
	sums map[string]string
}

// write creates the new file p in the bundle with data.
func (w *bundleWriter) write(p string, data []byte) error {
	return w.create(p, func(f io.Writer) error {
		_, err := f.Write(data)
		return err
	})
}

// create makes the new file p (and its folders), fills it with fill and
// records its SHA-256 for SHA256SUMS.
func (w *bundleWriter) create(p string, fill func(io.Writer) error) error {
	if dir := path.Dir(p); dir != "." {
		if err := w.root.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("bundle: %w", err)
		}
	}
	f, err := w.root.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	h := sha256.New()
	err = fill(io.MultiWriter(f, h))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("bundle: write %s: %w", p, err)
	}
	w.mu.Lock()
	w.sums[p] = hex.EncodeToString(h.Sum(nil))
	w.mu.Unlock()
	return nil
}

// copyFiles copies every file's stored bytes (its recorded version),
// refusing any whose bytes are not what the manifest records.
func (w *bundleWriter) copyFiles(ctx context.Context, st store.Store, files []bundle.File, obs Observer) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for _, f := range files {
		g.Go(func() error {
			rc, _, err := st.Get(gctx, f.Key, store.GetOptions{VersionID: f.VersionID})
			if err != nil {
				return fmt.Errorf("read %s: %w", f.Key, err)
			}
			defer rc.Close()
			var n int64
			var sum string
			err = w.create(f.Path, func(out io.Writer) error {
				h := sha256.New()
				var err error
				n, err = io.Copy(io.MultiWriter(out, h), observedReader{store.ContextReader(gctx, io.LimitReader(rc, f.Size+1)), obs})
				sum = hex.EncodeToString(h.Sum(nil))
				return err
			})
			if err != nil {
				return err
			}
			obs.Done(1, 0)
			if n != f.Size || sum != f.SHA256 {
				return fmt.Errorf("%w: %s: stored bytes (%d, sha256 %s) are not what manifest %d records (%d, sha256 %s); run logkeeper verify",
					ErrChainBroken, f.Key, n, sum, f.Manifest, f.Size, f.SHA256)
			}
			return nil
		})
	}
	return g.Wait()
}

// sumsFile is SHA256SUMS over every file written so far, sorted by path.
func (w *bundleWriter) sumsFile() []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	paths := make([]string, 0, len(w.sums))
	for p := range w.sums {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var b strings.Builder
	for _, p := range paths {
		b.WriteString(bundle.SumLine(w.sums[p], p))
	}
	return []byte(b.String())
}

// writeEvents copies the matter's custody events and their signatures,
// exact bytes, into the bundle.
func (w *bundleWriter) writeEvents(ctx context.Context, st store.Store, matter string) ([]bundle.Event, error) {
	seqs, _, err := eventSeqs(ctx, st)
	if err != nil {
		return nil, err
	}
	out := []bundle.Event{}
	for _, n := range seqs {
		key := EventKey(n)
		raw, err := readCapped(ctx, st, key, maxEventBytes)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", key, err)
		}
		e, err := parseEvent(raw)
		if err != nil || e.Matter != matter {
			continue // another matter's, or broken (custody log reports it)
		}
		sigKey := manifest.SignatureKey(key, e.ID)
		sig, err := readCapped(ctx, st, sigKey, MaxSignatureBytes)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", sigKey, err)
		}
		be := bundle.Event{Sequence: n, Key: key, SHA256: manifest.SHA256(raw),
			Path: path.Join(bundle.EventsDir, path.Base(key)), Signature: path.Join(bundle.EventsDir, path.Base(sigKey))}
		if err := w.write(be.Path, raw); err != nil {
			return nil, err
		}
		if err := w.write(be.Signature, sig); err != nil {
			return nil, err
		}
		out = append(out, be)
	}
	return out, nil
}
