package custody

import (
	"bytes"
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/manifest"
)

// HoldsPrefix is the folder of matter records in the store; no stream can
// be named like it.
const HoldsPrefix = "_holds/"

// HoldSchema is the schema of a matter record.
const HoldSchema = "logkeeper.hold/v1"

// maxHoldBytes caps a matter record.
const maxHoldBytes = 256 << 20

// Hold errors.
var (
	// ErrUnknownMatter: no hold was ever placed for the matter.
	ErrUnknownMatter = errors.New("unknown matter")
	// ErrMatterConflict: the matter is already recorded with another
	// stream or range, or was released: a matter id is used once.
	ErrMatterConflict = errors.New("matter already recorded differently")
	// ErrInvalidMatter: the matter id cannot name a record.
	ErrInvalidMatter = errors.New("invalid matter id")
)

var matterID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// HoldKey returns the key of a matter's record.
func HoldKey(matter string) string { return HoldsPrefix + matter + ".json" }

// HeldVersion is one object version a matter holds.
type HeldVersion struct {
	Key       string `json:"key"`
	VersionID string `json:"version_id,omitempty"`
}

// Hold is a matter's record: what it holds, who placed it and why, and
// whether it was released.
type Hold struct {
	Schema        string     `json:"schema"`
	Matter        string     `json:"matter"`
	Stream        string     `json:"stream"`
	From          *time.Time `json:"from"`
	To            *time.Time `json:"to"`
	Reason        string     `json:"reason"`
	PlacedAt      time.Time  `json:"placed_at"`
	PlacedBy      string     `json:"placed_by"`
	ReleasedAt    *time.Time `json:"released_at"`
	ReleasedBy    string     `json:"released_by,omitempty"`
	ReleaseReason string     `json:"release_reason,omitempty"`
	// Objects are the archived objects held; Manifests the manifests and
	// their signatures.
	Objects   []HeldVersion `json:"objects"`
	Manifests []HeldVersion `json:"manifests"`
	// VersionChunks name, in order, the chunks that hold the two lists
	// when they do not fit in the record (holdchunks.go); the lists read
	// from the store are then empty. readHold fills Objects and Manifests
	// from them.
	VersionChunks []string `json:"version_chunks,omitempty"`
}

// HoldOptions say what PlaceHold holds and why.
type HoldOptions struct {
	Matter    string
	From, To  time.Time
	Reason    string
	Actor     string
	PublicKey crypto.PublicKey
	Now       func() time.Time
	Observer  Observer
}

// HoldResult is what PlaceHold did.
type HoldResult struct {
	Matter        string `json:"matter"`
	Stream        string `json:"stream"`
	ObjectsHeld   int    `json:"objects_held"`
	ManifestsHeld int    `json:"manifests_held"`
	// Through is the last manifest sequence number the hold covers (0
	// when it covers none): recorded in the custody event, it bounds the
	// scope of a record rebuilt from the log (RebuildHolds).
	Through uint64 `json:"-"`
	// PlacedAt is the record's time of placement (DetailPlacedAt).
	PlacedAt time.Time `json:"-"`
}

