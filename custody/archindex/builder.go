package archindex

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/logkeeper/logkeeper/manifest"
)

// DefaultMemRecords is how many records a Builder holds in memory before
// it writes them to a sorted run on disk (about 100 bytes each).
const DefaultMemRecords = 1 << 16

// Builder folds manifests, in chain order, into a new index. It holds at
// most MemRecords records in memory; the rest wait in sorted runs in its
// folder, which Write merges in one pass. A Builder is not safe for
// concurrent use. Close removes its runs.
type Builder struct {
	stream string
	dir    string
	// MemRecords overrides DefaultMemRecords (for tests).
	MemRecords int
	base       *Index
	mem        map[[32]byte]record
	runs       []string
}

// NewBuilder returns a builder for stream that keeps its runs in dir.
// base, when not nil, is the index of the chain up to the first manifest
// that will be added: the new index is base with the manifests folded in.
func NewBuilder(stream, dir string, base *Index) *Builder {
	return &Builder{stream: stream, dir: dir, base: base, mem: map[[32]byte]record{}}
}

// Add folds one manifest in: its objects (archived copies) first, then its
// failures, as custody.Chain does.
func (b *Builder) Add(m *manifest.Manifest) error {
	for _, o := range m.Objects {
		r := record{key: Key(o.Source.ID), size: o.Source.Size, flags: flagArchived}
		var zero bool
		r.sec, r.nsec, zero = stamp(o.Source.Modified)
		if zero {
			r.flags |= flagNoTime
		}
		if err := b.add(r); err != nil {
			return err
		}
	}
	for _, f := range m.Failures {
		if f.ID == "" {
			continue
		}
		f := f
		if err := b.add(record{key: Key(f.ID), flags: flagFailed, fail: &f}); err != nil {
			return err
		}
	}
	return nil
}

func (b *Builder) add(r record) error {
	if old, ok := b.mem[r.key]; ok {
		r = apply(old, r)
	}
	b.mem[r.key] = r
	limit := b.MemRecords
	if limit <= 0 {
		limit = DefaultMemRecords
	}
	if len(b.mem) >= limit {
		return b.spill()
	}
	return nil
}

// spill writes the records in memory to a sorted run.
func (b *Builder) spill() error {
	f, err := os.CreateTemp(b.dir, ".archindex-run-*")
	if err != nil {
		return fmt.Errorf("archive index run: %w", err)
	}
	b.runs = append(b.runs, f.Name())
	w := bufio.NewWriterSize(f, 64<<10)
	for _, r := range b.sorted() {
		if err := writeRunRecord(w, r); err != nil {
			f.Close()
			return fmt.Errorf("archive index run: %w", err)
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("archive index run: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("archive index run: %w", err)
	}
	clear(b.mem)
	return nil
}

func (b *Builder) sorted() []record {
	rs := make([]record, 0, len(b.mem))
	for _, r := range b.mem {
		rs = append(rs, r)
	}
	slices.SortFunc(rs, func(x, y record) int { return bytes.Compare(x.key[:], y.key[:]) })
	return rs
}

// A run record is the fixed record, then, when failed, the failure as a
// length-prefixed JSON object.
func writeRunRecord(w io.Writer, r record) error {
	var buf [RecordSize]byte
	r.encode(buf[:], 0)
	if _, err := w.Write(buf[:]); err != nil {
		return err
	}
	if r.flags&flagFailed == 0 {
		return nil
	}
	fb, err := json.Marshal(r.fail)
	if err != nil {
		return err
	}
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(fb)))
	if _, err := w.Write(n[:]); err != nil {
		return err
	}
	_, err = w.Write(fb)
	return err
}

// source is one sorted input of the merge: the base index, a run, or the
// records in memory.
type source struct {
	next func() (record, bool, error)
	cur  record
	ok   bool
}

func (s *source) advance() error {
	r, ok, err := s.next()
	s.cur, s.ok = r, ok
	return err
}

func runSource(path string) (*source, func() error, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	br := bufio.NewReaderSize(f, 64<<10)
	buf := make([]byte, RecordSize)
	return &source{next: func() (record, bool, error) {
		if _, err := io.ReadFull(br, buf); errors.Is(err, io.EOF) {
			return record{}, false, nil
		} else if err != nil {
			return record{}, false, err
		}
		r, _ := decode(buf)
		if r.flags&flagFailed != 0 {
			var n [4]byte
			if _, err := io.ReadFull(br, n[:]); err != nil {
				return record{}, false, err
			}
			fb := make([]byte, binary.BigEndian.Uint32(n[:]))
			if _, err := io.ReadFull(br, fb); err != nil {
				return record{}, false, err
			}
			r.fail = new(manifest.Failure)
			if err := json.Unmarshal(fb, r.fail); err != nil {
				return record{}, false, err
			}
		}
		return r, true, nil
	}}, f.Close, nil
}

func sliceSource(rs []record) *source {
	i := 0
	return &source{next: func() (record, bool, error) {
		if i == len(rs) {
			return record{}, false, nil
		}
		i++
		return rs[i-1], true, nil
	}}
}

