package export

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"syscall"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sync/errgroup"

	"github.com/logkeeper/logkeeper/custody"
	"github.com/logkeeper/logkeeper/internal/signing"
	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/manifest"
	"github.com/logkeeper/logkeeper/policies"
)

// Job is one stream's export configuration.
type Job struct {
	Stream string
	Store  store.Store
	Signer signing.Signer
	Source Source
	// Encryption, when not nil, asks for SSE-KMS on every object and
	// manifest, with a per-object encryption context.
	Encryption *policies.Encryption
	// Retention, when not nil, locks every object and manifest.
	Retention *policies.Retention
	// Chains, when set, caches chains between runs so that a run reads only
	// the manifests appended since the last one (a daemon sets it).
	Chains *custody.Cache
	// Workers is the number of files uploaded at once (default 8).
	Workers int
	// StateDir, when set, is where the run keeps the stream's
	// archived-file index (custody.LoadIndexed) instead of holding the
	// chain's files in memory; with a source that implements Walker, the
	// run streams (stream.go). Losing the folder loses nothing.
	StateDir string
	// PartBytes is the encoded size at which a streaming run seals a part
	// of its manifest (default DefaultPartBytes).
	PartBytes int
	// StaleUploadAge: at the start of a run, unfinished uploads under the
	// stream's objects prefix (left by a run that was killed) that are older
	// than this are aborted, on stores that implement store.UploadCleaner.
	// 0 means DefaultStaleUploadAge; a negative value aborts all of them,
	// which is safe only when no other exporter of the stream is running.
	StaleUploadAge time.Duration
	// Exporter identifies this program and host in the manifest.
	Exporter manifest.Exporter
	Logger   *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Observer, when set, follows the run's progress (a progress display).
	Observer Observer
	// Witness, when set, is a second store where each run also writes its
	// checkpoint, write-once (checkpoint.go).
	Witness store.Store
	// Timestamps, when set, time-stamps each checkpoint written: an
	// RFC 3161 token from the authority, stored beside the checkpoint and
	// its witnessed copy. A token that cannot be had fails the run.
	Timestamps custody.Stamper
}

// Observer follows a run: Total is called once, after listing, with the
// files and bytes to upload (a streaming run calls it for each file as it
// is listed: the totals add up); Done as bytes are read from the source and
// once per file finished (archived or failed). Done is called from the
// upload workers at once: an Observer must be safe for concurrent use and
// return quickly; it must not block or fail the run.
type Observer interface {
	Total(files int, bytes int64)
	Done(files int, bytes int64)
}

type noObserver struct{}

func (noObserver) Total(int, int64) {}
func (noObserver) Done(int, int64)  {}

func (j *Job) observer() Observer {
	if j.Observer == nil {
		return noObserver{}
	}
	return j.Observer
}

// DefaultStaleUploadAge is the age past which a run aborts the unfinished
// uploads it finds under its stream's objects (Job.StaleUploadAge): longer
// than any upload of a live run takes.
const DefaultStaleUploadAge = time.Hour

// Result is what one run did.
type Result struct {
	RunID    string `json:"run_id"`
	Stream   string `json:"stream"`
	Sequence uint64 `json:"sequence"`
	Files    int    `json:"files"`
	Bytes    int64  `json:"bytes"`
	// Skipped counts listed files already archived by an earlier run.
	Skipped int `json:"skipped"`
	// NotCollected counts items the source found and deliberately did not
	// collect (manifest "skipped": symbolic links, offline edges, ...).
	NotCollected int    `json:"not_collected"`
	Failed       int    `json:"failed"`
	ManifestKey  string `json:"manifest_key"`
	// Manifest is the manifest written (the last part of a run sealed in
	// parts).
	Manifest *manifest.Manifest `json:"-"`
	// Parts is the number of manifests the run wrote.
	Parts int `json:"parts"`
	// Sealed are the manifests the run wrote, in order: what its custody
	// event records.
	Sealed []Sealed `json:"-"`

	attempted int               // files the run tried: new ones and listing failures
	firstFail *manifest.Failure // the first failure, in whichever part
}

