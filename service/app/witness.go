package app

import (
	"context"
	"fmt"

	"github.com/logkeeper/logkeeper/internal/config"
	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/internal/store/fsstore"
)

// OpenWitness opens the configured witness (store.witness) for a run,
// creating a file:// witness folder when missing; nil without a witness.
func OpenWitness(ctx context.Context, c *config.Config) (store.Store, error) {
	if c.Store.WitnessStore == nil {
		return nil, nil
	}
	w, err := openStore(ctx, c.Store.WitnessStore, "store.witness")
	if err != nil {
		return nil, fmt.Errorf("store.witness: %w", err)
	}
	return w, nil
}

// OpenWitnessReadOnly opens the configured witness for verify: nothing is
// created in it, and a file:// witness folder that does not exist is an
// error wrapping store.ErrNoStore. nil without a witness.
func OpenWitnessReadOnly(ctx context.Context, c *config.Config) (store.Store, error) {
	w := c.Store.WitnessStore
	if w == nil {
		return nil, nil
	}
	if w.Scheme == config.SchemeFile {
		s, err := fsstore.OpenReadOnly(w.Path)
		if err != nil {
			return nil, fmt.Errorf("store.witness: %w", err)
		}
		return s, nil
	}
	return OpenWitness(ctx, c)
}
