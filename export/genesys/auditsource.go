package genesys

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/logkeeper/logkeeper/export"
	"github.com/logkeeper/logkeeper/manifest"
)

// Defaults of AuditOptions.
const (
	DefaultAuditPageSize = 500 // the API's maximum
	DefaultQueryTimeout  = 10 * time.Minute
	DefaultMaxLookback   = 30 * 24 * time.Hour
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
	// MaxLookback caps how far back one query reaches (default 30 days).
	// A longer window (the first run's starts at the Unix epoch) is cut
	// to its last MaxLookback, and the file records it.
	MaxLookback time.Duration
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
// (source type genesys-audit): one JSON Lines object per run window, one
// audit record per line, each record's JSON compacted and otherwise as the
// API returned it.
//
// List runs the audit query for the window to completion and reads every
// result page once, counting records and bytes, so that everything that
// can go wrong with the query (credentials, permission, a failed or stuck
// query, malformed answers) fails List: no manifest is written and the
// next run queries the same window start again. Open reads the pages once
// more (a finished query's results do not change) and streams them; the
// listed size and record count must match exactly.
type AuditSource struct {
	c       *Client
	o       AuditOptions
	filters []AuditFilter
}

var _ export.Source = (*AuditSource)(nil)

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
	if o.MaxLookback <= 0 {
		o.MaxLookback = DefaultMaxLookback
	}
	return &AuditSource{c: c, o: o, filters: filters}, nil
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

// List queries the window's audit records and returns the one file that
// holds them (also when there are none: the empty object attests that
// the window had no records). A window of zero length lists nothing.
func (s *AuditSource) List(ctx context.Context, window manifest.Window) ([]export.File, error) {
	wStart, wEnd := window.Start.UTC().Truncate(time.Millisecond), window.End.UTC().Truncate(time.Millisecond)
	if !wEnd.After(wStart) {
		return nil, nil
	}
	org, err := s.c.OrgID(ctx)
	if err != nil {
		return nil, err
	}
	start, clamped := wStart, false
	if wEnd.Sub(wStart) > s.o.MaxLookback {
		start, clamped = wEnd.Add(-s.o.MaxLookback), true
		s.c.log.Info("genesys audit window cut to the lookback", "window_start", wStart, "query_start", start, "max_lookback", s.o.MaxLookback)
	}
	interval := start.Format(intervalLayout) + "/" + wEnd.Format(intervalLayout)
	st, corr, err := s.c.createAuditQuery(ctx, auditQuery{Interval: interval, ServiceName: s.o.ServiceName, Filters: s.filters})
	if err != nil {
		return nil, fmt.Errorf("audit interval %s: %w", interval, err)
	}
	if err := s.await(ctx, st); err != nil {
		return nil, err
	}
	var records, size int64
	var line []byte
	err = s.c.auditPages(ctx, st.ID, s.o.PageSize, func(r auditResults) error {
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
		return nil, fmt.Errorf("audit query %s: %w", st.ID, err)
	}
	id := "audit/" + wStart.Format(intervalLayout) + "/" + wEnd.Format(intervalLayout)
	path := "audit/" + wStart.Format("20060102T150405.000Z") + "_" + wEnd.Format("20060102T150405.000Z") + ".jsonl"
	ids := map[string]string{
		IDRegion: s.c.Region(), IDOrg: org, IDQuery: st.ID, IDInterval: interval,
		IDRecords: strconv.FormatInt(records, 10), IDCorrelation: corr,
	}
	if s.o.ServiceName != "" {
		ids[IDServiceName] = s.o.ServiceName
	}
	if f := s.filterString(); f != "" {
		ids[IDFilters] = f
	}
	if clamped {
		ids[IDWindowClamped] = "true"
	}
	s.c.log.Info("genesys audit query listed", "query_id", st.ID, "interval", interval, "records", records, "bytes", size)
	return []export.File{{ID: id, Path: path, Size: size, Modified: wEnd, IDs: ids}}, nil
}

// await polls an audit query until it succeeds, fails or runs out of time.
func (s *AuditSource) await(ctx context.Context, st auditStatus) error {
	start := time.Now()
	for poll := 0; ; poll++ {
		switch st.State {
		case auditSucceeded:
			return nil
		case auditFailed, auditCancelled:
			return fmt.Errorf("genesys audit query %s: %w: state %s", st.ID, ErrFailed, st.State)
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

// Retry lists again the windows whose audit file an earlier run failed to
// archive: a window is queried once, when it is the run's window, so
// without this a failed window would never be offered again.
func (s *AuditSource) Retry(ctx context.Context, failed []manifest.Failure) ([]export.File, error) {
	var files []export.File
	for _, f := range failed {
		rest, ok := strings.CutPrefix(f.ID, "audit/")
		if !ok {
			continue
		}
		startS, endS, ok := strings.Cut(rest, "/")
		if !ok {
			continue
		}
		start, err1 := time.Parse(intervalLayout, startS)
		end, err2 := time.Parse(intervalLayout, endS)
		if err1 != nil || err2 != nil {
			continue
		}
		fs, err := s.List(ctx, manifest.Window{Start: start, End: end})
		if err != nil {
			return nil, fmt.Errorf("retry audit window %s: %w", rest, err)
		}
		files = append(files, fs...)
	}
	return files, nil
}

var _ export.Retrier = (*AuditSource)(nil)
