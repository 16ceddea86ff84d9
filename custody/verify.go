package custody

import (
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/manifest"
)

// Problem kinds reported by Verify.
const (
	KindChainEmpty         = "chain_empty"          // the stream has no manifests at all
	KindManifestMissing    = "manifest_missing"     // a sequence number has no manifest (gap, or deleted)
	KindManifestInvalid    = "manifest_invalid"     // the manifest does not parse or validate
	KindManifestMisplaced  = "manifest_misplaced"   // its stream or sequence differ from its key
	KindSignatureMissing   = "signature_missing"    // no signature object for the manifest's run
	KindSignatureInvalid   = "signature_invalid"    // the signature does not verify over the manifest bytes
	KindSignatureKey       = "signature_wrong_key"  // signed by a key other than the trusted one
	KindChainBroken        = "chain_link_mismatch"  // previous key or sha256 does not match the predecessor
	KindWindowGap          = "window_gap"           // time windows of consecutive manifests do not meet
	KindMerkleMismatch     = "merkle_root_mismatch" // Merkle root or tree size does not match the object list
	KindTotalsMismatch     = "totals_mismatch"      // object count or byte total does not match the list
	KindObjectMissing      = "object_missing"       // the object (at its recorded version) is gone
	KindObjectSize         = "object_size_mismatch" // stored size differs from the recorded size
	KindObjectChecksum     = "object_checksum_mismatch"
	KindObjectHash         = "object_hash_mismatch" // deep: the bytes re-hash to another SHA-256
	KindObjectSuperseded   = "object_superseded"    // a newer version hides the archived one
	KindObjectDeleteMarker = "object_delete_marker" // a delete marker hides the archived version
	KindSSEMismatch        = "sse_mismatch"         // server reports other encryption than recorded
	KindEncryptionContext  = "encryption_context_mismatch"
	KindObjectUnreadable   = "object_unreadable" // deep: reading the object failed
	KindChainTruncated     = "chain_truncated"   // the head is older than a checkpoint the auditor holds
	KindChainRewritten     = "chain_rewritten"   // a manifest differs from a checkpoint the auditor holds
)

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
	// PublicKey is the only key trusted to have signed the manifests.
	PublicKey crypto.PublicKey
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
	// Observer, when set, follows the verification (a progress display).
	Observer Observer
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

// observedReader reports the bytes read through it.
type observedReader struct {
	r   io.Reader
	obs Observer
}

func (o observedReader) Read(p []byte) (int, error) {
	n, err := o.r.Read(p)
	o.obs.Done(0, int64(n))
	return n, err
}

// Checkpoint is an external anchor: manifest Sequence had SHA256.
type Checkpoint struct {
	Sequence uint64
	SHA256   string
}

// Report is the outcome of Verify.
type Report struct {
	Stream string `json:"stream"`
	Head   uint64 `json:"head"`
	// HeadSHA256 is the hex SHA-256 of the head manifest: with Head, a
	// checkpoint to pass to a later verify.
	HeadSHA256       string    `json:"head_sha256,omitempty"`
	ManifestsChecked int       `json:"manifests_checked"`
	ManifestsValid   int       `json:"manifests_valid"`
	ObjectsChecked   int       `json:"objects_checked"`
	ObjectsValid     int       `json:"objects_valid"`
	Bytes            int64     `json:"bytes_checked"`
	Problems         []Problem `json:"problems"`
}

// ChecksumAuthority is implemented by stores whose Head reports checksums
// computed and kept by the server, so a fast verify may trust them.
type ChecksumAuthority interface {
	ServerChecksums() bool
}

type verifier struct {
	st        store.Store
	opts      VerifyOptions
	mu        sync.Mutex
	rep       *Report
	bad       map[uint64]bool // manifests with a problem of their own
	badO      map[string]bool // objects with a problem
	read      bool            // objects must be read whole
	authority bool            // the store reports server-kept checksums
	// objs checks objects of every manifest, Concurrency at a time, so a
	// chain of many small manifests is not checked one round trip at a time.
	objs    *errgroup.Group
	objsCtx context.Context
}

