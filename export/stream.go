package export

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/logkeeper/logkeeper/custody"
	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/manifest"
)

// DefaultPartBytes is the encoded size at which a streaming run seals a
// part of its manifest (manifest.Part), well under manifest.MaxBytes.
const DefaultPartBytes = 2 << 20

// A streaming run (Job.StateDir set, a source that implements Walker) is
// the same run as in memory, as a pipeline with bounded work in flight:
//
//   - the chain is loaded through the archived-file index (custody.LoadIndexed),
//     not into memory;
//   - the source offers its files one at a time; each new or changed one
//     goes to the uploaders through a queue of 2 x Workers;
//   - the objects, failures and skipped items gather in the current part;
//     when its encoding nears PartBytes the part is sealed (signed and
//     appended to the chain: everything it lists is stored already) and a
//     new one begins. The last part carries the run's window and says the
//     run is complete; a run that fits in one part writes one manifest
//     without a part field, as before.
//
// So memory is bounded by the queue, the workers and one part, whatever the
// number of files. If the run fails after sealing some parts, those stand
// (see manifest.Part): their objects are stored and verified, and the next
// run starts from the same window, skipping what they archived.
func (j *Job) runStreaming(ctx context.Context, log *slog.Logger, runID, reason string, w Walker, started, end time.Time) (*Result, error) {
	chain, err := custody.LoadIndexed(ctx, j.Store, j.Stream, j.Signer.Public(), j.StateDir, log)
	if err != nil {
		return nil, &RunError{Stream: j.Stream, RunID: runID, Err: fmt.Errorf("load chain of %s: %w", j.Stream, err)}
	}
	defer chain.Close()
	seq := chain.NextSequence()
	fail := func(err error) error {
		return &RunError{Stream: j.Stream, RunID: runID, Sequence: seq, Err: err}
	}
	log = log.With("sequence", seq)
	window := manifest.Window{Start: time.Unix(0, 0).UTC(), End: end.UTC()}
	if end.IsZero() {
		window.End = started
	}
	if chain.Head != nil {
		window.Start = chain.Head.Manifest.Window.End
	}
	if window.End.Before(window.Start) {
		return nil, fail(fmt.Errorf("window end %s is before the end of the last archived window %s", window.End.Format(time.RFC3339), window.Start.Format(time.RFC3339)))
	}
	j.abortStaleUploads(ctx, log)

	sl := &sealer{j: j, log: log, chain: chain, runID: runID, reason: reason, window: window, started: started}
	sl.reset()
	sl.start(ctx)
	defer sl.stop()
	workers := j.Workers
	if workers <= 0 {
		workers = 8
	}
	queue := make(chan File, 2*workers)
	g, gctx := errgroup.WithContext(ctx)
	for range workers {
		g.Go(func() error {
			for f := range queue {
				o, err := j.copyFile(gctx, runID, f)
				j.observer().Done(1, 0)
				var fe *fileError
				switch {
				case err == nil:
					log.Debug("file archived", "path", f.Path, "key", o.Key, "size", o.Size)
					if err := sl.addObject(gctx, *o); err != nil {
						return err
					}
				case errors.As(err, &fe) && gctx.Err() == nil:
					log.Warn("file not archived", "path", f.Path, "err", fe.Error())
					if err := sl.addFailure(gctx, manifest.Failure{ID: f.ID, Path: f.Path, Error: fe.Error()}); err != nil {
						return err
					}
				default:
					return err
				}
			}
			return nil
		})
	}
	var listed, todo int
	offer := func(f File) error {
		listed++
		switch {
		case f.Skip != "":
			log.Warn("item not collected", "path", f.Path, "reason", f.Skip)
			return sl.addSkip(gctx, manifest.Skip{ID: f.ID, Path: f.Path, Reason: f.Skip})
		case f.Err != nil:
			log.Warn("item not archived", "path", f.Path, "err", f.Err.Error())
			sl.mu.Lock()
			sl.attempted++
			sl.mu.Unlock()
			return sl.addFailure(gctx, manifest.Failure{ID: f.ID, Path: f.Path, Error: f.Err.Error()})
		case chain.NeedsArchiving(provenance(f)):
			todo++
			j.observer().Total(1, max(f.Size, 0))
			select {
			case queue <- f:
				return nil
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		return nil
	}
	g.Go(func() error {
		defer close(queue)
		if err := j.offerRetries(gctx, chain, offer); err != nil {
			return err
		}
		if err := w.Walk(gctx, window, offer); err != nil {
			return fmt.Errorf("list source of %s: %w", j.Stream, err)
		}
		// The line a run in memory logs once it has listed; here the
		// uploads began while the source was being walked.
		sl.mu.Lock()
		log.Info("export started", "files_listed", listed, "files_new", todo, "not_collected", sl.skipped, "failed_at_listing", sl.attempted, "parts_sealed", sl.sealedParts())
		sl.mu.Unlock()
		return nil
	})
	err = g.Wait()
	// The parts handed over before are sealed, even when the run failed:
	// what they list is stored (see manifest.Part).
	if serr := sl.stop(); err == nil {
		err = serr
	}
	if err != nil {
		return nil, fail(fmt.Errorf("export %s run %s (%d parts sealed before): %w", j.Stream, runID, sl.sealedParts(), err))
	}
	if err := ctx.Err(); err != nil {
		return nil, fail(err)
	}
	sl.attempted += todo
	if err := sl.commit(ctx, sl.prepare(true)); err != nil {
		return nil, fail(err)
	}
	res := sl.result(listed, todo)
	log.Info("export finished", "files", res.Files, "bytes", res.Bytes, "skipped", res.Skipped, "not_collected", res.NotCollected, "failed", res.Failed, "parts", sl.parts, "manifest", res.ManifestKey)
	return res, res.err()
}

// offerRetries offers, for a source that lists a window only once (Retrier),
// the files earlier runs failed to archive and no run archived since.
func (j *Job) offerRetries(ctx context.Context, chain *custody.Chain, offer func(File) error) error {
	r, ok := j.Source.(Retrier)
	if !ok {
		return nil
	}
	failed, err := chain.Failures()
	if err != nil || len(failed) == 0 {
		return err
	}
	again, err := r.Retry(ctx, failed)
	if err != nil {
		return fmt.Errorf("retry earlier failures of %s: %w", j.Stream, err)
	}
	for _, f := range again {
		if err := offer(f); err != nil {
			return err
		}
	}
	return nil
}

// sealer gathers a streaming run's results into parts and seals them.
// A full part is handed to a goroutine of its own (start) that seals it
// while the workers fill the next one: sealing (a store.Sync, a signed
// manifest, a checkpoint) waits for the disk or the network, and no
// worker should wait with it. At most one part waits to be sealed while
// another is being sealed and a third fills; a worker that would fill a
// fourth waits, so memory stays bounded. Parts are sealed in the order
// they were handed over, one at a time, each appended to the chain.
type sealer struct {
	j       *Job
	log     *slog.Logger
	chain   *custody.Chain
	runID   string
	reason  string
	window  manifest.Window
	started time.Time

	mu        sync.Mutex
	cur       *manifest.Manifest
	size      int // encoded bytes of cur, estimated from above
	handed    int // parts handed over to be sealed, or sealed (the final one)
	files     int
	bytes     int64
	skipped   int
	failed    int
	firstFail *manifest.Failure
	attempted int

	queue    chan *manifest.Manifest // parts to seal
	failedCh chan struct{}           // closed when sealing failed
	done     chan struct{}           // closed when the sealing goroutine ended
	stopOnce sync.Once

	// Written by the sealing goroutine, or by the last seal after it ended.
	smu     sync.Mutex
	parts   int // sealed
	last    *manifest.Manifest
	lastKey string
	lastSeq uint64
	sealed  []Sealed
	sealErr error
}

// start begins sealing the parts handed over (hand), until stop.
func (s *sealer) start(ctx context.Context) {
	s.queue, s.failedCh, s.done = make(chan *manifest.Manifest, 1), make(chan struct{}), make(chan struct{})
	go func() {
		defer close(s.done)
		for m := range s.queue {
			if err := s.commit(ctx, m); err != nil {
				s.smu.Lock()
				s.sealErr = err
				s.smu.Unlock()
				close(s.failedCh)
				return
			}
		}
	}()
}

// stop waits until every part handed over is sealed, and returns the
// error that stopped sealing, if any. It may be called more than once.
func (s *sealer) stop() error {
	s.stopOnce.Do(func() { close(s.queue) })
	<-s.done
	return s.failure()
}

// failure is the error that stopped sealing, if any.
func (s *sealer) failure() error {
	s.smu.Lock()
	defer s.smu.Unlock()
	return s.sealErr
}

// sealedParts is the number of parts sealed so far.
func (s *sealer) sealedParts() int {
	s.smu.Lock()
	defer s.smu.Unlock()
	return s.parts
}

// hand, with s.mu held, hands the current part over to be sealed and
// begins a new one. It waits while a part waits already.
func (s *sealer) hand(ctx context.Context) error {
	m := s.prepare(false)
	select {
	case s.queue <- m:
		return nil
	case <-s.failedCh:
		return s.failure()
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *sealer) reset() {
	s.cur = &manifest.Manifest{Objects: []manifest.Object{}}
	// What the manifest's fields other than its lists take, generously.
	e, src := s.j.Exporter, s.j.Source.Describe()
	s.size = 2048 + 2*(len(s.j.Store.Describe())+len(src.Location)+len(s.reason)+len(e.Name)+len(e.Version)+len(e.Host)+len(e.User))
}

// cost is the bytes an entry adds to the manifest's indented encoding: its
// compact JSON, plus the indentation and line breaks of each of its fields
// (at most a key and a value per line, eight spaces deep).
func cost(v any) (int, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return 0, err
	}
	fields := 1
	for _, c := range b {
		if c == ',' || c == '{' || c == '[' {
			fields++
		}
	}
	return len(b) + fields*(12+2), nil
}

func (s *sealer) add(ctx context.Context, v any, put func()) error {
	n, err := cost(v)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	limit := s.j.PartBytes
	if limit <= 0 {
		limit = DefaultPartBytes
	}
	if s.size+n > limit && s.entries() > 0 {
		if err := s.hand(ctx); err != nil {
			return err
		}
	}
	put()
	s.size += n
	return nil
}

func (s *sealer) entries() int { return len(s.cur.Objects) + len(s.cur.Failures) + len(s.cur.Skipped) }

func (s *sealer) addObject(ctx context.Context, o manifest.Object) error {
	return s.add(ctx, o, func() {
		s.cur.Objects = append(s.cur.Objects, o)
		s.files++
		s.bytes += o.Size
	})
}

func (s *sealer) addFailure(ctx context.Context, f manifest.Failure) error {
	return s.add(ctx, f, func() {
		s.cur.Failures = append(s.cur.Failures, f)
		s.failed++
		if s.firstFail == nil {
			s.firstFail = &f
		}
	})
}

func (s *sealer) addSkip(ctx context.Context, sk manifest.Skip) error {
	return s.add(ctx, sk, func() {
		s.cur.Skipped = append(s.cur.Skipped, sk)
		s.skipped++
	})
}

// prepare, with s.mu held (or after the workers ended), fills in the
// current part and begins a new one: the last part carries the run's
// window, the others an empty window at its start.
func (s *sealer) prepare(final bool) *manifest.Manifest {
	m := s.cur
	m.Schema, m.RunID = manifest.SchemaV1, s.runID
	m.StartedAt, m.Exporter, m.Reason = s.started, s.j.Exporter, s.reason
	m.Store, m.Source = s.j.Store.Describe(), s.j.Source.Describe()
	m.Window = manifest.Window{Start: s.window.Start, End: s.window.Start}
	switch {
	case final && s.handed == 0:
		m.Window = s.window
	case final:
		m.Window = s.window
		m.Part = &manifest.Part{Index: uint32(s.handed + 1), Final: true}
	default:
		m.Part = &manifest.Part{Index: uint32(s.handed + 1)}
	}
	s.handed++
	m.FinishedAt = s.j.now().UTC()
	if m.FinishedAt.Before(s.started) {
		m.FinishedAt = s.started
	}
	s.reset()
	return m
}

// commit seals the part m: it makes the objects it lists durable, appends
// it to the chain and writes the checkpoint. Parts are committed one at a
// time, in order: by the sealing goroutine, and the final one after it
// ended.
func (s *sealer) commit(ctx context.Context, m *manifest.Manifest) error {
	// The part's objects were put Deferred: durable from here on.
	if err := store.Sync(ctx, s.j.Store); err != nil {
		return fmt.Errorf("export %s run %s: objects not made durable, no manifest written: %w", s.j.Stream, s.runID, err)
	}
	key := manifest.Key(s.j.Stream, s.chain.NextSequence())
	entry, err := s.chain.Append(ctx, s.j.Store, s.j.Signer, m, s.j.putOptions(s.runID, key))
	if err != nil {
		return fmt.Errorf("export %s run %s: %w", s.j.Stream, s.runID, err)
	}
	if err := s.j.checkpoint(ctx, s.chain, m.Store, s.runID); err != nil {
		return fmt.Errorf("export %s run %s: manifest %d is stored, but %w", s.j.Stream, s.runID, entry.Sequence, err)
	}
	s.smu.Lock()
	s.parts++
	parts := s.parts
	s.last, s.lastKey, s.lastSeq = m, entry.Key, entry.Sequence
	s.sealed = append(s.sealed, Sealed{Sequence: entry.Sequence, Key: entry.Key, SHA256: entry.SHA256})
	s.smu.Unlock()
	if m.Part != nil && !m.Part.Final {
		s.log.Info("part sealed", "part", parts, "manifest", entry.Key, "objects", len(m.Objects))
	}
	return nil
}

func (s *sealer) result(listed, todo int) *Result {
	r := &Result{
		RunID: s.runID, Stream: s.j.Stream, Sequence: s.lastSeq,
		Files: s.files, Bytes: s.bytes,
		Skipped:      listed - todo - s.skipped - (s.attempted - todo),
		NotCollected: s.skipped, Failed: s.failed, ManifestKey: s.lastKey, Manifest: s.last,
		Parts:     s.parts,
		Sealed:    s.sealed,
		attempted: s.attempted,
		firstFail: s.firstFail,
	}
	return r
}
