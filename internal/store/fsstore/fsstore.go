// Package fsstore is the local filesystem implementation of store.Store, the
// embedded default that needs no server.
//
// Layout under the root folder:
//
//	<root>/<key>                          the object's bytes; its metadata (size, SHA-256, checksum,
//	                                      SSE, retention, user metadata) in the attribute user.logkeeper.meta
//	<root>/.logkeeper/meta/<key>.json     its metadata instead, where the filesystem takes no user
//	                                      attributes, the metadata is too large for one, or the
//	                                      object was written before attributes were used (xattr.go)
//	<root>/.logkeeper/meta/<folder>/.put-*, .meta-*  temporary files being written, where a create
//	                                      cannot write an anonymous one in the key's folder (tmpfile.go)
//	<root>/.logkeeper/lock                serialises creates across processes (flock)
//
// The store is write-once, like a WORM bucket: an object is written to a
// temporary file (anonymous, where the filesystem allows), fsynced, and
// then linked into place, and no plain Put ever
// replaces an existing object (every Put without IfMatch is a conditional
// create and fails with store.ErrExists when the key is taken). Metadata is
// set on the object's file before it is fsynced (or, as a side file,
// renamed into place before the object is linked), so a visible object
// always has its metadata. A Deferred create (store.Syncer) leaves the
// fsync of the folder the object was linked into to the next Sync
// (commit.go).
//
// The one exception is a conditional replace (PutOptions.IfMatch), which
// leases use: under the store lock, the object is replaced only if its
// current ETag is the one given. An ETag is "<generation>-<sha256 prefix>":
// the generation counts the object's writes, so an ETag is never reused
// even when the same bytes are written again. Readers take the lock shared
// while they read an object's metadata and open its bytes, so they never
// see the metadata of one generation with the bytes of another. With the
// metadata in the file's attribute, one rename replaces both. (In the
// side-file layout, a crash between the two renames of a replace leaves
// the new metadata beside the old bytes; the next replace repairs it.
// Archived objects are never replaced, so this concerns lease objects
// only.)
//
// Nothing stored is trusted to be what the store wrote: every path below
// the root is opened one folder at a time without following a symbolic
// link, only regular files are read (checked on the opened descriptor,
// opened non-blocking so a FIFO cannot hang a reader), metadata reads are
// capped, and anything else is an error wrapping store.ErrUnreadable for
// that key alone. Waiting for the store lock ends with the caller's
// context. OpenReadOnly opens an existing store for a reader and creates
// nothing.
package fsstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/logkeeper/logkeeper/internal/store"
)

const internalDir = ".logkeeper"

// Store is a filesystem store rooted at a folder.
type Store struct {
	root     string
	readOnly bool
	// xattr is set when New found that the filesystem takes user extended
	// attributes: metadata is then written in one (xattr.go).
	xattr bool
	// tmpfile is set when New found that creates can write anonymous
	// temporary files (tmpfile.go).
	tmpfile bool
	mu      sync.Mutex // serialises creates within this process; flock across processes
	// writer holds the creates in flight, dirs the folders they opened
	// (commit.go).
	writer writer
	dirs   dirCache
}

var (
	_ store.Store   = (*Store)(nil)
	_ store.Deleter = (*Store)(nil)
	_ store.Syncer  = (*Store)(nil)
)

// New opens (creating if needed) a store rooted at the absolute path root.
func New(root string) (*Store, error) {
	if !filepath.IsAbs(root) {
		return nil, fmt.Errorf("filesystem store root %q is not an absolute path", root)
	}
	if err := os.MkdirAll(root, 0o750); err != nil {
		return nil, fmt.Errorf("filesystem store: %w", err)
	}
	s := &Store{root: filepath.Clean(root)}
	for _, d := range []string{internalDir + "/meta", internalDir + "/tmp"} {
		f, err := s.openDir(d, true)
		if err != nil {
			return nil, fmt.Errorf("filesystem store %s: %w", s.root, err)
		}
		f.Close()
	}
	ok, err := s.probeXattr()
	if err != nil {
		return nil, fmt.Errorf("filesystem store %s: %w", s.root, err)
	}
	s.xattr = ok
	s.tmpfile = ok && s.probeTmpfile()
	return s, nil
}

