package genesys

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/logkeeper/logkeeper/export"
	"github.com/logkeeper/logkeeper/manifest"
)

// Provenance keys of export.File.IDs.
const (
	IDRegion        = "region"         // Genesys domain (or API host)
	IDOrg           = "org_id"         // organization id
	IDEdge          = "edge_id"        // edge id
	IDEdgePath      = "edge_path"      // path of the file on the edge
	IDFile          = "file_id"        // log job file id
	IDFileName      = "file_name"      // file name as the job lists it
	IDTimeModified  = "time_modified"  // timeModified as the job lists it
	IDSizeBytes     = "size_bytes"     // sizeBytes as the job lists it
	IDJob           = "job_id"         // log job id
	IDCorrelation   = "correlation_id" // ININ-Correlation-Id of the answer that listed the file
	IDQuery         = "query_id"       // audit query (transaction) id
	IDInterval      = "interval"       // audit interval queried
	IDServiceName   = "service_name"   // audited service
	IDFilters       = "filters"        // audit filters, as PROPERTY=VALUE&...
	IDRecords       = "records"        // number of audit records
	IDWindowClamped = "window_clamped" // "true" when the audit interval was cut to MaxLookback
)

// Defaults of EdgeOptions.
const (
	DefaultPollInterval  = 2 * time.Second
	DefaultJobTimeout    = 5 * time.Minute
	DefaultUploadTimeout = 15 * time.Minute
	DefaultMaxResumes    = 10
)

// EdgeOptions select the logs an EdgeSource archives and bound its waits.
type EdgeOptions struct {
	// Edges are the edge ids; empty means every edge of the organization.
	Edges []string
	// Path, Query and Recurse are the log job's request: the folder on
	// the edge, the file name pattern(s), and whether to descend.
	Path    string
	Query   string
	Recurse bool
	// PollInterval is the longest wait between reads of a log job
	// (default 2 s); the waits start at 250 ms and double up to it.
	PollInterval time.Duration
	// JobTimeout bounds the wait for a log job to list its files (default
	// 5 m); UploadTimeout the wait for one file's upload (default 15 m).
	JobTimeout    time.Duration
	UploadTimeout time.Duration
	// MaxResumes bounds how often one download resumes after a short body
	// or a broken connection (default 10).
	MaxResumes int
}

// EdgeSource is the export source of Genesys Cloud Edge logs
// (source type genesys-edge).
//
// List creates one log job per edge and waits until each edge has listed
// its files; every failure there (credentials, permissions, an unknown
// edge, malformed answers, a job that never lists its files) fails List,
// so the run writes no manifest. Open then works lazily, per file the
// export job actually archives: it asks the edge to upload the file, waits
// until the job shows it uploaded, resolves its download id to a
// pre-signed URL and streams the bytes. Files the archive already holds
// are never uploaded from the edge, and the export job's worker pool bounds
// how many uploads and downloads run at once. A failure in Open is the
// failure of that one file: the manifest records it and the next run tries
// again.
type EdgeSource struct {
	c *Client
	o EdgeOptions

	mu   sync.Mutex
	jobs map[string]*jobWatch // by job id, from the last List
}

var _ export.Source = (*EdgeSource)(nil)

// NewEdgeSource returns an edge log source that uses c.
func NewEdgeSource(c *Client, o EdgeOptions) (*EdgeSource, error) {
	if c == nil {
		return nil, errors.New("genesys edge source: no client")
	}
	for i, e := range o.Edges {
		if e == "" {
			return nil, fmt.Errorf("genesys edge source: edges[%d] is empty", i)
		}
	}
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.JobTimeout <= 0 {
		o.JobTimeout = DefaultJobTimeout
	}
	if o.UploadTimeout <= 0 {
		o.UploadTimeout = DefaultUploadTimeout
	}
	if o.MaxResumes <= 0 {
		o.MaxResumes = DefaultMaxResumes
	}
	o.Edges = slices.Clone(o.Edges)
	return &EdgeSource{c: c, o: o, jobs: map[string]*jobWatch{}}, nil
}

// Describe returns the source type and the API endpoint with the job's
// parameters.
func (s *EdgeSource) Describe() manifest.Source {
	q := url.Values{}
	if len(s.o.Edges) > 0 {
		q.Set("edges", strings.Join(s.o.Edges, ","))
	}
	if s.o.Path != "" {
		q.Set("path", s.o.Path)
	}
	if s.o.Query != "" {
		q.Set("query", s.o.Query)
	}
	q.Set("recurse", strconv.FormatBool(s.o.Recurse))
	return manifest.Source{Type: "genesys-edge", Location: s.c.APIURL() + edgesPath + "?" + q.Encode()}
}

