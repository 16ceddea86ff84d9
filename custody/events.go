package custody

import (
	"bytes"
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/logkeeper/logkeeper/internal/signing"
	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/manifest"
)

// The custody log: an append-only, hash-chained, signed log of custody
// events per store, laid out like a stream's manifests:
//
//	_custody/events/<sequence, 20 digits>.json          the event
//	_custody/events/<sequence, 20 digits>.<id>.sig      its signature
//
// The signature (manifest.Signature, over the event's exact bytes) is
// stored first under a key unique to the event; the event is then created
// conditionally, so two writers can never both write sequence N and the
// log cannot fork.

// EventsPrefix is the folder of the custody log.
const EventsPrefix = "_custody/events/"

// EventSchema is the schema of a custody event.
const EventSchema = "logkeeper.custody-event/v1"

// Event types.
const (
	EventHoldPlaced   = "hold_placed"
	EventHoldReleased = "hold_released"
	EventBundle       = "bundle_produced"
)

// maxEventBytes caps an event; appendRetries bounds the races an Append
// loses before giving up.
const (
	maxEventBytes = 1 << 20
	appendRetries = 8
)

// EventKey returns the key of event number seq.
func EventKey(seq uint64) string { return fmt.Sprintf("%s%020d.json", EventsPrefix, seq) }

