package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// CheckLocal checks what a loaded configuration refers to on this machine:
// that the signing key file (file:// keys) exists and can be read, and
// that each dir source's folder exists, is a folder and can be listed. It
// returns one [*FieldError] per problem, joined; Load has already checked
// everything else. Nothing is contacted over the network.
func (c *Config) CheckLocal() error {
	var errs []error
	fail := func(path, format string, args ...any) {
		errs = append(errs, &FieldError{Path: path, Msg: oneLine(fmt.Sprintf(format, args...))})
	}
	if c.Signing.KeyScheme == KeySchemeFile {
		if f, err := os.Open(c.Signing.KeyPath); err != nil {
			fail("signing.key", "key file %s cannot be read: %v", c.Signing.KeyPath, errorText(err))
		} else {
			f.Close()
		}
	}
	for i, s := range c.Streams {
		if s.Source.Type != SourceDir {
			continue
		}
		p := index("streams", i) + ".source.path"
		fi, err := os.Stat(s.Source.Path)
		switch {
		case err != nil:
			fail(p, "folder %s of stream %q: %v", s.Source.Path, s.Name, errorText(err))
		case !fi.IsDir():
			fail(p, "%s of stream %q is not a folder", s.Source.Path, s.Name)
		default:
			d, err := os.Open(s.Source.Path)
			if err == nil {
				_, err = d.ReadDir(1)
				d.Close()
			}
			if err != nil && !errors.Is(err, io.EOF) {
				fail(p, "folder %s of stream %q cannot be listed: %v", s.Source.Path, s.Name, errorText(err))
			}
		}
	}
	return errors.Join(errs...)
}

// errorText says what went wrong with a file without repeating its path.
func errorText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return "does not exist"
		case errors.Is(err, fs.ErrPermission):
			return "permission denied"
		}
		return pe.Err.Error()
	}
	return err.Error()
}
