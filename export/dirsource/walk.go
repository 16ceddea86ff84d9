package dirsource

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/logkeeper/logkeeper/export"
)

// Skip reasons recorded in the manifest.
const (
	ReasonExcluded       = "excluded: the same file as one logkeeper never archives (e.g. the signing key)"
	ReasonLinkOutside    = "symbolic link leading outside the source folder"
	ReasonLinkNotRegular = "symbolic link to something other than a regular file"
	ReasonLinkBroken     = "symbolic link that cannot be resolved"
)

// walker lists one folder tree by descriptor.
type walker struct {
	ctx      context.Context
	src      *Source
	excluded map[fileKey]bool
	// emit receives each item, in the walk's order; an error ends the walk.
	emit func(export.File) error
}

// walk lists the folder open at fd (rel below the root, "" for the root),
// and closes fd. Its error is the context's or the root's own: problems
// below are recorded as items.
func (w *walker) walk(fd int, rel string) error {
	dir := os.NewFile(uintptr(fd), filepath.Join(w.src.root, rel))
	defer dir.Close()
	names, err := dir.Readdirnames(-1)
	if err != nil {
		if rel == "" {
			return err
		}
		return w.fail(rel, fmt.Errorf("read folder: %w", err))
	}
	// One folder's names at a time, in order: a stable walk.
	sort.Strings(names)
	for _, name := range names {
		if err := w.ctx.Err(); err != nil {
			return err
		}
		child := name
		if rel != "" {
			child = rel + "/" + name
		}
		var st unix.Stat_t
		if err := unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			if !errors.Is(err, unix.ENOENT) { // gone since the folder was read
				if err := w.fail(child, os.NewSyscallError("lstat", err)); err != nil {
					return err
				}
			}
			continue
		}
		switch mode := uint32(st.Mode) & unix.S_IFMT; mode { //nolint:unconvert // Mode is not uint32 on every platform
		case unix.S_IFDIR:
			sub, err := unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err != nil {
				err = w.fail(child, openError(err))
			} else {
				err = w.walk(sub, child)
			}
		case unix.S_IFREG:
			err = w.offer(child, child, &st)
		case unix.S_IFLNK:
			if !w.src.opts.FollowSymlinks {
				err = w.skip(child, kind(mode))
			} else {
				err = w.follow(child)
			}
		default:
			err = w.skip(child, kind(mode))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// offer lists the regular file at target (below the root) as name.
func (w *walker) offer(name, target string, st *unix.Stat_t) error {
	if w.excluded[keyOf(st)] {
		return w.skip(name, ReasonExcluded)
	}
	id := identityOf(st)
	esc := export.EscapeName(name)
	return w.emit(export.File{ID: esc, Path: esc, Size: id.size, Modified: id.mtime, Ref: entry{rel: target, id: id}})
}

// follow resolves the symbolic link name and offers its target when that
// is a regular file inside the root.
func (w *walker) follow(name string) error {
	root, err := filepath.EvalSymlinks(w.src.root)
	if err != nil {
		return w.fail(name, err)
	}
	target, err := filepath.EvalSymlinks(filepath.Join(w.src.root, name))
	if err != nil {
		return w.skip(name, ReasonLinkBroken)
	}
	rel, err := filepath.Rel(root, target)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, "../") || filepath.IsAbs(rel) {
		return w.skip(name, ReasonLinkOutside)
	}
	var st unix.Stat_t
	if err := unix.Lstat(target, &st); err != nil {
		return w.skip(name, ReasonLinkBroken)
	}
	if uint32(st.Mode)&unix.S_IFMT != unix.S_IFREG { //nolint:unconvert // Mode is not uint32 on every platform
		return w.skip(name, ReasonLinkNotRegular)
	}
	return w.offer(name, filepath.ToSlash(rel), &st)
}

func (w *walker) skip(name, reason string) error {
	esc := export.EscapeName(name)
	return w.emit(export.File{ID: esc, Path: esc, Size: -1, Skip: reason})
}

func (w *walker) fail(name string, err error) error {
	esc := export.EscapeName(name)
	return w.emit(export.File{ID: esc, Path: esc, Size: -1, Err: err})
}

// openNoFollow opens rel below the root read-only, following no symbolic
// link and never leaving the root; flags are added for the last component.
// One openat2(2) with RESOLVE_NO_SYMLINKS and RESOLVE_BENEATH does it in
// the kernel; where openat2 is missing (Linux before 5.6, or refused by a
// seccomp filter), the path is opened component by component with
// O_NOFOLLOW, which gives the same answers.
func (s *Source) openNoFollow(rel string, flags int) (int, error) {
	fd, err := unix.Open(s.root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: s.root, Err: err}
	}
	if !noOpenat2.Load() {
		how := unix.OpenHow{
			Flags:   uint64(unix.O_RDONLY | unix.O_NOFOLLOW | unix.O_CLOEXEC | flags),
			Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS,
		}
		next, err := unix.Openat2(fd, rel, &how)
		switch {
		case err == nil:
			unix.Close(fd)
			return next, nil
		case errors.Is(err, unix.ENOSYS):
			noOpenat2.Store(true)
		case errors.Is(err, unix.EPERM):
			// The file's own answer, or a seccomp filter refusing the
			// call: the open below tells.
		default:
			unix.Close(fd)
			if errors.Is(err, unix.EXDEV) {
				err = unix.ELOOP // a path that would leave the root: a link, or "..", was put there
			}
			return -1, fmt.Errorf("open %s: %w", rel, openError(err))
		}
	}
	segs := strings.Split(rel, "/")
	for i, seg := range segs {
		f := unix.O_RDONLY | unix.O_NOFOLLOW | unix.O_CLOEXEC
		if i < len(segs)-1 {
			f |= unix.O_DIRECTORY
		} else {
			f |= flags
		}
		next, err := unix.Openat(fd, seg, f, 0)
		if errors.Is(err, unix.ENOTDIR) && isSymlinkAt(fd, seg) {
			err = unix.ELOOP // a folder swapped for a link: say so, as openat2 does
		}
		unix.Close(fd)
		if err != nil {
			return -1, fmt.Errorf("open %s: %w", strings.Join(segs[:i+1], "/"), openError(err))
		}
		fd = next
	}
	return fd, nil
}

// openError says what an openat with O_NOFOLLOW found.
func openError(err error) error {
	switch {
	case errors.Is(err, unix.ELOOP):
		return fmt.Errorf("%w: it is a symbolic link now", ErrChanged)
	case errors.Is(err, unix.ENOTDIR):
		return fmt.Errorf("%w: it is not a folder now", ErrChanged)
	}
	return os.NewSyscallError("open", err)
}

// noOpenat2 is set once openat2(2) is found missing.
var noOpenat2 atomic.Bool

// isSymlinkAt reports whether name in the folder dirfd is a symbolic link.
func isSymlinkAt(dirfd int, name string) bool {
	var st unix.Stat_t
	return unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK
}
