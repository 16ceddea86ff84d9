package fsstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/logkeeper/logkeeper/internal/store"
)

// How a create is made durable and visible (Put without IfMatch). The
// guarantees are those of a single create: nothing is visible before it is
// durable, and the metadata is never behind its object.
//
// Where the filesystem takes user extended attributes (xattr.go), the
// object is one file, as a copy program writes it:
//
//  1. the object's bytes are written to a temporary file (an anonymous one
//     in the key's folder where the filesystem allows, tmpfile.go), and
//     its metadata set as the file's attribute;
//  2. under the store lock, the key is checked free and claimed;
//  3. the file is fsynced: bytes and metadata are durable together;
//  4. under the store lock still, the file is linked or moved to the key
//     (a link or a rename that never replaces) and the folder is fsynced: the object, with its
//     metadata, is durable and visible. Put returns only then.
//
// Otherwise (and for metadata too large for an attribute) the metadata is
// a side file:
//
//  1. the object's bytes and its metadata are written to temporary files,
//     beside the key's metadata;
//  2. under the store lock, the key is checked free and claimed: the
//     metadata is renamed to its place (an object is visible only through
//     its bytes' path, so metadata alone shows nothing);
//  3. the bytes, the metadata and the metadata's folder are fsynced: the
//     metadata is durable;
//  4. under the store lock still, the bytes are linked at the key and the
//     folder is fsynced: the object is durable and visible, never before
//     its metadata. Put returns only then.
//
// A Deferred create (store.PutOptions.Deferred) skips the folder's fsync
// of step 4: Put returns with the object visible, its bytes and metadata
// durable, and the folder noted; Sync (store.Syncer) fsyncs every noted
// folder, and only then is the name sure to survive a crash of the
// machine. That is the order of a durable copy program (temporary file,
// write, fsync, rename), plus the metadata made durable before the name,
// and it takes one of the two durability points a create waits for off
// its path: the export puts its objects Deferred and calls Sync before it
// seals the manifest that lists them. With the metadata in an attribute, a
// Deferred create waits for one fsync, as the copy program does.
//
// Every folder is opened without following a symbolic link (openDir), as
// everywhere in the store.
//
// What makes many small files fast is that no create waits for another's
// fsyncs: the fsyncs of step 3 run in parallel, each create on its own
// (the filesystem's journal folds concurrent fsyncs into one commit), and
// a folder's fsync serves every create that changed the folder before it
// began (dirSyncer), so a hundred files linked into one folder at once cost
// one fsync of it, not a hundred. Temporary files are spread over the
// folders the keys are spread over, as a copy program writes each beside
// its target, instead of all being made and removed in one folder, which
// the filesystem serialises; their names (".put-…", ".meta-…") never end in
// ".json", so none is taken for metadata. Opened folders are kept for a
// moment (dirCache), so that a hundred files of one folder do not open
// each folder of the path a hundred times. The store lock (flock, against
// other processes) is taken by the first claim and held while creates are
// in flight; it is let go whenever none is, and at least every maxLockHold
// (new claims wait until the creates in flight are done), so that readers
// in other processes are not starved. Within the process, claimed keys are
// kept in a set, so two creates of one key never both claim it.

// maxLockHold is how long creates keep the store lock while more keep
// coming, before it is let go once.
const maxLockHold = 250 * time.Millisecond

// writer is the state of the creates in flight.
type writer struct {
	mu       sync.Mutex
	cond     *sync.Cond // signalled when the creates in flight drain
	unlock   func()     // releases the store lock; nil when not held
	since    time.Time  // when the lock was taken
	claimed  map[string]bool
	draining bool // no new claims until the creates in flight are done
	syncs    dirSyncer
	pending  pendingDirs // folders of Deferred creates not yet fsynced
}

