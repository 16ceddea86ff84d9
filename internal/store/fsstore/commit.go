package fsstore

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/logkeeper/logkeeper/internal/store"
)

// How a create is made durable and visible (Put without IfMatch). The
// order of a single create is unchanged, and so are the guarantees:
//
//  1. the object's bytes and its metadata are written to temporary files;
//  2. under the store lock, the key is checked free and claimed: the
//     metadata is renamed to its place (an object is visible only through
//     its bytes' path, so metadata alone shows nothing);
//  3. the bytes, the metadata and the metadata's folder are fsynced: the
//     metadata is durable;
//  4. under the store lock still, the bytes are linked at the key and the
//     folder is fsynced: the object is durable and visible, never before
//     its metadata. Put returns only then.
//
// What makes many small files fast is that no create waits for another's
// fsyncs: the fsyncs of step 3 run in parallel, each create on its own
// (the filesystem's journal folds concurrent fsyncs into one commit), and
// a folder's fsync serves every create that changed the folder before it
// began (dirSyncer), so a hundred files linked into one folder at once cost
// one fsync of it, not a hundred. The store lock (flock, against other
// processes) is taken by the first claim and held while creates are in
// flight; it is let go whenever none is, and at least every maxLockHold
// (new claims wait until the creates in flight are done), so that readers
// in other processes are not starved. Within the process, claimed keys are
// kept in a set, so two creates of one key never both claim it.

// maxLockHold is how long creates keep the store lock while more keep
// coming, before it is let go once.
const maxLockHold = 250 * time.Millisecond

// createTemp creates a temporary file for a write of key, in the folder
// of the key's metadata: temporary files are spread over the folders the
// keys are spread over, as a copy program writes each beside its target,
// rather than all made and removed in one folder, which the filesystem
// serialises. Their names (".put-N.tmp", ".meta-N.tmp") never end in
// ".json", so none is taken for an object's metadata.
func (s *Store) createTemp(key, kind string) (*os.File, error) {
	dir := filepath.Dir(s.metaPath(key))
	if _, known := s.tempDirs.Load(dir); !known {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, err
		}
		if s.tempDirCount.Add(1) > maxKnownDirs {
			s.tempDirs.Clear()
			s.tempDirCount.Store(0)
		}
		s.tempDirs.Store(dir, true)
	}
	f, err := os.CreateTemp(dir, "."+kind+"-*.tmp")
	if errors.Is(err, fs.ErrNotExist) {
		// The folder was removed behind the store's back.
		s.tempDirs.Delete(dir)
		if err = os.MkdirAll(dir, 0o750); err == nil {
			f, err = os.CreateTemp(dir, "."+kind+"-*.tmp")
		}
	}
	return f, err
}

// writer is the state of the creates in flight.
type writer struct {
	mu       sync.Mutex
	cond     *sync.Cond // signalled when the creates in flight drain
	unlock   func()     // releases the store lock; nil when not held
	since    time.Time  // when the lock was taken
	claimed  map[string]bool
	draining bool            // no new claims until the creates in flight are done
	dirs     map[string]bool // folders known to exist
	syncs    dirSyncer
}

// create makes the written temporary file tmp the object at key, with the
// metadata m, and closes tmp.
func (s *Store) create(key string, tmp *os.File, m meta) error {
	mb, err := json.Marshal(m)
	if err != nil {
		tmp.Close()
		return fmt.Errorf("put %s: %w", key, err)
	}
	mf, err := s.createTemp(key, "meta")
	if err != nil {
		tmp.Close()
		return fmt.Errorf("put %s: metadata: %w", key, err)
	}
	defer os.Remove(mf.Name()) // gone already once renamed into place
	defer mf.Close()
	if _, err := mf.Write(mb); err != nil {
		tmp.Close()
		return fmt.Errorf("put %s: metadata: %w", key, err)
	}
	if err := s.claim(key, mf.Name()); err != nil {
		tmp.Close()
		return fmt.Errorf("put %s: %w", key, err)
	}
	mp := s.metaPath(key)
	var wg sync.WaitGroup
	var errData, errMeta, errDir error
	wg.Go(func() { errData = syncClose(tmp) })
	wg.Go(func() { errMeta = mf.Sync() })
	wg.Go(func() { errDir = s.writer.syncs.sync(filepath.Dir(mp)) })
	wg.Wait()
	if err := errors.Join(errData, errMeta, errDir); err != nil {
		// The metadata stays behind without an object, as after a crash:
		// it shows nothing, and the next create of the key replaces it.
		s.release(key)
		return fmt.Errorf("put %s: %w", key, err)
	}
	defer s.release(key)
	dp := s.dataPath(key)
	if err := os.Link(tmp.Name(), dp); err != nil {
		if errors.Is(err, fs.ErrExist) {
			err = store.ErrExists
		}
		return fmt.Errorf("put %s: %w", key, err)
	}
	if err := s.writer.syncs.sync(filepath.Dir(dp)); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

// claim takes the store lock if the creates in flight do not hold it yet,
// checks that key is neither an object nor claimed, and renames the
// metadata at metaTmp into place.
func (s *Store) claim(key, metaTmp string) error {
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
		unlock, err := s.lock(true)
		if err != nil {
			return err
		}
		w.unlock, w.since = unlock, time.Now()
	}
	err := s.claimFree(key, metaTmp, w)
	if err == nil {
		w.claimed[key] = true
	}
	w.settle()
	return err
}

func (s *Store) claimFree(key, metaTmp string, w *writer) error {
	if w.claimed[key] {
		return store.ErrExists
	}
	dp, mp := s.dataPath(key), s.metaPath(key)
	if _, err := os.Lstat(dp); err == nil {
		return store.ErrExists
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if w.dirs == nil || len(w.dirs) > maxKnownDirs {
		w.dirs = map[string]bool{}
	}
	for _, d := range []string{filepath.Dir(dp), filepath.Dir(mp)} {
		if w.dirs[d] {
			continue
		}
		if err := os.MkdirAll(d, 0o750); err != nil {
			return err
		}
		w.dirs[d] = true
	}
	err := os.Rename(metaTmp, mp)
	if errors.Is(err, fs.ErrNotExist) {
		// A folder removed behind the store's back: make it again.
		clear(w.dirs)
		if err = os.MkdirAll(filepath.Dir(mp), 0o750); err == nil {
			err = os.Rename(metaTmp, mp)
		}
	}
	if err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	return nil
}

// maxKnownDirs bounds the folders a store remembers as existing.
const maxKnownDirs = 4096

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

func (ds *dirSyncer) sync(dir string) error {
	ds.mu.Lock()
	defer ds.mu.Unlock()
	if ds.dirs == nil {
		ds.dirs = map[string]*dirSync{}
	}
	d := ds.dirs[dir]
	if d == nil {
		d = &dirSync{cond: sync.NewCond(&ds.mu)}
		ds.dirs[dir] = d
	}
	// The first fsync to begin from now on serves this caller.
	want := d.started + 1
	d.waiting++
	defer func() {
		d.waiting--
		if d.waiting == 0 && !d.running {
			delete(ds.dirs, dir)
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
		err := syncDir(dir)
		ds.mu.Lock()
		d.running, d.done = false, n
		if err != nil {
			// Kept while the entry lives: a caller served by a later
			// fsync still learns that the folder failed to sync.
			d.err = err
		}
		d.cond.Broadcast()
	}
	return d.err
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