// Sealed is one manifest a run wrote: its sequence number, key and the
// hex SHA-256 of its exact bytes.
type Sealed struct {
	Sequence uint64
	Key      string
	SHA256   string
}

// ErrFilesFailed is returned (wrapped) by Run when the manifest was written
// but some source files could not be archived; they are listed in the
// manifest's failures and the next run tries them again.
var ErrFilesFailed = errors.New("some files could not be archived")

// fileError marks a problem of one file only (its source side, or a name
// that cannot become a key): recorded as a failure of the file, and the run
// goes on.
type fileError struct{ err error }

func (e *fileError) Error() string { return e.err.Error() }
func (e *fileError) Unwrap() error { return e.err }

// trackingReader remembers the first error its reader returned, so a
// failed Put can be told apart: source trouble or store trouble.
type trackingReader struct {
	r   io.Reader
	err error
	obs Observer
}

func (t *trackingReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	t.obs.Done(0, int64(n))
	if err != nil && err != io.EOF && t.err == nil {
		t.err = err
	}
	return n, err
}

// Run performs one export run, recording reason (why the run happened) in
// the manifest. window.End is the end of the span the run covers; a zero
// end means now. The window's start is always the end of the previous
// manifest's window (the Unix epoch for the first), so windows never leave
// gaps. Run returns the result and, when some files failed, an error
// wrapping ErrFilesFailed alongside a written manifest. Any other error is
// a *RunError and means no manifest was written.
//
// A run has three parts: plan (read the chain, list the source, decide
// what to archive), upload (copy each new file into the store) and seal
// (append the signed manifest).
func (j *Job) Run(ctx context.Context, end time.Time, reason string) (*Result, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return nil, fmt.Errorf("run id: %w", err)
	}
	runID := id.String()
	log := j.logger().With("stream", j.Stream, "run_id", runID)
	started := j.now().UTC()
	if w, ok := j.Source.(Walker); ok && j.StateDir != "" {
		return j.runStreaming(ctx, log, runID, reason, w, started, end)
	}
	chain, err := j.loadChain(ctx)
	if err != nil {
		return nil, &RunError{Stream: j.Stream, RunID: runID, Err: err}
	}
	seq := chain.NextSequence()
	fail := func(err error) error {
		return &RunError{Stream: j.Stream, RunID: runID, Sequence: seq, Err: err}
	}
	log = log.With("sequence", seq)
	p, err := j.plan(ctx, log, chain, started, end)
	if err != nil {
		return nil, fail(err)
	}
	j.observer().Total(len(p.todo), p.todoBytes)
	up, err := j.upload(ctx, log, runID, p.todo)
	if err != nil {
		return nil, fail(fmt.Errorf("export %s run %s (no manifest written): %w", j.Stream, runID, err))
	}
	res, err := j.seal(ctx, log, runID, reason, chain, p, up, started)
	if err != nil {
		return nil, fail(err)
	}
	return res, res.err()
}

// RunError is the error of a run: it names the run, so that a caller's log
// line can carry the run id and sequence. It unwraps to the cause.
type RunError struct {
	Stream string
	RunID  string
	// Sequence is the manifest number the run was to write (0 when it
	// failed before reading the chain).
	Sequence uint64
	Err      error
}

func (e *RunError) Error() string { return e.Err.Error() }
func (e *RunError) Unwrap() error { return e.Err }

func (j *Job) now() time.Time {
	if j.Now != nil {
		return j.Now()
	}
	return time.Now()
}

func (j *Job) logger() *slog.Logger {
	if j.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return j.Logger
}

func (j *Job) loadChain(ctx context.Context) (*custody.Chain, error) {
	var chain *custody.Chain
	var err error
	if j.Chains != nil {
		chain, err = j.Chains.Load(ctx, j.Store, j.Stream, j.Signer.Public())
	} else {
		chain, err = custody.Resume(ctx, j.Store, j.Stream, j.Signer.Public(), j.logger().With("stream", j.Stream))
	}
	if err != nil {
		return nil, fmt.Errorf("load chain of %s: %w", j.Stream, err)
	}
	return chain, nil
}