// create makes the written temporary file tmp (src, in the folder of the
// key's metadata) the object at key, with the metadata m, and closes tmp.
func (s *Store) create(ctx context.Context, key string, tmp *os.File, src *tempFile, m meta, deferred bool) error {
	if s.xattr {
		inAttr, err := setMetaXattr(tmp, m)
		if err != nil {
			tmp.Close()
			return fmt.Errorf("put %s: %w", key, err)
		}
		if inAttr {
			return s.link(ctx, key, tmp, src, nil, deferred)
		}
	}
	// A side file: the temporary file is moved from beside it.
	mb, err := json.Marshal(m)
	if err != nil {
		tmp.Close()
		return fmt.Errorf("put %s: %w", key, err)
	}
	if err := s.nameTemp(key, src); err != nil {
		tmp.Close()
		return fmt.Errorf("put %s: %w", key, err)
	}
	metaDir := src.dir
	mf, mname, err := createTemp(metaDir, ".meta-")
	if err != nil {
		tmp.Close()
		return fmt.Errorf("put %s: metadata: %w", key, err)
	}
	defer unix.Unlinkat(int(metaDir.Fd()), mname, 0) //nolint:errcheck // gone once renamed into place
	defer mf.Close()
	if _, err := mf.Write(mb); err != nil {
		tmp.Close()
		return fmt.Errorf("put %s: metadata: %w", key, err)
	}
	return s.link(ctx, key, tmp, src, &sideMeta{f: mf, name: mname}, deferred)
}

// sideMeta is a written temporary metadata file, beside tmp.
type sideMeta struct {
	f    *os.File
	name string
}

// link claims key, makes tmp (and the metadata side file mf, if any)
// durable and links tmp at key.
func (s *Store) link(ctx context.Context, key string, tmp *os.File, src *tempFile, mf *sideMeta, deferred bool) error {
	metaDir := src.dir
	dir, base := splitRel(key)
	d, err := s.dirs.open(s, dir)
	if err != nil {
		tmp.Close()
		return fmt.Errorf("put %s: %w", key, err)
	}
	defer s.dirs.done(d)
	mname := ""
	if mf != nil {
		mname = mf.name
	}
	if err := s.claim(ctx, key, d, base, metaDir, mname); err != nil {
		tmp.Close()
		return fmt.Errorf("put %s: %w", key, err)
	}
	var errData, errMeta, errDir error
	switch {
	case src.anonymous():
		// Linked through its descriptor: closed once linked (discard).
		errData = tmp.Sync()
	case mf == nil:
		errData = syncClose(tmp)
	default:
		var wg sync.WaitGroup
		wg.Go(func() { errData = syncClose(tmp) })
		wg.Go(func() { errMeta = mf.f.Sync() })
		errDir = s.writer.syncs.sync(path.Dir(metaRel(key)), metaDir)
		wg.Wait()
	}
	if err := errors.Join(errData, errMeta, errDir); err != nil {
		// The metadata stays behind without an object, as after a crash:
		// it shows nothing, and the next create of the key replaces it.
		s.release(key)
		return fmt.Errorf("put %s: %w", key, err)
	}
	defer s.release(key)
	if err := moveNoReplace(src, d, base); err != nil {
		if errors.Is(err, unix.EEXIST) {
			err = store.ErrExists
		}
		return fmt.Errorf("put %s: %w", key, err)
	}
	if deferred {
		s.writer.pending.add(dir)
		return nil
	}
	if err := s.writer.syncs.sync(dir, d); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

// pendingDirs are the folders that Deferred creates linked names into
// since the last Sync: their fsyncs make those names durable.
type pendingDirs struct {
	mu   sync.Mutex
	dirs map[string]struct{}
}

func (p *pendingDirs) add(rel string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dirs == nil {
		p.dirs = map[string]struct{}{}
	}
	p.dirs[rel] = struct{}{}
}

// take returns the folders added so far and forgets them.
func (p *pendingDirs) take() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	rels := make([]string, 0, len(p.dirs))
	for rel := range p.dirs {
		rels = append(rels, rel)
	}
	p.dirs = nil
	return rels
}

// syncParallel is how many folders Sync fsyncs at once.
const syncParallel = 8

