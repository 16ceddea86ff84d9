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
	"sort"
	"sync"
	"time"

	"github.com/logkeeper/logkeeper/manifest"
)

// Format is the value of the header's format field.
const Format = "logkeeper.archindex/v1"

// RecordSize is the size of one record on disk.
const RecordSize = 64

// blockRecords is how many records one sparse-index key stands for: a
// lookup reads one block (2 KiB); the sparse index holds 1 MiB of keys for
// a million files.
const blockRecords = 32

// maxHeader bounds the header line.
const maxHeader = 4096

// maxFailureLine bounds one failure's JSON line.
const maxFailureLine = 1 << 20

// ErrCorrupt means an index file does not check out (format, digest,
// order); rebuild it from the manifests.
var ErrCorrupt = errors.New("archive index corrupt")

// Head is the chain head an index reflects: the manifest with this
// sequence number had this SHA-256. The zero Head is an empty chain.
type Head struct {
	Sequence uint64 `json:"sequence"`
	SHA256   string `json:"sha256"`
}

// Entry is what the index knows of one source file id.
type Entry struct {
	// Archived: a copy was archived; Size and Modified are those of the
	// newest.
	Archived bool
	Size     int64
	Modified time.Time
	// Failed: the latest record of the file is a failure that no later run
	// archived.
	Failed bool
}

// NeedsArchiving reports whether a source file with this size and
// modification time still needs archiving: it was never archived, or its
// size or modification time changed since.
func (e Entry) NeedsArchiving(size int64, modified time.Time) bool {
	return !e.Archived || e.Size != size || !e.Modified.Equal(modified)
}

// Key is the index key of a source file id.
func Key(id string) [32]byte { return sha256.Sum256([]byte(id)) }

const (
	flagArchived = 1 << 0
	flagFailed   = 1 << 1
	flagNoTime   = 1 << 2 // archived with a zero modification time
)

// record is one entry with its key; fail is the failure when flagFailed.
type record struct {
	key   [32]byte
	size  int64
	sec   int64 // modification time, Unix seconds
	nsec  int32 // and nanoseconds
	flags byte
	fail  *manifest.Failure
}

// apply folds a newer record into an older one of the same key, as the
// chain does: an archived copy clears a failure; a failure keeps the last
// archived copy.
func apply(old, newer record) record {
	out := old
	if newer.flags&flagArchived != 0 {
		out.size, out.sec, out.nsec = newer.size, newer.sec, newer.nsec
		out.flags = newer.flags &^ flagFailed
		out.fail = nil
	}
	if newer.flags&flagFailed != 0 {
		out.flags |= flagFailed
		out.fail = newer.fail
	}
	return out
}

// stamp splits a modification time for a record.
func stamp(t time.Time) (sec int64, nsec int32, zero bool) {
	if t.IsZero() {
		return 0, 0, true
	}
	return t.Unix(), int32(t.Nanosecond()), false
}

func (r record) entry() Entry {
	e := Entry{Archived: r.flags&flagArchived != 0, Failed: r.flags&flagFailed != 0}
	if e.Archived {
		e.Size = r.size
		if r.flags&flagNoTime == 0 {
			e.Modified = time.Unix(r.sec, int64(r.nsec)).UTC()
		}
	}
	return e
}

// encode writes the record's fixed part; failOff is the number of its
// failure line in the failures section, from 1 (0 when none).
func (r record) encode(b []byte, failOff uint64) {
	copy(b[0:32], r.key[:])
	binary.BigEndian.PutUint64(b[32:40], uint64(r.size))
	binary.BigEndian.PutUint64(b[40:48], uint64(r.sec))
	binary.BigEndian.PutUint64(b[48:56], failOff)
	b[56] = r.flags
	binary.BigEndian.PutUint32(b[57:61], uint32(r.nsec))
	clear(b[61:64])
}

