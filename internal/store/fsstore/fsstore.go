// Package fsstore is the local filesystem implementation of store.Store, the
// embedded default that needs no server.
//
// Layout under the root folder:
//
//	<root>/<key>                          the object's bytes
//	<root>/.logkeeper/meta/<key>.json     its metadata (size, SHA-256, checksum, SSE, retention, user metadata)
//	<root>/.logkeeper/meta/<folder>/.*.tmp  temporary files being written (beside the metadata)
//	<root>/.logkeeper/lock                serialises creates across processes (flock)
//
// The store is write-once, like a WORM bucket: an object is written to a
// temporary file, fsynced, and then linked into place, and no plain Put ever
// replaces an existing object (every Put without IfMatch is a conditional
// create and fails with store.ErrExists when the key is taken). Metadata is
// renamed into place before the object is linked, so a visible object
// always has its metadata.
//
// The one exception is a conditional replace (PutOptions.IfMatch), which
// leases use: under the store lock, the object is replaced only if its
// current ETag is the one given. An ETag is "<generation>-<sha256 prefix>":
// the generation counts the object's writes, so an ETag is never reused
// even when the same bytes are written again. Readers take the lock shared
// while they read an object's metadata and open its bytes, so they never
// see the metadata of one generation with the bytes of another. (A crash
// between the two renames of a replace leaves the new metadata beside the
// old bytes; the next replace repairs it. Archived objects are never
// replaced, so this concerns lease objects only.)
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
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/logkeeper/logkeeper/internal/store"
)

const internalDir = ".logkeeper"

// Store is a filesystem store rooted at a folder.
type Store struct {
	root string
	mu   sync.Mutex // serialises creates within this process; flock across processes
	// writer holds the creates in flight (commit.go).
	writer writer
	// tempDirs are the metadata folders known to exist (commit.go).
	tempDirs     sync.Map
	tempDirCount atomic.Int64
}

var (
	_ store.Store   = (*Store)(nil)
	_ store.Deleter = (*Store)(nil)
)

// New opens (creating if needed) a store rooted at the absolute path root.
func New(root string) (*Store, error) {
	if !filepath.IsAbs(root) {
		return nil, fmt.Errorf("filesystem store root %q is not an absolute path", root)
	}
	for _, d := range []string{root, filepath.Join(root, internalDir, "meta"), filepath.Join(root, internalDir, "tmp")} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return nil, fmt.Errorf("filesystem store: %w", err)
		}
	}
	return &Store{root: filepath.Clean(root)}, nil
}

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

