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
	IDWindowClamped = "window_clamped" // "true" when the audit window was cut at the since bound
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
	// IncludeCloudMedia also takes cloud media devices when Edges is
	// empty (the edge listing's showCloudMedia; default false: they hold
	// no edge logs of the organization's own).
	IncludeCloudMedia bool
	// UploadBatch is the most file ids one upload request names (default
	// 100).
	UploadBatch int
}

// DefaultUploadBatch is the default of EdgeOptions.UploadBatch.
const DefaultUploadBatch = 100

// EdgeSource is the export source of Genesys Cloud Edge logs
// (source type genesys-edge).
//
// List takes the configured edges, or lists the organization's edges
// (without cloud media devices) and sets aside those the listing reports
// OFFLINE or not active: each is returned as a skipped item ("edge X is
// offline, not collected"), so the manifest says so and a later run, which
// lists the edges again, collects their files. It creates one log job per
// edge and waits, per edge and bounded by JobTimeout, until the edge lists
// its files. An edge whose job fails or times out, and a file the job
// lists with fields the source cannot use, are returned as items with
// Err: the manifest records them as failures and the other edges go on.
// Only problems that would fail every edge (credentials, permissions, the
// edge listing itself) fail List.
//
// Before the files are copied, Prepare asks each job to upload the files
// the run will archive, in batches of fileIds. Open then waits for one
// file to be UPLOADED with a downloadId, resolves the download to a
// pre-signed URL and streams the bytes. ERROR_ON_UPLOAD, or a file still
// not uploaded after UploadTimeout, fails that one file: the manifest
// records it and the next run tries again. Files the archive already holds
// are never uploaded from the edge.
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
	if o.UploadBatch <= 0 {
		o.UploadBatch = DefaultUploadBatch
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
// by ID, with the edges not collected and the items that failed. The
// window is not used: like a folder, an edge offers every file it has, and
// the export job skips those archived before with the same size and
// modification time.
func (s *EdgeSource) List(ctx context.Context, _ manifest.Window) ([]export.File, error) {
	org, err := s.c.OrgID(ctx)
	if err != nil {
		return nil, err
	}
	edges, skipped, err := s.edges(ctx)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.jobs = map[string]*jobWatch{}
	s.mu.Unlock()

	// No errgroup context: one edge's failure must not cancel the others.
	per := make([][]export.File, len(edges))
	fatal := make([]error, len(edges))
	var g errgroup.Group
	g.SetLimit(s.c.cfg.MaxConcurrency)
	for i, edge := range edges {
		g.Go(func() error {
			ectx, cancel := context.WithTimeout(ctx, s.o.JobTimeout+time.Minute)
			defer cancel()
			files, err := s.listEdge(ectx, org, edge)
			switch {
			case err == nil:
				per[i] = files
			case ctx.Err() != nil:
				fatal[i] = ctx.Err()
			case errors.Is(err, ErrPermission), errors.Is(err, ErrUnauthorized), errors.Is(err, ErrBadCredentials):
				fatal[i] = err
			default:
				if errors.Is(err, context.DeadlineExceeded) {
					err = &TimeoutError{What: "log job", Edge: edge, Waited: s.o.JobTimeout + time.Minute}
				}
				s.c.log.Warn("genesys edge not collected", "edge_id", edge, "err", err.Error())
				per[i] = []export.File{{ID: edge + "/", Path: edge + "/", IDs: map[string]string{IDRegion: s.c.Region(), IDOrg: org, IDEdge: edge}, Err: err}}
			}
			return nil
		})
	}
	_ = g.Wait()
	if err := errors.Join(fatal...); err != nil {
		return nil, err
	}
	files := skipped
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

// edges returns the edges to ask for logs: the configured ones, or every
// edge the listing shows, less those the listing reports offline or not
// active, which come back as skipped items.
func (s *EdgeSource) edges(ctx context.Context) ([]string, []export.File, error) {
	configured := len(s.o.Edges) > 0
	// Configured edges are looked up in the listing too (cloud media
	// included: they were asked for by id), so that an offline one is not
	// waited for; one the listing does not show is tried.
	all, err := s.c.listEdges(ctx, s.o.IncludeCloudMedia || configured)
	switch {
	case err != nil && configured && !errors.Is(err, ErrPermission) && !errors.Is(err, ErrUnauthorized) && !errors.Is(err, ErrBadCredentials):
		s.c.log.Warn("genesys edge listing failed; trying the configured edges without their status", "err", err.Error())
		return s.o.Edges, nil, nil
	case err != nil:
		return nil, nil, err
	}
	if configured {
		byID := make(map[string]edgeEntity, len(all))
		for _, e := range all {
			byID[e.ID] = e
		}
		all = all[:0]
		for _, id := range s.o.Edges {
			e, ok := byID[id]
			if !ok {
				e = edgeEntity{ID: id}
			}
			all = append(all, e)
		}
	}
	var edges []string
	var skipped []export.File
	for _, e := range all {
		if !e.knownEnums() {
			s.c.log.Warn("genesys edge with a status this version does not know; trying it", "edge_id", e.ID,
				"online_status", oneLine(e.OnlineStatus), "state", oneLine(e.State))
		}
		why := e.notCollected()
		if why == "" {
			edges = append(edges, e.ID)
			continue
		}
		reason := fmt.Sprintf("edge %s (%s) was not collected: the edge listing reports %s; a later run collects its files", e.ID, oneLine(e.Name), why)
		s.c.log.Warn("genesys edge not collected", "edge_id", e.ID, "edge_name", oneLine(e.Name), "online_status", oneLine(e.OnlineStatus), "state", oneLine(e.State))
		skipped = append(skipped, export.File{ID: e.ID + "/", Path: e.ID + "/", Skip: reason,
			IDs: map[string]string{IDRegion: s.c.Region(), IDEdge: e.ID}})
	}
	s.c.log.Info("genesys edges listed", "edges", len(all), "collected", len(edges), "not_collected", len(skipped))
	return edges, skipped, nil
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

	w.lock <- struct{}{}
	listed, bad, corr := w.order, w.bad, w.corr
	<-w.lock
	files := make([]export.File, 0, len(listed)+len(bad))
	for _, lf := range listed {
		id := edge + "/" + lf.path()
		ids := map[string]string{
			IDRegion: s.c.Region(), IDOrg: org, IDEdge: edge, IDEdgePath: lf.path(), IDFile: lf.ID,
			IDSizeBytes: lf.SizeText, IDJob: jobID, IDCorrelation: corr,
		}
		if lf.Name != "" {
			ids[IDFileName] = lf.Name
		}
		if lf.TimeModified != "" {
			ids[IDTimeModified] = lf.TimeModified
		}
		files = append(files, export.File{ID: id, Path: id, Size: lf.Size, Modified: lf.modified, IDs: ids})
	}
	for _, b := range bad {
		id := edge + "/" + b.Path
		if b.Path == "" {
			id = fmt.Sprintf("%s/files[%d]", edge, b.Index)
		}
		err := fmt.Errorf("genesys get log job: GET %s: %w", logJobPath(edge, jobID), b.Err)
		s.c.log.Warn("genesys log file not usable", "edge_id", edge, "job_id", jobID, "err", err.Error())
		files = append(files, export.File{ID: id, Path: id, IDs: map[string]string{IDEdge: edge, IDJob: jobID, IDFile: b.ID}, Err: err})
	}
	s.c.log.Debug("genesys log job listed", "edge_id", edge, "job_id", jobID, "files", len(listed), "unusable", len(bad), "correlation_id", corr)
	return files, nil
}

// Prepare asks the edges to upload the files the run will archive: one
// request per job and UploadBatch files. A request that fails is logged;
// Open asks again for its file.
func (s *EdgeSource) Prepare(ctx context.Context, files []export.File) {
	type key struct{ edge, job string }
	batches := map[key][]string{}
	var order []key
	for _, f := range files {
		k := key{f.IDs[IDEdge], f.IDs[IDJob]}
		if k.job == "" || f.IDs[IDFile] == "" {
			continue
		}
		if _, ok := batches[k]; !ok {
			order = append(order, k)
		}
		batches[k] = append(batches[k], f.IDs[IDFile])
	}
	for _, k := range order {
		s.mu.Lock()
		w := s.jobs[k.job]
		s.mu.Unlock()
		if w == nil {
			continue
		}
		ids := batches[k]
		for len(ids) > 0 {
			n := min(len(ids), s.o.UploadBatch)
			if err := w.request(ctx, s.c, ids[:n]); err != nil {
				s.c.log.Warn("genesys upload request failed; each file asks again", "edge_id", k.edge, "job_id", k.job, "files", n, "err", err.Error())
			}
			ids = ids[n:]
		}
	}
}

var _ export.Preparer = (*EdgeSource)(nil)

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

// awaitUpload waits until the job shows the file UPLOADED with a download
// id, requesting the upload unless Prepare did. The states are those of
// EdgeLogsJobFile.uploadStatus: NOT_UPLOADED and UPLOADING (and any value
// this version does not know) mean wait; ERROR_ON_UPLOAD after the request
// fails the file; so does waiting past UploadTimeout. A downloadId is used
// only once the file is UPLOADED.
func (s *EdgeSource) awaitUpload(ctx context.Context, w *jobWatch, ref fileRef) (logFile, error) {
	start := time.Now()
	warned := false
	var after time.Time // the view must come from a request sent after this
	for poll := 0; ; poll++ {
		sent, ok := w.requestedAt(ref.file)
		if !ok {
			if err := w.request(ctx, s.c, []string{ref.file}); err != nil {
				return logFile{}, fmt.Errorf("upload%s: %w", ref.where(), err)
			}
			sent, _ = w.requestedAt(ref.file)
		}
		// The view must come from a request sent after the upload request.
		lf, err := w.file(ctx, s.c, ref.file, maxTime(after, sent))
		if err != nil {
			return lf, fmt.Errorf("upload%s: %w", ref.where(), err)
		}
		switch lf.UploadStatus {
		case uploadUploaded:
			if lf.DownloadID != "" {
				s.c.log.Debug("genesys log file uploaded", "edge_id", ref.edge, "job_id", ref.job, "file_id", ref.file, "waited", time.Since(start).Round(time.Millisecond))
				return lf, nil
			}
		case uploadError:
			return lf, fmt.Errorf("genesys upload%s: %w: uploadStatus %s (the next run tries again)", ref.where(), ErrFailed, uploadError)
		case uploadNotUploaded, uploadUploading:
		default:
			if !warned {
				s.c.log.Warn("genesys upload status this version does not know; waiting", "edge_id", ref.edge, "job_id", ref.job, "file_id", ref.file, "upload_status", oneLine(lf.UploadStatus))
				warned = true
			}
		}
		if time.Since(sent) > s.o.UploadTimeout {
			return lf, &TimeoutError{What: "log file upload (uploadStatus " + oneLine(lf.UploadStatus) + ")", Edge: ref.edge, Job: ref.job, File: ref.file + " " + ref.path, Waited: time.Since(sent)}
		}
		if err := sleep(ctx, pollDelay(poll, s.o.PollInterval)); err != nil {
			return lf, err
		}
		after = time.Now()
	}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
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

	fetched   time.Time // when the request behind this view was sent
	corr      string
	files     map[string]logFile
	order     []logFile // as listed
	bad       []badFile
	list      bool                 // the job has listed its files
	requested map[string]time.Time // upload requests sent, by file id
}

func newJobWatch(edge, job string) *jobWatch {
	return &jobWatch{edge: edge, job: job, lock: make(chan struct{}, 1), requested: map[string]time.Time{}}
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
		w.order, w.bad = j.Files, j.Bad
	}
	return nil
}

// request asks the edge to upload files of the job (one request) and
// notes when, so that only later views of the job count for them.
func (w *jobWatch) request(ctx context.Context, c *Client, ids []string) error {
	sent := time.Now()
	if err := c.requestUpload(ctx, w.edge, w.job, ids); err != nil {
		return err
	}
	w.lock <- struct{}{}
	defer func() { <-w.lock }()
	for _, id := range ids {
		if _, ok := w.requested[id]; !ok {
			w.requested[id] = sent
		}
	}
	return nil
}

// requestedAt returns when the upload of a file was requested.
func (w *jobWatch) requestedAt(id string) (time.Time, bool) {
	w.lock <- struct{}{}
	defer func() { <-w.lock }()
	t, ok := w.requested[id]
	return t, ok
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