// ErrReadOnly is returned by Put on a store opened with OpenReadOnly.
var ErrReadOnly = errors.New("filesystem store opened read-only")

// OpenReadOnly opens the existing store rooted at the absolute path root
// for reading: it creates nothing (no folder, no lock file), so it can
// check a read-only copy, and Put fails with ErrReadOnly. A missing root
// is an error wrapping store.ErrNoStore that names the path.
func OpenReadOnly(root string) (*Store, error) {
	if !filepath.IsAbs(root) {
		return nil, fmt.Errorf("filesystem store root %q is not an absolute path", root)
	}
	fi, err := os.Stat(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("filesystem store %s: %w", root, store.ErrNoStore)
	}
	if err != nil {
		return nil, fmt.Errorf("filesystem store: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("filesystem store %s is not a folder: %w", root, store.ErrNoStore)
	}
	return &Store{root: filepath.Clean(root), readOnly: true}, nil
}

// copyBufs are the buffers Put copies through: one per Put in flight, not
// one allocated per Put (a million small files would be 32 GB of garbage).
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// Describe returns the store's file:// URL.
func (s *Store) Describe() string { return "file://" + s.root }

// meta is what is kept beside each object.
type meta struct {
	Size        int64             `json:"size"`
	SHA256      string            `json:"sha256"`
	Checksum    string            `json:"checksum"`
	ContentType string            `json:"content_type,omitempty"`
	Metadata    map[string]string `json:"metadata,omitempty"`
	SSE         *store.SSE        `json:"sse,omitempty"`
	Retention   *store.Retention  `json:"retention,omitempty"`
	Created     time.Time         `json:"created"`
	// Generation counts the writes of the key: 1 for the create, +1 for
	// each replace. Metadata written before replaces existed has none (1).
	Generation int64 `json:"generation,omitempty"`
}

// etag is the object's ETag: its generation and a prefix of its SHA-256.
func (m meta) etag() string {
	gen := max(m.Generation, 1)
	sum := m.SHA256
	if len(sum) > 32 {
		sum = sum[:32]
	}
	return fmt.Sprintf("%d-%s", gen, sum)
}

func (s *Store) checkKey(key string) error {
	if err := store.ValidateKey(key); err != nil {
		return err
	}
	if key == internalDir || strings.HasPrefix(key, internalDir+"/") {
		return fmt.Errorf("%w: %q: reserved for the store's own files", store.ErrInvalidKey, key)
	}
	return nil
}

// Put writes the object to a temporary file, fsyncs it, and links it into
// place if the key is free.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, opts store.PutOptions) (store.ObjectInfo, error) {
	if err := s.checkKey(key); err != nil {
		return store.ObjectInfo{}, err
	}
	if err := opts.CheckConditions(); err != nil {
		return store.ObjectInfo{}, fmt.Errorf("put %s: %w", key, err)
	}
	if s.readOnly {
		return store.ObjectInfo{}, fmt.Errorf("put %s: %w", key, ErrReadOnly)
	}
	// The temporary file is anonymous in the key's folder for a create,
	// or named beside the key's metadata (tmpfile.go, commit.go).
	src, err := s.newTemp(key, opts.IfMatch == "")
	if err != nil {
		return store.ObjectInfo{}, fmt.Errorf("put %s: %w", key, err)
	}
	defer src.discard()
	tmp := src.f

	h := sha256.New()
	if opts.Size >= 0 {
		// One byte more than announced is enough to tell a growing source.
		r = io.LimitReader(r, opts.Size+1)
	}
	buf := copyBufs.Get().(*[]byte)
	n, err := io.CopyBuffer(io.MultiWriter(tmp, h), store.ContextReader(ctx, r), *buf)
	copyBufs.Put(buf)
	if err != nil {
		return store.ObjectInfo{}, fmt.Errorf("put %s: read source: %w", key, err)
	}
	if opts.Size >= 0 && n != opts.Size {
		return store.ObjectInfo{}, fmt.Errorf("put %s: %w: got %d bytes, expected %d", key, store.ErrSizeMismatch, n, opts.Size)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	checksum, _ := store.ChecksumOfHex(sum)
	m := meta{
		Size: n, SHA256: sum, Checksum: checksum,
		ContentType: opts.ContentType, Metadata: opts.Metadata,
		SSE: opts.SSE, Retention: opts.Retention,
		Created: time.Now().UTC(),
	}
	if err := ctx.Err(); err != nil {
		return store.ObjectInfo{}, fmt.Errorf("put %s: %w", key, err)
	}
	if opts.IfMatch != "" {
		if err := s.replace(ctx, key, tmp, src, &m, opts.IfMatch); err != nil {
			return store.ObjectInfo{}, err
		}
		return m.info(key), nil
	}
	m.Generation = 1
	if err := s.create(ctx, key, tmp, src, m, opts.Deferred); err != nil {
		return store.ObjectInfo{}, err
	}
	return m.info(key), nil
}

func (m meta) info(key string) store.ObjectInfo {
	return store.ObjectInfo{
		Key: key, Size: m.Size, SHA256: m.SHA256, Checksum: m.Checksum,
		SSE: m.SSE, Retention: m.Retention, ContentType: m.ContentType,
		Metadata: m.Metadata, LastModified: m.Created, ETag: m.etag(),
	}
}

// lockPoll is how often a lock held by another process is tried again.
const lockPoll = 20 * time.Millisecond

// lock takes the store lock: exclusive (with the in-process mutex) for
// writers, shared for readers. The returned function releases it. A
// reader of a store that was never written to (no lock file yet) goes
// ahead unlocked: there is nothing a writer could be replacing. Waiting
// for the lock ends with ctx; the lock file is opened without following a
// link or blocking, and must be a regular file.
func (s *Store) lock(ctx context.Context, exclusive bool) (unlock func(), err error) {
	how, flags := syscall.LOCK_SH, unix.O_RDONLY
	if exclusive {
		how, flags = syscall.LOCK_EX, unix.O_RDWR|unix.O_CREAT
		s.mu.Lock()
	}
	release := func() {
		if exclusive {
			s.mu.Unlock()
		}
	}
	d, err := s.openDir(internalDir, exclusive)
	if err != nil {
		release()
		if !exclusive && errors.Is(err, fs.ErrNotExist) {
			return func() {}, nil
		}
		return nil, fmt.Errorf("lock: %w", err)
	}
	fd, err := unix.Openat(int(d.Fd()), "lock", flags|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0o640)
	if err != nil {
		err = openErr(int(d.Fd()), "lock", internalDir+"/lock", err)
	}
	d.Close()
	if err != nil {
		release()
		if !exclusive && errors.Is(err, fs.ErrNotExist) {
			return func() {}, nil
		}
		return nil, fmt.Errorf("lock: %w", err)
	}
	f := os.NewFile(uintptr(fd), internalDir+"/lock")
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		release()
		if err == nil {
			err = notPlain(internalDir+"/lock", fi.Mode())
		}
		return nil, fmt.Errorf("lock: %w", err)
	}
	for {
		err := syscall.Flock(fd, how|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			release()
			return nil, fmt.Errorf("lock: %w", err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			release()
			return nil, fmt.Errorf("lock: %w", ctx.Err())
		case <-time.After(lockPoll):
		}
	}
	return func() {
		syscall.Flock(fd, syscall.LOCK_UN) //nolint:errcheck // released on close anyway
		f.Close()
		release()
	}, nil
}

// renameAt moves the named temporary file over base in the folder d.
func (t *tempFile) renameAt(d *os.File, base string) error {
	err := unix.Renameat(int(t.dir.Fd()), t.name, int(d.Fd()), base)
	t.moved = err == nil
	return err
}

// replace moves the written temporary file tmp (src) over key, under the
// store lock, if the object's current ETag is ifMatch, and closes tmp. It
// sets m's generation. With the metadata in an attribute of tmp, one
// rename replaces bytes and metadata together.
func (s *Store) replace(ctx context.Context, key string, tmp *os.File, src *tempFile, m *meta, ifMatch string) error {
	unlock, err := s.lock(ctx, true)
	if err != nil {
		tmp.Close()
		return fmt.Errorf("put %s: %w", key, err)
	}
	defer unlock()
	cur, err := s.currentMeta(key, ifMatch)
	if err != nil {
		tmp.Close()
		return err
	}
	m.Generation = max(cur.Generation, 1) + 1
	mb, err := json.Marshal(m)
	if err != nil {
		tmp.Close()
		return fmt.Errorf("put %s: %w", key, err)
	}
	inAttr := false
	if s.xattr {
		if inAttr, err = setMetaXattr(tmp, *m); err != nil {
			tmp.Close()
			return fmt.Errorf("put %s: %w", key, err)
		}
	}
	if err := syncClose(tmp); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if !inAttr {
		if err := s.writeFileSync(metaRel(key), mb); err != nil {
			return fmt.Errorf("put %s: metadata: %w", key, err)
		}
	}
	dir, base := splitRel(key)
	d, err := s.openDir(dir, false)
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	defer d.Close()
	if err := src.renameAt(d, base); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return d.Sync()
}

// currentMeta returns the metadata of key, which must exist with the ETag
// ifMatch.
func (s *Store) currentMeta(key, ifMatch string) (meta, error) {
	f, _, err := s.openRegular(key)
	if errors.Is(err, fs.ErrNotExist) {
		return meta{}, fmt.Errorf("put %s: if-match %s: %w: %w", key, ifMatch, store.ErrPreconditionFailed, store.ErrNotFound)
	}
	if err != nil {
		return meta{}, fmt.Errorf("put %s: %w", key, err)
	}
	defer f.Close()
	cur, err := s.readMeta(key, f)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return meta{}, fmt.Errorf("put %s: %w", key, err)
	}
	if err != nil || cur.etag() != ifMatch {
		return meta{}, fmt.Errorf("put %s: if-match %s: %w", key, ifMatch, store.ErrPreconditionFailed)
	}
	return cur, nil
}