func decode(b []byte) (r record, failOff uint64) {
	copy(r.key[:], b[0:32])
	r.size = int64(binary.BigEndian.Uint64(b[32:40]))
	r.sec = int64(binary.BigEndian.Uint64(b[40:48]))
	failOff = binary.BigEndian.Uint64(b[48:56])
	r.flags = b[56]
	r.nsec = int32(binary.BigEndian.Uint32(b[57:61]))
	return r, failOff
}

// header is the first line of an index file.
type header struct {
	Format  string `json:"format"`
	Stream  string `json:"stream"`
	Head    Head   `json:"head"`
	Records int64  `json:"records"`
	// FailureBytes is the length of the failures section.
	FailureBytes int64 `json:"failure_bytes"`
	// RecordsSHA256 and FailuresSHA256 are the SHA-256 of the two
	// sections.
	RecordsSHA256  string `json:"records_sha256"`
	FailuresSHA256 string `json:"failures_sha256"`
}

// Index is an open index file. Lookup is safe for concurrent use.
type Index struct {
	f       *os.File
	hdr     header
	base    int64 // offset of the first record
	sparse  [][32]byte
	failOff int64 // offset of the failures section
	// failures is the number of failure lines.
	failures int64
}

// Open opens the index file at path for stream, checking its format and
// the SHA-256 of its body (one sequential read). It does not check the
// head against the chain: compare Head with the chain before trusting it.
// A file that does not check out gives an error wrapping ErrCorrupt.
func Open(path, stream string) (*Index, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open archive index: %w", err)
	}
	ix, err := open(f, stream)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("archive index %s: %w", path, err)
	}
	return ix, nil
}

func open(f *os.File, stream string) (*Index, error) {
	br := bufio.NewReaderSize(f, 64<<10)
	line, err := readLine(br, maxHeader)
	if err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrCorrupt, err)
	}
	var h header
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrCorrupt, err)
	}
	canon, err := json.Marshal(h)
	switch {
	case err != nil || !bytes.Equal(canon, line):
		// One chain, one index: the header is written in one form only.
		return nil, fmt.Errorf("%w: header not in canonical form", ErrCorrupt)
	case h.Format != Format:
		return nil, fmt.Errorf("%w: format %q, want %q", ErrCorrupt, h.Format, Format)
	case h.Stream != stream:
		return nil, fmt.Errorf("%w: built for stream %q, not %q", ErrCorrupt, h.Stream, stream)
	case h.Records < 0 || h.FailureBytes < 0:
		return nil, fmt.Errorf("%w: negative sizes", ErrCorrupt)
	}
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	base := int64(len(line)) + 1
	if want := base + h.Records*RecordSize + h.FailureBytes; fi.Size() != want {
		return nil, fmt.Errorf("%w: %d bytes, header says %d", ErrCorrupt, fi.Size(), want)
	}
	ix := &Index{f: f, hdr: h, base: base, failOff: base + h.Records*RecordSize}
	// One pass: hash the sections, keep every blockRecords-th key, check
	// order and failure offsets.
	sum := sha256.New()
	var failures int64
	buf := make([]byte, RecordSize)
	var prev [32]byte
	for i := range h.Records {
		if _, err := io.ReadFull(br, buf); err != nil {
			return nil, fmt.Errorf("%w: record %d: %v", ErrCorrupt, i, err)
		}
		sum.Write(buf)
		r, off := decode(buf)
		if i > 0 && bytes.Compare(prev[:], r.key[:]) >= 0 {
			return nil, fmt.Errorf("%w: records out of order at %d", ErrCorrupt, i)
		}
		if r.flags&^(flagArchived|flagFailed|flagNoTime) != 0 || r.flags&(flagArchived|flagFailed) == 0 ||
			(r.flags&flagFailed != 0) != (off > 0) || r.nsec < 0 || r.nsec >= 1e9 {
			return nil, fmt.Errorf("%w: record %d: bad flags", ErrCorrupt, i)
		}
		if off > 0 {
			failures++
			if off != uint64(failures) {
				return nil, fmt.Errorf("%w: record %d: failure %d, want %d", ErrCorrupt, i, off, failures)
			}
		}
		prev = r.key
		if i%blockRecords == 0 {
			ix.sparse = append(ix.sparse, r.key)
		}
	}
	if got := hex.EncodeToString(sum.Sum(nil)); got != h.RecordsSHA256 {
		return nil, fmt.Errorf("%w: records SHA-256 %s, header says %s", ErrCorrupt, got, h.RecordsSHA256)
	}
	sum.Reset()
	if _, err := io.CopyN(sum, br, h.FailureBytes); err != nil {
		return nil, fmt.Errorf("%w: failures: %v", ErrCorrupt, err)
	}
	if got := hex.EncodeToString(sum.Sum(nil)); got != h.FailuresSHA256 {
		return nil, fmt.Errorf("%w: failures SHA-256 %s, header says %s", ErrCorrupt, got, h.FailuresSHA256)
	}
	ix.failures = failures
	return ix, nil
}

