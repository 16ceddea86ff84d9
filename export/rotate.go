package export

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/logkeeper/logkeeper/custody"
	"github.com/logkeeper/logkeeper/internal/signing"
	"github.com/logkeeper/logkeeper/manifest"
)

// Rotation is what Rotate did to one stream.
type Rotation struct {
	Stream string `json:"stream"`
	// Outcome is "rotated" (a transition record was appended),
	// "already_rotated" (the chain's current key is already the new key:
	// a rotation run before), or "empty" (no manifest yet: its first run
	// is signed by the new key).
	Outcome     string `json:"outcome"`
	Sequence    uint64 `json:"sequence,omitempty"`
	ManifestKey string `json:"manifest_key,omitempty"`
	RunID       string `json:"run_id,omitempty"`
}

// Rotation outcomes.
const (
	Rotated        = "rotated"
	AlreadyRotated = "already_rotated"
	EmptyStream    = "empty"
)

// Rotate hands the stream's chain from the job's signer (which must be the
// chain's current key) to next: it appends a key transition record signed
// by both (custody.AppendTransition) and publishes the checkpoint of the
// chain's tree, signed by next. It retries when an exporter appended a
// manifest first. A chain already handed to next is left as it is.
func (j *Job) Rotate(ctx context.Context, next signing.Signer, reason string) (*Rotation, error) {
	r := &Rotation{Stream: j.Stream}
	for range 8 {
		chain, err := custody.Load(ctx, j.Store, j.Stream, j.Signer.Public())
		if errors.Is(err, custody.ErrKeyNotCurrent) {
			if _, nerr := custody.Load(ctx, j.Store, j.Stream, next.Public()); nerr == nil {
				r.Outcome = AlreadyRotated
				return r, nil
			}
		}
		if err != nil {
			return nil, fmt.Errorf("rotate %s: load chain: %w", j.Stream, err)
		}
		if chain.Head == nil {
			r.Outcome = EmptyStream
			return r, nil
		}
		id, err := uuid.NewV7()
		if err != nil {
			return nil, fmt.Errorf("run id: %w", err)
		}
		now := j.now().UTC()
		m := &manifest.Manifest{
			Schema: manifest.SchemaV1, RunID: id.String(),
			StartedAt: now, FinishedAt: now, Exporter: j.Exporter, Reason: reason,
			Store: j.Store.Describe(), Source: manifest.Source{Type: "key-rotation", Location: next.KeyID()},
		}
		seq := chain.NextSequence()
		e, err := chain.AppendTransition(ctx, j.Store, j.Signer, next, m, j.putOptions(m.RunID, manifest.Key(j.Stream, seq)))
		if errors.Is(err, custody.ErrSequenceTaken) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("rotate %s: %w", j.Stream, err)
		}
		r.Outcome, r.Sequence, r.ManifestKey, r.RunID = Rotated, e.Sequence, e.Key, m.RunID
		th, err := chain.TreeHead(ctx, j.Store, next, m.Store)
		if err == nil {
			err = custody.PublishTreeHead(ctx, j.Store, j.Witness, j.Stream, th)
		}
		if err != nil {
			return r, fmt.Errorf("rotate %s: transition record %d is stored, but its checkpoint: %w", j.Stream, e.Sequence, err)
		}
		return r, nil
	}
	return nil, fmt.Errorf("rotate %s: %w: other writers kept appending", j.Stream, custody.ErrSequenceTaken)
}