// List creates a log job per edge and returns the files they list, sorted
// by ID. The window is not used: like a folder, an edge offers every file
// it has, and the export job skips those archived before with the same
// size and modification time.
func (s *EdgeSource) List(ctx context.Context, _ manifest.Window) ([]export.File, error) {
	org, err := s.c.OrgID(ctx)
	if err != nil {
		return nil, err
	}
	edges := s.o.Edges
	if len(edges) == 0 {
		all, err := s.c.listEdges(ctx)
		if err != nil {
			return nil, err
		}
		for _, e := range all {
			edges = append(edges, e.ID)
		}
		s.c.log.Info("genesys edges listed", "edges", len(edges))
	}
	s.mu.Lock()
	s.jobs = map[string]*jobWatch{}
	s.mu.Unlock()

	per := make([][]export.File, len(edges))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.c.cfg.MaxConcurrency)
	for i, edge := range edges {
		g.Go(func() error {
			files, err := s.listEdge(gctx, org, edge)
			per[i] = files
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var files []export.File
	for _, fs := range per {
		files = append(files, fs...)
	}
	slices.SortStableFunc(files, func(a, b export.File) int { return strings.Compare(a.ID, b.ID) })
	files = slices.CompactFunc(files, func(a, b export.File) bool {
		if a.ID == b.ID {
			s.c.log.Warn("genesys log job lists a path twice; archiving the first", "edge_id", a.IDs[IDEdge], "edge_path", a.IDs[IDEdgePath])
			return true
		}
		return false
	})
	return files, nil
}

// listEdge creates the log job of one edge and waits for its file list.
func (s *EdgeSource) listEdge(ctx context.Context, org, edge string) ([]export.File, error) {
	jobID, _, err := s.c.createLogJob(ctx, edge, logJobRequest{Path: s.o.Path, Query: s.o.Query, Recurse: s.o.Recurse})
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("edge %s is not known to Genesys Cloud (check source.edges): %w", edge, err)
		}
		return nil, fmt.Errorf("edge %s: %w", edge, err)
	}
	start := time.Now()
	w := newJobWatch(edge, jobID)
	for poll := 0; ; poll++ {
		if err := w.refresh(ctx, s.c, time.Now()); err != nil {
			return nil, fmt.Errorf("edge %s log job %s: %w", edge, jobID, err)
		}
		if w.listed() {
			break
		}
		if time.Since(start) > s.o.JobTimeout {
			return nil, &TimeoutError{What: "log job file listing", Edge: edge, Job: jobID, Waited: time.Since(start)}
		}
		if err := sleep(ctx, pollDelay(poll, s.o.PollInterval)); err != nil {
			return nil, fmt.Errorf("edge %s log job %s: %w", edge, jobID, err)
		}
	}
	s.mu.Lock()
	s.jobs[jobID] = w
	s.mu.Unlock()

	files := make([]export.File, 0, len(w.files))
	for _, lf := range w.files {
		id := edge + "/" + lf.path()
		ids := map[string]string{
			IDRegion: s.c.Region(), IDOrg: org, IDEdge: edge, IDEdgePath: lf.path(), IDFile: lf.ID,
			IDSizeBytes: strconv.FormatInt(lf.SizeBytes, 10), IDJob: jobID, IDCorrelation: w.corr,
		}
		if lf.Name != "" {
			ids[IDFileName] = lf.Name
		}
		if lf.TimeModified != "" {
			ids[IDTimeModified] = lf.TimeModified
		}
		files = append(files, export.File{ID: id, Path: id, Size: lf.SizeBytes, Modified: lf.modified, IDs: ids})
	}
	s.c.log.Debug("genesys log job listed", "edge_id", edge, "job_id", jobID, "files", len(files), "correlation_id", w.corr)
	return files, nil
}

// fileRef is what Open needs to know about a listed file.
type fileRef struct {
	edge, job, file, path string
	size                  int64
}

func (r fileRef) where() string { return where(r.edge, r.job, r.file+" "+r.path, "") }

