package fsstore

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/logkeeper/logkeeper/internal/store"
)

// Everything below the root is reached one folder at a time through file
// descriptors opened with O_NOFOLLOW: a symbolic link anywhere inside the
// store (an object, or a folder such as "objects" replaced by a link) is
// never followed, for reading or for writing, and a FIFO or device is
// never read (O_NONBLOCK, then the opened descriptor is checked to be a
// regular file). What is found instead is an error wrapping
// store.ErrUnreadable, so a verifier reports it on that key and goes on.

const (
	dirFlags  = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	fileFlags = unix.O_RDONLY | unix.O_NOFOLLOW | unix.O_NONBLOCK | unix.O_CLOEXEC
)

// notPlain describes what a symbolic link or special file at rel is.
func notPlain(rel string, mode fs.FileMode) error {
	what := "a special file"
	switch {
	case mode&fs.ModeSymlink != 0:
		what = "a symbolic link"
	case mode&fs.ModeNamedPipe != 0:
		what = "a named pipe (FIFO)"
	case mode&fs.ModeDevice != 0:
		what = "a device"
	case mode&fs.ModeSocket != 0:
		what = "a socket"
	}
	return fmt.Errorf("%s is %s, not a regular file: %w", rel, what, store.ErrUnreadable)
}

// openErr turns the error of an O_NOFOLLOW open of name in the folder dirfd
// (rel below the root) into one that says what was found there instead.
func openErr(dirfd int, name, rel string, err error) error {
	switch {
	case errors.Is(err, unix.ELOOP), errors.Is(err, unix.ENXIO):
		var st unix.Stat_t
		if unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil {
			return notPlain(rel, modeOf(st.Mode))
		}
		return notPlain(rel, fs.ModeIrregular)
	case errors.Is(err, unix.ENOTDIR):
		var st unix.Stat_t
		if unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
			return notPlain(rel, fs.ModeSymlink)
		}
		return fmt.Errorf("%s: a path segment is not a folder: %w", rel, fs.ErrNotExist)
	}
	return &fs.PathError{Op: "open", Path: rel, Err: err}
}

// modeOf gives the type bits of a stat mode as an fs.FileMode.
func modeOf(m uint32) fs.FileMode {
	switch m & unix.S_IFMT {
	case unix.S_IFLNK:
		return fs.ModeSymlink
	case unix.S_IFIFO:
		return fs.ModeNamedPipe
	case unix.S_IFCHR:
		return fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFBLK:
		return fs.ModeDevice
	case unix.S_IFSOCK:
		return fs.ModeSocket
	case unix.S_IFDIR:
		return fs.ModeDir
	}
	return fs.ModeIrregular
}

// openDir opens the folder rel (slash-separated, "" for the root) below
// the root without following a symbolic link at any step. With create,
// missing folders are made (mode 0750).
func (s *Store) openDir(rel string, create bool) (*os.File, error) {
	fd, err := unix.Open(s.root, dirFlags&^unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: s.root, Err: err}
	}
	done := ""
	for seg := range strings.SplitSeq(rel, "/") {
		if seg == "" {
			continue
		}
		done = strings.TrimPrefix(done+"/"+seg, "/")
		next, err := unix.Openat(fd, seg, dirFlags, 0)
		if errors.Is(err, unix.ENOENT) && create {
			if err = unix.Mkdirat(fd, seg, 0o750); err == nil || errors.Is(err, unix.EEXIST) {
				next, err = unix.Openat(fd, seg, dirFlags, 0)
			}
		}
		if err != nil {
			err = openErr(fd, seg, done, err)
		}
		unix.Close(fd)
		if err != nil {
			return nil, err
		}
		fd = next
	}
	return os.NewFile(uintptr(fd), s.root+"/"+rel), nil
}

// splitRel splits rel into its folder and its last segment.
func splitRel(rel string) (dir, base string) {
	if i := strings.LastIndex(rel, "/"); i >= 0 {
		return rel[:i], rel[i+1:]
	}
	return "", rel
}

// openRegular opens rel for reading. It follows no symbolic link, never
// blocks (a FIFO is opened non-blocking and refused), and returns the
// file only when the opened descriptor is a regular file. A folder at rel
// is fs.ErrNotExist, as for a missing file.
func (s *Store) openRegular(rel string) (*os.File, fs.FileInfo, error) {
	dir, base := splitRel(rel)
	d, err := s.openDir(dir, false)
	if err != nil {
		return nil, nil, err
	}
	defer d.Close()
	fd, err := unix.Openat(int(d.Fd()), base, fileFlags, 0)
	if err != nil {
		return nil, nil, openErr(int(d.Fd()), base, rel, err)
	}
	f := os.NewFile(uintptr(fd), s.root+"/"+rel)
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%s: %w", rel, err)
	}
	if fi.IsDir() {
		f.Close()
		return nil, nil, fmt.Errorf("%s is a folder: %w", rel, fs.ErrNotExist)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, notPlain(rel, fi.Mode())
	}
	// Regular files never block; clear the flag so reads behave as usual.
	if err := unix.SetNonblock(fd, false); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%s: %w", rel, err)
	}
	return f, fi, nil
}

// readCapped reads the regular file rel whole, refusing more than limit bytes.
func (s *Store) readCapped(rel string, limit int64) ([]byte, error) {
	f, _, err := s.openRegular(rel)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", rel, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes: %w", rel, limit, store.ErrUnreadable)
	}
	return b, nil
}

// tempName returns a fresh name for a temporary file.
func tempName(prefix string) string {
	var b [8]byte
	rand.Read(b[:]) //nolint:errcheck // never fails
	return prefix + hex.EncodeToString(b[:])
}

// createTemp creates a new file in the folder d, never following a link.
func createTemp(d *os.File, prefix string) (*os.File, string, error) {
	name := tempName(prefix)
	fd, err := unix.Openat(int(d.Fd()), name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o640)
	if err != nil {
		return nil, "", &fs.PathError{Op: "create", Path: d.Name() + "/" + name, Err: err}
	}
	return os.NewFile(uintptr(fd), d.Name()+"/"+name), name, nil
}

// writeFileSync atomically replaces the file rel with data (temporary
// file, fsync, rename, fsync of the folder), creating missing folders,
// and never writing through a symbolic link.
func (s *Store) writeFileSync(rel string, data []byte) error {
	dir, base := splitRel(rel)
	d, err := s.openDir(dir, true)
	if err != nil {
		return err
	}
	defer d.Close()
	f, name, err := createTemp(d, ".tmp-")
	if err != nil {
		return err
	}
	defer unix.Unlinkat(int(d.Fd()), name, 0) //nolint:errcheck // gone after the rename
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
	if err := unix.Renameat(int(d.Fd()), name, int(d.Fd()), base); err != nil {
		return &fs.PathError{Op: "rename", Path: rel, Err: err}
	}
	return d.Sync()
}
