package memstore

import (
	"context"
	"fmt"

	"github.com/logkeeper/logkeeper/internal/store"
)

var _ store.LegalHolder = (*Store)(nil)

// CheckLegalHolds: the memory store can always hold.
func (s *Store) CheckLegalHolds(ctx context.Context) error { return nil }

// SetLegalHold places or lifts the hold on key (one version per key).
func (s *Store) SetLegalHold(ctx context.Context, key, versionID string, on bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.objs[key]; !ok && on {
		return fmt.Errorf("hold %s: %w", key, store.ErrNotFound)
	}
	if s.held == nil {
		s.held = map[string]bool{}
	}
	if on {
		s.held[key] = true
	} else {
		delete(s.held, key)
	}
	return nil
}

// LegalHold reports whether key is held.
func (s *Store) LegalHold(ctx context.Context, key, versionID string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.held[key], nil
}