func (s *Store) dataPath(key string) string { return filepath.Join(s.root, filepath.FromSlash(key)) }
func (s *Store) metaPath(key string) string {
	return filepath.Join(s.root, internalDir, "meta", filepath.FromSlash(key)+".json")
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
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
	tmp, err := s.createTemp(key, "put")
	if err != nil {
		return store.ObjectInfo{}, fmt.Errorf("put %s: %w", key, err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()

	h := sha256.New()
	if opts.Size >= 0 {
		// One byte more than announced is enough to tell a growing source.
		r = io.LimitReader(r, opts.Size+1)
	}
	n, err := io.Copy(io.MultiWriter(tmp, h), ctxReader{ctx, r})
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
		if err := syncClose(tmp); err != nil {
			return store.ObjectInfo{}, fmt.Errorf("put %s: %w", key, err)
		}
		if err := s.replace(key, tmp.Name(), &m, opts.IfMatch); err != nil {
			return store.ObjectInfo{}, err
		}
		return m.info(key), nil
	}
	m.Generation = 1
	if err := s.create(key, tmp, m); err != nil {
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

// lock takes the store lock: exclusive (with the in-process mutex) for
// writers, shared for readers. The returned function releases it. A
// reader of a store that was never written to (no lock file yet) goes
// ahead unlocked: there is nothing a writer could be replacing.
func (s *Store) lock(exclusive bool) (unlock func(), err error) {
	path := filepath.Join(s.root, internalDir, "lock")
	how, flag := syscall.LOCK_SH, os.O_RDONLY
	if exclusive {
		how, flag = syscall.LOCK_EX, os.O_CREATE|os.O_RDWR
		s.mu.Lock()
	}
	release := func() {
		if exclusive {
			s.mu.Unlock()
		}
	}
	f, err := os.OpenFile(path, flag, 0o640)
	if err != nil {
		release()
		if !exclusive && errors.Is(err, fs.ErrNotExist) {
			return func() {}, nil
		}
		return nil, fmt.Errorf("lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		release()
		return nil, fmt.Errorf("lock: %w", err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN) //nolint:errcheck // released on close anyway
		f.Close()
		release()
	}, nil
}

// replace moves the finished temporary file over key, under the store
// lock, if the object's current ETag is ifMatch. It sets m's generation.
func (s *Store) replace(key, tmpPath string, m *meta, ifMatch string) error {
	unlock, err := s.lock(true)
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	defer unlock()
	dp := s.dataPath(key)
	if fi, err := os.Stat(dp); errors.Is(err, fs.ErrNotExist) || (err == nil && fi.IsDir()) {
		return fmt.Errorf("put %s: if-match %s: %w: %w", key, ifMatch, store.ErrPreconditionFailed, store.ErrNotFound)
	} else if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	cur, err := s.readMeta(key)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if err != nil || cur.etag() != ifMatch {
		return fmt.Errorf("put %s: if-match %s: %w", key, ifMatch, store.ErrPreconditionFailed)
	}
	m.Generation = max(cur.Generation, 1) + 1
	mb, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if err := writeFileSync(s.metaPath(key), mb); err != nil {
		return fmt.Errorf("put %s: metadata: %w", key, err)
	}
	if err := os.Rename(tmpPath, dp); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return syncDir(filepath.Dir(dp))
}

// writeFileSync atomically replaces path with data (temp file, fsync, rename).
func writeFileSync(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

func (s *Store) readMeta(key string) (meta, error) {
	var m meta
	b, err := os.ReadFile(s.metaPath(key))
	if err != nil {
		return m, fmt.Errorf("metadata of %s: %w", key, err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("metadata of %s: %w", key, err)
	}
	return m, nil
}

func (s *Store) lookup(key string, opts store.GetOptions) (fs.FileInfo, error) {
	if err := s.checkKey(key); err != nil {
		return nil, err
	}
	if opts.VersionID != "" {
		return nil, fmt.Errorf("%s version %s: %w (the filesystem store keeps no versions)", key, opts.VersionID, store.ErrNotFound)
	}
	fi, err := os.Stat(s.dataPath(key))
	if errors.Is(err, fs.ErrNotExist) || (err == nil && fi.IsDir()) {
		return nil, fmt.Errorf("%s: %w", key, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	return fi, nil
}

// Head returns the object's metadata. Size is the size on disk now, so a
// file truncated or grown behind the store's back shows up; the recorded
// SHA-256 and checksum are those computed when it was written.
func (s *Store) Head(ctx context.Context, key string, opts store.GetOptions) (store.ObjectInfo, error) {
	info, f, err := s.read(key, opts, false)
	if f != nil {
		f.Close()
	}
	return info, err
}

// read returns the object's metadata and, when open is set, the open file,
// both read under the shared store lock so they belong together.
func (s *Store) read(key string, opts store.GetOptions, open bool) (store.ObjectInfo, *os.File, error) {
	if err := s.checkKey(key); err != nil {
		return store.ObjectInfo{}, nil, fmt.Errorf("head %w", err)
	}
	unlock, err := s.lock(false)
	if err != nil {
		return store.ObjectInfo{}, nil, fmt.Errorf("head %s: %w", key, err)
	}
	defer unlock()
	info, err := s.head(key, opts)
	if err != nil || !open {
		return info, nil, err
	}
	f, err := os.Open(s.dataPath(key))
	if errors.Is(err, fs.ErrNotExist) {
		return store.ObjectInfo{}, nil, fmt.Errorf("get %s: %w", key, store.ErrNotFound)
	}
	if err != nil {
		return store.ObjectInfo{}, nil, fmt.Errorf("get %s: %w", key, err)
	}
	return info, f, nil
}

func (s *Store) head(key string, opts store.GetOptions) (store.ObjectInfo, error) {
	fi, err := s.lookup(key, opts)
	if err != nil {
		return store.ObjectInfo{}, fmt.Errorf("head %w", err)
	}
	m, err := s.readMeta(key)
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
	info, f, err := s.read(key, opts, true)
	if err != nil {
		return nil, store.ObjectInfo{}, err
	}
	return f, info, nil
}

// List walks the objects under prefix in key order.
func (s *Store) List(ctx context.Context, prefix string, fn func(store.ObjectInfo) error) error {
	start := s.root
	if i := strings.LastIndex(prefix, "/"); i >= 0 {
		start = filepath.Join(s.root, filepath.FromSlash(prefix[:i]))
	}
	var keys []string
	err := filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p == start {
				return fs.SkipAll
			}
			return err
		}
		rel, _ := filepath.Rel(s.root, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel == internalDir {
				return fs.SkipDir
			}
			return nil
		}
		if strings.HasPrefix(rel, prefix) {
			keys = append(keys, rel)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("list %s: %w", prefix, err)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := ctx.Err(); err != nil {
			return err
		}
		info, err := s.Head(ctx, k, store.GetOptions{})
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("list %s: %w", prefix, err)
		}
		if err := fn(info); err != nil {
			return err
		}
	}
	return nil
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
// it; tests use it to tamper with an archive.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.checkKey(key); err != nil {
		return err
	}
	if err := os.Remove(s.dataPath(key)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	if err := os.Remove(s.metaPath(key)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}
