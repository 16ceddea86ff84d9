package dirsource

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/logkeeper/logkeeper/export"
	"github.com/logkeeper/logkeeper/manifest"
)

// Options change what a Source offers.
type Options struct {
	// FollowSymlinks offers, under the link's name, the regular file a
	// symbolic link resolves to when the target is inside the folder.
	FollowSymlinks bool
	// Exclude names files that are never offered, however they are named
	// in the folder (hard links included): the signing key, the
	// configuration. A file here that does not exist is ignored.
	Exclude []string
}

// Source reads files from a folder. It is safe for concurrent use.
type Source struct {
	root string
	opts Options

	mu sync.Mutex
	// listed maps the ID of every file offered by the last List to where
	// and what it was.
	listed map[string]entry
}

var (
	_ export.Source = (*Source)(nil)
	_ export.Walker = (*Source)(nil)
)

// entry is a listed file: its raw path below the root (the target's for a
// followed link) and its identity.
type entry struct {
	rel string
	id  identity
}

// New returns a source for the folder root, which must exist, with the
// default options (symbolic links skipped).
func New(root string) (*Source, error) { return NewWithOptions(root, Options{}) }

// NewWithOptions returns a source for the folder root, which must exist.
func NewWithOptions(root string, opts Options) (*Source, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("source folder %s: %w", root, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("source folder: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("source folder %s is not a folder", abs)
	}
	return &Source{root: abs, opts: opts}, nil
}

// Describe returns the source type and folder.
func (s *Source) Describe() manifest.Source {
	return manifest.Source{Type: "dir", Location: s.root}
}

// List walks the folder (see the package documentation). The window is not
// used, since a folder has no notion of time windows: every new or changed
// file is offered. An error means the folder itself could not be read.
func (s *Source) List(ctx context.Context, window manifest.Window) ([]export.File, error) {
	var files []export.File
	listed := map[string]entry{}
	err := s.Walk(ctx, window, func(f export.File) error {
		if e, ok := f.Ref.(entry); ok {
			listed[f.ID] = e
		}
		files = append(files, f)
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(files, func(i, j int) bool { return files[i].ID < files[j].ID })
	s.mu.Lock()
	s.listed = listed
	s.mu.Unlock()
	return files, nil
}

// Walk offers the folder's items one at a time, folder by folder in name
// order, as List would list them (export.Walker): each file carries what
// Open checks, so nothing of the walk is kept.
func (s *Source) Walk(ctx context.Context, _ manifest.Window, fn func(export.File) error) error {
	w := &walker{ctx: ctx, src: s, excluded: s.excluded(), emit: fn}
	rootFD, err := unix.Open(s.root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("list %s: %w", s.root, &os.PathError{Op: "open", Path: s.root, Err: err})
	}
	// walk closes what it is given.
	if err := w.walk(rootFD, ""); err != nil {
		return fmt.Errorf("list %s: %w", s.root, err)
	}
	return nil
}

// excluded returns the identities of the files in Options.Exclude.
func (s *Source) excluded() map[fileKey]bool {
	out := map[fileKey]bool{}
	for _, p := range s.opts.Exclude {
		var st unix.Stat_t
		if err := unix.Stat(p, &st); err == nil {
			out[keyOf(&st)] = true
		}
	}
	return out
}

// Open opens a file the last List offered (see the package documentation).
func (s *Source) Open(ctx context.Context, f export.File) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	e, ok := f.Ref.(entry)
	if !ok {
		s.mu.Lock()
		e, ok = s.listed[f.ID]
		s.mu.Unlock()
	}
	if !ok {
		return nil, fmt.Errorf("file %q was not listed", f.ID)
	}
	fd, err := s.openNoFollow(e.rel, unix.O_NONBLOCK|unix.O_NOCTTY)
	if err != nil {
		return nil, err
	}
	fh := os.NewFile(uintptr(fd), filepath.Join(s.root, e.rel))
	got, err := identityOfFD(fd)
	if err == nil {
		err = e.id.check(got)
	}
	if err != nil {
		fh.Close()
		return nil, err
	}
	return &checkedReader{f: fh, fd: fd, want: e.id, left: e.id.size}, nil
}

// ErrChanged is wrapped by the errors of Open and of reading when the
// file is no longer the one listed.
var ErrChanged = errors.New("file changed since it was listed")

// checkedReader reads exactly the listed size and, at the end, checks
// that the file did not change while it was read.
type checkedReader struct {
	f    *os.File
	fd   int
	want identity
	left int64
}

func (r *checkedReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		got, err := identityOfFD(r.fd)
		if err == nil {
			err = r.want.check(got)
		}
		if err != nil {
			return 0, fmt.Errorf("at the end of the read: %w", err)
		}
		return 0, io.EOF
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n, err := r.f.Read(p)
	r.left -= int64(n)
	if err == io.EOF && r.left > 0 {
		return n, fmt.Errorf("%w: it shrank while it was read (%d bytes short)", ErrChanged, r.left)
	}
	return n, err
}

func (r *checkedReader) Close() error { return r.f.Close() }