// Event is one custody event: what, who, where, when and why.
type Event struct {
	Schema   string         `json:"schema"`
	Sequence uint64         `json:"sequence"`
	ID       string         `json:"id"`
	Previous *manifest.Link `json:"previous"`
	Type     string         `json:"type"`
	Time     time.Time      `json:"time"`
	// Actor is who acted; Host and Version where.
	Actor   string `json:"actor"`
	Host    string `json:"host"`
	Version string `json:"version"`
	// Matter and Reason say why.
	Matter string `json:"matter,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Stream, Keys and Digest say what: the stream, the keys or ranges
	// concerned, a digest (a bundle's).
	Stream  string            `json:"stream,omitempty"`
	Details map[string]string `json:"details,omitempty"`
}

func parseEvent(data []byte) (*Event, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var e Event
	if err := dec.Decode(&e); err != nil {
		return nil, fmt.Errorf("decode event: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("decode event: trailing data after the JSON object")
	}
	if e.Schema != EventSchema || e.Sequence == 0 || e.ID == "" || e.Type == "" {
		return nil, fmt.Errorf("event: schema %q, sequence, id and type are required", e.Schema)
	}
	if (e.Sequence == 1) != (e.Previous == nil) {
		return nil, errors.New("event: previous must be null exactly for sequence 1")
	}
	return &e, nil
}

// eventSeqs lists the log's sequence numbers, ascending, and the keys that
// are neither an event nor a signature.
func eventSeqs(ctx context.Context, st store.Store) ([]uint64, []string, error) {
	var seqs []uint64
	var odd []string
	err := st.List(ctx, EventsPrefix, func(oi store.ObjectInfo) error {
		name := strings.TrimPrefix(oi.Key, EventsPrefix)
		if digits, ok := strings.CutSuffix(name, ".json"); ok && len(digits) == 20 {
			if n, err := strconv.ParseUint(digits, 10, 64); err == nil && n > 0 {
				seqs = append(seqs, n)
				return nil
			}
		}
		if !strings.HasSuffix(name, ".sig") || strings.Contains(name, "/") {
			odd = append(odd, oi.Key)
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("list custody log: %w", err)
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	return seqs, odd, nil
}

// AppendEvent signs e and appends it to the store's custody log, filling
// its schema, sequence, id and link to the head. It retries when another
// writer took the sequence number first.
func AppendEvent(ctx context.Context, st store.Store, signer signing.Signer, e *Event) error {
	for range appendRetries {
		seqs, _, err := eventSeqs(ctx, st)
		if err != nil {
			return err
		}
		e.Schema, e.ID, e.Sequence, e.Previous = EventSchema, uuid.Must(uuid.NewV7()).String(), 1, nil
		if n := len(seqs); n > 0 {
			head := seqs[n-1]
			raw, err := readCapped(ctx, st, EventKey(head), maxEventBytes)
			if err != nil {
				return fmt.Errorf("read custody log head: %w", err)
			}
			e.Sequence = head + 1
			e.Previous = &manifest.Link{Key: EventKey(head), SHA256: manifest.SHA256(raw)}
		}
		e.Time = e.Time.UTC()
		raw, err := json.MarshalIndent(e, "", "  ")
		if err != nil {
			return fmt.Errorf("encode event: %w", err)
		}
		raw = append(raw, '\n')
		key := EventKey(e.Sequence)
		value, err := signer.Sign(ctx, raw)
		if err != nil {
			return fmt.Errorf("sign %s: %w", key, err)
		}
		sb, err := manifest.MarshalSignature(&manifest.Signature{ManifestKey: key, ManifestSHA256: manifest.SHA256(raw),
			Algorithm: signer.Algorithm(), KeyID: signer.KeyID(), Value: value})
		if err != nil {
			return err
		}
		opts := store.PutOptions{IfNotExists: true, ContentType: "application/json", Size: int64(len(sb))}
		if _, err := st.Put(ctx, manifest.SignatureKey(key, e.ID), bytes.NewReader(sb), opts); err != nil {
			return fmt.Errorf("store signature of %s: %w", key, err)
		}
		opts.Size = int64(len(raw))
		_, err = st.Put(ctx, key, bytes.NewReader(raw), opts)
		if errors.Is(err, store.ErrExists) {
			continue // another writer won this number: link to its event
		}
		if err != nil {
			return fmt.Errorf("store %s: %w", key, err)
		}
		return nil
	}
	return fmt.Errorf("append to custody log: %w after %d tries", ErrSequenceTaken, appendRetries)
}

// LoggedEvent is an event as read back, with whatever is wrong with it.
type LoggedEvent struct {
	Event  *Event
	Key    string
	SHA256 string
}

// LogReport is the custody log read and verified.
type LogReport struct {
	Events   []LoggedEvent
	Problems []Problem
}

// ReadLog reads the custody log and verifies it like a chain: sequence
// numbers from 1 with no gap, each event linking to the exact bytes of the
// one before, each signature by pub (or by one of more: the keys of a
// rotated key's history, custody.HistoryKeys). Store errors stop it;
// everything wrong with the log itself is a Problem.
func ReadLog(ctx context.Context, st store.Store, pub crypto.PublicKey, more ...crypto.PublicKey) (*LogReport, error) {
	seqs, odd, err := eventSeqs(ctx, st)
	if err != nil {
		return nil, err
	}
	rep := &LogReport{}
	for _, k := range odd {
		rep.Problems = append(rep.Problems, Problem{Kind: KindManifestUnexpected, Key: k, Detail: "neither an event nor a signature"})
	}
	var prev *LoggedEvent
	for i, n := range seqs {
		key := EventKey(n)
		if n != uint64(i+1) && (i == 0 || n != seqs[i-1]+1) {
			from := uint64(1)
			if i > 0 {
				from = seqs[i-1] + 1
			}
			rep.Problems = append(rep.Problems, Problem{Kind: KindManifestMissing, Key: EventKey(from), Sequence: from,
				Detail: fmt.Sprintf("events %d to %d are missing", from, n-1)})
			prev = nil
		}
		raw, err := readCapped(ctx, st, key, maxEventBytes)
		if isUnreadable(err) {
			rep.Problems = append(rep.Problems, Problem{Kind: KindManifestInvalid, Key: key, Sequence: n, Detail: oneLine(err)})
			prev = nil
			continue
		}
		if err != nil {
			return nil, err
		}
		e, err := parseEvent(raw)
		if err == nil && e.Sequence != n {
			err = fmt.Errorf("holds sequence %d", e.Sequence)
		}
		if err != nil {
			rep.Problems = append(rep.Problems, Problem{Kind: KindManifestInvalid, Key: key, Sequence: n, Detail: oneLine(err)})
			prev = nil
			continue
		}
		le := LoggedEvent{Event: e, Key: key, SHA256: manifest.SHA256(raw)}
		if prev != nil && (e.Previous == nil || e.Previous.Key != prev.Key || e.Previous.SHA256 != prev.SHA256) {
			rep.Problems = append(rep.Problems, Problem{Kind: KindChainBroken, Key: key, Sequence: n,
				Detail: "previous link does not name the exact bytes of " + prev.Key})
		}
		var sp *signatureProblem
		if err := checkSignatureAny(ctx, st, key, e.ID, raw, pub, more); errors.As(err, &sp) {
			rep.Problems = append(rep.Problems, Problem{Kind: sp.kind, Key: key, Sequence: n, Detail: sp.detail})
		} else if err != nil {
			return nil, err
		}
		rep.Events = append(rep.Events, le)
		prev = &le
	}
	return rep, nil
}
