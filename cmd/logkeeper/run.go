package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/logkeeper/logkeeper/export"
	"github.com/logkeeper/logkeeper/internal/cli"
	"github.com/logkeeper/logkeeper/internal/config"
	"github.com/logkeeper/logkeeper/internal/metrics"
	"github.com/logkeeper/logkeeper/service/app"
	"github.com/logkeeper/logkeeper/service/daemon"
)

// runCommand wires the daemon: logger, metrics, configuration loader,
// signals and the HTTP listener. The scheduling is in package daemon.
func runCommand() *cli.Command {
	var (
		cf           configFlags
		listen       string
		listenRemote bool
		once         bool
		verifyEvery  time.Duration
		actor        string
	)
	return &cli.Command{
		Name:     "run",
		Summary:  "Archive every stream that has a schedule, window after window, until stopped (or one tick with --once).",
		Example:  "logkeeper run -c /etc/logkeeper/logkeeper.yaml --listen 127.0.0.1:9090 --verify-every 24h\nlogkeeper run -c /etc/logkeeper/logkeeper.yaml --once",
		Required: []string{"c"},
		Flags: func(fs *flag.FlagSet) {
			cf.define(fs, false)
			fs.StringVar(&listen, "listen", "", "serve /healthz, /readyz and /metrics on this `address` (loopback only unless --listen-remote); off when empty")
			fs.BoolVar(&listenRemote, "listen-remote", false, "allow a --listen address that is not on loopback (e.g. 0.0.0.0:9090 in a container)")
			fs.BoolVar(&once, "once", false, "run one tick of every stream (catching up at most daemon.max_backfill_windows windows each) and exit")
			fs.StringVar(&actor, "actor", "", "`name` recorded in the custody log as who ran the exports (default: the AWS caller identity for an S3 store, else the OS user)")
			fs.DurationVar(&verifyEvery, "verify-every", 0, "verify every stream's chain this often (a `duration`) and report problems in the metrics (0: never)")
		},
		Run: func(ctx context.Context, env *cli.Env) error {
			if listen != "" {
				if err := daemon.CheckListen(listen, listenRemote); err != nil {
					return cli.Usage(err)
				}
			}
			return runDaemon(ctx, env, cf.path, listen, once, verifyEvery, actor)
		},
	}
}

func runDaemon(ctx context.Context, env *cli.Env, cfgPath, listen string, once bool, verifyEvery time.Duration, actor string) error {
	log := env.Log
	m := metrics.New()
	load := func(ctx context.Context) (*daemon.Setup, error) {
		cfg, err := config.Load(cfgPath)
		if err != nil {
			return nil, err
		}
		return app.DaemonSetup(ctx, cfg, log, m, actor)
	}
	opts := daemon.Options{Load: load, Logger: log, Metrics: m, VerifyEvery: verifyEvery}
	if once && !env.JSON {
		opts.NothingDue = func(stream string, end time.Time) {
			env.Printf("stream %s: nothing due; the next window closes at %s (in %s)\n",
				stream, end.UTC().Format(time.RFC3339), cli.Duration(time.Until(end).Round(time.Second)))
		}
	}
	d, err := daemon.New(ctx, opts)
	if err != nil {
		return cli.Usage(err)
	}

	if listen != "" {
		ln, err := net.Listen("tcp", listen)
		if err != nil {
			return cli.Usage(fmt.Errorf("--listen: %w", err))
		}
		srv := &http.Server{Handler: d.Handler(m), ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("http server stopped", "err", err.Error())
			}
		}()
		log.Info("http server listening", "addr", ln.Addr().String())
		defer func() {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			srv.Shutdown(sctx) //nolint:errcheck // exiting anyway
		}()
	}

	if once {
		return onceError(d.RunOnce(ctx))
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	reload := make(chan struct{})
	go func() {
		for range hup {
			select {
			case reload <- struct{}{}:
			case <-ctx.Done():
				return
			}
		}
	}()
	return cli.Problems(d.Run(ctx, reload))
}

// onceError sets the exit code of run --once: 1 when every stream that
// failed wrote its manifest and only some files failed (a partial run), 3
// when a stream's run could not complete (no manifest written).
func onceError(err error) error {
	if err == nil {
		return nil
	}
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	for _, e := range errs {
		if !errors.Is(e, export.ErrFilesFailed) {
			return cli.Incomplete(err)
		}
	}
	return cli.Problems(err)
}
