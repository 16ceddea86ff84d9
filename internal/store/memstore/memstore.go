package memstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/logkeeper/logkeeper/internal/store"
)

// Store is an in-memory store. The zero value is not usable; call New.
type Store struct {
	name      string
	authority bool

	mu     sync.Mutex
	objs   map[string]*object
	faults map[string]*fault
	held   map[string]bool
}

var (
	_ store.Store             = (*Store)(nil)
	_ store.Deleter           = (*Store)(nil)
	_ store.ChecksumAuthority = (*Store)(nil)
)

type object struct {
	data []byte
	info store.ObjectInfo
	gen  int64
}

// Options configure New.
type Options struct {
	// Name appears in Describe as mem://NAME (default "test").
	Name string
	// ServerChecksums makes the store claim, like S3, that the checksums
	// its Head reports are kept by the server and may be trusted.
	ServerChecksums bool
}

// New returns an empty store.
func New(o Options) *Store {
	if o.Name == "" {
		o.Name = "test"
	}
	return &Store{name: o.Name, authority: o.ServerChecksums, objs: map[string]*object{}, faults: map[string]*fault{}}
}

// Describe returns mem://NAME.
func (s *Store) Describe() string { return "mem://" + s.name }

// ServerChecksums reports whether Head's checksums are server-kept.
func (s *Store) ServerChecksums() bool { return s.authority }

// Put stores the object whole once the reader is read, honouring the
// conditions of opts.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, opts store.PutOptions) (store.ObjectInfo, error) {
	if err := store.ValidateKey(key); err != nil {
		return store.ObjectInfo{}, err
	}
	if err := opts.CheckConditions(); err != nil {
		return store.ObjectInfo{}, fmt.Errorf("put %s: %w", key, err)
	}
	if opts.Size >= 0 {
		r = io.LimitReader(r, opts.Size+1)
	}
	data, err := io.ReadAll(store.ContextReader(ctx, r))
	if err != nil {
		return store.ObjectInfo{}, fmt.Errorf("put %s: read source: %w", key, err)
	}
	if opts.Size >= 0 && int64(len(data)) != opts.Size {
		return store.ObjectInfo{}, fmt.Errorf("put %s: %w: got %d bytes, expected %d", key, store.ErrSizeMismatch, len(data), opts.Size)
	}
	if err := ctx.Err(); err != nil {
		return store.ObjectInfo{}, fmt.Errorf("put %s: %w", key, err)
	}
	sum := sha256.Sum256(data)
	sumHex := hex.EncodeToString(sum[:])
	checksum, _ := store.ChecksumOfHex(sumHex)
	info := store.ObjectInfo{
		Key: key, Size: int64(len(data)), SHA256: sumHex, Checksum: checksum,
		ContentType: opts.ContentType, Metadata: maps.Clone(opts.Metadata),
		SSE: opts.SSE, Retention: opts.Retention, LastModified: time.Now().UTC(),
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.objs[key]
	switch {
	case opts.IfMatch != "" && cur == nil:
		return store.ObjectInfo{}, fmt.Errorf("put %s: if-match %s: %w: %w", key, opts.IfMatch, store.ErrPreconditionFailed, store.ErrNotFound)
	case opts.IfMatch != "" && cur.info.ETag != opts.IfMatch:
		return store.ObjectInfo{}, fmt.Errorf("put %s: if-match %s: %w", key, opts.IfMatch, store.ErrPreconditionFailed)
	case opts.IfMatch == "" && cur != nil:
		// Write-once, like the filesystem store and a locked bucket.
		return store.ObjectInfo{}, fmt.Errorf("put %s: %w", key, store.ErrExists)
	}
	gen := int64(1)
	if cur != nil {
		gen = cur.gen + 1
	}
	info.ETag = fmt.Sprintf("%d-%s", gen, sumHex[:32])
	s.objs[key] = &object{data: data, info: info, gen: gen}
	return info, nil
}

// PutRaw places data under key as someone writing behind logkeeper's back
// would: any key (even one Put refuses), replacing what is there, with no
// checksum recorded.
func (s *Store) PutRaw(key string, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	gen := int64(1)
	if cur := s.objs[key]; cur != nil {
		gen = cur.gen + 1
	}
	s.objs[key] = &object{data: bytes.Clone(data), gen: gen, info: store.ObjectInfo{
		Key: key, Size: int64(len(data)), ETag: fmt.Sprintf("%d-raw", gen), LastModified: time.Now().UTC(),
	}}
}

