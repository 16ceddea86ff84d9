package custody

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/google/uuid"

	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/manifest"
)

// A matter's record lists every version it holds. A hold over a large
// archive (a million files) would make that one JSON object of about 100
// MB, where no JSON object logkeeper writes is over manifest.MaxBytes. So
// a record whose lists do not fit in holdChunkBytes keeps them in chunks:
// immutable objects under the matter's own folder,
//
//	_holds/<matter>/versions-<record id>-<n>.json
//
// each {"schema": HoldChunkSchema, "matter", "objects", "manifests"} and at
// most holdChunkBytes, and the record names them in order
// ("version_chunks"), with empty "objects" and "manifests" of its own.
// Reading the record reads its chunks and checks that each is of the
// matter; a chunk that is missing or not of the matter makes the record
// unreadable (hold list --rebuild writes it again from the custody log).
// The chunks are written before the record and never changed: releasing a
// matter rewrites the record only. A record that fits is written whole,
// as before chunks existed.

// HoldChunkSchema is the schema of a chunk of a matter's versions.
const HoldChunkSchema = "logkeeper.hold-versions/v1"

// holdChunkBytes bounds a written record and each of its chunks (estimated
// from above). A variable for tests.
var holdChunkBytes = 8 << 20

// holdChunk is one chunk of a matter's versions.
type holdChunk struct {
	Schema    string        `json:"schema"`
	Matter    string        `json:"matter"`
	Objects   []HeldVersion `json:"objects"`
	Manifests []HeldVersion `json:"manifests"`
}

// versionCost is the bytes a version adds to an indented encoding, from
// above (JSON escaping can double a key's bytes, six for a control
// character: keys logkeeper writes have none, but a record is bounded for
// any).
func versionCost(v HeldVersion) int { return 6*(len(v.Key)+len(v.VersionID)) + 64 }

// chunkVersions splits h's lists into chunks of at most holdChunkBytes,
// or returns nil when the record fits whole.
func chunkVersions(h *Hold) []*holdChunk {
	total := 4096 + 6*(len(h.Reason)+len(h.PlacedBy)+len(h.ReleasedBy)+len(h.ReleaseReason))
	for _, v := range h.Objects {
		total += versionCost(v)
	}
	for _, v := range h.Manifests {
		total += versionCost(v)
	}
	if total <= holdChunkBytes {
		return nil
	}
	var (
		chunks []*holdChunk
		cur    *holdChunk
		size   int
	)
	add := func(v HeldVersion, manifests bool) {
		c := versionCost(v)
		if cur == nil || size+c > holdChunkBytes-1024 {
			cur = &holdChunk{Schema: HoldChunkSchema, Matter: h.Matter, Objects: []HeldVersion{}, Manifests: []HeldVersion{}}
			chunks = append(chunks, cur)
			size = 0
		}
		if manifests {
			cur.Manifests = append(cur.Manifests, v)
		} else {
			cur.Objects = append(cur.Objects, v)
		}
		size += c
	}
	for _, v := range h.Objects {
		add(v, false)
	}
	for _, v := range h.Manifests {
		add(v, true)
	}
	return chunks
}

// holdChunkKey is the key of chunk n (from 1) of a record.
func holdChunkKey(matter, id string, n int) string {
	return fmt.Sprintf("%s%s/versions-%s-%04d.json", HoldsPrefix, matter, id, n)
}

// writeChunks stores h's lists in chunks, if they do not fit in the record,
// and sets h.VersionChunks. A record that names its chunks already keeps
// them.
func writeChunks(ctx context.Context, st store.Store, h *Hold) error {
	if len(h.VersionChunks) > 0 {
		return nil
	}
	chunks := chunkVersions(h)
	if chunks == nil {
		return nil
	}
	id := uuid.NewString()
	keys := make([]string, 0, len(chunks))
	for i, c := range chunks {
		b, err := json.MarshalIndent(c, "", "  ")
		if err != nil {
			return fmt.Errorf("encode hold chunk: %w", err)
		}
		if len(b) > manifest.MaxBytes {
			return fmt.Errorf("hold chunk of %s: %d bytes, over %d", h.Matter, len(b), manifest.MaxBytes)
		}
		key := holdChunkKey(h.Matter, id, i+1)
		opts := store.PutOptions{IfNotExists: true, Size: int64(len(b)), ContentType: "application/json"}
		if _, err := st.Put(ctx, key, bytes.NewReader(b), opts); err != nil {
			return fmt.Errorf("write hold chunk of %s: %w", h.Matter, err)
		}
		keys = append(keys, key)
	}
	h.VersionChunks = keys
	return nil
}

// readChunks reads the chunks h names into its lists.
func readChunks(ctx context.Context, st store.Store, key string, h *Hold) error {
	if len(h.Objects)+len(h.Manifests) > 0 && len(h.VersionChunks) > 0 {
		return fmt.Errorf("%s: lists versions and names chunks: %w", key, store.ErrUnreadable)
	}
	for _, ck := range h.VersionChunks {
		if !strings.HasPrefix(ck, HoldsPrefix+h.Matter+"/versions-") || !strings.HasSuffix(ck, ".json") {
			return fmt.Errorf("%s: chunk %q is not of the matter: %w", key, ck, store.ErrUnreadable)
		}
		b, err := readCapped(ctx, st, ck, manifest.MaxBytes)
		if err != nil {
			return fmt.Errorf("%s: chunk %s: %v: %w", key, ck, err, store.ErrUnreadable) // not ErrNotFound: the record exists
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		var c holdChunk
		if err := dec.Decode(&c); err != nil || c.Schema != HoldChunkSchema || c.Matter != h.Matter {
			return fmt.Errorf("%s: chunk %s is not a %s chunk of matter %s (%v): %w", key, ck, HoldChunkSchema, h.Matter, err, store.ErrUnreadable)
		}
		if _, err := dec.Token(); err != io.EOF {
			return fmt.Errorf("%s: chunk %s: data after the chunk: %w", key, ck, store.ErrUnreadable)
		}
		h.Objects = append(h.Objects, c.Objects...)
		h.Manifests = append(h.Manifests, c.Manifests...)
	}
	return nil
}