// metaRel is the path of key's metadata below the root.
func metaRel(key string) string { return internalDir + "/meta/" + key + ".json" }

// maxMeta caps a metadata file: what logkeeper writes is far smaller (S3
// allows 2 KiB of user metadata).
const maxMeta = 1 << 20

// readMeta reads the metadata of key, open as f: its attribute, else its
// side file (xattr.go). No metadata at all wraps fs.ErrNotExist; an
// attribute or side file that is too large or not valid JSON, or a side
// file that is not a regular file, wraps store.ErrUnreadable.
func (s *Store) readMeta(key string, f *os.File) (meta, error) {
	var m meta
	b, ok, err := metaXattrOf(f)
	if err != nil {
		return m, fmt.Errorf("metadata of %s: %w", key, err)
	}
	if !ok {
		if b, err = s.readCapped(metaRel(key), maxMeta); err != nil {
			return m, fmt.Errorf("metadata of %s: %w", key, err)
		}
	}
	if m, err = decodeMeta(b); err != nil {
		return m, fmt.Errorf("metadata of %s: %w", key, err)
	}
	return m, nil
}

// Head returns the object's metadata. Size is the size on disk now, so a
// file truncated or grown behind the store's back shows up; the recorded
// SHA-256 and checksum are those computed when it was written.
func (s *Store) Head(ctx context.Context, key string, opts store.GetOptions) (store.ObjectInfo, error) {
	info, _, err := s.read(ctx, key, opts, false)
	return info, err
}

