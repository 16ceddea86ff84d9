package custody

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/internal/tsa"
)

// Trusted time: with signing.timestamp_url, each checkpoint a run writes
// gets an RFC 3161 time-stamp token over the SHA-256 of its note's exact
// bytes, stored beside it (and beside its copy in the witness) as
// <20-digit size>.tst, write-once. The token proves that the checkpoint,
// so the whole chain up to its size, existed at the attested time, by a
// clock and a key that are not ours.

// Problem kinds of time-stamp tokens (verify with TimestampRoots).
const (
	// KindTimestampInvalid: a token that does not prove its checkpoint's
	// time: it does not parse, is for other bytes (the checkpoint changed
	// after it was stamped), does not chain to the trusted roots, or its
	// certificate is not a TSA's; or a token with no checkpoint beside it.
	KindTimestampInvalid = "timestamp_invalid"
	// KindTimestampMissing: the checkpoint of the verified tree has no
	// token (or no checkpoint), though time-stamps are expected.
	KindTimestampMissing = "timestamp_missing"
)

// ErrTimestamp means a checkpoint could not be time-stamped: the run's
// manifest and checkpoint are stored, but not with a trusted time.
var ErrTimestamp = errors.New("checkpoint not time-stamped")

// TimestampKey is the key of the time-stamp token of the checkpoint of
// tree size n.
func TimestampKey(stream string, n uint64) string {
	return fmt.Sprintf("%s%020d.tst", CheckpointsPrefix(stream), n)
}

// parseTimestampKey returns the tree size a token key names.
func parseTimestampKey(stream, key string) (uint64, bool) {
	base, ok := strings.CutSuffix(key, ".tst")
	if !ok {
		return 0, false
	}
	return parseCheckpointKey(stream, base+".note")
}

// Stamper gets a verified time-stamp token over a message
// (*tsa.Client does).
type Stamper interface {
	Stamp(ctx context.Context, msg []byte) ([]byte, *tsa.Stamp, error)
}

// StampTreeHead asks the authority for a token over the checkpoint's
// note and writes it beside the checkpoint, in st and then in the witness
// (nil: none), write-once. Every failure wraps ErrTimestamp; one of the
// witness also ErrWitness.
func StampTreeHead(ctx context.Context, st, witness store.Store, stream string, th *TreeHead, s Stamper) (*tsa.Stamp, error) {
	token, stamp, err := s.Stamp(ctx, th.Note)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTimestamp, err)
	}
	key := TimestampKey(stream, th.Size)
	put := func(s store.Store) error {
		_, err := s.Put(ctx, key, bytes.NewReader(token), store.PutOptions{
			IfNotExists: true, ContentType: "application/timestamp-reply", Size: int64(len(token)),
		})
		return err
	}
	if err := put(st); err != nil {
		return nil, fmt.Errorf("%w: store %s: %w", ErrTimestamp, key, err)
	}
	if witness != nil {
		if err := put(witness); err != nil {
			return nil, fmt.Errorf("%w: %w: %s at %s: %w", ErrTimestamp, ErrWitness, key, witness.Describe(), err)
		}
	}
	return stamp, nil
}

// TimestampReport is the time-stamp of the verified tree's checkpoint.
type TimestampReport struct {
	// Size is the tree size of the checkpoint stamped (the head).
	Size uint64 `json:"size"`
	// Time is the time the authority attests, RFC 3339 in UTC.
	Time time.Time `json:"time"`
	// Authority is the subject of the TSA certificate that signed.
	Authority string `json:"authority"`
	// Serial is the token's serial number; Policy the TSA policy.
	Serial string `json:"serial"`
	Policy string `json:"policy"`
}

