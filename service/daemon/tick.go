package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/logkeeper/logkeeper/custody"
	"github.com/logkeeper/logkeeper/export"
	"github.com/logkeeper/logkeeper/internal/metrics"
	"github.com/logkeeper/logkeeper/service/lease"
)

var debugStack = debug.Stack

// releaseTimeout bounds the release of a lease after a tick, which runs
// even when the tick was cancelled.
const releaseTimeout = 10 * time.Second

// tick archives the complete windows of one stream after its watermark,
// in order, at most s.MaxBackfill of them. It stops at the first run that
// writes no manifest and returns its error: the window is retried at the
// next tick, so none is skipped. When another replica holds the stream's
// lease it runs nothing, logs that at info, and returns an error wrapping
// lease.ErrHeld (the schedule does not log it again; RunOnce reports it).
func (d *Daemon) tick(ctx context.Context, s *Setup, leases *lease.Manager, st Stream, log *slog.Logger) error {
	runCtx := ctx
	if s.LeaseTTL > 0 {
		start := time.Now()
		l, err := leases.Acquire(ctx, st.Name)
		var held *lease.HeldError
		if errors.As(err, &held) {
			d.m.Skipped(st.Name, metrics.SkipLeaseHeld)
			log.Info("tick skipped: the stream's lease is held by another replica", "holder", held.Holder, "expires", held.Expires)
			return fmt.Errorf("stream %s: nothing archived: %w", st.Name, err)
		}
		if err != nil {
			d.m.Run(st.Name, metrics.ResultFailed, time.Since(start), 0, 0, time.Now())
			return fmt.Errorf("stream %s: take lease: %w", st.Name, err)
		}
		if to := l.Takeover(); to != nil {
			d.m.LeaseTakenOver(st.Name, to.Reason)
			log.Warn("invalid lease taken over", "reason", to.Reason, "previous_holder", to.Previous.Holder,
				"previous_expires", to.Previous.Expires, "lease_ttl", s.LeaseTTL.String())
		}
		var stop func()
		runCtx, stop = l.Hold(ctx)
		defer func() {
			stop()
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
			defer cancel()
			if err := l.Release(rctx); err != nil {
				log.Warn("lease not released; it expires by itself", "err", err.Error())
			}
		}()
	}

	start := time.Now()
	var chain *custody.Chain
	var err error
	if s.Chains != nil {
		chain, err = s.Chains.Load(runCtx, s.Store, st.Name, s.PublicKey)
	} else {
		chain, err = custody.Resume(runCtx, s.Store, st.Name, s.PublicKey, log)
	}
	if err != nil {
		d.m.Run(st.Name, d.failure(runCtx), time.Since(start), 0, 0, time.Now())
		return fmt.Errorf("stream %s: load chain: %w", st.Name, err)
	}
	var watermark time.Time
	archived := chain.Head != nil
	if archived {
		watermark = chain.Head.Manifest.Window.End
	}
	defer func() {
		d.m.Watermark(st.Name, watermark, Pending(watermark, archived, st.Window, d.now()))
	}()

	var partial []error
	for n := 1; n <= s.MaxBackfill; n++ {
		if d.stopping.Load() {
			break
		}
		now := d.now()
		end, ok := NextEnd(watermark, archived, st.Window, now)
		if !ok {
			if n == 1 {
				d.nothingDue(log, st.Name, end)
			}
			break
		}
		begin := epoch
		if archived {
			begin = watermark
		}
		reason := fmt.Sprintf("scheduled run of window %s to %s", begin.Format(time.RFC3339), end.Format(time.RFC3339))
		if behind := Pending(watermark, archived, st.Window, now); behind > 1 {
			reason += fmt.Sprintf(" (catching up: %d windows behind)", behind)
		}
		start := time.Now()
		res, err := st.Run(runCtx, end, reason)
		took := time.Since(start)
		switch {
		case err == nil || errors.Is(err, export.ErrFilesFailed) && res != nil:
			result := metrics.ResultSuccess
			if err != nil {
				result = metrics.ResultPartial
				partial = append(partial, fmt.Errorf("stream %s: %w", st.Name, err))
			}
			d.m.Run(st.Name, result, took, res.Files, res.Bytes, time.Now())
			log.Info("window archived", "run_id", res.RunID, "sequence", res.Sequence,
				"window_start", begin, "window_end", end, "files", res.Files, "bytes", res.Bytes,
				"unchanged", res.Skipped, "failed", res.Failed, "duration", took.String())
			watermark, archived = end, true
		default:
			d.m.Run(st.Name, d.failure(runCtx), took, 0, 0, time.Now())
			return fmt.Errorf("stream %s: window %s to %s (no manifest written): %w", st.Name, begin.Format(time.RFC3339), end.Format(time.RFC3339), err)
		}
	}
	return errors.Join(partial...)
}

// failure is the result of a run that wrote no manifest.
func (d *Daemon) failure(ctx context.Context) string {
	if ctx.Err() != nil {
		return metrics.ResultCancelled
	}
	return metrics.ResultFailed
}

// nothingDue reports a tick with no complete window: when the next closes.
func (d *Daemon) nothingDue(log *slog.Logger, stream string, end time.Time) {
	log.Info("nothing due", "next_window_end", end, "in", end.Sub(d.now()).Round(time.Second).String())
	if d.o.NothingDue != nil {
		d.o.NothingDue(stream, end)
	}
}
