package store

import (
	"context"
	"errors"
)

// ErrNoLegalHold: the store cannot place legal holds (an S3 bucket without
// Object Lock). Nothing was changed.
var ErrNoLegalHold = errors.New("store cannot place legal holds")

// ErrHeld: a delete was refused because the object is under legal hold.
var ErrHeld = errors.New("object is under legal hold")

// LegalHolder is implemented by stores that can place a legal hold on an
// object version: S3 Object Lock's legal hold, or the file store's
// equivalent hold record. A held version cannot be deleted (a Delete of a
// held key fails with an error wrapping ErrHeld) until the hold is lifted.
// A hold is one flag per version, not a count: callers that hold for
// several reasons (matters) decide when to lift it.
type LegalHolder interface {
	// CheckLegalHolds returns an error wrapping ErrNoLegalHold when the
	// store cannot hold objects; it changes nothing.
	CheckLegalHolds(ctx context.Context) error
	// SetLegalHold places (on) or lifts (off) the hold on the version of
	// key (empty: the only or latest version). It is idempotent.
	SetLegalHold(ctx context.Context, key, versionID string, on bool) error
	// LegalHold reports whether the version of key is held.
	LegalHold(ctx context.Context, key, versionID string) (bool, error)
}
