package export

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
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
	// Workers is the number of files uploaded at once (default 8).
	Workers int
	// Exporter identifies this program and host in the manifest.
	Exporter manifest.Exporter
	// Reason is recorded in the manifest (why the run happened).
	Reason string
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Result is what one run did.
type Result struct {
	RunID       string `json:"run_id"`
	Stream      string `json:"stream"`
	Sequence    uint64 `json:"sequence"`
	Files       int    `json:"files"`
	Bytes       int64  `json:"bytes"`
	Skipped     int    `json:"skipped"`
	Failed      int    `json:"failed"`
	ManifestKey string `json:"manifest_key"`
	// Manifest is the manifest written.
	Manifest *manifest.Manifest `json:"-"`
}

// ErrFilesFailed is returned (wrapped) by Run when the manifest was written
// but some source files could not be archived; they are listed in the
// manifest's failures and the next run tries them again.
var ErrFilesFailed = errors.New("some files could not be archived")

// sourceError marks an error that came from the source side of a copy.
type sourceError struct{ err error }

func (e *sourceError) Error() string { return e.err.Error() }
func (e *sourceError) Unwrap() error { return e.err }

// trackingReader remembers the first error its reader returned, so a
// failed Put can be told apart: source trouble or store trouble.
type trackingReader struct {
	r   io.Reader
	err error
}

func (t *trackingReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if err != nil && err != io.EOF && t.err == nil {
		t.err = err
	}
	return n, err
}

// Run performs one export run. window.End is the end of the span the run
// covers; a zero window.End means now. The window's start is always the
// end of the previous manifest's window (the Unix epoch for the first), so
// windows never leave gaps. Run returns the result and, when some files
// failed, an error wrapping ErrFilesFailed alongside a written manifest.
// Any other error means no manifest was written.
func (j *Job) Run(ctx context.Context, end time.Time) (*Result, error) {
	now := j.Now
	if now == nil {
		now = time.Now
	}
	log := j.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	workers := j.Workers
	if workers <= 0 {
		workers = 8
	}
	id, err := uuid.NewV7()
	if err != nil {
		return nil, fmt.Errorf("run id: %w", err)
	}
	runID := id.String()
	started := now().UTC()
	log = log.With("stream", j.Stream, "run_id", runID)

	chain, err := custody.Load(ctx, j.Store, j.Stream, j.Signer.Public())
	if err != nil {
		return nil, fmt.Errorf("load chain of %s: %w", j.Stream, err)
	}
	seq := chain.NextSequence()
	log = log.With("sequence", seq)
	window := manifest.Window{Start: time.Unix(0, 0).UTC(), End: end.UTC()}
	if end.IsZero() {
		window.End = started
	}
	if chain.Head != nil {
		window.Start = chain.Head.Manifest.Window.End
	}
	if window.End.Before(window.Start) {
		return nil, fmt.Errorf("window end %s is before the end of the last archived window %s", window.End.Format(time.RFC3339), window.Start.Format(time.RFC3339))
	}

	files, err := j.Source.List(ctx, window)
	if err != nil {
		return nil, fmt.Errorf("list source of %s: %w", j.Stream, err)
	}
	var todo []File
	for _, f := range files {
		if chain.NeedsArchiving(provenance(f)) {
			todo = append(todo, f)
		}
	}
	log.Info("export started", "files_listed", len(files), "files_new", len(todo))

	objects := make([]*manifest.Object, len(todo))
	failures := make([]*manifest.Failure, len(todo))
	var mu sync.Mutex
	var bytes int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for i, f := range todo {
		g.Go(func() error {
			o, err := j.copyFile(gctx, runID, f)
			var se *sourceError
			switch {
			case err == nil:
				objects[i] = o
				mu.Lock()
				bytes += o.Size
				mu.Unlock()
				log.Debug("file archived", "path", f.Path, "key", o.Key, "size", o.Size)
				return nil
			case errors.As(err, &se) && gctx.Err() == nil:
				failures[i] = &manifest.Failure{Path: f.Path, Error: se.Error()}
				log.Warn("file not archived", "path", f.Path, "err", se.Error())
				return nil
			default:
				return err
			}
		})
	}
	if err := g.Wait(); err != nil {
		return nil, fmt.Errorf("export %s run %s (no manifest written): %w", j.Stream, runID, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("export %s run %s (no manifest written): %w", j.Stream, runID, err)
	}

	m := &manifest.Manifest{
		Schema:    manifest.SchemaV1,
		RunID:     runID,
		Window:    window,
		StartedAt: started,
		Exporter:  j.Exporter,
		Reason:    j.Reason,
		Store:     j.Store.Describe(),
		Source:    j.Source.Describe(),
		Objects:   []manifest.Object{},
	}
	for _, o := range objects {
		if o != nil {
			m.Objects = append(m.Objects, *o)
		}
	}
	for _, f := range failures {
		if f != nil {
			m.Failures = append(m.Failures, *f)
		}
	}
	m.FinishedAt = now().UTC()
	if m.FinishedAt.Before(started) {
		m.FinishedAt = started
	}
	entry, err := chain.Append(ctx, j.Store, j.Signer, m, j.putOptions(runID, manifest.Key(j.Stream, seq)))
	if err != nil {
		return nil, fmt.Errorf("export %s run %s: %w", j.Stream, runID, err)
	}
	res := &Result{
		RunID: runID, Stream: j.Stream, Sequence: entry.Sequence,
		Files: len(m.Objects), Bytes: bytes, Skipped: len(files) - len(todo),
		Failed: len(m.Failures), ManifestKey: entry.Key, Manifest: m,
	}
	log.Info("export finished", "files", res.Files, "bytes", res.Bytes, "skipped", res.Skipped, "failed", res.Failed, "manifest", res.ManifestKey)
	if res.Failed > 0 {
		return res, fmt.Errorf("%w: %d of %d files failed (first: %s: %s); they are listed in %s and the next run retries them",
			ErrFilesFailed, res.Failed, len(todo), m.Failures[0].Path, m.Failures[0].Error, res.ManifestKey)
	}
	return res, nil
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
		now := time.Now
		if j.Now != nil {
			now = j.Now
		}
		opts.Retention = &store.Retention{Mode: j.Retention.Mode, Until: j.Retention.Until(now())}
	}
	return opts
}

// copyFile streams one source file into the store.
func (j *Job) copyFile(ctx context.Context, runID string, f File) (*manifest.Object, error) {
	key := manifest.ObjectsPrefix(j.Stream, runID) + SanitizePath(f.Path)
	rc, err := j.Source.Open(ctx, f)
	if err != nil {
		return nil, &sourceError{fmt.Errorf("open: %w", err)}
	}
	defer rc.Close()
	tr := &trackingReader{r: rc}
	opts := j.putOptions(runID, key)
	opts.Size = f.Size
	opts.Metadata = map[string]string{"logkeeper-stream": j.Stream, "logkeeper-run-id": runID}
	info, err := j.Store.Put(ctx, key, tr, opts)
	if err != nil {
		if tr.err != nil && ctx.Err() == nil {
			return nil, &sourceError{fmt.Errorf("read: %w", tr.err)}
		}
		if ctx.Err() == nil && errors.Is(err, store.ErrSizeMismatch) {
			return nil, &sourceError{err}
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
	}
	if opts.Retention != nil {
		o.Retention = &manifest.Retention{Mode: opts.Retention.Mode, RetainUntil: opts.Retention.Until}
	}
	return o, nil
}
