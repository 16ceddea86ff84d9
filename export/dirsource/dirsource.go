// Package dirsource is the export source for a local folder: every regular
// file below it, recursively, identified by its slash-separated path
// relative to the folder.
package dirsource

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/logkeeper/logkeeper/export"
	"github.com/logkeeper/logkeeper/manifest"
)

// Source reads files from a folder.
type Source struct {
	root string
}

var _ export.Source = (*Source)(nil)

// New returns a source for the folder root, which must exist.
func New(root string) (*Source, error) {
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
	return &Source{root: abs}, nil
}

// Describe returns the source type and folder.
func (s *Source) Describe() manifest.Source {
	return manifest.Source{Type: "dir", Location: s.root}
}

// List walks the folder. Symbolic links, devices and sockets are skipped
// (a link could point outside the folder); the window is not used, since a
// folder has no notion of time windows: every new or changed file is
// offered. An unreadable subfolder fails the listing, so a run never
// attests as complete a folder it could not read.
func (s *Source) List(ctx context.Context, _ manifest.Window) ([]export.File, error) {
	var files []export.File
	err := filepath.WalkDir(s.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(s.root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		files = append(files, export.File{
			ID: rel, Path: rel, Size: fi.Size(), Modified: fi.ModTime().UTC(),
		})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", s.root, err)
	}
	sort.Slice(files, func(i, j int) bool { return files[i].ID < files[j].ID })
	return files, nil
}

// Open opens a listed file.
func (s *Source) Open(ctx context.Context, f export.File) (io.ReadCloser, error) {
	if strings.HasPrefix(f.ID, "../") || filepath.IsAbs(f.ID) {
		return nil, fmt.Errorf("file %q is outside the source folder", f.ID)
	}
	p := filepath.Join(s.root, filepath.FromSlash(f.ID))
	fh, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	return fh, nil
}
