package custody

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/manifest"
)

// Problem kinds reported by Verify.
const (
	KindChainEmpty         = "chain_empty"          // the stream has no manifests at all
	KindManifestMissing    = "manifest_missing"     // a sequence number has no manifest (gap, or deleted)
	KindManifestInvalid    = "manifest_invalid"     // the manifest does not parse or validate, is too large, or is not a regular file
	KindManifestMisplaced  = "manifest_misplaced"   // its stream or sequence differ from its key
	KindManifestUnexpected = "manifest_unexpected"  // a key among the manifests that is neither a manifest nor a signature, or a sequence far past the head
	KindSignatureMissing   = "signature_missing"    // no signature object for the manifest's run
	KindSignatureInvalid   = "signature_invalid"    // the signature does not verify over the manifest bytes, or cannot be read
	KindSignatureKey       = "signature_wrong_key"  // signed by a key other than the trusted one
	KindChainBroken        = "chain_link_mismatch"  // previous key or sha256 does not match the predecessor
	KindWindowGap          = "window_gap"           // time windows of consecutive manifests do not meet
	KindStoreMismatch      = "store_mismatch"       // the manifest's signed store is not the store verified (or --origin)
	KindMerkleMismatch     = "merkle_root_mismatch" // Merkle root or tree size does not match the object list
	KindTotalsMismatch     = "totals_mismatch"      // object count or byte total does not match the list
	KindObjectMissing      = "object_missing"       // the object (at its recorded version) is gone
	KindObjectSize         = "object_size_mismatch" // stored size differs from the recorded size
	KindObjectChecksum     = "object_checksum_mismatch"
	KindObjectHash         = "object_hash_mismatch" // the bytes re-hash to another SHA-256 (or are longer than recorded)
	KindObjectSuperseded   = "object_superseded"    // a newer version hides the archived one
	KindObjectDeleteMarker = "object_delete_marker" // a delete marker hides the archived version
	KindSSEMismatch        = "sse_mismatch"         // server reports other encryption than recorded
	KindEncryptionContext  = "encryption_context_mismatch"
	KindObjectUnreadable   = "object_unreadable" // reading failed, or the store holds no plain object there (a link, FIFO, corrupt metadata)
	KindObjectUnclaimed    = "object_unclaimed"  // an object in a run's folder (or outside any) that no manifest lists
	KindChainTruncated     = "chain_truncated"   // the head is older than a checkpoint the auditor holds
	KindChainRewritten     = "chain_rewritten"   // a manifest differs from a checkpoint the auditor holds
	KindChainStale         = "chain_stale"       // the head's window ended longer ago than MaxAge
)

// Bounds on what Verify reads, whatever the store holds.
const (
	// MaxManifestBytes caps a manifest (a run of about 100,000 objects).
	MaxManifestBytes = 64 << 20
	// MaxSignatureBytes caps a signature sidecar.
	MaxSignatureBytes = 64 << 10
	// MaxGap is the largest run of missing sequence numbers reported one
	// by one. A manifest further than this past the last one before it is
	// not part of the chain: it is reported as manifest_unexpected, and
	// the numbers in between are never walked.
	MaxGap = 1024
	// maxOrphanKeys caps the orphan keys listed in a report (all are counted).
	maxOrphanKeys = 100
)

// ErrRange means the selected range of sequence numbers holds no manifest
// to check: From beyond the head, or From after To. It is a usage error.
var ErrRange = errors.New("empty selection of manifests")

// Problem is one integrity problem found by Verify.
type Problem struct {
	Kind string `json:"kind"`
	// Key is the object or manifest key the problem is about.
	Key string `json:"key"`
	// Sequence is the manifest the problem was found through (0 for none).
	Sequence uint64 `json:"sequence,omitempty"`
	// Detail says what was expected and what was found.
	Detail string `json:"detail"`
}

func (p Problem) String() string {
	return fmt.Sprintf("%s %s: %s", p.Kind, p.Key, p.Detail)
}

