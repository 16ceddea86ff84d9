package daemon

import (
	"context"
	"time"

	"github.com/logkeeper/logkeeper/custody"
)

// verifyLoop verifies every stream's chain every VerifyEvery until ctx
// ends, and reports the problems in the metrics and the log.
func (d *Daemon) verifyLoop(ctx context.Context) {
	t := time.NewTicker(d.o.VerifyEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s, _ := d.current()
		for _, st := range s.Streams {
			if ctx.Err() != nil {
				return
			}
			rep, err := custody.Verify(ctx, s.Store, st.Name, custody.VerifyOptions{PublicKey: s.PublicKey, Concurrency: 4, Origin: s.Origin, Witness: s.Witness})
			log := d.log.With("stream", st.Name)
			switch {
			case err != nil:
				d.m.Verified(st.Name, 0, err)
				if ctx.Err() == nil {
					log.Warn("verify could not complete", "err", err.Error())
				}
			case len(rep.Problems) > 0:
				d.m.Verified(st.Name, len(rep.Problems), nil)
				first := make([]string, 0, 10)
				for _, p := range rep.Problems[:min(10, len(rep.Problems))] {
					first = append(first, p.String())
				}
				log.Error("verify found problems", "problems", len(rep.Problems), "first", first, "head", rep.Head)
			default:
				d.m.Verified(st.Name, 0, nil)
				witnessed := 0
				if rep.Checkpoint != nil {
					witnessed = rep.Checkpoint.Witnessed
				}
				log.Info("verify: chain valid", "manifests", rep.ManifestsValid, "objects", rep.ObjectsValid, "head", rep.Head, "witnessed", witnessed)
			}
		}
	}
}