// read returns the object's metadata and, when open is set, the open file,
// both read under the shared store lock so they belong together.
func (s *Store) read(ctx context.Context, key string, opts store.GetOptions, open bool) (store.ObjectInfo, *os.File, error) {
	if err := s.checkKey(key); err != nil {
		return store.ObjectInfo{}, nil, fmt.Errorf("head %w", err)
	}
	if opts.VersionID != "" {
		return store.ObjectInfo{}, nil, fmt.Errorf("head %s version %s: %w (the filesystem store keeps no versions)", key, opts.VersionID, store.ErrNotFound)
	}
	unlock, err := s.lock(ctx, false)
	if err != nil {
		return store.ObjectInfo{}, nil, fmt.Errorf("head %s: %w", key, err)
	}
	defer unlock()
	f, fi, err := s.openRegular(key)
	if errors.Is(err, fs.ErrNotExist) {
		return store.ObjectInfo{}, nil, fmt.Errorf("head %s: %w", key, store.ErrNotFound)
	}
	if err != nil {
		return store.ObjectInfo{}, nil, fmt.Errorf("head %s: %w", key, err)
	}
	info, err := s.head(key, f, fi)
	if err != nil || !open {
		f.Close()
		return info, nil, err
	}
	return info, f, nil
}

// head returns the metadata of key, open as f, with the size fi of f.
func (s *Store) head(key string, f *os.File, fi fs.FileInfo) (store.ObjectInfo, error) {
	m, err := s.readMeta(key, f)
	if errors.Is(err, fs.ErrNotExist) {
		// A file placed behind the store's back: report what the disk says.
		return store.ObjectInfo{Key: key, Size: fi.Size(), LastModified: fi.ModTime().UTC()}, nil
	}
	if err != nil {
		return store.ObjectInfo{}, fmt.Errorf("head %s: %w", key, err)
	}
	info := m.info(key)
	info.Size = fi.Size()
	return info, nil
}

