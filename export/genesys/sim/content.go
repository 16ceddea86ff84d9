package sim

import (
	"crypto/sha256"
	"encoding/hex"
	"hash/fnv"
	"io"
	mrand "math/rand/v2"
)

// blockSize is the unit of content generation: any offset can be produced
// without the bytes before it, which Range requests need.
const blockSize = 4096

// alphabet of the generated log text; every 64th byte is a newline.
const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ."

// Content returns a reader of the deterministic bytes of the file at path
// on edge edgeID: printable text in lines of 64 bytes, fixed by seed.
func Content(seed uint64, edgeID, path string, size int64) io.Reader {
	return io.NewSectionReader(contentAt{key: contentKey(seed, edgeID, path)}, 0, size)
}

// ContentSHA256 returns the hex SHA-256 of Content(seed, edgeID, path, size).
func ContentSHA256(seed uint64, edgeID, path string, size int64) string {
	h := sha256.New()
	_, _ = io.Copy(h, Content(seed, edgeID, path, size))
	return hex.EncodeToString(h.Sum(nil))
}

func contentKey(seed uint64, edgeID, path string) uint64 {
	h := fnv.New64a()
	_, _ = io.WriteString(h, edgeID+"\x00"+path)
	return seed ^ h.Sum64()
}

// contentAt generates content bytes at any offset.
type contentAt struct{ key uint64 }

func (c contentAt) ReadAt(p []byte, off int64) (int, error) {
	var block [blockSize]byte
	n := 0
	for n < len(p) {
		b := (off + int64(n)) / blockSize
		c.block(b, &block)
		in := int((off + int64(n)) % blockSize)
		n += copy(p[n:], block[in:])
	}
	return n, nil
}

func (c contentAt) block(b int64, dst *[blockSize]byte) {
	r := mrand.New(mrand.NewPCG(c.key, uint64(b)))
	for i := 0; i < blockSize; i += 8 {
		x := r.Uint64()
		for k := range 8 {
			dst[i+k] = alphabet[(x>>(8*k))&63]
		}
	}
	for i := 63; i < blockSize; i += 64 {
		dst[i] = '\n'
	}
}