// checkTimestamps checks, with TimestampRoots set, the token of the
// checkpoint of the whole tree in the store (timestamp_missing without
// one), which must be the tree verify computed, and the token beside
// each witnessed checkpoint. Called by checkWitnessed with the tree's
// root (nil when a manifest could not be read) and the witnessed notes.
func (v *verifier) checkTimestamps(ctx context.Context, head uint64, root []byte, witnessed []witnessedHead, stampedInWitness map[uint64]string) error {
	roots := v.opts.TimestampRoots
	if roots == nil {
		return nil
	}
	tr := v.rep.Checkpoint
	noteKey, tokenKey := CheckpointKey(v.stream, head), TimestampKey(v.stream, head)
	note, err := readCapped(ctx, v.st, noteKey, MaxNoteBytes)
	switch {
	case errors.Is(err, store.ErrNotFound):
		v.problem(Problem{Kind: KindTimestampMissing, Key: noteKey, Sequence: head, Detail: "the store has no checkpoint of the tree (size " + strconv.FormatUint(head, 10) + "), so no time-stamp of it"})
	case isUnreadable(err):
		v.problem(Problem{Kind: KindCheckpointInvalid, Key: noteKey, Sequence: head, Detail: oneLine(err)})
	case err != nil:
		return err
	default:
		th, err := OpenTreeHead(note, v.opts.PublicKey, Origin(v.origin, v.stream))
		if err == nil && (th.Size != head || root == nil || !bytes.Equal(th.Root, root)) {
			err = fmt.Errorf("%w: it is not the tree of the chain (size %d)", ErrNoteFormat, head)
		}
		if err != nil {
			v.problem(Problem{Kind: KindCheckpointInvalid, Key: noteKey, Sequence: head, Detail: oneLine(err)})
			break
		}
		stamp, bad, err := v.checkToken(ctx, v.st, tokenKey, note, roots)
		if err != nil {
			return err
		}
		switch {
		case bad != nil:
			v.problem(*bad)
		case stamp == nil:
			v.problem(Problem{Kind: KindTimestampMissing, Key: tokenKey, Sequence: head, Detail: "the checkpoint of the tree has no time-stamp token beside it"})
		default:
			tr.Timestamp = &TimestampReport{Size: head, Time: stamp.Time, Authority: stamp.Authority, Serial: stamp.Serial, Policy: stamp.Policy}
		}
	}
	// Tokens in the witness: each beside its checkpoint there.
	notes := map[uint64][]byte{}
	for _, w := range witnessed {
		notes[w.th.Size] = w.raw
	}
	for size, key := range stampedInWitness {
		note, ok := notes[size]
		if !ok {
			v.problem(Problem{Kind: KindTimestampInvalid, Key: key, Sequence: size, Detail: "in the witness " + v.opts.Witness.Describe() + ", but no valid checkpoint of that size is beside it"})
			continue
		}
		stamp, bad, err := v.checkToken(ctx, v.opts.Witness, key, note, roots)
		if err != nil {
			return err
		}
		switch {
		case bad != nil:
			bad.Detail = "witness " + v.opts.Witness.Describe() + ": " + bad.Detail
			v.problem(*bad)
		case stamp != nil:
			tr.Timestamped++
		}
	}
	return nil
}

// checkToken reads the token at key in st and verifies it over note. It
// returns the stamp, or a problem, or neither when there is no token.
func (v *verifier) checkToken(ctx context.Context, st store.Store, key string, note []byte, roots *x509.CertPool) (*tsa.Stamp, *Problem, error) {
	size, _ := parseTimestampKey(v.stream, key)
	token, err := readCapped(ctx, st, key, tsa.MaxTokenBytes)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, nil, nil
	case isUnreadable(err):
		return nil, &Problem{Kind: KindTimestampInvalid, Key: key, Sequence: size, Detail: oneLine(err)}, nil
	case err != nil:
		return nil, nil, err
	}
	stamp, err := tsa.Verify(token, note, roots)
	if err != nil {
		return nil, &Problem{Kind: KindTimestampInvalid, Key: key, Sequence: size, Detail: oneLine(err)}, nil
	}
	return stamp, nil, nil
}
