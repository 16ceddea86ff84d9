package export

import (
	"context"
	"fmt"

	"github.com/logkeeper/logkeeper/custody"
)

// checkpoint signs the checkpoint of the chain's tree after a manifest was
// appended, and writes it next to the chain and to the witness. A failure
// here fails the run: a run that could not be witnessed is not silently
// accepted (its manifest stays; the next run's checkpoint covers it). So
// does a checkpoint that could not be time-stamped, with Timestamps set.
func (j *Job) checkpoint(ctx context.Context, chain *custody.Chain, storeURL string) error {
	th, err := chain.TreeHead(ctx, j.Store, j.Signer, storeURL)
	if err != nil {
		return fmt.Errorf("its checkpoint: %w", err)
	}
	if err := custody.PublishTreeHead(ctx, j.Store, j.Witness, j.Stream, th); err != nil {
		return fmt.Errorf("its checkpoint: %w", err)
	}
	// After the checkpoint is stored and witnessed: an authority that is
	// down fails the run, but does not cost the checkpoint.
	if j.Timestamps != nil {
		if _, err := custody.StampTreeHead(ctx, j.Store, j.Witness, j.Stream, th, j.Timestamps); err != nil {
			return fmt.Errorf("its checkpoint: %w", err)
		}
	}
	return nil
}