// Get opens the object.
func (s *Store) Get(ctx context.Context, key string, opts store.GetOptions) (io.ReadCloser, store.ObjectInfo, error) {
	info, f, err := s.read(ctx, key, opts, true)
	if err != nil {
		return nil, store.ObjectInfo{}, err
	}
	return f, info, nil
}

// List walks the objects under prefix in key order. Symbolic links and
// special files are listed (with the size Lstat gives) but never followed,
// so that a reader finds them and reports them; an object whose metadata
// is unreadable is listed with its key and size only. A folder of the
// prefix that is a symbolic link is an error wrapping store.ErrUnreadable.
func (s *Store) List(ctx context.Context, prefix string, fn func(store.ObjectInfo) error) error {
	startRel := ""
	if i := strings.LastIndex(prefix, "/"); i >= 0 {
		startRel = prefix[:i]
	}
	if startRel != "" {
		d, err := s.openDir(startRel, false)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("list %s: %w", prefix, err)
		}
		d.Close()
	}
	return s.walkSorted(ctx, startRel, prefix, fn)
}

// listInfo is what List reports for key.
func (s *Store) listInfo(ctx context.Context, key string, mode fs.FileMode) (store.ObjectInfo, error) {
	if mode.IsRegular() {
		info, err := s.Head(ctx, key, store.GetOptions{})
		if !errors.Is(err, store.ErrUnreadable) && !errors.Is(err, store.ErrInvalidKey) {
			return info, err
		}
	}
	fi, err := os.Lstat(filepath.Join(s.root, filepath.FromSlash(key)))
	if errors.Is(err, fs.ErrNotExist) {
		return store.ObjectInfo{}, store.ErrNotFound
	}
	if err != nil {
		return store.ObjectInfo{}, err
	}
	return store.ObjectInfo{Key: key, Size: fi.Size(), LastModified: fi.ModTime().UTC()}, nil
}

// Versions returns the single current version of key, if it exists.
func (s *Store) Versions(ctx context.Context, key string) ([]store.Version, error) {
	info, err := s.Head(ctx, key, store.GetOptions{})
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return []store.Version{{IsLatest: true, Size: info.Size, LastModified: info.LastModified}}, nil
}

// Delete removes an object and its metadata. logkeeper itself never calls
// it; tests use it to tamper with an archive. It never follows a link.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.checkKey(key); err != nil {
		return err
	}
	if held, err := s.held(key); err != nil || held {
		return fmt.Errorf("delete %s: %w", key, errors.Join(err, heldErr(held)))
	}
	for _, rel := range []string{key, metaRel(key)} {
		dir, base := splitRel(rel)
		d, err := s.openDir(dir, false)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("delete %s: %w", key, err)
		}
		err = unix.Unlinkat(int(d.Fd()), base, 0)
		d.Close()
		if err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("delete %s: %w", key, err)
		}
	}
	return nil
}