// readLine reads one line of at most max bytes, without its newline.
func readLine(br *bufio.Reader, max int) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > max {
			return nil, fmt.Errorf("line longer than %d bytes", max)
		}
		if err == nil {
			return line[:len(line)-1], nil
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return nil, err
		}
	}
}

// Head is the chain head the index was built for.
func (ix *Index) Head() Head { return ix.hdr.Head }

// Len is the number of source file ids in the index.
func (ix *Index) Len() int64 { return ix.hdr.Records }

// FailureCount is the number of failures owed.
func (ix *Index) FailureCount() int64 { return ix.failures }

// Close closes the file.
func (ix *Index) Close() error { return ix.f.Close() }

// Lookup returns what the index knows of a source file id.
func (ix *Index) Lookup(id string) (Entry, bool, error) {
	r, _, ok, err := ix.find(Key(id))
	if err != nil || !ok {
		return Entry{}, false, err
	}
	return r.entry(), true, nil
}

var blockPool = sync.Pool{New: func() any { return new([blockRecords * RecordSize]byte) }}

// find reads the record of key, if any, with its failure offset.
func (ix *Index) find(key [32]byte) (record, uint64, bool, error) {
	// The last block whose first key is <= key.
	b := sort.Search(len(ix.sparse), func(i int) bool { return bytes.Compare(ix.sparse[i][:], key[:]) > 0 }) - 1
	if b < 0 {
		return record{}, 0, false, nil
	}
	first := int64(b) * blockRecords
	n := min(blockRecords, ix.hdr.Records-first)
	bp := blockPool.Get().(*[blockRecords * RecordSize]byte)
	defer blockPool.Put(bp)
	buf := bp[:n*RecordSize]
	if _, err := ix.f.ReadAt(buf, ix.base+first*RecordSize); err != nil {
		return record{}, 0, false, fmt.Errorf("read archive index: %w", err)
	}
	i := sort.Search(int(n), func(i int) bool { return bytes.Compare(buf[i*RecordSize:i*RecordSize+32], key[:]) >= 0 })
	if i == int(n) || !bytes.Equal(buf[i*RecordSize:i*RecordSize+32], key[:]) {
		return record{}, 0, false, nil
	}
	r, off := decode(buf[i*RecordSize : (i+1)*RecordSize])
	return r, off, true, nil
}

// Failures calls fn for every failure owed (files whose latest record is a
// failure no later run archived), in key order, until fn returns an error.
func (ix *Index) Failures(fn func(manifest.Failure) error) error {
	sr := io.NewSectionReader(ix.f, ix.failOff, ix.hdr.FailureBytes)
	br := bufio.NewReader(sr)
	for {
		line, err := readLine(br, maxFailureLine)
		if errors.Is(err, io.EOF) && len(line) == 0 {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: failures: %v", ErrCorrupt, err)
		}
		var f manifest.Failure
		if err := json.Unmarshal(line, &f); err != nil {
			return fmt.Errorf("%w: failures: %v", ErrCorrupt, err)
		}
		if err := fn(f); err != nil {
			return err
		}
	}
}
