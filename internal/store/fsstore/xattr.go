package fsstore

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/logkeeper/logkeeper/internal/store"
)

// An object's metadata is kept in an extended attribute of the object's
// own file (metaXattr), set on the temporary file before its fsync: one
// fsync makes the bytes and the metadata durable, and the one rename that
// makes the object visible makes its metadata visible with it, so the
// metadata can never be behind its object, and a create makes one file,
// as a copy program does, instead of two.
//
// Where the attribute cannot be set, the metadata is written to a side
// file, <root>/.logkeeper/meta/<key>.json, as every store wrote it before:
// on a filesystem without user extended attributes (probed once by New:
// tmpfs before Linux 6.6, some network filesystems), and for a create whose
// metadata is too large for an attribute (over maxMetaXattr, or over what
// the filesystem allows: ext4 keeps one block of attributes per file).
// A reader takes the attribute first and the side file when the object's
// file has none, so archives written before keep reading; a side file
// left beside an object that has the attribute is ignored.
const metaXattr = "user.logkeeper.meta"

// maxMetaXattr caps the attribute, when written and when read: what
// logkeeper writes is far smaller (S3 allows 2 KiB of user metadata). An
// attribute larger than this is an error wrapping store.ErrUnreadable for
// its key alone. (A variable for tests only.)
var maxMetaXattr = 16 << 10

// probeXattr reports whether user extended attributes can be set on a file
// in the store's tmp folder. Any error setting one counts as no: the store
// then writes side files, as it always could.
func (s *Store) probeXattr() (bool, error) {
	d, err := s.openDir(internalDir+"/tmp", false)
	if err != nil {
		return false, err
	}
	defer d.Close()
	f, name, err := createTemp(d, ".probe-")
	if err != nil {
		return false, err
	}
	defer unix.Unlinkat(int(d.Fd()), name, 0) //nolint:errcheck // a probe only
	defer f.Close()
	return unix.Fsetxattr(int(f.Fd()), metaXattr, []byte("{}"), 0) == nil, nil
}

// setMetaXattr sets the metadata m as the attribute of the open file f,
// in the compact form when it can be (encodeMetaAttr). It reports false,
// with no error, when the attribute cannot hold it (no user attributes on
// this filesystem, or m too large): the caller writes a side file instead.
func setMetaXattr(f *os.File, m meta) (bool, error) {
	mb, err := encodeMetaAttr(m)
	if err != nil {
		return false, err
	}
	if len(mb) > maxMetaXattr {
		return false, nil
	}
	err = unix.Fsetxattr(int(f.Fd()), metaXattr, mb, 0)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, unix.ENOTSUP), errors.Is(err, unix.EOPNOTSUPP),
		errors.Is(err, unix.E2BIG), errors.Is(err, unix.ERANGE), errors.Is(err, unix.ENOSPC):
		// ENOSPC is also what ext4 says when the attribute does not fit
		// its block; a full disk fails the side file next.
		return false, nil
	}
	return false, fmt.Errorf("metadata attribute: %w", err)
}

// metaXattrOf reads the metadata attribute of the open file f; ok is false
// when f has none (or its filesystem has no user attributes).
func metaXattrOf(f *os.File) (b []byte, ok bool, err error) {
	// What logkeeper writes fits the first buffer; a larger attribute is
	// read again up to the cap.
	for _, size := range []int{min(xattrReadSize, maxMetaXattr), maxMetaXattr} {
		buf := make([]byte, size)
		n, err := unix.Fgetxattr(int(f.Fd()), metaXattr, buf)
		switch {
		case err == nil:
			return buf[:n], true, nil
		case errors.Is(err, unix.ENODATA), errors.Is(err, unix.ENOTSUP), errors.Is(err, unix.EOPNOTSUPP):
			return nil, false, nil
		case !errors.Is(err, unix.ERANGE):
			return nil, false, fmt.Errorf("metadata attribute: %w", err)
		}
	}
	return nil, false, fmt.Errorf("metadata attribute is larger than %d bytes: %w", maxMetaXattr, store.ErrUnreadable)
}

// xattrReadSize is the buffer a metadata attribute is first read into.
const xattrReadSize = 2 << 10

// compactMeta is the first byte of an attribute in the compact form (JSON
// starts with '{'). A create whose metadata is only what the store itself
// records (no content type, user metadata, SSE or retention) stores
//
//	0x01, SHA-256 (32 bytes), uvarint size, varint created (Unix ns),
//	uvarint generation
//
// about 45 bytes instead of about 200 of JSON. ext4 keeps an attribute of
// up to about 56 bytes (with this name) inside a 256-byte inode; a larger
// one takes a 4 KiB block of its own, one more block to allocate and write
// for every object, which is what a 512-byte log file costs by itself. The
// checksum and ETag are derived from the SHA-256, as the JSON form's are.
// Side files stay JSON.
const compactMeta = 0x01

// encodeMetaAttr returns the attribute for m: compact when it can be.
func encodeMetaAttr(m meta) ([]byte, error) {
	raw, err := hex.DecodeString(m.SHA256)
	if err != nil || len(raw) != sha256.Size || m.Checksum != base64.StdEncoding.EncodeToString(raw) || m.Size < 0 || m.Generation < 1 ||
		m.ContentType != "" || len(m.Metadata) > 0 || m.SSE != nil || m.Retention != nil {
		return json.Marshal(m)
	}
	b := make([]byte, 0, 1+sha256.Size+3*binary.MaxVarintLen64)
	b = append(b, compactMeta)
	b = append(b, raw...)
	b = binary.AppendUvarint(b, uint64(m.Size))
	b = binary.AppendVarint(b, m.Created.UnixNano())
	b = binary.AppendUvarint(b, uint64(m.Generation))
	return b, nil
}

// decodeMeta parses metadata in either form. Anything else, a truncated
// compact form or bytes after it wrap store.ErrUnreadable.
func decodeMeta(b []byte) (meta, error) {
	var m meta
	if len(b) == 0 || b[0] != compactMeta {
		if err := json.Unmarshal(b, &m); err != nil {
			return m, fmt.Errorf("%w: %v", store.ErrUnreadable, err)
		}
		return m, nil
	}
	bad := fmt.Errorf("%w: compact metadata of %d bytes is malformed", store.ErrUnreadable, len(b))
	if len(b) < 1+sha256.Size {
		return m, bad
	}
	m.SHA256 = hex.EncodeToString(b[1 : 1+sha256.Size])
	m.Checksum = base64.StdEncoding.EncodeToString(b[1 : 1+sha256.Size])
	rest := b[1+sha256.Size:]
	size, n := binary.Uvarint(rest)
	if n <= 0 || size > math.MaxInt64 {
		return m, bad
	}
	rest = rest[n:]
	created, n := binary.Varint(rest)
	if n <= 0 {
		return m, bad
	}
	rest = rest[n:]
	gen, n := binary.Uvarint(rest)
	if n <= 0 || gen < 1 || gen > math.MaxInt64 || n != len(rest) {
		return m, bad
	}
	m.Size, m.Created, m.Generation = int64(size), time.Unix(0, created).UTC(), int64(gen)
	return m, nil
}