// plan is what a run decided to do, before it touches the store.
type plan struct {
	window manifest.Window
	// listed counts what the source offered (retries included).
	listed int
	// todo are the files to archive, in listing order, and their size.
	todo      []File
	todoBytes int64
	// skipped are the items the source did not offer for archiving.
	skipped []manifest.Skip
	// failures are the items the source could not list.
	failures []manifest.Failure
}

// plan works out the run's window, lists the source and sorts what it
// offers: new or changed files to archive, items it skipped, items it
// failed to list, and files archived before.
func (j *Job) plan(ctx context.Context, log *slog.Logger, chain *custody.Chain, started, end time.Time) (*plan, error) {
	p := &plan{window: manifest.Window{Start: time.Unix(0, 0).UTC(), End: end.UTC()}}
	if end.IsZero() {
		p.window.End = started
	}
	if chain.Head != nil {
		p.window.Start = chain.Head.Manifest.Window.End
	}
	if p.window.End.Before(p.window.Start) {
		return nil, fmt.Errorf("window end %s is before the end of the last archived window %s", p.window.End.Format(time.RFC3339), p.window.Start.Format(time.RFC3339))
	}

	j.abortStaleUploads(ctx, log)

	late, err := j.recheck(ctx, chain)
	if err != nil {
		return nil, err
	}
	files, err := j.Source.List(ctx, p.window)
	if err != nil {
		return nil, fmt.Errorf("list source of %s: %w", j.Stream, err)
	}
	files, err = j.retryFailed(ctx, chain, files)
	if err != nil {
		return nil, err
	}
	files = appendNew(files, late)
	p.listed = len(files)
	for _, f := range files {
		switch {
		case f.Skip != "":
			p.skipped = append(p.skipped, manifest.Skip{ID: f.ID, Path: f.Path, Reason: f.Skip})
			log.Warn("item not collected", "path", f.Path, "reason", f.Skip)
		case f.Err != nil:
			p.failures = append(p.failures, manifest.Failure{ID: f.ID, Path: f.Path, Error: f.Err.Error()})
			log.Warn("item not archived", "path", f.Path, "err", f.Err.Error())
		case chain.NeedsArchiving(provenance(f)):
			p.todo = append(p.todo, f)
			p.todoBytes += f.Size
		}
	}
	log.Info("export started", "files_listed", len(files), "files_new", len(p.todo), "not_collected", len(p.skipped), "failed_at_listing", len(p.failures))
	if pr, ok := j.Source.(Preparer); ok && len(p.todo) > 0 {
		pr.Prepare(ctx, p.todo)
	}
	return p, nil
}

// uploaded is what the upload part of a run stored, in listing order.
type uploaded struct {
	objects  []manifest.Object
	failures []manifest.Failure
	bytes    int64
}