// VerifyOptions configure Verify.
type VerifyOptions struct {
	// PublicKey is a key trusted to have signed the manifests (a trust
	// anchor). A chain whose key was rotated is followed from it through
	// its key transition records (keyhistory.go) to every other key of
	// its history.
	PublicKey crypto.PublicKey
	// TrustedKeys are more trust anchors, like PublicKey.
	TrustedKeys []crypto.PublicKey
	// Deep downloads every object and re-hashes it. Otherwise objects are
	// checked by the size and checksum the store reports; stores without
	// server-side checksums (the filesystem store) are always read whole.
	Deep bool
	// From and To bound the sequence numbers checked (0: no bound).
	From, To uint64
	// Concurrency is the number of objects checked at once (default 16).
	Concurrency int
	// Checkpoint, when set, is a (sequence, manifest SHA-256) pair the
	// auditor recorded earlier, e.g. from a previous report's head. The
	// chain cannot prove by itself that its newest manifests were not cut
	// off, or that it was not rewritten and re-signed by whoever holds the
	// key; a checkpoint kept outside the store can.
	Checkpoint *Checkpoint
	// Origin is the store every manifest must name as where its objects
	// were written (its signed store field). Empty: the verified store's
	// own Describe(). Set it to verify a copy (a replica, a restored
	// backup, a moved folder) by naming where the archive was written.
	Origin string
	// MaxAge, when positive, reports chain_stale when the head's window
	// ended longer than MaxAge before Now: the archive stopped growing.
	MaxAge time.Duration
	// Now is the clock for MaxAge (default time.Now).
	Now func() time.Time
	// Observer, when set, follows the verification (a progress display).
	Observer Observer
	// Witness, when set, is the store holding the stream's witnessed
	// checkpoints: a verify of the whole chain proves that the chain's
	// tree extends each of them (verify_witness.go).
	Witness store.Store
	// TreeHeads are checkpoint notes the auditor kept (opened with
	// OpenTreeHead), proven like the witnessed ones.
	TreeHeads []*TreeHead
	// TimestampRoots, when set, are the trusted time-stamp authority
	// roots: a verify of the whole chain checks the time-stamp token of
	// the tree's checkpoint in the store (timestamp_missing without one)
	// and of every checkpoint in the witness (timestamp.go).
	TimestampRoots *x509.CertPool
}

// Observer follows a verification: Total is called as each manifest is
// read, with its objects and their bytes; Done as object bytes are read
// and once per object checked (its unread bytes counted then). Both are
// called from the checking goroutines at once: an Observer must be safe
// for concurrent use and return quickly; it must not block.
type Observer interface {
	Total(objects int, bytes int64)
	Done(objects int, bytes int64)
}

type noObserver struct{}

func (noObserver) Total(int, int64) {}
func (noObserver) Done(int, int64)  {}

// Checkpoint is an external anchor: manifest Sequence had SHA256.
type Checkpoint struct {
	Sequence uint64
	SHA256   string
}