// indexSource reads a base index in key order.
func indexSource(ix *Index) *source {
	br := bufio.NewReaderSize(io.NewSectionReader(ix.f, ix.base, ix.hdr.Records*RecordSize), 64<<10)
	fr := bufio.NewReader(io.NewSectionReader(ix.f, ix.failOff, ix.hdr.FailureBytes))
	buf := make([]byte, RecordSize)
	left := ix.hdr.Records
	return &source{next: func() (record, bool, error) {
		if left == 0 {
			return record{}, false, nil
		}
		left--
		if _, err := io.ReadFull(br, buf); err != nil {
			return record{}, false, err
		}
		r, _ := decode(buf)
		if r.flags&flagFailed != 0 {
			line, err := readLine(fr, maxFailureLine)
			if err != nil {
				return record{}, false, err
			}
			r.fail = new(manifest.Failure)
			if err := json.Unmarshal(line, r.fail); err != nil {
				return record{}, false, err
			}
		}
		return r, true, nil
	}}
}

// Write merges the base, the runs and the records in memory into a new
// index file at path (written beside it and renamed into place), for the
// chain up to head, and opens it.
func (b *Builder) Write(path string, head Head) (*Index, error) {
	srcs := []*source{}
	var closers []func() error
	defer func() {
		for _, c := range closers {
			c()
		}
	}()
	if b.base != nil {
		srcs = append(srcs, indexSource(b.base))
	}
	for _, p := range b.runs {
		s, c, err := runSource(p)
		if err != nil {
			return nil, fmt.Errorf("archive index: %w", err)
		}
		srcs = append(srcs, s)
		closers = append(closers, c)
	}
	srcs = append(srcs, sliceSource(b.sorted()))
	for _, s := range srcs {
		if err := s.advance(); err != nil {
			return nil, fmt.Errorf("archive index: %w", err)
		}
	}

	dir := filepath.Dir(path)
	recs, err := os.CreateTemp(dir, ".archindex-records-*")
	if err != nil {
		return nil, fmt.Errorf("archive index: %w", err)
	}
	defer os.Remove(recs.Name())
	defer recs.Close()
	fails, err := os.CreateTemp(dir, ".archindex-failures-*")
	if err != nil {
		return nil, fmt.Errorf("archive index: %w", err)
	}
	defer os.Remove(fails.Name())
	defer fails.Close()
	rh, fh := sha256.New(), sha256.New()
	rw := bufio.NewWriterSize(io.MultiWriter(recs, rh), 64<<10)
	fw := bufio.NewWriterSize(io.MultiWriter(fails, fh), 64<<10)
	hdr := header{Format: Format, Stream: b.stream, Head: head}
	var buf [RecordSize]byte
	var nfail uint64
	for {
		// The smallest key among the sources; equal keys fold oldest
		// first (sources are in age order).
		var min *[32]byte
		for _, s := range srcs {
			if s.ok && (min == nil || bytes.Compare(s.cur.key[:], min[:]) < 0) {
				k := s.cur.key
				min = &k
			}
		}
		if min == nil {
			break
		}
		var r record
		first := true
		for _, s := range srcs {
			if s.ok && s.cur.key == *min {
				if first {
					r, first = s.cur, false
				} else {
					r = apply(r, s.cur)
				}
				if err := s.advance(); err != nil {
					return nil, fmt.Errorf("archive index: %w", err)
				}
			}
		}
		var off uint64
		if r.flags&flagFailed != 0 {
			nfail++
			off = nfail
			line, err := json.Marshal(r.fail)
			if err != nil {
				return nil, fmt.Errorf("archive index: %w", err)
			}
			line = append(line, '\n')
			if _, err := fw.Write(line); err != nil {
				return nil, fmt.Errorf("archive index: %w", err)
			}
			hdr.FailureBytes += int64(len(line))
		}
		r.encode(buf[:], off)
		if _, err := rw.Write(buf[:]); err != nil {
			return nil, fmt.Errorf("archive index: %w", err)
		}
		hdr.Records++
	}
	if err := errors.Join(rw.Flush(), fw.Flush()); err != nil {
		return nil, fmt.Errorf("archive index: %w", err)
	}
	hdr.RecordsSHA256 = hex.EncodeToString(rh.Sum(nil))
	hdr.FailuresSHA256 = hex.EncodeToString(fh.Sum(nil))
	if err := assemble(path, hdr, recs, fails); err != nil {
		return nil, fmt.Errorf("archive index: %w", err)
	}
	return Open(path, b.stream)
}

// assemble writes header, records and failures to a new file beside path,
// fsyncs it and renames it into place.
func assemble(path string, hdr header, parts ...*os.File) error {
	out, err := os.CreateTemp(filepath.Dir(path), ".archindex-*")
	if err != nil {
		return err
	}
	defer os.Remove(out.Name())
	hb, err := json.Marshal(hdr)
	if err != nil {
		out.Close()
		return err
	}
	w := bufio.NewWriterSize(out, 64<<10)
	w.Write(hb)
	w.WriteByte('\n')
	for _, p := range parts {
		if _, err := p.Seek(0, io.SeekStart); err != nil {
			out.Close()
			return err
		}
		if _, err := io.Copy(w, p); err != nil {
			out.Close()
			return err
		}
	}
	if err := w.Flush(); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Rename(out.Name(), path)
}

// Close removes the builder's runs.
func (b *Builder) Close() error {
	var errs []error
	for _, p := range b.runs {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	b.runs = nil
	clear(b.mem)
	return errors.Join(errs...)
}