// prefetchAhead is how many manifests (with their signatures) are read
// ahead of the one being checked.
const prefetchAhead = 8

// fetched is a manifest read ahead: its bytes, parsed form and signature check.
type fetched struct {
	raw      []byte
	err      error // reading the manifest
	m        *manifest.Manifest
	parseErr error
	sigErr   error // from checkSignature
}

func (v *verifier) fetch(ctx context.Context, stream string, n uint64) fetched {
	key := manifest.Key(stream, n)
	raw, err := readAll(ctx, v.st, key)
	if err != nil {
		return fetched{err: err}
	}
	m, err := manifest.Parse(raw)
	if err != nil {
		return fetched{raw: raw, parseErr: err}
	}
	return fetched{raw: raw, m: m, sigErr: checkSignature(ctx, v.st, key, m.RunID, raw, v.opts.PublicKey)}
}

// prefetch reads the manifests seqs in the background, at most
// prefetchAhead beyond the one taken last; next returns them in order.
func (v *verifier) prefetch(ctx context.Context, stream string, seqs []uint64) (next func() (fetched, error)) {
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
			go func() { slots[i] <- v.fetch(ctx, stream, n) }()
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

func (v *verifier) problem(p Problem) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.rep.Problems = append(v.rep.Problems, p)
}

