package genesys

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/logkeeper/logkeeper/export"
	"github.com/logkeeper/logkeeper/manifest"
)

// Defaults of AuditOptions.
const (
	DefaultAuditPageSize = 500 // the API's maximum
	DefaultQueryTimeout  = 10 * time.Minute
	// DefaultSince: the help center's retention article says audit data
	// is available for at least one year.
	DefaultSince = 365 * 24 * time.Hour
	// DefaultSettle is how long after its end an interval is queried.
	DefaultSettle = 15 * time.Minute
	// DefaultRecheckWindows is how many of the latest intervals each run
	// queries again for late records.
	DefaultRecheckWindows = 3
	// DefaultMaxInterval is the longest interval one audit query covers;
	// longer spans (the first run's backfill) are split.
	DefaultMaxInterval = 30 * 24 * time.Hour
)

// intervalLayout writes audit interval ends: RFC 3339 in UTC with
// milliseconds, so consecutive windows meet exactly.
const intervalLayout = "2006-01-02T15:04:05.000Z07:00"

// AuditOptions select the audit records an AuditSource archives.
type AuditOptions struct {
	// ServiceName is the audited service (such as Architect); empty
	// means every service.
	ServiceName string
	// Query holds the filters as PROPERTY=VALUE pairs joined by "&", such
	// as "Action=Delete&EntityType=Flow" (URL escapes allowed).
	Query string
	// PageSize of the result pages, 1..500 (default 500).
	PageSize int
	// PollInterval is the longest wait between reads of the query's
	// state (default 2 s; the waits start at 250 ms and double up to it);
	// QueryTimeout bounds the wait for it (default 10 m).
	PollInterval time.Duration
	QueryTimeout time.Duration
	// SinceDate, or else SinceAge before now (default DefaultSince: the
	// documented retention), is the oldest time queried: the first run
	// backfills to it.
	SinceDate time.Time
	SinceAge  time.Duration
	// Settle delays every query: a run window [S, E) queries the records
	// of [S-Settle, E-Settle), so that records indexed a little late are
	// in their first query (default 15 m; negative: none).
	Settle time.Duration
	// RecheckWindows is how many of the latest intervals each run queries
	// again, archiving the records not archived yet in a supplemental
	// object (default 3; negative: none).
	RecheckWindows int
	// MaxInterval is the longest interval of one query (default 30 days).
	MaxInterval time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// ParseAuditFilters reads filters written as PROPERTY=VALUE pairs joined
// by "&", in order. An empty string means no filters.
func ParseAuditFilters(q string) ([]AuditFilter, error) {
	var fs []AuditFilter
	if strings.TrimSpace(q) == "" {
		return nil, nil
	}
	for i, pair := range strings.Split(q, "&") {
		k, v, ok := strings.Cut(pair, "=")
		pk, err1 := url.QueryUnescape(strings.TrimSpace(k))
		pv, err2 := url.QueryUnescape(strings.TrimSpace(v))
		if !ok || err1 != nil || err2 != nil || pk == "" || pv == "" {
			return nil, fmt.Errorf("audit filter %d: want PROPERTY=VALUE, got %q", i+1, pair)
		}
		fs = append(fs, AuditFilter{Property: pk, Value: pv})
	}
	return fs, nil
}

// AuditSource is the export source of the organization's audit trail
// (source type genesys-audit): JSON Lines objects, one audit record per
// line, each record's JSON compacted and otherwise as the API returned it,
// oldest first (the query sorts by Timestamp ascending).
//
// A run window [S, E) is queried as [S-Settle, E-Settle), no further back
// than the since bound, split into intervals of at most MaxInterval: one
// object per interval. List runs each query to completion and reads every
// result page once, counting records and bytes, so that everything that
// can go wrong with a query (credentials, permission, a failed or stuck
// query, malformed answers) fails List: no manifest is written and the
// next run queries the same window again. Open reads the pages once more
// (a finished query's results do not change) and streams them; the listed
// size and record count must match exactly.
//
// Records indexed after their interval was queried: each run queries the
// last RecheckWindows intervals again (Recheck), reads back the objects
// the archive holds for them (primary and supplemental, from the last
// RecheckWindows manifests) to learn the audit entry ids archived, and
// archives the records not among them, once, in a supplemental object of
// the current run. Memory holds the entry ids of those intervals only.
type AuditSource struct {
	c       *Client
	o       AuditOptions
	filters []AuditFilter

	mu   sync.Mutex
	late map[string][]byte // supplemental objects of this run, by file ID
	// lastEnd is the end of the latest interval the recent manifests
	// archived or failed (zero when unknown): the next window's queries
	// start there, whatever the settle delay was then.
	lastEnd time.Time
}

var _ export.Rechecker = (*AuditSource)(nil)

// NewAuditSource returns an audit source that uses c.
func NewAuditSource(c *Client, o AuditOptions) (*AuditSource, error) {
	if c == nil {
		return nil, errors.New("genesys audit source: no client")
	}
	filters, err := ParseAuditFilters(o.Query)
	if err != nil {
		return nil, fmt.Errorf("genesys audit source: query: %w", err)
	}
	if o.PageSize == 0 {
		o.PageSize = DefaultAuditPageSize
	}
	if o.PageSize < 1 || o.PageSize > 500 {
		return nil, fmt.Errorf("genesys audit source: page size %d: must be 1..500", o.PageSize)
	}
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.QueryTimeout <= 0 {
		o.QueryTimeout = DefaultQueryTimeout
	}
	if o.SinceAge <= 0 {
		o.SinceAge = DefaultSince
	}
	switch {
	case o.Settle == 0:
		o.Settle = DefaultSettle
	case o.Settle < 0:
		o.Settle = 0
	}
	switch {
	case o.RecheckWindows == 0:
		o.RecheckWindows = DefaultRecheckWindows
	case o.RecheckWindows < 0:
		o.RecheckWindows = 0
	}
	if o.MaxInterval <= 0 {
		o.MaxInterval = DefaultMaxInterval
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &AuditSource{c: c, o: o, filters: filters, late: map[string][]byte{}}, nil
}

// since returns the oldest time queried.
func (s *AuditSource) since() time.Time {
	if !s.o.SinceDate.IsZero() {
		return s.o.SinceDate.UTC()
	}
	return s.o.Now().Add(-s.o.SinceAge).UTC()
}

// Describe returns the source type and the query endpoint with the
// service and filters.
func (s *AuditSource) Describe() manifest.Source {
	q := url.Values{}
	if s.o.ServiceName != "" {
		q.Set("serviceName", s.o.ServiceName)
	}
	if f := s.filterString(); f != "" {
		q.Set("filters", f)
	}
	loc := s.c.APIURL() + auditPath
	if len(q) > 0 {
		loc += "?" + q.Encode()
	}
	return manifest.Source{Type: "genesys-audit", Location: loc}
}

func (s *AuditSource) filterString() string {
	parts := make([]string, len(s.filters))
	for i, f := range s.filters {
		parts[i] = url.QueryEscape(f.Property) + "=" + url.QueryEscape(f.Value)
	}
	return strings.Join(parts, "&")
}

// List queries the window's audit records, settled and split into
// intervals (starting where the latest archived interval ends, when
// Recheck saw one), and returns one file per interval (also when there are no
// records: the empty object attests that the interval had none). A window
// that leaves nothing to query lists nothing.
func (s *AuditSource) List(ctx context.Context, window manifest.Window) ([]export.File, error) {
	start := window.Start.UTC().Add(-s.o.Settle).Truncate(time.Millisecond)
	end := window.End.UTC().Add(-s.o.Settle).Truncate(time.Millisecond)
	s.mu.Lock()
	if !s.lastEnd.IsZero() {
		// Continue exactly where the archive ends: a settle delay changed
		// since, or a chain written before settle existed, would otherwise
		// leave a gap or query records twice.
		start = s.lastEnd
	}
	s.mu.Unlock()
	clamped := false
	if since := s.since().Truncate(time.Millisecond); start.Before(since) {
		start, clamped = since, true
	}
	if !end.After(start) {
		return nil, nil
	}
	if clamped {
		s.c.log.Info("genesys audit window starts at the since bound", "window_start", window.Start, "query_start", start)
	}
	var files []export.File
	for from := start; from.Before(end); {
		to := from.Add(s.o.MaxInterval)
		if to.After(end) {
			to = end
		}
		f, err := s.listInterval(ctx, from, to)
		if err != nil {
			return nil, err
		}
		if clamped {
			f.IDs[IDWindowClamped] = "true"
		}
		files = append(files, f)
		from = to
	}
	return files, nil
}

// intervalQuery is one finished audit query of an interval.
type intervalQuery struct {
	org, interval, id, corr string
}

// query runs the audit query of [start, end) to completion.
func (s *AuditSource) query(ctx context.Context, start, end time.Time) (intervalQuery, error) {
	org, err := s.c.OrgID(ctx)
	if err != nil {
		return intervalQuery{}, err
	}
	interval := start.Format(intervalLayout) + "/" + end.Format(intervalLayout)
	st, corr, err := s.c.createAuditQuery(ctx, auditQuery{Interval: interval, ServiceName: s.o.ServiceName, Filters: s.filters, Sort: byTimestamp})
	if err != nil {
		return intervalQuery{}, fmt.Errorf("audit interval %s: %w", interval, err)
	}
	if err := s.await(ctx, st); err != nil {
		return intervalQuery{}, err
	}
	return intervalQuery{org: org, interval: interval, id: st.ID, corr: corr}, nil
}

// ids returns the provenance of a file of query q.
func (s *AuditSource) ids(q intervalQuery, records int64) map[string]string {
	ids := map[string]string{
		IDRegion: s.c.Region(), IDOrg: q.org, IDQuery: q.id, IDInterval: q.interval,
		IDRecords: strconv.FormatInt(records, 10), IDCorrelation: q.corr,
	}
	if s.o.ServiceName != "" {
		ids[IDServiceName] = s.o.ServiceName
	}
	if f := s.filterString(); f != "" {
		ids[IDFilters] = f
	}
	return ids
}

// listInterval queries one interval and returns its file.
func (s *AuditSource) listInterval(ctx context.Context, start, end time.Time) (export.File, error) {
	q, err := s.query(ctx, start, end)
	if err != nil {
		return export.File{}, err
	}
	var records, size int64
	var line []byte
	err = s.c.auditPages(ctx, q.id, s.o.PageSize, func(r auditResults) error {
		for _, e := range r.Entities {
			if line, err = auditLine(line[:0], e); err != nil {
				return err
			}
			records++
			size += int64(len(line))
		}
		return nil
	})
	if err != nil {
		return export.File{}, fmt.Errorf("audit query %s: %w", q.id, err)
	}
	s.c.log.Info("genesys audit query listed", "query_id", q.id, "interval", q.interval, "records", records, "bytes", size)
	return export.File{ID: intervalID(start, end), Path: intervalPath("audit/", start, end), Size: size, Modified: end, IDs: s.ids(q, records)}, nil
}

// intervalID is the file ID of an interval's primary object.
func intervalID(start, end time.Time) string {
	return "audit/" + start.Format(intervalLayout) + "/" + end.Format(intervalLayout)
}

func intervalPath(prefix string, start, end time.Time) string {
	return prefix + start.Format("20060102T150405.000Z") + "_" + end.Format("20060102T150405.000Z") + ".jsonl"
}

// await polls an audit query until it succeeds, fails or runs out of time.
func (s *AuditSource) await(ctx context.Context, st auditStatus) error {
	start := time.Now()
	warned := false
	for poll := 0; ; poll++ {
		switch st.State {
		case auditSucceeded:
			return nil
		case auditFailed, auditCancelled:
			return fmt.Errorf("genesys audit query %s: %w: state %s", st.ID, ErrFailed, st.State)
		}
		if !st.known() && !warned {
			s.c.log.Warn("genesys audit query state this version does not know; polling on", "query_id", st.ID, "state", oneLine(st.State))
			warned = true
		}
		if time.Since(start) > s.o.QueryTimeout {
			return &TimeoutError{What: "audit query", Query: st.ID, Waited: time.Since(start)}
		}
		if err := sleep(ctx, pollDelay(poll, s.o.PollInterval)); err != nil {
			return fmt.Errorf("genesys audit query %s: %w", st.ID, err)
		}
		next, err := s.c.auditQueryStatus(ctx, st.ID)
		if err != nil {
			return fmt.Errorf("audit query %s: %w", st.ID, err)
		}
		st = next
	}
}

// Open streams the listed window's records as JSON Lines, one result page
// in memory at a time.
func (s *AuditSource) Open(ctx context.Context, f export.File) (io.ReadCloser, error) {
	if strings.HasPrefix(f.ID, lateIDPrefix) {
		s.mu.Lock()
		b, ok := s.late[f.ID]
		s.mu.Unlock()
		if !ok || int64(len(b)) != f.Size {
			return nil, fmt.Errorf("genesys: %s was not listed by this source", f.ID)
		}
		return io.NopCloser(bytes.NewReader(b)), nil
	}
	id := f.IDs[IDQuery]
	want, err := strconv.ParseInt(f.IDs[IDRecords], 10, 64)
	if id == "" || err != nil || f.Size < 0 {
		return nil, fmt.Errorf("genesys: %s was not listed by this source", f.ID)
	}
	return &auditReader{ctx: ctx, s: s, query: id, want: want, size: f.Size}, nil
}

// auditReader yields the lines of one audit query's results. It keeps the
// Open context, as an http.Response body does.
type auditReader struct {
	ctx   context.Context
	s     *AuditSource
	query string
	want  int64 // records listed
	size  int64 // bytes listed

	cursor  string
	started bool
	done    bool
	pending []byte
	records int64
	n       int64
	err     error
}

func (r *auditReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	for len(r.pending) == 0 {
		if r.done {
			if r.records != r.want || r.n != r.size {
				r.err = fmt.Errorf("genesys audit query %s: %w: results changed since listing: %d records (%d bytes), listed %d (%d bytes)",
					r.query, ErrMalformed, r.records, r.n, r.want, r.size)
				return 0, r.err
			}
			return 0, io.EOF
		}
		if err := r.next(); err != nil {
			r.err = fmt.Errorf("audit query %s: %w", r.query, err)
			return 0, r.err
		}
	}
	k := copy(p, r.pending)
	r.pending = r.pending[k:]
	return k, nil
}

// next reads the next page into pending.
func (r *auditReader) next() error {
	if r.started && r.cursor == "" {
		r.done = true
		return nil
	}
	page, err := r.s.c.auditPage(r.ctx, r.query, r.cursor, r.s.o.PageSize)
	if err != nil {
		return err
	}
	if r.started && page.Cursor == r.cursor && page.Cursor != "" {
		return fmt.Errorf("%w: the cursor did not move", ErrMalformed)
	}
	r.started = true
	buf := r.pending[:0]
	for _, e := range page.Entities {
		if buf, err = auditLine(buf, e); err != nil {
			return err
		}
		r.records++
	}
	r.n += int64(len(buf))
	if r.records > r.want || r.n > r.size {
		return fmt.Errorf("%w: results grew since listing: more than %d records or %d bytes", ErrMalformed, r.want, r.size)
	}
	r.pending = buf
	r.cursor = page.Cursor
	if page.Cursor == "" {
		r.done = true
	}
	return nil
}

func (r *auditReader) Close() error { return nil }

// Retry lists again the intervals whose audit file an earlier run failed
// to archive: an interval is queried once, when it is in the run's window,
// so without this a failed interval would never be offered again. Late
// records are found again by Recheck, not here.
func (s *AuditSource) Retry(ctx context.Context, failed []manifest.Failure) ([]export.File, error) {
	var files []export.File
	for _, f := range failed {
		start, end, ok := parseIntervalID(f.ID)
		if !ok {
			continue
		}
		file, err := s.listInterval(ctx, start, end)
		if err != nil {
			return nil, fmt.Errorf("retry audit interval %s: %w", strings.TrimPrefix(f.ID, "audit/"), err)
		}
		files = append(files, file)
	}
	return files, nil
}

// parseIntervalID reads the interval of a primary object's file ID.
func parseIntervalID(id string) (time.Time, time.Time, bool) {
	rest, ok := strings.CutPrefix(id, "audit/")
	if !ok {
		return time.Time{}, time.Time{}, false
	}
	startS, endS, ok := strings.Cut(rest, "/")
	if !ok {
		return time.Time{}, time.Time{}, false
	}
	start, err1 := time.Parse(intervalLayout, startS)
	end, err2 := time.Parse(intervalLayout, endS)
	if err1 != nil || err2 != nil || !end.After(start) {
		return time.Time{}, time.Time{}, false
	}
	return start.UTC(), end.UTC(), true
}

var _ export.Retrier = (*AuditSource)(nil)