// Sync makes the names of the Deferred creates that returned before it
// durable (store.Syncer): it fsyncs every folder they were linked into.
// Their bytes and metadata were durable already. The error names the
// folders that failed to sync; the next Sync does not try them again, so
// a caller that gets an error must not claim the objects (the export
// fails the run before sealing its manifest).
func (s *Store) Sync(ctx context.Context) error {
	if s.readOnly {
		return nil
	}
	rels := s.writer.pending.take()
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	work := make(chan string)
	for range min(syncParallel, len(rels)) {
		wg.Go(func() {
			for rel := range work {
				if err := s.syncDir(rel); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
	for _, rel := range rels {
		if ctx.Err() != nil {
			break
		}
		work <- rel
	}
	close(work)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sync %s: %w", s.Describe(), err)
	}
	return errors.Join(errs...)
}

// syncDir fsyncs the folder rel through the syncer that serves the
// creates, so that a Sync and a create share a fsync begun after both.
func (s *Store) syncDir(rel string) error {
	d, err := s.openDir(rel, false)
	if err != nil {
		return fmt.Errorf("sync %s: %w", rel, err)
	}
	defer d.Close()
	return s.writer.syncs.sync(rel, d)
}

// claim takes the store lock if the creates in flight do not hold it yet,
// checks that key is not claimed and, when the metadata is a side file,
// that base is free in the folder d, and renames the metadata written as
// mname in metaDir to its place. (With the metadata in the attribute, the
// link or rename that makes the object visible fails on a taken key.)
func (s *Store) claim(ctx context.Context, key string, d *os.File, base string, metaDir *os.File, mname string) error {
	w := &s.writer
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cond == nil {
		w.cond = sync.NewCond(&w.mu)
		w.claimed = map[string]bool{}
	}
	for w.draining {
		w.cond.Wait()
	}
	if w.unlock == nil {
		unlock, err := s.lock(ctx, true)
		if err != nil {
			return err
		}
		w.unlock, w.since = unlock, time.Now()
	}
	err := claimFree(key, d, base, metaDir, mname, w.claimed)
	if err == nil {
		w.claimed[key] = true
	}
	w.settle()
	return err
}

func claimFree(key string, d *os.File, base string, metaDir *os.File, mname string, claimed map[string]bool) error {
	if claimed[key] {
		return store.ErrExists
	}
	if mname == "" {
		// The metadata is in the object's attribute: nothing is renamed
		// before the object, whose link or rename never replaces.
		return nil
	}
	var st unix.Stat_t
	if err := unix.Fstatat(int(d.Fd()), base, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil {
		return store.ErrExists
	} else if !errors.Is(err, unix.ENOENT) {
		return err
	}
	_, mbase := splitRel(metaRel(key))
	if err := unix.Renameat(int(metaDir.Fd()), mname, int(metaDir.Fd()), mbase); err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	return nil
}

// release forgets the claims of keys (linked, or given up) and lets the
// store lock go when no create is in flight any more.
func (s *Store) release(keys ...string) {
	w := &s.writer
	w.mu.Lock()
	for _, k := range keys {
		delete(w.claimed, k)
	}
	w.settle()
	w.mu.Unlock()
}

// settle, with w.mu held, lets the store lock go when no create is in
// flight, and stops new claims once the lock was held for maxLockHold.
func (w *writer) settle() {
	if w.unlock == nil {
		return
	}
	if len(w.claimed) == 0 {
		w.unlock()
		w.unlock = nil
		w.draining = false
		w.cond.Broadcast()
		return
	}
	if time.Since(w.since) > maxLockHold {
		w.draining = true
	}
}

// dirSyncer fsyncs folders for many creates at once: a caller needs a
// fsync of the folder that begins after its change; when one is under way,
// it waits for it to end and for the next one, which serves every caller
// that came in the meantime.
type dirSyncer struct {
	mu   sync.Mutex
	dirs map[string]*dirSync
}

type dirSync struct {
	started, done uint64 // fsyncs begun and ended
	running       bool
	waiting       int
	err           error // of a failed fsync
	cond          *sync.Cond
}

// sync fsyncs the folder rel, open as f, or waits for a fsync of it that
// began after the call.
func (ds *dirSyncer) sync(rel string, f *os.File) error {
	ds.mu.Lock()
	defer ds.mu.Unlock()
	if ds.dirs == nil {
		ds.dirs = map[string]*dirSync{}
	}
	d := ds.dirs[rel]
	if d == nil {
		d = &dirSync{cond: sync.NewCond(&ds.mu)}
		ds.dirs[rel] = d
	}
	// The first fsync to begin from now on serves this caller.
	want := d.started + 1
	d.waiting++
	defer func() {
		d.waiting--
		if d.waiting == 0 && !d.running {
			delete(ds.dirs, rel)
		}
	}()
	for d.done < want {
		if d.running {
			d.cond.Wait()
			continue
		}
		d.running = true
		d.started++
		n := d.started
		ds.mu.Unlock()
		err := f.Sync()
		ds.mu.Lock()
		d.running, d.done = false, n
		if err != nil {
			// Kept while the entry lives: a caller served by a later
			// fsync still learns that the folder failed to sync.
			d.err = fmt.Errorf("sync %s: %w", rel, err)
		}
		d.cond.Broadcast()
	}
	return d.err
}

// dirCache keeps the folders writers opened (openDir, creating them) for
// dirCacheTTL, so that the creates of many files in one folder open the
// folders of its path once. A folder replaced behind the store's back is
// seen within that time; what was opened before stays the folder it was,
// never a symbolic link.
type dirCache struct {
	mu   sync.Mutex
	dirs map[string]*cachedDir
	fds  map[*os.File]*cachedDir
}

type cachedDir struct {
	f       *os.File
	rel     string
	opened  time.Time
	users   int
	evicted bool
}

const (
	dirCacheTTL  = time.Second
	dirCacheSize = 256
)

// open returns the folder rel, opened (and made) without following links.
// Give it back with done.
func (c *dirCache) open(s *Store, rel string) (*os.File, error) {
	c.mu.Lock()
	if c.dirs == nil {
		c.dirs, c.fds = map[string]*cachedDir{}, map[*os.File]*cachedDir{}
	}
	if e := c.dirs[rel]; e != nil && time.Since(e.opened) < dirCacheTTL {
		e.users++
		c.mu.Unlock()
		return e.f, nil
	}
	c.mu.Unlock()
	f, err := s.openDir(rel, true)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.dirs[rel]; old != nil {
		c.evict(old)
	}
	if len(c.dirs) >= dirCacheSize {
		for _, e := range c.dirs {
			c.evict(e)
		}
	}
	e := &cachedDir{f: f, rel: rel, opened: time.Now(), users: 1}
	c.dirs[rel], c.fds[f] = e, e
	return f, nil
}

// done gives back a folder open returned.
func (c *dirCache) done(f *os.File) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.fds[f]
	e.users--
	if e.evicted && e.users == 0 {
		delete(c.fds, f)
		f.Close()
	}
}

// evict, with c.mu held, drops e from the cache; it is closed once no
// caller uses it.
func (c *dirCache) evict(e *cachedDir) {
	delete(c.dirs, e.rel)
	e.evicted = true
	if e.users == 0 {
		delete(c.fds, e.f)
		e.f.Close()
	}
}

// moveNoReplace moves the temporary file to base in the folder d, failing
// with EEXIST if base exists: a link of an anonymous file (tmpfile.go), one
// rename (RENAME_NOREPLACE), or a link where the filesystem has no such
// rename (the temporary name is removed by discard).
func moveNoReplace(src *tempFile, d *os.File, base string) error {
	if src.anonymous() {
		err := linkAnon(src.f, d, base)
		src.moved = err == nil
		return err
	}
	err := unix.Renameat2(int(src.dir.Fd()), src.name, int(d.Fd()), base, unix.RENAME_NOREPLACE)
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
		return unix.Linkat(int(src.dir.Fd()), src.name, int(d.Fd()), base, 0)
	}
	src.moved = err == nil
	return err
}

// syncClose fsyncs and closes f.
func syncClose(f *os.File) error {
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	return nil
}