// Verify checks a stream's chain and every object it lists. It returns an
// error only when it could not complete (store unreachable, cancelled);
// integrity problems are in the report.
func Verify(ctx context.Context, st store.Store, stream string, opts VerifyOptions) (*Report, error) {
	if opts.Concurrency <= 0 {
		opts.Concurrency = 16
	}
	if opts.Observer == nil {
		opts.Observer = noObserver{}
	}
	v := &verifier{st: st, opts: opts, rep: &Report{Stream: stream, Problems: []Problem{}}, bad: map[uint64]bool{}, badO: map[string]bool{}}
	if ca, ok := st.(ChecksumAuthority); ok && ca.ServerChecksums() {
		v.authority = true
	} else {
		v.read = true
	}
	if opts.Deep {
		v.read = true
	}
	seqs, err := listManifests(ctx, st, stream)
	if err != nil {
		return nil, err
	}
	if len(seqs) == 0 {
		v.problem(Problem{Kind: KindChainEmpty, Key: manifest.ManifestsPrefix(stream), Detail: "no manifests found for stream " + stream})
		return v.rep, nil
	}
	head := seqs[len(seqs)-1]
	v.rep.Head = head
	present := make(map[uint64]bool, len(seqs))
	for _, n := range seqs {
		present[n] = true
	}
	from, to := max(opts.From, 1), head
	if opts.To > 0 && opts.To < head {
		to = opts.To
	}
	var prev *Entry
	if from > 1 && present[from-1] {
		if raw, err := readAll(ctx, st, manifest.Key(stream, from-1)); err == nil {
			if m, err := manifest.Parse(raw); err == nil {
				prev = &Entry{Sequence: from - 1, Key: manifest.Key(stream, from-1), SHA256: manifest.SHA256(raw), Manifest: m}
			}
		} else if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
	}
	if err := v.checkCheckpoint(ctx, stream, head, present); err != nil {
		return nil, err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(v.opts.Concurrency)
	v.objs, v.objsCtx = g, gctx
	pctx, cancel := context.WithCancel(gctx)
	defer cancel()
	var inRange []uint64
	for _, n := range seqs {
		if n >= from && n <= to {
			inRange = append(inRange, n)
		}
	}
	next := v.prefetch(pctx, stream, inRange)
	err = func() error {
		for n := from; n <= to; n++ {
			key := manifest.Key(stream, n)
			if !present[n] {
				v.rep.ManifestsChecked++
				v.problem(Problem{Kind: KindManifestMissing, Key: key, Sequence: n, Detail: fmt.Sprintf("sequence %d has no manifest (head is %d)", n, head)})
				prev = nil
				continue
			}
			f, err := next()
			if err != nil {
				return err
			}
			e, err := v.checkManifest(stream, n, prev, f)
			if err != nil {
				return err
			}
			prev = e
		}
		return nil
	}()
	// The object checks' own error (a store error) comes first: it is
	// what cancelled the loop, if anything did.
	if werr := g.Wait(); werr != nil {
		return nil, werr
	}
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	v.rep.ManifestsValid = v.rep.ManifestsChecked - len(v.bad)
	v.rep.ObjectsValid = v.rep.ObjectsChecked - len(v.badO)
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
	return v.rep, nil
}

// checkManifest checks manifest n and its objects. It returns the entry
// (nil when unreadable) to check the next link against.
func (v *verifier) checkManifest(stream string, n uint64, prev *Entry, f fetched) (*Entry, error) {
	key := manifest.Key(stream, n)
	v.rep.ManifestsChecked++
	mark := func(kind, detail string) {
		v.bad[n] = true
		v.problem(Problem{Kind: kind, Key: key, Sequence: n, Detail: detail})
	}
	if errors.Is(f.err, store.ErrNotFound) {
		mark(KindManifestMissing, "listed but could not be read")
		return nil, nil
	}
	if f.err != nil {
		return nil, f.err
	}
	if f.parseErr != nil {
		mark(KindManifestInvalid, strings.ReplaceAll(f.parseErr.Error(), "\n", "; "))
		return nil, nil
	}
	m, raw := f.m, f.raw
	e := &Entry{Sequence: n, Key: key, SHA256: manifest.SHA256(raw), Manifest: m}
	if n == v.rep.Head {
		v.rep.HeadSHA256 = e.SHA256
	}
	if m.Stream != stream || m.Sequence != n {
		mark(KindManifestMisplaced, fmt.Sprintf("stored as %s sequence %d, content says %s sequence %d", stream, n, m.Stream, m.Sequence))
	}
	if err := f.sigErr; err != nil {
		var sp *signatureProblem
		if !errors.As(err, &sp) {
			return nil, err
		}
		mark(sp.kind, sp.detail)
	}
	if prev != nil && m.Previous != nil {
		if m.Previous.Key != prev.Key || m.Previous.SHA256 != prev.SHA256 {
			mark(KindChainBroken, fmt.Sprintf("previous is %s sha256 %s, stored predecessor %s has sha256 %s", m.Previous.Key, m.Previous.SHA256, prev.Key, prev.SHA256))
		}
		if !m.Window.Start.Equal(prev.Manifest.Window.End) {
			mark(KindWindowGap, fmt.Sprintf("window starts %s, previous window ended %s", m.Window.Start.Format("2006-01-02T15:04:05Z07:00"), prev.Manifest.Window.End.Format("2006-01-02T15:04:05Z07:00")))
		}
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
	return e, nil
}

// checkObjects queues the checks of a manifest's objects; Verify waits
// for all of them at the end.
func (v *verifier) checkObjects(seq uint64, objects []manifest.Object) {
	var total int64
	for _, o := range objects {
		total += o.Size
	}
	v.opts.Observer.Total(len(objects), total)
	for _, o := range objects {
		v.objs.Go(func() error {
			probs, n, err := v.checkObject(v.objsCtx, o)
			if err != nil {
				return fmt.Errorf("verify %s: %w", o.Key, err)
			}
			v.opts.Observer.Done(1, max(o.Size-n, 0))
			v.mu.Lock()
			v.rep.ObjectsChecked++
			v.rep.Bytes += n
			for _, p := range probs {
				p.Sequence = seq
				p.Key = o.Key
				v.rep.Problems = append(v.rep.Problems, p)
				v.badO[o.Key] = true
			}
			v.mu.Unlock()
			return nil
		})
	}
}

func expectedChecksum(o manifest.Object) string {
	if o.Checksum.Type == manifest.ChecksumComposite {
		c, err := store.CompositeChecksum(o.Checksum.Parts)
		if err != nil {
			return "invalid part checksums"
		}
		return c
	}
	c, err := store.ChecksumOfHex(o.SHA256)
	if err != nil {
		return "invalid sha256"
	}
	return c
}

// checkObject returns the problems of one object and the bytes read.
func (v *verifier) checkObject(ctx context.Context, o manifest.Object) ([]Problem, int64, error) {
	var probs []Problem
	add := func(kind, format string, a ...any) {
		probs = append(probs, Problem{Kind: kind, Detail: fmt.Sprintf(format, a...)})
	}
	if want := expectedChecksum(o); want != o.Checksum.Value {
		add(KindObjectChecksum, "recorded checksum %s does not match the recorded parts/sha256 (%s)", o.Checksum.Value, want)
	}
	// The latest version first: in the common case it is the archived one.
	// When the bytes are to be read, the same request reads them: one GET
	// per object instead of a HEAD and a GET.
	var (
		body io.ReadCloser
		info store.ObjectInfo
		err  error
	)
	if v.read {
		body, info, err = v.st.Get(ctx, o.Key, store.GetOptions{})
		if err == nil && o.VersionID != "" && info.VersionID != o.VersionID {
			body.Close()
			body = nil
		}
	} else {
		info, err = v.st.Head(ctx, o.Key, store.GetOptions{})
	}
	defer func() {
		if body != nil {
			body.Close()
		}
	}()
	switch {
	case errors.Is(err, store.ErrInvalidKey):
		// Only a tampered manifest records such a key: report it, do not
		// give up on the rest of the archive.
		add(KindObjectMissing, "recorded key is not a valid object key, so no object can be there")
		return probs, 0, nil
	case err == nil && (o.VersionID == "" || info.VersionID == o.VersionID):
	case err == nil || errors.Is(err, store.ErrNotFound):
		if o.VersionID == "" {
			add(KindObjectMissing, "no object at this key")
			return probs, 0, nil
		}
		vs, verr := v.st.Versions(ctx, o.Key)
		if verr != nil {
			return nil, 0, verr
		}
		if len(vs) > 0 && vs[0].IsLatest && vs[0].VersionID != o.VersionID {
			if vs[0].DeleteMarker {
				add(KindObjectDeleteMarker, "a delete marker (version %s) hides archived version %s", vs[0].VersionID, o.VersionID)
			} else {
				add(KindObjectSuperseded, "latest version is %s, archived version is %s: readers of the latest version get other bytes", vs[0].VersionID, o.VersionID)
			}
		}
		info, err = v.st.Head(ctx, o.Key, store.GetOptions{VersionID: o.VersionID})
		if errors.Is(err, store.ErrNotFound) {
			add(KindObjectMissing, "archived version %s is gone", o.VersionID)
			return probs, 0, nil
		}
		if err != nil {
			return nil, 0, err
		}
	default:
		return nil, 0, err
	}
	if info.Size != o.Size {
		add(KindObjectSize, "expected %d bytes, found %d", o.Size, info.Size)
	}
	switch {
	case info.Checksum != "" && info.Checksum != o.Checksum.Value:
		add(KindObjectChecksum, "expected checksum %s, store reports %s", o.Checksum.Value, info.Checksum)
	case info.Checksum == "" && v.authority:
		// logkeeper always uploads with SHA-256 checksums, which the server
		// keeps: an object without one was put there by someone else.
		add(KindObjectChecksum, "expected checksum %s, store reports no SHA-256 checksum: the object was replaced by an upload logkeeper did not make", o.Checksum.Value)
	}
	probs = append(probs, checkSSE(o, info)...)
	var read int64
	if v.read {
		sum, n, err := v.hash(ctx, o, body)
		switch {
		case errors.Is(err, store.ErrNotFound):
			add(KindObjectMissing, "vanished while being read")
		case err != nil && ctx.Err() != nil:
			return nil, 0, ctx.Err()
		case err != nil:
			add(KindObjectUnreadable, "%v", err)
		case n != o.Size || sum != o.SHA256:
			add(KindObjectHash, "expected sha256 %s (%d bytes), stored bytes hash to %s (%d bytes)", o.SHA256, o.Size, sum, n)
		}
		read = n
	}
	return probs, read, nil
}

// hash reads the archived version of o, from rc when it is already open,
// and returns its SHA-256 and length.
func (v *verifier) hash(ctx context.Context, o manifest.Object, rc io.Reader) (string, int64, error) {
	if rc == nil {
		body, _, err := v.st.Get(ctx, o.Key, store.GetOptions{VersionID: o.VersionID})
		if err != nil {
			return "", 0, err
		}
		defer body.Close()
		rc = body
	}
	h := sha256.New()
	n, err := io.Copy(h, observedReader{rc, v.opts.Observer})
	if err != nil {
		return "", n, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// checkSSE compares the encryption the store reports with the recorded one.
// Where the store reports none (a server without SSE), nothing is compared.
func checkSSE(o manifest.Object, info store.ObjectInfo) []Problem {
	if info.SSE == nil || info.SSE.Algorithm == "" || o.SSE == nil {
		return nil
	}
	var probs []Problem
	if info.SSE.Algorithm != o.SSE.Algorithm {
		probs = append(probs, Problem{Kind: KindSSEMismatch, Detail: fmt.Sprintf("recorded %s, store reports %s", o.SSE.Algorithm, info.SSE.Algorithm)})
	}
	if got := info.SSE.KMSKeyID; got != "" && o.SSE.KMSKeyID != "" && got != o.SSE.KMSKeyID && !strings.HasSuffix(got, "/"+strings.TrimPrefix(o.SSE.KMSKeyID, "alias/")) && !strings.HasPrefix(o.SSE.KMSKeyID, "alias/") {
		probs = append(probs, Problem{Kind: KindSSEMismatch, Detail: fmt.Sprintf("recorded KMS key %s, store reports %s", o.SSE.KMSKeyID, got)})
	}
	if info.SSE.Context != nil {
		keys := make([]string, 0, len(o.SSE.Context))
		for k := range o.SSE.Context {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if got, ok := info.SSE.Context[k]; !ok || got != o.SSE.Context[k] {
				probs = append(probs, Problem{Kind: KindEncryptionContext, Detail: fmt.Sprintf("context %s: recorded %q, store reports %q", k, o.SSE.Context[k], got)})
			}
		}
		for k := range info.SSE.Context {
			if _, ok := o.SSE.Context[k]; !ok && !strings.HasPrefix(k, "aws:") {
				probs = append(probs, Problem{Kind: KindEncryptionContext, Detail: fmt.Sprintf("context %s=%q reported by the store is not recorded", k, info.SSE.Context[k])})
			}
		}
	}
	return probs
}

// checkCheckpoint compares the chain with the auditor's checkpoint.
func (v *verifier) checkCheckpoint(ctx context.Context, stream string, head uint64, present map[uint64]bool) error {
	cp := v.opts.Checkpoint
	if cp == nil {
		return nil
	}
	key := manifest.Key(stream, cp.Sequence)
	if head < cp.Sequence {
		v.problem(Problem{Kind: KindChainTruncated, Key: key, Sequence: cp.Sequence,
			Detail: fmt.Sprintf("checkpoint is at sequence %d, but the newest manifest is %d: manifests were removed from the end", cp.Sequence, head)})
		return nil
	}
	if !present[cp.Sequence] {
		return nil // reported as manifest_missing
	}
	raw, err := readAll(ctx, v.st, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if got := manifest.SHA256(raw); got != cp.SHA256 {
		v.problem(Problem{Kind: KindChainRewritten, Key: key, Sequence: cp.Sequence,
			Detail: fmt.Sprintf("checkpoint says sha256 %s, stored manifest has %s: the chain was rewritten", cp.SHA256, got)})
	}
	return nil
}
