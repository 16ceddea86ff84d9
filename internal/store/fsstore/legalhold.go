package fsstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"golang.org/x/sys/unix"

	"github.com/logkeeper/logkeeper/internal/store"
)

var _ store.LegalHolder = (*Store)(nil)

// holdRel is the hold record of key: its presence holds the key.
func holdRel(key string) string { return internalDir + "/holds/" + key }

// CheckLegalHolds: a writable file store can always hold.
func (s *Store) CheckLegalHolds(ctx context.Context) error {
	if s.readOnly {
		return fmt.Errorf("%w: %s is open read-only", store.ErrNoLegalHold, s.Describe())
	}
	return nil
}

// SetLegalHold writes or removes key's hold record. The file store keeps
// one version per key, so versionID is ignored.
func (s *Store) SetLegalHold(ctx context.Context, key, versionID string, on bool) error {
	if err := s.checkKey(key); err != nil {
		return err
	}
	if err := s.CheckLegalHolds(ctx); err != nil {
		return err
	}
	if on {
		if _, err := s.Head(ctx, key, store.GetOptions{}); err != nil {
			return fmt.Errorf("hold %s: %w", key, err)
		}
	}
	unlock, err := s.lock(ctx, true)
	if err != nil {
		return err
	}
	defer unlock()
	if on {
		if err := s.writeFileSync(holdRel(key), []byte("held\n")); err != nil {
			return fmt.Errorf("hold %s: %w", key, err)
		}
		return nil
	}
	dir, base := splitRel(holdRel(key))
	d, err := s.openDir(dir, false)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("release %s: %w", key, err)
	}
	defer d.Close()
	if err := unix.Unlinkat(int(d.Fd()), base, 0); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("release %s: %w", key, err)
	}
	return d.Sync()
}

// LegalHold reports whether key has a hold record.
func (s *Store) LegalHold(ctx context.Context, key, versionID string) (bool, error) {
	if err := s.checkKey(key); err != nil {
		return false, err
	}
	return s.held(key)
}

func (s *Store) held(key string) (bool, error) {
	f, _, err := s.openRegular(holdRel(key))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("hold record of %s: %w", key, err)
	}
	f.Close()
	return true, nil
}

func heldErr(held bool) error {
	if held {
		return store.ErrHeld
	}
	return nil
}
