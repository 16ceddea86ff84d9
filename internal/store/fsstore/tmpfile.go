package fsstore

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"strconv"

	"golang.org/x/sys/unix"
)

// A create's temporary file is, where the filesystem allows it, an
// anonymous file (open(2) with O_TMPFILE) in the key's own folder: it has
// no name until linkat(2) gives it the key's, after its bytes and metadata
// are durable, so nothing is visible before it is durable, as with a named
// temporary file and a rename, with two fewer changes of folders per
// create (no temporary name is added and removed, nothing is moved across
// folders) and nothing left behind when the process is killed: an
// anonymous file that was never linked is freed when it is closed, or at
// the next mount after a crash. linkat(2) never replaces, so the key that
// exists already fails with EEXIST, as RENAME_NOREPLACE does.
//
// The file is linked through /proc/self/fd (AT_SYMLINK_FOLLOW), which
// needs no privilege, unlike AT_EMPTY_PATH. New probes both once
// (probeTmpfile); where either fails (no O_TMPFILE on this filesystem, no
// /proc), every create uses a named temporary file as before. A create
// whose metadata does not fit an attribute, and a replace, give the
// anonymous file a temporary name (nameTemp) and go on as with a named one.

// tempFile is a written temporary file: the open file f, named name in the
// folder dir, or anonymous (name "") in dir, the key's own folder.
type tempFile struct {
	f     *os.File
	dir   *os.File
	name  string
	moved bool   // renamed or linked at its key: nothing to remove
	done  func() // gives back dir to the folder cache
}

func (t *tempFile) anonymous() bool { return t.name == "" }

// discard closes the file, removes its temporary name if it still has one,
// and gives back its folder. Called once the create is over, whatever its
// outcome.
func (t *tempFile) discard() {
	t.f.Close() //nolint:errcheck // closed already on success
	if t.name != "" && !t.moved {
		unix.Unlinkat(int(t.dir.Fd()), t.name, 0) //nolint:errcheck // gone already if it was moved
	}
	if t.done != nil {
		t.done()
	}
}

// procFd is the path through which an anonymous file is linked.
func procFd(f *os.File) string { return "/proc/self/fd/" + strconv.Itoa(int(f.Fd())) }

// openAnon opens an anonymous file in the folder d.
func openAnon(d *os.File) (*os.File, error) {
	fd, err := unix.Openat(int(d.Fd()), ".", unix.O_WRONLY|unix.O_TMPFILE|unix.O_CLOEXEC, 0o640)
	if err != nil {
		return nil, &fs.PathError{Op: "create anonymous file in", Path: d.Name(), Err: err}
	}
	return os.NewFile(uintptr(fd), d.Name()+"/(anonymous)"), nil
}

// linkAnon links the anonymous file f as base in the folder d; EEXIST when
// base exists.
func linkAnon(f *os.File, d *os.File, base string) error {
	return unix.Linkat(unix.AT_FDCWD, procFd(f), int(d.Fd()), base, unix.AT_SYMLINK_FOLLOW)
}

// newTemp makes the temporary file a Put of key writes to: anonymous in
// the key's folder when anon (and the filesystem allows it), otherwise
// named beside the key's metadata (commit.go).
func (s *Store) newTemp(key string, anon bool) (*tempFile, error) {
	if anon && s.tmpfile {
		dir, _ := splitRel(key)
		d, err := s.dirs.open(s, dir)
		if err != nil {
			return nil, err
		}
		f, err := openAnon(d)
		if err != nil {
			s.dirs.done(d)
			return nil, err
		}
		return &tempFile{f: f, dir: d, done: func() { s.dirs.done(d) }}, nil
	}
	d, err := s.dirs.open(s, path.Dir(metaRel(key)))
	if err != nil {
		return nil, err
	}
	f, name, err := createTemp(d, ".put-")
	if err != nil {
		s.dirs.done(d)
		return nil, err
	}
	return &tempFile{f: f, dir: d, name: name, done: func() { s.dirs.done(d) }}, nil
}

// nameTemp gives the anonymous temporary file of key a temporary name
// beside the key's metadata, where a named one is made, so that the
// create or replace goes on as with a named file.
func (s *Store) nameTemp(key string, t *tempFile) error {
	if !t.anonymous() {
		return nil
	}
	d, err := s.dirs.open(s, path.Dir(metaRel(key)))
	if err != nil {
		return err
	}
	name := tempName(".put-")
	if err := linkAnon(t.f, d, name); err != nil {
		s.dirs.done(d)
		return fmt.Errorf("name temporary file: %w", err)
	}
	prev := t.done
	t.dir, t.name, t.done = d, name, func() { prev(); s.dirs.done(d) }
	return nil
}

// probeTmpfile reports whether an anonymous file can be made and linked in
// the store's tmp folder. Any error counts as no: creates then use named
// temporary files, as they always could.
func (s *Store) probeTmpfile() bool {
	d, err := s.openDir(internalDir+"/tmp", false)
	if err != nil {
		return false
	}
	defer d.Close()
	f, err := openAnon(d)
	if err != nil {
		return false
	}
	defer f.Close()
	name := tempName(".probe-")
	if err := linkAnon(f, d, name); err != nil {
		return false
	}
	unix.Unlinkat(int(d.Fd()), name, 0) //nolint:errcheck // a probe only
	return true
}