// ReleaseResult is what ReleaseHold did.
type ReleaseResult struct {
	Matter string `json:"matter"`
	// Released counts versions whose hold was lifted; StillHeld those
	// another open matter still holds.
	Released  int `json:"released"`
	StillHeld int `json:"still_held"`
	// ReleasedAt is the record's time of release (DetailReleasedAt).
	ReleasedAt time.Time `json:"-"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func sameTime(a, b *time.Time) bool {
	return (a == nil) == (b == nil) && (a == nil || a.Equal(*b))
}

// readHold reads a matter's record and its ETag.
func readHold(ctx context.Context, st store.Store, key string) (*Hold, string, error) {
	rc, info, err := st.Get(ctx, key, store.GetOptions{})
	if err != nil {
		return nil, "", err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(store.ContextReader(ctx, rc), maxHoldBytes+1))
	if err != nil {
		return nil, "", fmt.Errorf("read %s: %w", key, err)
	}
	if len(b) > maxHoldBytes {
		return nil, "", fmt.Errorf("%s is larger than %d bytes: %w", key, maxHoldBytes, store.ErrUnreadable)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var h Hold
	if err := dec.Decode(&h); err != nil || h.Schema != HoldSchema {
		return nil, "", fmt.Errorf("%s: not a %s record (%v): %w", key, HoldSchema, err, store.ErrUnreadable)
	}
	if err := readChunks(ctx, st, key, &h); err != nil {
		return nil, "", err
	}
	return &h, info.ETag, nil
}

// writeHold writes a matter's record: whole, or with its lists in chunks
// written first (holdchunks.go).
func writeHold(ctx context.Context, st store.Store, h *Hold, opts store.PutOptions) error {
	if err := writeChunks(ctx, st, h); err != nil {
		return err
	}
	rec := *h
	if len(rec.VersionChunks) > 0 {
		rec.Objects, rec.Manifests = []HeldVersion{}, []HeldVersion{}
	}
	b, err := json.MarshalIndent(&rec, "", "  ")
	if err != nil {
		return fmt.Errorf("encode hold: %w", err)
	}
	b = append(b, '\n')
	opts.Size = int64(len(b))
	opts.ContentType = "application/json"
	if _, err := st.Put(ctx, HoldKey(h.Matter), bytes.NewReader(b), opts); err != nil {
		return fmt.Errorf("write hold record of %s: %w", h.Matter, err)
	}
	return nil
}

// PlaceHold places a legal hold for a matter on every object version,
// manifest and signature of the stream's runs whose window overlaps
// [From, To), and records the matter in the store (HoldKey). It checks that
// the store can hold before anything is changed (an error wrapping
// store.ErrNoLegalHold). The record is written first and lists every
// version in scope; a re-run for the same matter, stream and range (after
// a crash) sets the holds of that record again, so it finishes the job.
func PlaceHold(ctx context.Context, st store.Store, stream string, o HoldOptions) (*HoldResult, error) {
	if !matterID.MatchString(o.Matter) {
		return nil, fmt.Errorf("%w: %q: want letters, digits, '.', '_' or '-', at most 128", ErrInvalidMatter, o.Matter)
	}
	lh, ok := st.(store.LegalHolder)
	if !ok {
		return nil, fmt.Errorf("%w: %s", store.ErrNoLegalHold, st.Describe())
	}
	if err := lh.CheckLegalHolds(ctx); err != nil {
		return nil, err
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Observer == nil {
		o.Observer = noObserver{}
	}
	h, _, err := readHold(ctx, st, HoldKey(o.Matter))
	switch {
	case errors.Is(err, store.ErrNotFound):
		if h, err = newHold(ctx, st, stream, o, noBound); err != nil {
			return nil, err
		}
		err = writeHold(ctx, st, h, store.PutOptions{IfNotExists: true})
		if errors.Is(err, store.ErrExists) {
			return PlaceHold(ctx, st, stream, o) // another placer won: continue its record
		}
		if err != nil {
			return nil, err
		}
	case err != nil:
		return nil, err
	case h.ReleasedAt != nil:
		return nil, fmt.Errorf("%w: matter %s was released at %s", ErrMatterConflict, o.Matter, h.ReleasedAt.Format(time.RFC3339))
	case h.Stream != stream || !sameTime(h.From, timePtr(o.From)) || !sameTime(h.To, timePtr(o.To)):
		return nil, fmt.Errorf("%w: matter %s holds stream %s from %v to %v", ErrMatterConflict, o.Matter, h.Stream, h.From, h.To)
	}
	all := append(append([]HeldVersion{}, h.Objects...), h.Manifests...)
	if err := setHolds(ctx, lh, all, true, o.Observer); err != nil {
		return nil, err
	}
	return &HoldResult{Matter: h.Matter, Stream: h.Stream, ObjectsHeld: len(h.Objects), ManifestsHeld: len(h.Manifests) / 2,
		Through: h.through(), PlacedAt: h.PlacedAt}, nil
}

// through is the highest manifest sequence number h holds.
func (h *Hold) through() uint64 {
	var n uint64
	for _, v := range h.Manifests {
		if s, ok := manifest.ParseKey(h.Stream, v.Key); ok && s > n {
			n = s
		}
	}
	return n
}

// bound limits the runs a matter's record lists: those up to sequence
// number seq, or (for a log written before the sequence was recorded)
// those finished by placed.
type bound struct {
	seq    uint64
	placed time.Time
}

var noBound = bound{seq: ^uint64(0)}

func (b bound) admits(e *Entry) bool {
	if b.seq == 0 && !b.placed.IsZero() {
		return !e.Manifest.FinishedAt.After(b.placed)
	}
	return e.Sequence <= b.seq
}

// newHold builds a matter's record: the checked runs in range and the
// versions of their manifests, signatures and objects.
func newHold(ctx context.Context, st store.Store, stream string, o HoldOptions, b bound) (*Hold, error) {
	entries, _, err := selectRuns(ctx, st, stream, BundleOptions{From: o.From, To: o.To, PublicKey: o.PublicKey})
	if err != nil {
		return nil, err
	}
	h := &Hold{Schema: HoldSchema, Matter: o.Matter, Stream: stream, From: timePtr(o.From), To: timePtr(o.To),
		Reason: o.Reason, PlacedAt: o.Now().UTC(), PlacedBy: o.Actor, Objects: []HeldVersion{}, Manifests: []HeldVersion{}}
	for _, e := range entries {
		if !b.admits(e) {
			continue
		}
		for _, key := range []string{e.Key, manifest.SignatureKey(e.Key, e.Manifest.RunID)} {
			info, err := st.Head(ctx, key, store.GetOptions{})
			if err != nil {
				return nil, fmt.Errorf("head %s: %w", key, err)
			}
			h.Manifests = append(h.Manifests, HeldVersion{Key: key, VersionID: info.VersionID})
		}
		for _, obj := range e.Manifest.Objects {
			h.Objects = append(h.Objects, HeldVersion{Key: obj.Key, VersionID: obj.VersionID})
		}
	}
	return h, nil
}

// setHolds places or lifts the holds on vs, 16 at a time.
func setHolds(ctx context.Context, lh store.LegalHolder, vs []HeldVersion, on bool, obs Observer) error {
	obs.Total(len(vs), 0)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for _, v := range vs {
		g.Go(func() error {
			if err := lh.SetLegalHold(gctx, v.Key, v.VersionID, on); err != nil {
				return err
			}
			obs.Done(1, 0)
			return nil
		})
	}
	return g.Wait()
}

// ReleaseHold lifts a matter's hold from every version it holds that no
// other open matter holds, and marks the matter released. Releasing a
// released matter lifts again what it held (a re-run after a crash) and
// keeps the first release's time. An unknown matter is ErrUnknownMatter.
//
// The record is marked released before anything is lifted, and the open
// matters are read again after lifting: a version another matter placed
// or kept meanwhile (a release or placement racing this one) is held
// again. So two matters released at once leave nothing held, and a matter
// placed during a release keeps what it holds.
func ReleaseHold(ctx context.Context, st store.Store, matter, reason, actor string, now time.Time, obs Observer) (*ReleaseResult, error) {
	if !matterID.MatchString(matter) {
		return nil, fmt.Errorf("%w: %q", ErrInvalidMatter, matter)
	}
	if obs == nil {
		obs = noObserver{}
	}
	lh, ok := st.(store.LegalHolder)
	if !ok {
		return nil, fmt.Errorf("%w: %s", store.ErrNoLegalHold, st.Describe())
	}
	h, err := markReleased(ctx, st, matter, reason, actor, now)
	if err != nil {
		return nil, err
	}
	others, err := openHolds(ctx, st, matter)
	if err != nil {
		return nil, err
	}
	res := &ReleaseResult{Matter: matter, ReleasedAt: *h.ReleasedAt}
	var lift []HeldVersion
	for _, v := range append(append([]HeldVersion{}, h.Objects...), h.Manifests...) {
		if others[v] {
			res.StillHeld++
		} else {
			lift = append(lift, v)
		}
	}
	if err := setHolds(ctx, lh, lift, false, obs); err != nil {
		return nil, err
	}
	if others, err = openHolds(ctx, st, matter); err != nil {
		return nil, err
	}
	var again []HeldVersion
	for _, v := range lift {
		if others[v] {
			again = append(again, v)
		}
	}
	if err := setHolds(ctx, lh, again, true, noObserver{}); err != nil {
		return nil, err
	}
	res.Released, res.StillHeld = len(lift)-len(again), res.StillHeld+len(again)
	return res, nil
}

// markReleased reads a matter's record and marks it released, unless it
// is already: a record changed meanwhile is read again.
func markReleased(ctx context.Context, st store.Store, matter, reason, actor string, now time.Time) (*Hold, error) {
	for range appendRetries {
		h, etag, err := readHold(ctx, st, HoldKey(matter))
		if errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("%w: %s", ErrUnknownMatter, matter)
		}
		if err != nil || h.ReleasedAt != nil {
			return h, err
		}
		t := now.UTC()
		h.ReleasedAt, h.ReleasedBy, h.ReleaseReason = &t, actor, reason
		err = writeHold(ctx, st, h, store.PutOptions{IfMatch: etag})
		if errors.Is(err, store.ErrPreconditionFailed) {
			continue
		}
		return h, err
	}
	return nil, fmt.Errorf("release %s: its record kept changing: %w", matter, store.ErrPreconditionFailed)
}

// openHolds returns the versions held by the open matters other than
// matter.
func openHolds(ctx context.Context, st store.Store, matter string) (map[HeldVersion]bool, error) {
	holds, err := ListHolds(ctx, st)
	if err != nil {
		return nil, err
	}
	others := map[HeldVersion]bool{}
	for _, o := range holds {
		if o.Matter == matter || o.ReleasedAt != nil {
			continue
		}
		for _, v := range append(append([]HeldVersion{}, o.Objects...), o.Manifests...) {
			others[v] = true
		}
	}
	return others, nil
}

// ListHolds returns every matter's record, sorted by matter. A record
// that cannot be read is reported in the error, after the others.
func ListHolds(ctx context.Context, st store.Store) ([]*Hold, error) {
	var keys []string
	err := st.List(ctx, HoldsPrefix, func(oi store.ObjectInfo) error {
		// A matter's chunks are in its own folder (holdchunks.go).
		if rest := strings.TrimPrefix(oi.Key, HoldsPrefix); strings.HasSuffix(rest, ".json") && !strings.Contains(rest, "/") {
			keys = append(keys, oi.Key)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list holds: %w", err)
	}
	var (
		out  []*Hold
		errs []error
	)
	for _, k := range keys {
		h, _, err := readHold(ctx, st, k)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, h)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Matter < out[j].Matter })
	return out, errors.Join(errs...)
}