// Fault makes the store misbehave on one key.
type Fault struct {
	// Err, when not nil, is what Head and Get of the key return (wrapped).
	Err error
	// Size, when >= 0 together with Body, is the size Head and Get report.
	Size int64
	// Body, when set, gives the bytes the nth Get of the key (from 0)
	// reads instead of the stored ones: huge, endless, or different from
	// one read to the next.
	Body func(nth int) io.Reader
	// Block makes reading the key's bytes block until the reader's ctx
	// ends, like a FIFO no one writes to.
	Block bool
}

type fault struct {
	Fault
	gets int
}

// SetFault makes the store misbehave on key as f says. A fault on a key
// with no object makes the key listed and present.
func (s *Store) SetFault(key string, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[key] = &fault{Fault: f}
	if s.objs[key] == nil {
		s.objs[key] = &object{gen: 1, info: store.ObjectInfo{Key: key, ETag: "1-fault", LastModified: time.Now().UTC()}}
	}
}

// Gets returns how often the key's bytes were opened with Get.
func (s *Store) Gets(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f := s.faults[key]; f != nil {
		return f.gets
	}
	return 0
}

func (s *Store) lookup(key string, opts store.GetOptions) (*object, *fault, error) {
	if err := store.ValidateKey(key); err != nil {
		return nil, nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.objs[key]
	if o == nil || (opts.VersionID != "" && opts.VersionID != o.info.VersionID) {
		return nil, nil, fmt.Errorf("%s: %w", key, store.ErrNotFound)
	}
	f := s.faults[key]
	if f != nil && f.Err != nil {
		return nil, nil, fmt.Errorf("%s: %w", key, f.Err)
	}
	return o, f, nil
}

func (o *object) infoWith(f *fault) store.ObjectInfo {
	info := o.info
	info.Metadata = maps.Clone(o.info.Metadata)
	if f != nil && f.Body != nil && f.Size >= 0 {
		info.Size = f.Size
	}
	return info
}

// Head returns the object's attributes.
func (s *Store) Head(ctx context.Context, key string, opts store.GetOptions) (store.ObjectInfo, error) {
	if err := ctx.Err(); err != nil {
		return store.ObjectInfo{}, err
	}
	o, f, err := s.lookup(key, opts)
	if err != nil {
		return store.ObjectInfo{}, fmt.Errorf("head %w", err)
	}
	return o.infoWith(f), nil
}

// Get opens the object.
func (s *Store) Get(ctx context.Context, key string, opts store.GetOptions) (io.ReadCloser, store.ObjectInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, store.ObjectInfo{}, err
	}
	o, f, err := s.lookup(key, opts)
	if err != nil {
		return nil, store.ObjectInfo{}, fmt.Errorf("get %w", err)
	}
	var r io.Reader = bytes.NewReader(o.data)
	if f != nil {
		s.mu.Lock()
		nth := f.gets
		f.gets++
		s.mu.Unlock()
		if f.Body != nil {
			r = f.Body(nth)
		}
		if f.Block {
			r = blockReader{ctx}
		}
	}
	return io.NopCloser(store.ContextReader(ctx, r)), o.infoWith(f), nil
}

// blockReader blocks until ctx ends.
type blockReader struct{ ctx context.Context }

func (b blockReader) Read([]byte) (int, error) {
	<-b.ctx.Done()
	return 0, b.ctx.Err()
}

// List calls fn for every key under prefix in ascending order, on a
// snapshot taken when it is called.
func (s *Store) List(ctx context.Context, prefix string, fn func(store.ObjectInfo) error) error {
	s.mu.Lock()
	var infos []store.ObjectInfo
	for k, o := range s.objs {
		if strings.HasPrefix(k, prefix) {
			infos = append(infos, o.infoWith(s.faults[k]))
		}
	}
	s.mu.Unlock()
	sort.Slice(infos, func(i, j int) bool { return infos[i].Key < infos[j].Key })
	for _, info := range infos {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(info); err != nil {
			return err
		}
	}
	return nil
}

// Versions returns the one current version of key, if any.
func (s *Store) Versions(ctx context.Context, key string) ([]store.Version, error) {
	info, err := s.Head(ctx, key, store.GetOptions{})
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil
		}
		return nil, err
	}
	return []store.Version{{IsLatest: true, Size: info.Size, LastModified: info.LastModified}}, nil
}

// Delete removes the object and any fault set on it; a held key is
// refused (store.ErrHeld).
func (s *Store) Delete(ctx context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held[key] {
		return fmt.Errorf("delete %s: %w", key, store.ErrHeld)
	}
	delete(s.objs, key)
	delete(s.faults, key)
	return nil
}

// Bytes returns a copy of the stored bytes of key (nil when absent), for
// tests that tamper with an object.
func (s *Store) Bytes(key string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o := s.objs[key]; o != nil {
		return bytes.Clone(o.data)
	}
	return nil
}
