package main

import (
	"context"
	"errors"
	"flag"
	"time"

	"github.com/logkeeper/logkeeper/export"
	"github.com/logkeeper/logkeeper/internal/cli"
	"github.com/logkeeper/logkeeper/service/app"
)

func exportCommand() *cli.Command {
	var (
		cf       configFlags
		reason   string
		staleAge time.Duration
		who      string
	)
	return &cli.Command{
		Name:     "export",
		Summary:  "Archive a stream's files not archived yet and append a signed manifest to its chain.",
		Example:  "logkeeper export -c /etc/logkeeper/logkeeper.yaml --stream app-logs --reason \"ticket 4711\"",
		Required: []string{"c", "stream"},
		Flags: func(fs *flag.FlagSet) {
			cf.define(fs, true)
			fs.StringVar(&reason, "reason", "manual export", "`text` recorded in the manifest: why this run happens")
			fs.DurationVar(&staleAge, "stale-upload-age", export.DefaultStaleUploadAge,
				"abort unfinished uploads of killed runs under the stream's objects older than this `age` (0: all; only when no other exporter of the stream runs)")
			fs.StringVar(&who, "actor", "", actorUsage)
		},
		Run: func(ctx context.Context, env *cli.Env) error {
			cfg, st, err := cf.loadStore(ctx)
			if err != nil {
				return err
			}
			signer, err := openSigner(ctx, cfg)
			if err != nil {
				return err
			}
			job, err := app.NewJob(ctx, cfg, cf.stream, st, signer, nil, env.Log)
			if err != nil {
				return cli.Usage(err)
			}
			job.StaleUploadAge = staleAge
			if staleAge <= 0 {
				job.StaleUploadAge = -1 // all, whatever their age
			}
			if p := env.Progress("export", "file"); p != nil {
				job.Observer = p
			}
			started := time.Now()
			res, err := job.Run(ctx, time.Time{}, reason)
			if res != nil {
				printExport(env, res, time.Since(started))
			}
			if res != nil && len(res.Sealed) > 0 {
				e := app.ExportRunEvent(res, reason)
				e.Actor = actor(ctx, env, cfg, who)
				if rerr := recordEvent(ctx, signer, st, e); rerr != nil {
					return rerr
				}
			}
			if errors.Is(err, export.ErrFilesFailed) {
				return cli.Problems(err) // a partial run: the manifest lists the failures
			}
			return cli.Incomplete(err)
		},
	}
}

func printExport(env *cli.Env, r *export.Result, took time.Duration) {
	if env.JSON {
		env.PrintJSON(r) //nolint:errcheck // stdout
		return
	}
	env.Printf("stream %s: manifest %d, %s archived (%s, %s), %s unchanged, %s not collected, %s failed, run %s\n",
		r.Stream, r.Sequence, cli.Count(r.Files, "file", ""), cli.Size(r.Bytes), cli.Rate(r.Bytes, took),
		cli.Count(r.Skipped, "file", ""), cli.Count(r.NotCollected, "item", ""), cli.Count(r.Failed, "file", ""), r.RunID)
}
