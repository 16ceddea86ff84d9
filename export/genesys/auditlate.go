package genesys

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/logkeeper/logkeeper/export"
	"github.com/logkeeper/logkeeper/manifest"
)

// lateIDPrefix starts the file ID of a supplemental object: records of an
// interval archived before that were not in its first query.
const lateIDPrefix = "audit-late/"

// IDLateOf is the provenance key naming, in a supplemental object, the file
// ID of the interval's primary object.
const IDLateOf = "late_of"

// maxLateBytes bounds the supplemental objects one run holds in memory;
// maxArchivedLine bounds one line read back from the archive.
const (
	maxLateBytes    = 64 << 20
	maxArchivedLine = 16 << 20
)

// RecheckWindows is how many of the latest manifests Recheck reads: at
// least the head, where List learns where the archive ends.
func (s *AuditSource) RecheckWindows() int { return max(s.o.RecheckWindows, 1) }

// interval is a queried span.
type interval struct{ start, end time.Time }

// Recheck queries again the last RecheckWindows intervals the recent
// manifests archived, and returns, per interval, a supplemental file with
// the records that are not in the archive yet: neither in the interval's
// primary object nor in a supplemental object of a later run. Those are
// read back from the archive (all within the recent manifests, since a
// supplemental object is always newer than its primary one), and an audit
// record is known by its id (or, without one, by the SHA-256 of its line).
// A recheck query that fails is returned as a file with Err; the next run
// rechecks the interval again while it is among the latest.
func (s *AuditSource) Recheck(ctx context.Context, recent []*manifest.Manifest, read export.ReadArchived) ([]export.File, error) {
	var ivs []interval
	var lastEnd time.Time
	for _, m := range recent {
		for _, o := range m.Objects {
			if start, end, ok := parseIntervalID(o.Source.ID); ok && !slices.Contains(ivs, interval{start, end}) {
				ivs = append(ivs, interval{start, end})
			}
		}
		for _, f := range m.Failures {
			if _, end, ok := parseIntervalID(f.ID); ok && end.After(lastEnd) {
				lastEnd = end
			}
		}
	}
	slices.SortFunc(ivs, func(a, b interval) int { return a.end.Compare(b.end) })
	if n := len(ivs); n > 0 && ivs[n-1].end.After(lastEnd) {
		lastEnd = ivs[n-1].end
	}
	s.mu.Lock()
	s.late, s.lastEnd = map[string][]byte{}, lastEnd
	s.mu.Unlock()
	ivs = ivs[len(ivs)-min(len(ivs), s.o.RecheckWindows):]
	if len(ivs) == 0 {
		return nil, nil
	}
	archived, err := s.archivedKeys(ctx, recent, ivs, read)
	if err != nil {
		return nil, err
	}
	var files []export.File
	total := 0
	for _, iv := range ivs {
		f, b, err := s.recheckInterval(ctx, iv, archived)
		switch {
		case err != nil && ctx.Err() != nil:
			return nil, ctx.Err()
		case err != nil:
			id := lateIDPrefix + iv.start.Format(intervalLayout) + "/" + iv.end.Format(intervalLayout)
			files = append(files, export.File{ID: id, Path: intervalPath("audit/late/", iv.start, iv.end), Err: fmt.Errorf("recheck: %w", err)})
		case f != nil:
			if total += len(b); total > maxLateBytes {
				return nil, fmt.Errorf("genesys audit recheck: more than %d bytes of late records in one run", maxLateBytes)
			}
			s.mu.Lock()
			s.late[f.ID] = b
			s.mu.Unlock()
			files = append(files, *f)
		}
	}
	return files, nil
}

// archivedKeys returns the keys of the records the recent manifests
// archived for the intervals ivs.
func (s *AuditSource) archivedKeys(ctx context.Context, recent []*manifest.Manifest, ivs []interval, read export.ReadArchived) (map[string]bool, error) {
	keys := map[string]bool{}
	for _, m := range recent {
		for _, o := range m.Objects {
			start, end, ok := parseIntervalID(o.Source.ID)
			if !ok {
				// A supplemental ID has a digest after the interval.
				if rest, late := strings.CutPrefix(o.Source.ID, lateIDPrefix); late {
					if i := strings.LastIndexByte(rest, '/'); i > 0 {
						start, end, ok = parseIntervalID("audit/" + rest[:i])
					}
				}
			}
			if !ok || !slices.Contains(ivs, interval{start, end}) {
				continue
			}
			if err := readKeys(ctx, o, read, keys); err != nil {
				return nil, err
			}
		}
	}
	return keys, nil
}

// readKeys adds the keys of the records of one archived object.
func readKeys(ctx context.Context, o manifest.Object, read export.ReadArchived, keys map[string]bool) error {
	rc, err := read(ctx, o)
	if err != nil {
		return err
	}
	defer rc.Close()
	sc := bufio.NewScanner(rc)
	sc.Buffer(make([]byte, 0, 64<<10), maxArchivedLine)
	for sc.Scan() {
		keys[auditKey(sc.Bytes())] = true
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read archived audit records of %s: %w", o.Key, err)
	}
	return nil
}

// auditKey identifies an audit record: "id:" and its id, or, for a record
// without one, "sha256:" and the digest of its compacted line.
func auditKey(line []byte) string {
	var v struct {
		ID any `json:"id"`
	}
	if json.Unmarshal(line, &v) == nil {
		if id, ok := v.ID.(string); ok && id != "" {
			return "id:" + id
		}
	}
	sum := sha256.Sum256(line)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// recheckInterval queries one interval and returns the supplemental file
// and its bytes, or nil when every record is archived.
func (s *AuditSource) recheckInterval(ctx context.Context, iv interval, archived map[string]bool) (*export.File, []byte, error) {
	q, err := s.query(ctx, iv.start, iv.end)
	if err != nil {
		return nil, nil, err
	}
	var buf, line []byte
	var newKeys []string
	err = s.c.auditPages(ctx, q.id, s.o.PageSize, func(r auditResults) error {
		for _, e := range r.Entities {
			if line, err = auditLine(line[:0], e); err != nil {
				return err
			}
			k := auditKey(line[:len(line)-1])
			if archived[k] {
				continue
			}
			archived[k] = true
			newKeys = append(newKeys, k)
			buf = append(buf, line...)
			if len(buf) > maxLateBytes {
				return fmt.Errorf("more than %d bytes of late records", maxLateBytes)
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("audit query %s: %w", q.id, err)
	}
	if len(newKeys) == 0 {
		s.c.log.Debug("genesys audit recheck found nothing new", "interval", q.interval, "query_id", q.id)
		return nil, nil, nil
	}
	slices.Sort(newKeys)
	sum := sha256.Sum256([]byte(strings.Join(newKeys, "\n")))
	digest := hex.EncodeToString(sum[:8])
	ids := s.ids(q, int64(len(newKeys)))
	ids[IDLateOf] = intervalID(iv.start, iv.end)
	s.c.log.Info("genesys audit records found late", "interval", q.interval, "query_id", q.id, "records", len(newKeys))
	f := &export.File{
		ID:   lateIDPrefix + iv.start.Format(intervalLayout) + "/" + iv.end.Format(intervalLayout) + "/" + digest,
		Path: strings.TrimSuffix(intervalPath("audit/late/", iv.start, iv.end), ".jsonl") + "_" + digest + ".jsonl",
		Size: int64(len(buf)), Modified: iv.end, IDs: ids,
	}
	f.IDs[IDRecords] = strconv.Itoa(len(newKeys))
	return f, buf, nil
}
