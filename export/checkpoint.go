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
//
// It also writes the stream's signed start-up state (custody.PublishState),
// so that the next run starts in a few requests instead of reading the
// whole chain. The state is a cache: a failure to write it is logged and
// the run goes on (the next run reads the chain whole, or from an older
// state, and loses nothing).
func (j *Job) checkpoint(ctx context.Context, chain *custody.Chain, storeURL, runID string) error {
	th, err := chain.TreeHead(ctx, j.Store, j.Signer, storeURL)
	if err != nil {
		return fmt.Errorf("its checkpoint: %w", err)
	}
	if err := custody.PublishTreeHead(ctx, j.Store, j.Witness, j.Stream, th); err != nil {
		return fmt.Errorf("its checkpoint: %w", err)
	}
	if err := custody.PublishState(ctx, j.Store, j.Signer, chain, j.putOptions(runID, custody.StateKey(j.Stream))); err != nil {
		j.logger().Warn("start-up state not written; the next run reads the whole chain", "stream", j.Stream, "err", err.Error())
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