// upload copies the files into the store, Workers at a time. A problem of
// one file is recorded as its failure; any other error (the store's, a
// cancellation) ends the upload and is returned.
func (j *Job) upload(ctx context.Context, log *slog.Logger, runID string, todo []File) (*uploaded, error) {
	workers := j.Workers
	if workers <= 0 {
		workers = 8
	}
	objects := make([]*manifest.Object, len(todo))
	failures := make([]*manifest.Failure, len(todo))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for i, f := range todo {
		g.Go(func() error {
			o, err := j.copyFile(gctx, runID, f)
			j.observer().Done(1, 0)
			var fe *fileError
			switch {
			case err == nil:
				objects[i] = o
				log.Debug("file archived", "path", f.Path, "key", o.Key, "size", o.Size)
				return nil
			case errors.As(err, &fe) && gctx.Err() == nil:
				failures[i] = &manifest.Failure{ID: f.ID, Path: f.Path, Error: fe.Error()}
				log.Warn("file not archived", "path", f.Path, "err", fe.Error())
				return nil
			default:
				return err
			}
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	up := &uploaded{objects: []manifest.Object{}}
	for _, o := range objects {
		if o != nil {
			up.objects = append(up.objects, *o)
			up.bytes += o.Size
		}
	}
	for _, f := range failures {
		if f != nil {
			up.failures = append(up.failures, *f)
		}
	}
	return up, nil
}

// seal appends the run's signed manifest to the chain.
func (j *Job) seal(ctx context.Context, log *slog.Logger, runID, reason string, chain *custody.Chain, p *plan, up *uploaded, started time.Time) (*Result, error) {
	m := &manifest.Manifest{
		Schema:    manifest.SchemaV1,
		RunID:     runID,
		Window:    p.window,
		StartedAt: started,
		Exporter:  j.Exporter,
		Reason:    reason,
		Store:     j.Store.Describe(),
		Source:    j.Source.Describe(),
		Objects:   up.objects,
		Failures:  append(p.failures, up.failures...),
		Skipped:   p.skipped,
	}
	m.FinishedAt = j.now().UTC()
	if m.FinishedAt.Before(started) {
		m.FinishedAt = started
	}
	// The objects were put Deferred: durable from here on.
	if err := store.Sync(ctx, j.Store); err != nil {
		return nil, fmt.Errorf("export %s run %s: objects not made durable, no manifest written: %w", j.Stream, runID, err)
	}
	entry, err := chain.Append(ctx, j.Store, j.Signer, m, j.putOptions(runID, manifest.Key(j.Stream, chain.NextSequence())))
	if err != nil {
		return nil, fmt.Errorf("export %s run %s: %w", j.Stream, runID, err)
	}
	if err := j.checkpoint(ctx, chain, m.Store, runID); err != nil {
		return nil, fmt.Errorf("export %s run %s: manifest %d is stored, but %w", j.Stream, runID, entry.Sequence, err)
	}
	res := &Result{
		RunID: runID, Stream: j.Stream, Sequence: entry.Sequence,
		Files: len(m.Objects), Bytes: up.bytes,
		Skipped:      p.listed - len(p.todo) - len(p.skipped) - len(p.failures),
		NotCollected: len(p.skipped), Failed: len(m.Failures), ManifestKey: entry.Key, Manifest: m,
		attempted: len(p.todo) + len(p.failures), Parts: 1,
		Sealed: []Sealed{{Sequence: entry.Sequence, Key: entry.Key, SHA256: entry.SHA256}},
	}
	log.Info("export finished", "files", res.Files, "bytes", res.Bytes, "skipped", res.Skipped, "not_collected", res.NotCollected, "failed", res.Failed, "manifest", res.ManifestKey)
	return res, nil
}

// err is the error Run returns with a written manifest: nil, or one
// wrapping ErrFilesFailed when some files failed.
func (r *Result) err() error {
	if r.Failed == 0 {
		return nil
	}
	var first manifest.Failure
	if r.firstFail != nil {
		first = *r.firstFail
	} else {
		first = r.Manifest.Failures[0]
	}
	return fmt.Errorf("%w: %d of %d files failed (first: %s: %s); they are listed in %s and the next run retries them",
		ErrFilesFailed, r.Failed, r.attempted, first.Path, first.Error, r.ManifestKey)
}

// abortStaleUploads aborts the uploads that killed runs left under the
// stream's objects. They never became objects, so they do not touch the
// archive; a failure here is logged and the run goes on.
func (j *Job) abortStaleUploads(ctx context.Context, log *slog.Logger) {
	c, ok := j.Store.(store.UploadCleaner)
	if !ok {
		return
	}
	age := j.StaleUploadAge
	switch {
	case age == 0:
		age = DefaultStaleUploadAge
	case age < 0:
		age = 0
	}
	// Every run's objects are under <stream>/objects/<run id>/.
	prefix := j.Stream + "/objects/"
	n, err := c.AbortStale(ctx, prefix, age)
	if err != nil {
		log.Warn("stale uploads not cleaned up", "prefix", prefix, "aborted", n, "err", err)
		return
	}
	level := slog.LevelDebug
	if n > 0 {
		level = slog.LevelInfo
	}
	log.Log(ctx, level, "stale uploads aborted", "prefix", prefix, "older_than", age, "aborted", n)
}

// retryFailed adds, for a source that offers files for one window only, the
// files earlier runs failed to archive and no run archived since.
func (j *Job) retryFailed(ctx context.Context, chain *custody.Chain, files []File) ([]File, error) {
	r, ok := j.Source.(Retrier)
	if !ok || len(chain.Failed) == 0 {
		return files, nil
	}
	failed := make([]manifest.Failure, 0, len(chain.Failed))
	for _, f := range chain.Failed {
		failed = append(failed, f)
	}
	sort.Slice(failed, func(a, b int) bool { return failed[a].ID < failed[b].ID })
	again, err := r.Retry(ctx, failed)
	if err != nil {
		return nil, fmt.Errorf("retry earlier failures of %s: %w", j.Stream, err)
	}
	return appendNew(files, again), nil
}

func provenance(f File) manifest.Provenance {
	return manifest.Provenance{ID: f.ID, Path: f.Path, Size: f.Size, Modified: f.Modified.UTC(), IDs: f.IDs}
}

// putOptions returns the encryption and retention for an object at key.
func (j *Job) putOptions(runID, key string) store.PutOptions {
	opts := store.PutOptions{Size: -1}
	if j.Encryption != nil {
		opts.SSE = &store.SSE{
			Algorithm: "aws:kms",
			KMSKeyID:  j.Encryption.KMSKeyID,
			Context:   j.Encryption.ContextFor(j.Stream, runID, key, j.Store.Describe()),
		}
	}
	if j.Retention != nil {
		opts.Retention = &store.Retention{Mode: j.Retention.Mode, Until: j.Retention.Until(j.now())}
	}
	return opts
}

// copyFile streams one source file into the store. Its error is a
// *fileError when the problem is the file's alone.
func (j *Job) copyFile(ctx context.Context, runID string, f File) (*manifest.Object, error) {
	limit := store.KeyLimit(j.Store)
	key, ok := ObjectKey(manifest.ObjectsPrefix(j.Stream, runID), f.Path, limit)
	if !ok {
		return nil, &fileError{fmt.Errorf("no object key of at most %d bytes can be made for this name", limit)}
	}
	rc, err := j.Source.Open(ctx, f)
	if err != nil {
		return nil, &fileError{fmt.Errorf("open: %w", err)}
	}
	defer rc.Close()
	tr := &trackingReader{r: rc, obs: j.observer()}
	opts := j.putOptions(runID, key)
	opts.Size = f.Size
	// Made durable by the store.Sync before the manifest that lists it.
	opts.Deferred = true
	// No user metadata: the key names the stream and the run already, and
	// each entry costs the server a write per object (an extended
	// attribute on versitygw's and the file store's disks).
	info, err := j.Store.Put(ctx, key, tr, opts)
	if err != nil {
		switch {
		case ctx.Err() != nil:
			return nil, err
		case tr.err != nil:
			return nil, &fileError{fmt.Errorf("read: %w", tr.err)}
		case errors.Is(err, store.ErrSizeMismatch):
			return nil, &fileError{err}
		case errors.Is(err, store.ErrInvalidKey), errors.Is(err, syscall.ENAMETOOLONG):
			// The store refuses this key (its own limits): this file only.
			return nil, &fileError{err}
		}
		return nil, err
	}
	o := &manifest.Object{
		Key: key, VersionID: info.VersionID, Size: info.Size, SHA256: info.SHA256,
		Source: provenance(f),
	}
	if len(info.PartChecksums) > 0 {
		o.Checksum = manifest.Checksum{Algorithm: "SHA256", Type: manifest.ChecksumComposite, Value: info.Checksum, PartSize: info.PartSize, Parts: info.PartChecksums}
	} else {
		o.Checksum = manifest.Checksum{Algorithm: "SHA256", Type: manifest.ChecksumFullObject, Value: info.Checksum}
	}
	if opts.SSE != nil {
		o.SSE = &manifest.SSE{Algorithm: opts.SSE.Algorithm, KMSKeyID: opts.SSE.KMSKeyID, Context: opts.SSE.Context}
		if info.SSE != nil {
			o.SSE.ServerKMSKeyID = info.SSE.ServerKMSKeyID
		}
	}
	if opts.Retention != nil {
		o.Retention = &manifest.Retention{Mode: opts.Retention.Mode, RetainUntil: opts.Retention.Until}
	}
	return o, nil
}
