package custody

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/logkeeper/logkeeper/internal/store"
)

// Rebuilt is one matter record RebuildHolds wrote.
type Rebuilt struct {
	Matter string `json:"matter"`
	// Was is what was wrong with the record: "missing" or "damaged".
	Was string `json:"was"`
	// Held counts the versions whose hold was set again (open matters).
	Held int `json:"held"`
}

// RebuildHolds rewrites, from the custody log's events, the record of every
// matter whose record is missing or cannot be read, and sets again the
// holds of those still open. The caller passes the events of a log that
// verified clean (ReadLog with no problems): a record is never rebuilt
// from a log that may have been altered.
//
// A matter's scope, reason, who placed it and when come from its first
// hold_placed event; its release from its first hold_released event. The
// versions it holds are found again in the stream's chain (verified with
// pub): the runs whose window overlaps the recorded range, up to the last
// manifest the hold covered when it was placed (through_sequence; for
// older events, the runs finished when the hold was placed). Records that
// can be read are left as they are.
func RebuildHolds(ctx context.Context, st store.Store, events []*Event, pub crypto.PublicKey, obs Observer) ([]Rebuilt, error) {
	lh, ok := st.(store.LegalHolder)
	if !ok {
		return nil, fmt.Errorf("%w: %s", store.ErrNoLegalHold, st.Describe())
	}
	if obs == nil {
		obs = noObserver{}
	}
	type matter struct {
		placed, released *Event
	}
	var order []string
	byMatter := map[string]*matter{}
	for _, e := range events {
		if e.Type != EventHoldPlaced && e.Type != EventHoldReleased {
			continue
		}
		m := byMatter[e.Matter]
		if m == nil {
			m = &matter{}
			byMatter[e.Matter] = m
			order = append(order, e.Matter)
		}
		switch {
		case e.Type == EventHoldPlaced && m.placed == nil:
			m.placed = e
		case e.Type == EventHoldReleased && m.released == nil:
			m.released = e
		}
	}
	out := []Rebuilt{}
	for _, name := range order {
		m := byMatter[name]
		if m.placed == nil || !matterID.MatchString(name) {
			continue // a release without a placement names nothing to rebuild
		}
		_, _, err := readHold(ctx, st, HoldKey(name))
		was, etag := "damaged", ""
		switch {
		case err == nil:
			continue
		case errors.Is(err, store.ErrNotFound):
			was = "missing"
		case !errors.Is(err, store.ErrUnreadable):
			return out, err
		default:
			info, err := st.Head(ctx, HoldKey(name), store.GetOptions{})
			if err != nil {
				return out, err
			}
			etag = info.ETag // replace exactly the damaged bytes
		}
		h, err := holdFromEvents(ctx, st, m.placed, m.released, pub)
		if err != nil {
			return out, fmt.Errorf("rebuild matter %s: %w", name, err)
		}
		opts := store.PutOptions{IfNotExists: was == "missing", IfMatch: etag}
		if err := writeHold(ctx, st, h, opts); err != nil {
			return out, err
		}
		r := Rebuilt{Matter: name, Was: was}
		if h.ReleasedAt == nil {
			all := append(append([]HeldVersion{}, h.Objects...), h.Manifests...)
			if err := setHolds(ctx, lh, all, true, obs); err != nil {
				return out, fmt.Errorf("rebuild matter %s: %w", name, err)
			}
			r.Held = len(all)
		}
		out = append(out, r)
	}
	return out, nil
}

// holdFromEvents builds a matter's record from its events.
func holdFromEvents(ctx context.Context, st store.Store, placed, released *Event, pub crypto.PublicKey) (*Hold, error) {
	at, err := detailTime(placed, DetailPlacedAt)
	if err != nil {
		return nil, err
	}
	if at.IsZero() {
		at = placed.Time
	}
	o := HoldOptions{Matter: placed.Matter, Reason: placed.Reason, Actor: placed.Actor, PublicKey: pub,
		Now: func() time.Time { return at }}
	if o.From, err = detailTime(placed, DetailFrom); err != nil {
		return nil, err
	}
	if o.To, err = detailTime(placed, DetailTo); err != nil {
		return nil, err
	}
	b := bound{placed: placed.Time}
	if s, ok := placed.Details[DetailThrough]; ok {
		if b.seq, err = strconv.ParseUint(s, 10, 64); err != nil {
			return nil, fmt.Errorf("event %d: %s %q: %w", placed.Sequence, DetailThrough, s, err)
		}
		b.placed = time.Time{}
	}
	h, err := newHold(ctx, st, placed.Stream, o, b)
	if err != nil {
		return nil, err
	}
	if released != nil {
		t, err := detailTime(released, DetailReleasedAt)
		if err != nil {
			return nil, err
		}
		if t.IsZero() {
			t = released.Time.UTC()
		}
		h.ReleasedAt, h.ReleasedBy, h.ReleaseReason = &t, released.Actor, released.Reason
	}
	return h, nil
}

func detailTime(e *Event, name string) (time.Time, error) {
	s := e.Details[name]
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("event %d: %s %q: %w", e.Sequence, name, s, err)
	}
	return t, nil
}