// Open asks the edge to upload the file (unless the job shows it uploaded
// already), waits for the upload, resolves the download URL and returns a
// reader that streams the file's bytes, resuming with Range requests after
// a short body and re-resolving an expired URL. The reader yields exactly
// the listed size or fails; it is bound to ctx.
func (s *EdgeSource) Open(ctx context.Context, f export.File) (io.ReadCloser, error) {
	ref := fileRef{edge: f.IDs[IDEdge], job: f.IDs[IDJob], file: f.IDs[IDFile], path: f.IDs[IDEdgePath], size: f.Size}
	s.mu.Lock()
	w := s.jobs[ref.job]
	s.mu.Unlock()
	if w == nil || ref.file == "" || ref.size < 0 {
		return nil, fmt.Errorf("genesys: %s was not listed by this source", f.ID)
	}
	release, err := s.c.acquireDownload(ctx)
	if err != nil {
		return nil, err
	}
	lf, err := s.awaitUpload(ctx, w, ref)
	if err != nil {
		release()
		return nil, err
	}
	u, err := s.c.resolveDownload(ctx, lf.DownloadID)
	if err != nil {
		release()
		return nil, fmt.Errorf("download%s: %w", ref.where(), err)
	}
	d := &download{ctx: ctx, c: s.c, ref: ref, downloadID: lf.DownloadID, url: u, maxResumes: s.o.MaxResumes, release: release}
	if err := d.connect(); err != nil {
		release()
		return nil, err
	}
	return d, nil
}

// awaitUpload requests the upload of one file and waits until the job
// shows it uploaded with a download id.
func (s *EdgeSource) awaitUpload(ctx context.Context, w *jobWatch, ref fileRef) (logFile, error) {
	start := time.Now()
	requested, failures := false, 0
	var after time.Time // the job view must be newer than this
	for poll := 0; ; poll++ {
		lf, err := w.file(ctx, s.c, ref.file, after)
		if err != nil {
			return lf, fmt.Errorf("upload%s: %w", ref.where(), err)
		}
		switch {
		case lf.uploadFailed():
			failures++
			if failures > 1 {
				return lf, fmt.Errorf("genesys upload%s: %w: the edge reports upload status %q", ref.where(), ErrFailed, oneLine(lf.UploadStatus))
			}
			requested = false // ask once more
		case lf.DownloadID != "":
			s.c.log.Debug("genesys log file uploaded", "edge_id", ref.edge, "job_id", ref.job, "file_id", ref.file, "waited", time.Since(start).Round(time.Millisecond))
			return lf, nil
		}
		if !requested {
			if err := s.c.requestUpload(ctx, ref.edge, ref.job, []string{ref.file}); err != nil {
				return lf, fmt.Errorf("upload%s: %w", ref.where(), err)
			}
			requested = true
		} else if time.Since(start) > s.o.UploadTimeout {
			return lf, &TimeoutError{What: "log file upload", Edge: ref.edge, Job: ref.job, File: ref.file + " " + ref.path, Waited: time.Since(start)}
		}
		after = time.Now()
		if err := sleep(ctx, pollDelay(poll, s.o.PollInterval)); err != nil {
			return lf, err
		}
	}
}

// firstPoll is the first wait of a poll loop; the waits double up to the
// poll interval, so that quick jobs finish quickly and slow ones are not
// read more often than the interval.
const firstPoll = 250 * time.Millisecond

func pollDelay(n int, interval time.Duration) time.Duration {
	d := firstPoll
	for range min(n, 16) {
		d *= 2
	}
	return min(d, interval)
}

// jobWatch is the latest view of one log job, shared by every Open of its
// files: however many files wait for their uploads, the job is read at
// most once per poll interval and wave of waiters.
type jobWatch struct {
	edge, job string
	lock      chan struct{}

	fetched time.Time // when the request behind this view was sent
	corr    string
	files   map[string]logFile
	list    bool // the job has listed its files
}

func newJobWatch(edge, job string) *jobWatch {
	return &jobWatch{edge: edge, job: job, lock: make(chan struct{}, 1)}
}

func (w *jobWatch) listed() bool { return w.list }

// refresh reads the job unless the view is from a request sent at or after
// after.
func (w *jobWatch) refresh(ctx context.Context, c *Client, after time.Time) error {
	select {
	case w.lock <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-w.lock }()
	if !w.fetched.IsZero() && !w.fetched.Before(after) {
		return nil
	}
	sent := time.Now()
	j, corr, err := c.getLogJob(ctx, w.edge, w.job)
	if err != nil {
		return err
	}
	w.fetched, w.corr = sent, corr
	if j.Files != nil {
		w.list = true
		w.files = make(map[string]logFile, len(j.Files))
		for _, f := range j.Files {
			w.files[f.ID] = f
		}
	}
	return nil
}

// file returns the view of one file, read after after.
func (w *jobWatch) file(ctx context.Context, c *Client, id string, after time.Time) (logFile, error) {
	if err := w.refresh(ctx, c, after); err != nil {
		return logFile{}, err
	}
	w.lock <- struct{}{}
	defer func() { <-w.lock }()
	f, ok := w.files[id]
	if !ok {
		return f, fmt.Errorf("%w: the log job no longer lists the file", ErrFailed)
	}
	return f, nil
}
