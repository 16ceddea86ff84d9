package main

import (
	"context"
	"flag"

	"github.com/logkeeper/logkeeper/internal/cli"
	"github.com/logkeeper/logkeeper/internal/config"
	"github.com/logkeeper/logkeeper/internal/signing"
	"github.com/logkeeper/logkeeper/internal/tsa"
	"github.com/logkeeper/logkeeper/service/daemon"
)

// configCheckCommand lists every problem of the configuration, one per
// line with its key path (exit 2), or each stream with its schedule and
// effective window (exit 0).
func configCheckCommand() *cli.Command {
	var cf configFlags
	return &cli.Command{
		Name:     "config check",
		Summary:  "Check a configuration file without touching the store: every problem with its key path, or each stream's effective window.",
		Example:  "logkeeper config check -c /etc/logkeeper/logkeeper.yaml",
		Required: []string{"c"},
		Flags:    func(fs *flag.FlagSet) { cf.define(fs, false) },
		Run: func(ctx context.Context, env *cli.Env) error {
			cfg, err := config.Load(cf.path)
			if err == nil {
				err = cfg.CheckLocal()
				if err == nil && cfg.Signing.KeyScheme == config.KeySchemeFile {
					if _, kerr := signing.LoadKeyFile(cfg.Signing.KeyPath); kerr != nil {
						err = &config.FieldError{Path: "signing.key", Msg: kerr.Error()}
					}
				}
				if err == nil && cfg.Signing.TimestampRoots != "" {
					if _, rerr := tsa.LoadRoots(cfg.Signing.TimestampRoots); rerr != nil {
						err = &config.FieldError{Path: "signing.timestamp_roots", Msg: rerr.Error()}
					}
				}
			}
			problems := daemon.Problems(err)
			// Beyond the file, it only reads each stream's key transition
			// records (rotationWarnings), when the store can be reached.
			if env.JSON {
				return printConfigJSON(ctx, env, cfg, problems)
			}
			for _, p := range problems {
				env.Printf("%s\n", p)
			}
			if len(problems) > 0 {
				env.Printf("%s: %s\n", cf.path, cli.Count(len(problems), "problem", ""))
				return cli.Reported(cli.ExitUsage)
			}
			for _, s := range cfg.Streams {
				schedule := "no schedule (export only)"
				if s.Schedule != "" {
					schedule = "schedule " + s.Schedule
				}
				env.Printf("stream %s: %s, window %s\n", s.Name, schedule, cli.Duration(s.Window))
			}
			for _, w := range rotationWarnings(ctx, cfg) {
				env.Printf("warning: %s\n", w)
			}
			env.Printf("%s: valid (%s)\n", cf.path, cli.Count(len(cfg.Streams), "stream", ""))
			return nil
		},
	}
}

func printConfigJSON(ctx context.Context, env *cli.Env, cfg *config.Config, problems []string) error {
	type stream struct {
		Name     string `json:"name"`
		Schedule string `json:"schedule,omitempty"`
		Window   string `json:"window"`
		WindowS  int64  `json:"window_seconds"`
	}
	out := struct {
		Valid    bool     `json:"valid"`
		Problems []string `json:"problems"`
		Warnings []string `json:"warnings,omitempty"`
		Streams  []stream `json:"streams,omitempty"`
	}{Valid: len(problems) == 0, Problems: append([]string{}, problems...)}
	if out.Valid {
		out.Warnings = rotationWarnings(ctx, cfg)
		for _, s := range cfg.Streams {
			out.Streams = append(out.Streams, stream{s.Name, s.Schedule, cli.Duration(s.Window), int64(s.Window.Seconds())})
		}
	}
	if err := env.PrintJSON(out); err != nil {
		return err
	}
	if !out.Valid {
		return cli.Reported(cli.ExitUsage)
	}
	return nil
}
