package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/logkeeper/logkeeper/custody"
	"github.com/logkeeper/logkeeper/internal/config"
	"github.com/logkeeper/logkeeper/internal/metrics"
	"github.com/logkeeper/logkeeper/policies"
	"github.com/logkeeper/logkeeper/service/daemon"
)

// DaemonSetup opens the store and signer of cfg and builds what the daemon
// runs: a job per stream, its schedule, and the leases' settings (TTL and
// encryption). Every problem is joined in the error. Each run that writes a
// manifest is recorded in the custody log as actor (see ResolveActor; ""
// resolves it).
func DaemonSetup(ctx context.Context, cfg *config.Config, log *slog.Logger, m *metrics.Metrics, actor string) (*daemon.Setup, error) {
	st, err := OpenStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	signer, err := OpenSigner(ctx, cfg)
	if err != nil {
		return nil, err
	}
	rec := &Recorder{Store: st, Signer: signer, Actor: ResolveActor(ctx, cfg, actor, log)}
	chains := &custody.Cache{Log: log} // one cache for the ticks and the jobs
	s := &daemon.Setup{
		Chains:      chains,
		Store:       st,
		PublicKey:   signer.Public(),
		MaxBackfill: cfg.Daemon.MaxBackfillWindows,
		LeaseTTL:    cfg.Daemon.LeaseTTL,
		GracePeriod: cfg.Daemon.GracePeriod,
		Origin:      cfg.Store.Origin,
	}
	if s.Witness, err = OpenWitnessReadOnly(ctx, cfg); err != nil {
		return nil, err
	}
	if cfg.Store.SSEKMSKeyID != "" {
		s.LeaseEncryption = &policies.Encryption{KMSKeyID: cfg.Store.SSEKMSKeyID, Context: cfg.Store.EncryptionContext}
	}
	var errs []error
	clients := &Clients{} // streams on one Genesys org share a token
	for i := range cfg.Streams {
		sc := &cfg.Streams[i]
		job, err := NewJob(ctx, cfg, sc.Name, st, signer, clients, log)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		job.Chains = chains
		if r, ok := job.Source.(metrics.SourceReporting); ok {
			r.ReportTo(m.Source(sc.Name))
		}
		ds := daemon.Stream{Name: sc.Name, Spec: sc.Schedule, Window: sc.Window, Run: RecordingRunner(daemon.JobRunner(job), rec, log.With("stream", sc.Name))}
		if sc.Schedule != "" {
			if ds.Schedule, err = config.ParseSchedule(sc.Schedule); err != nil {
				errs = append(errs, fmt.Errorf("streams[%d].schedule: %w", i, err))
			}
		}
		s.Streams = append(s.Streams, ds)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return s, nil
}
