package dirsource

import (
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// fileKey names one file on the host, whatever its names.
type fileKey struct{ dev, ino uint64 }

// identity is what Open compares with the listing.
type identity struct {
	key   fileKey
	mode  uint32 // the S_IFMT bits
	size  int64
	mtime time.Time
}

func keyOf(st *unix.Stat_t) fileKey { return fileKey{dev: uint64(st.Dev), ino: uint64(st.Ino)} } //nolint:unconvert // Dev is not uint64 on every platform

func identityOf(st *unix.Stat_t) identity {
	return identity{
		key:   keyOf(st),
		mode:  uint32(st.Mode) & unix.S_IFMT, //nolint:unconvert // Mode is not uint32 on every platform
		size:  st.Size,
		mtime: time.Unix(st.Mtim.Unix()).UTC(),
	}
}

func identityOfFD(fd int) (identity, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return identity{}, os.NewSyscallError("fstat", err)
	}
	return identityOf(&st), nil
}

// check returns an error wrapping ErrChanged saying how got differs from
// the listed identity id.
func (id identity) check(got identity) error {
	switch {
	case got.mode != unix.S_IFREG:
		return fmt.Errorf("%w: it is a %s now, not a regular file", ErrChanged, kind(got.mode))
	case got.key != id.key:
		return fmt.Errorf("%w: it is another file now (device %d inode %d, listed as device %d inode %d)", ErrChanged, got.key.dev, got.key.ino, id.key.dev, id.key.ino)
	case got.size != id.size:
		return fmt.Errorf("%w: its size is %d bytes now, listed as %d", ErrChanged, got.size, id.size)
	case !got.mtime.Equal(id.mtime):
		return fmt.Errorf("%w: modified at %s, listed as modified at %s", ErrChanged, got.mtime.Format(time.RFC3339Nano), id.mtime.Format(time.RFC3339Nano))
	}
	return nil
}

// kind names a file type (S_IFMT bits), as the manifest's skip reasons do.
func kind(mode uint32) string {
	switch mode {
	case unix.S_IFREG:
		return "regular file"
	case unix.S_IFDIR:
		return "folder"
	case unix.S_IFLNK:
		return "symbolic link"
	case unix.S_IFIFO:
		return "named pipe (FIFO)"
	case unix.S_IFCHR:
		return "character device"
	case unix.S_IFBLK:
		return "block device"
	case unix.S_IFSOCK:
		return "socket"
	default:
		return "special file"
	}
}