// Report is the outcome of Verify.
//
// Counts are exact: ManifestsChecked counts every sequence number in the
// range, including missing ones; ManifestsValid those that passed every
// check of their own (read, parse, placement, store, signature, link to
// the predecessor, commitments), so a missing manifest, or one whose
// predecessor is missing or unreadable so that its link cannot be
// checked, is checked and not valid. ObjectsChecked counts the objects
// the manifests in range list; ObjectsValid those with no problem.
type Report struct {
	Stream string `json:"stream"`
	Head   uint64 `json:"head"`
	// HeadSHA256 is the hex SHA-256 of the head manifest: with Head, a
	// checkpoint to pass to a later verify. It is given only when the
	// range reaches the head and verified clean; otherwise NoCheckpoint
	// says why not.
	HeadSHA256       string `json:"head_sha256,omitempty"`
	NoCheckpoint     string `json:"no_checkpoint,omitempty"`
	ManifestsChecked int    `json:"manifests_checked"`
	ManifestsValid   int    `json:"manifests_valid"`
	ObjectsChecked   int    `json:"objects_checked"`
	ObjectsValid     int    `json:"objects_valid"`
	Bytes            int64  `json:"bytes_checked"`
	// Orphans counts the objects (and signatures) of runs that wrote no
	// manifest: runs that crashed or lost the race for a sequence number.
	// They are evidence of an interrupted run, not a failure. They are
	// counted only when the whole chain is verified (no From or To);
	// OrphanKeys lists the first of them.
	Orphans    int      `json:"orphans"`
	OrphanKeys []string `json:"orphan_keys,omitempty"`
	// IncompleteRuns are runs sealed in parts whose last part is not in
	// the chain: the exporter stopped after sealing them (a crash). Not a
	// problem of integrity: the objects their parts list are stored and
	// checked like any other, their windows are empty, and the next run
	// covered the same span again (manifest.Part).
	IncompleteRuns []IncompleteRun `json:"incomplete_runs,omitempty"`
	Problems       []Problem       `json:"problems"`
	// Checkpoint is the stream's transparency log: its size, root and how
	// many witnessed checkpoints it was proven to extend. It is given when
	// the whole chain is verified.
	Checkpoint *TreeReport `json:"checkpoint,omitempty"`
	// Keys are the chain's signing keys, in order, with the sequence
	// numbers each signed, as its key transition records tell (one key
	// for a chain never rotated).
	Keys []KeyRange `json:"keys,omitempty"`
}

// IncompleteRun is a run cut short after sealing some of its parts.
type IncompleteRun struct {
	RunID string `json:"run_id"`
	// Parts is how many parts it sealed; LastSequence is the last one's.
	Parts        int    `json:"parts"`
	LastSequence uint64 `json:"last_sequence"`
}

// verifier holds one Verify's state. Verify runs it in passes:
//
//  1. list: every key under the stream's prefix, classified (listing.go);
//  2. range: the chain's head and the sequence numbers to check;
//  3. chain: each manifest read (capped), parsed, placed, signed, linked
//     and its commitments checked, in order (chain.go); the object checks
//     of each are queued as it goes;
//  4. objects: every listed object checked against the store (objects.go);
//  5. unclaimed: objects no manifest lists, and orphans (unclaimed.go);
//  6. freshness and the checkpoint offer.
type verifier struct {
	st     store.Store
	stream string
	opts   VerifyOptions
	origin string

	mu       sync.Mutex
	rep      *Report
	badObjs  int                // object checks with a problem
	runs     map[string]uint64  // run id -> sequence of the manifests read
	claimed  []claimKey         // object keys the manifests read list (unclaimed.go)
	ownSigs  map[string]bool    // signature keys of the manifests read
	rewrites map[uint64]bool    // manifests that differ from the checkpoint
	heads    *manifest.Manifest // the head, when read
	leaves   map[uint64]string  // manifest sha256 by sequence, for the tree
	keys     *keyHistory        // the chain's key history, from the trust anchors
	open     *IncompleteRun     // a run sealed in parts, its last part not seen yet

	read      bool // objects must be read whole
	authority bool // the store reports server-kept checksums
	// objs checks objects of every manifest, Concurrency at a time, so a
	// chain of many small manifests is not checked one round trip at a time.
	objs    *errgroup.Group
	objsCtx context.Context
}

func (v *verifier) problem(p Problem) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.rep.Problems = append(v.rep.Problems, p)
}

