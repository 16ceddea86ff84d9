package export

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/logkeeper/logkeeper/custody"
	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/manifest"
)

// maxManifestBytes bounds the read of one manifest while walking back the
// chain for a Rechecker.
const maxManifestBytes = 256 << 20

// recheck returns, for a source that rechecks recent windows, the files it
// finds for items that appeared late. It runs before List.
func (j *Job) recheck(ctx context.Context, chain *custody.Chain) ([]File, error) {
	r, ok := j.Source.(Rechecker)
	if !ok || chain.Head == nil || r.RecheckWindows() <= 0 {
		return nil, nil
	}
	recent, err := j.recentManifests(ctx, chain, r.RecheckWindows())
	if err != nil {
		return nil, fmt.Errorf("recheck recent windows of %s: %w", j.Stream, err)
	}
	late, err := r.Recheck(ctx, recent, j.readArchived)
	if err != nil {
		return nil, fmt.Errorf("recheck recent windows of %s: %w", j.Stream, err)
	}
	return late, nil
}

// appendNew appends the files of more whose IDs files does not hold yet.
func appendNew(files, more []File) []File {
	listed := make(map[string]bool, len(files))
	for _, f := range files {
		listed[f.ID] = true
	}
	for _, f := range more {
		if !listed[f.ID] {
			files = append(files, f)
			listed[f.ID] = true
		}
	}
	return files
}

// recentManifests returns the last n manifests of the chain, oldest first.
// The head was verified when the chain was loaded; each earlier manifest
// is read from the store and must match the SHA-256 its successor links.
func (j *Job) recentManifests(ctx context.Context, chain *custody.Chain, n int) ([]*manifest.Manifest, error) {
	out := []*manifest.Manifest{chain.Head.Manifest}
	m := chain.Head.Manifest
	for len(out) < n && m.Previous != nil {
		link := *m.Previous
		rc, _, err := j.Store.Get(ctx, link.Key, store.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", link.Key, err)
		}
		data, err := io.ReadAll(io.LimitReader(rc, maxManifestBytes+1))
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", link.Key, err)
		}
		sum := sha256.Sum256(data)
		if hex.EncodeToString(sum[:]) != link.SHA256 {
			return nil, fmt.Errorf("%s does not match the SHA-256 its successor links", link.Key)
		}
		if m, err = manifest.Parse(data); err != nil {
			return nil, fmt.Errorf("parse %s: %w", link.Key, err)
		}
		out = append(out, m)
	}
	for a, b := 0, len(out)-1; a < b; a, b = a+1, b-1 {
		out[a], out[b] = out[b], out[a]
	}
	return out, nil
}

// errArchivedMismatch: an archived object read back is not what its
// manifest says.
var errArchivedMismatch = errors.New("archived object does not match its manifest")

// readArchived opens an archived object; the reader checks its size and
// SHA-256 at the end.
func (j *Job) readArchived(ctx context.Context, o manifest.Object) (io.ReadCloser, error) {
	rc, _, err := j.Store.Get(ctx, o.Key, store.GetOptions{VersionID: o.VersionID})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", o.Key, err)
	}
	return &checkedReader{rc: rc, h: sha256.New(), o: o}, nil
}

type checkedReader struct {
	rc io.ReadCloser
	h  hash.Hash
	n  int64
	o  manifest.Object
}

func (c *checkedReader) Read(p []byte) (int, error) {
	n, err := c.rc.Read(p)
	c.h.Write(p[:n])
	c.n += int64(n)
	if c.n > c.o.Size {
		return n, fmt.Errorf("%w: %s is longer than %d bytes", errArchivedMismatch, c.o.Key, c.o.Size)
	}
	if err == io.EOF {
		want, _ := hex.DecodeString(c.o.SHA256)
		if c.n != c.o.Size || !bytes.Equal(c.h.Sum(nil), want) {
			return n, fmt.Errorf("%w: %s", errArchivedMismatch, c.o.Key)
		}
	}
	return n, err
}

func (c *checkedReader) Close() error { return c.rc.Close() }
