package manifest

import (
	"encoding/hex"
	"fmt"
	"strconv"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
)

// LeafData returns the Merkle leaf of an object: its hash record, the text
//
//	logkeeper-object/v1\n<key>\n<version_id>\n<size>\n<sha256 hex>\n
//
// The leaf hash is SHA-256(0x00 || LeafData) as RFC 6962 defines it. Keys
// never contain a newline (Validate refuses them), so the record is
// unambiguous.
func LeafData(o Object) []byte {
	b := make([]byte, 0, 100+len(o.Key)+len(o.VersionID))
	b = append(b, "logkeeper-object/v1\n"...)
	b = append(b, o.Key...)
	b = append(b, '\n')
	b = append(b, o.VersionID...)
	b = append(b, '\n')
	b = strconv.AppendInt(b, o.Size, 10)
	b = append(b, '\n')
	b = append(b, o.SHA256...)
	b = append(b, '\n')
	return b
}

// Root returns the hex RFC 6962 Merkle tree root over the objects' leaves,
// in order. The root of no objects is SHA-256 of the empty string.
func Root(objects []Object) (string, error) {
	h := rfc6962.DefaultHasher
	if len(objects) == 0 {
		return hex.EncodeToString(h.EmptyRoot()), nil
	}
	rf := compact.RangeFactory{Hash: h.HashChildren}
	r := rf.NewEmptyRange(0)
	for _, o := range objects {
		if err := r.Append(h.HashLeaf(LeafData(o)), nil); err != nil {
			return "", fmt.Errorf("merkle: %w", err)
		}
	}
	root, err := r.GetRootHash(nil)
	if err != nil {
		return "", fmt.Errorf("merkle: %w", err)
	}
	return hex.EncodeToString(root), nil
}
