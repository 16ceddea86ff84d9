package s3store

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
)

// source reads an object once, sequentially, and hashes every byte it hands
// out, so the SHA-256 is of exactly the bytes that were sent.
type source struct {
	r      io.Reader
	sha    hash.Hash
	n      int64 // bytes handed out so far
	peek   [1]byte
	peeked bool // peek[0] is the next byte of the object
}

func newSource(r io.Reader) *source {
	return &source{r: r, sha: sha256.New()}
}

// errSourceRead wraps the reader's own errors, so that they stay reachable
// with errors.Is and read as what they are.
func errSourceRead(err error) error {
	return fmt.Errorf("read source: %w", err)
}

// fill reads len(p) bytes into p, fewer only at the end of the object, and
// reports whether at least one more byte follows them (it reads one byte
// ahead to know). Errors are the reader's, wrapped.
func (s *source) fill(p []byte) (n int, more bool, err error) {
	if s.peeked && len(p) > 0 {
		p[0] = s.peek[0]
		s.peeked = false
		n = 1
	}
	m, err := io.ReadFull(s.r, p[n:])
	n += m
	s.sha.Write(p[:n])
	s.n += int64(n)
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return n, false, nil
	case err != nil:
		return n, false, errSourceRead(err)
	case s.peeked:
		return n, true, nil
	}
	k, err := io.ReadFull(s.r, s.peek[:])
	switch {
	case k == 1:
		s.peeked = true
		return n, true, nil
	case errors.Is(err, io.EOF):
		return n, false, nil
	default:
		return n, false, errSourceRead(err)
	}
}

// sum is the SHA-256 of the bytes handed out so far.
func (s *source) sum() []byte {
	return s.sha.Sum(nil)
}