// Verify checks a stream's chain and every object it lists. It returns an
// error only when it could not complete (store unreachable, cancelled), or
// wrapping ErrRange when the options select no manifest; integrity
// problems are in the report. Whatever the store holds, it reads a bounded
// amount per key, walks only sequence numbers it listed (and gaps of at
// most MaxGap), never follows what it cannot read, and stops when ctx ends.
func Verify(ctx context.Context, st store.Store, stream string, opts VerifyOptions) (*Report, error) {
	if opts.Concurrency <= 0 {
		opts.Concurrency = 16
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Observer == nil {
		opts.Observer = noObserver{}
	}
	if opts.From > 0 && opts.To > 0 && opts.From > opts.To {
		return nil, fmt.Errorf("%w: from %d is after to %d", ErrRange, opts.From, opts.To)
	}
	v := &verifier{
		st: st, stream: stream, opts: opts, origin: opts.Origin,
		rep:  &Report{Stream: stream, Problems: []Problem{}},
		runs: map[string]uint64{}, ownSigs: map[string]bool{}, rewrites: map[uint64]bool{},
	}
	if v.origin == "" {
		v.origin = st.Describe()
	}
	if ca, ok := st.(store.ChecksumAuthority); ok && ca.ServerChecksums() {
		v.authority = true
	} else {
		v.read = true
	}
	if opts.Deep {
		v.read = true
	}
	// Pass 1: list.
	l, err := v.list(ctx)
	if err != nil {
		return nil, err
	}
	l.reportUnexpected(v)
	if l.head == 0 {
		v.problem(Problem{Kind: KindChainEmpty, Key: manifest.ManifestsPrefix(stream), Detail: "no manifests found for stream " + stream})
		v.rep.NoCheckpoint = "the stream has no manifests"
		v.finish()
		return v.rep, nil
	}
	v.rep.Head = l.head
	if err := v.readKeys(ctx, l); err != nil {
		return nil, err
	}
	// Pass 2: the range.
	from, to := max(opts.From, 1), l.head
	if opts.From > l.head {
		return nil, fmt.Errorf("%w: from %d is beyond the head, %d", ErrRange, opts.From, l.head)
	}
	if opts.To > 0 && opts.To < l.head {
		to = opts.To
	}
	if err := v.checkCheckpoint(ctx, l); err != nil {
		return nil, err
	}
	// Passes 3 and 4: manifests in order, their objects concurrently.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(v.opts.Concurrency)
	v.objs, v.objsCtx = g, gctx
	err = v.checkChain(gctx, l, from, to)
	// The object checks' own error (a store error) comes first: it is
	// what cancelled the chain pass, if anything did.
	if werr := g.Wait(); werr != nil {
		return nil, werr
	}
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if v.open != nil && to == l.head {
		v.rep.IncompleteRuns = append(v.rep.IncompleteRuns, *v.open)
	}
	// Pass 5: what no manifest claims; the witnessed checkpoints.
	if err := v.checkUnclaimed(ctx, l, from == 1 && to == l.head); err != nil {
		return nil, err
	}
	if err := v.checkWitnessed(ctx, l, from == 1 && to == l.head); err != nil {
		return nil, err
	}
	// Pass 6: freshness, and whether to offer a checkpoint.
	if err := v.checkFreshness(ctx, l, to); err != nil {
		return nil, err
	}
	v.offerCheckpoint(to)
	v.finish()
	return v.rep, nil
}

// offerCheckpoint keeps HeadSHA256 only for a range that reaches the head
// and verified clean, and says why otherwise.
func (v *verifier) offerCheckpoint(to uint64) {
	switch {
	case to < v.rep.Head:
		v.rep.NoCheckpoint = fmt.Sprintf("the range ends at %d, before the head %d", to, v.rep.Head)
	case len(v.rep.Problems) > 0:
		v.rep.NoCheckpoint = fmt.Sprintf("the chain did not verify clean (%d problems)", len(v.rep.Problems))
	case v.rep.HeadSHA256 == "":
		v.rep.NoCheckpoint = "the head could not be read"
	}
	if v.rep.NoCheckpoint != "" {
		v.rep.HeadSHA256 = ""
	}
}

// finish fills the object count and sorts the problems.
func (v *verifier) finish() {
	v.rep.ObjectsValid = v.rep.ObjectsChecked - v.badObjs
	sort.SliceStable(v.rep.Problems, func(i, j int) bool {
		a, b := v.rep.Problems[i], v.rep.Problems[j]
		if a.Sequence != b.Sequence {
			return a.Sequence < b.Sequence
		}
		if a.Key != b.Key {
			return a.Key < b.Key
		}
		return a.Kind < b.Kind
	})
}
