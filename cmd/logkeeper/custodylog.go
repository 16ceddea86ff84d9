package main

import (
	"context"
	"crypto"
	"flag"
	"fmt"
	"time"

	"github.com/logkeeper/logkeeper/custody"
	"github.com/logkeeper/logkeeper/internal/cli"
	"github.com/logkeeper/logkeeper/internal/config"
	"github.com/logkeeper/logkeeper/internal/signing"
	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/service/app"
)

// recordEvent appends a custody event signed with signer: a failure is a
// command that could not complete, saying what was done but not recorded.
func recordEvent(ctx context.Context, signer signing.Signer, st store.Store, e *custody.Event) error {
	rec := &app.Recorder{Store: st, Signer: signer}
	if err := rec.Record(ctx, e); err != nil {
		return cli.Incomplete(fmt.Errorf("%s done, but not recorded in the custody log: %w", e.Type, err))
	}
	return nil
}

// actor resolves who records an event (app.ResolveActor): --actor, else
// the AWS caller identity for an S3 store, else the OS user.
func actor(ctx context.Context, env *cli.Env, cfg *config.Config, flag string) string {
	return app.ResolveActor(ctx, cfg, flag, env.Log)
}

// actorUsage is the help of every --actor flag.
const actorUsage = "`name` recorded in the custody log as who acted (default: the AWS caller identity for an S3 store, else the OS user)"

type logEvent struct {
	Sequence uint64            `json:"sequence"`
	Type     string            `json:"type"`
	Time     time.Time         `json:"time"`
	Actor    string            `json:"actor"`
	Matter   string            `json:"matter"`
	Reason   string            `json:"reason"`
	Stream   string            `json:"stream,omitempty"`
	Host     string            `json:"host"`
	Version  string            `json:"version"`
	Details  map[string]string `json:"details,omitempty"`
}

func custodyLogCommand() *cli.Command {
	var (
		cf     configFlags
		matter string
		pubkey string
	)
	return &cli.Command{
		Name:     "custody log",
		Summary:  "List the store's custody log (export runs, verifications, holds placed and released, bundles produced) and verify it: links, signatures, no gaps.",
		Example:  "logkeeper custody log -c /etc/logkeeper/logkeeper.yaml --matter M-2026-17",
		Required: []string{"c"},
		Flags: func(fs *flag.FlagSet) {
			cf.define(fs, false)
			fs.StringVar(&matter, "matter", "", "list only the events of this matter `id` (the whole log is verified)")
			fs.StringVar(&pubkey, "pubkey", "", "trust only this public key `file` (PEM) instead of the configured signing key's")
		},
		Run: func(ctx context.Context, env *cli.Env) error {
			cfg, err := cf.load()
			if err != nil {
				return err
			}
			pub, err := publicKey(ctx, cfg, pubkey)
			if err != nil {
				return err
			}
			st, err := openStoreReadOnly(ctx, cfg)
			if err != nil {
				return err
			}
			// A rotated key: the events are signed by the keys of the
			// streams' key histories, which pub reaches.
			var more []crypto.PublicKey
			for _, s := range cfg.Streams {
				keys, err := custody.HistoryKeys(ctx, st, s.Name, pub)
				if err != nil {
					return cli.Incomplete(err)
				}
				more = append(more, keys...)
			}
			rep, err := custody.ReadLog(ctx, st, pub, more...)
			if err != nil {
				return cli.Incomplete(err)
			}
			out := struct {
				Valid    bool              `json:"valid"`
				Events   []logEvent        `json:"events"`
				Problems []custody.Problem `json:"problems"`
			}{Valid: len(rep.Problems) == 0, Events: []logEvent{}, Problems: rep.Problems}
			if out.Problems == nil {
				out.Problems = []custody.Problem{}
			}
			for _, le := range rep.Events {
				e := le.Event
				if matter != "" && e.Matter != matter {
					continue
				}
				out.Events = append(out.Events, logEvent{Sequence: e.Sequence, Type: e.Type, Time: e.Time, Actor: e.Actor,
					Matter: e.Matter, Reason: e.Reason, Stream: e.Stream, Host: e.Host, Version: e.Version, Details: e.Details})
			}
			if env.JSON {
				env.PrintJSON(out) //nolint:errcheck // stdout
			} else {
				for _, e := range out.Events {
					env.Printf("%d %s %s by %s on %s: matter %s: %s\n", e.Sequence, e.Time.Format(time.RFC3339), e.Type, e.Actor, e.Host, e.Matter, e.Reason)
				}
				for _, p := range out.Problems {
					env.Printf("%s %s: %s\n", p.Kind, p.Key, p.Detail)
				}
				env.Printf("custody log: %s, %s\n", cli.Count(len(rep.Events), "event", ""), cli.Count(len(out.Problems), "problem", ""))
			}
			if !out.Valid {
				return cli.Reported(cli.ExitProblems)
			}
			return nil
		},
	}
}
