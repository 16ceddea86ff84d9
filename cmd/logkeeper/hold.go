package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"time"

	"github.com/logkeeper/logkeeper/custody"
	"github.com/logkeeper/logkeeper/internal/cli"
	"github.com/logkeeper/logkeeper/internal/config"
	"github.com/logkeeper/logkeeper/internal/store"
)

// holdError classifies the errors of the hold commands: a store that
// cannot hold, an unknown, invalid or conflicting matter are usage (exit
// 2, nothing changed); anything else could not complete.
func holdError(err error) error {
	for _, e := range []error{store.ErrNoLegalHold, custody.ErrUnknownMatter, custody.ErrMatterConflict, custody.ErrInvalidMatter} {
		if errors.Is(err, e) {
			return cli.Usage(err)
		}
	}
	return cli.Incomplete(err)
}

func holdPlaceCommand() *cli.Command {
	var (
		cf       configFlags
		from, to timeFlag
		o        custody.HoldOptions
	)
	return &cli.Command{
		Name:     "hold place",
		Summary:  "Place a legal hold for a matter on every object version, manifest and signature of a stream's runs in a time range.",
		Example:  "logkeeper hold place -c /etc/logkeeper/logkeeper.yaml --matter M-2026-17 --stream app-logs --from 2026-11-25T00:00:00Z --reason \"litigation hold, letter of 2026-11-30\"",
		Required: []string{"c", "matter", "stream", "reason"},
		Flags: func(fs *flag.FlagSet) {
			cf.define(fs, true)
			fs.StringVar(&o.Matter, "matter", "", "matter `id`")
			fs.Var(&from, "from", "hold runs whose window ends after this `time` (RFC 3339)")
			fs.Var(&to, "to", "hold runs whose window starts before this `time` (RFC 3339)")
			fs.StringVar(&o.Reason, "reason", "", "`text`: why the hold is placed")
			fs.StringVar(&o.Actor, "actor", "", actorUsage)
		},
		Run: func(ctx context.Context, env *cli.Env) error {
			if !from.t.IsZero() && !to.t.IsZero() && !from.t.Before(to.t) {
				return cli.Usage(fmt.Errorf("--from %s is not before --to %s", from.String(), to.String()))
			}
			o.From, o.To = from.t, to.t
			cfg, err := cf.load()
			if err != nil {
				return err
			}
			o.Actor = actor(ctx, env, cfg, o.Actor)
			if o.PublicKey, err = publicKey(ctx, cfg, ""); err != nil {
				return err
			}
			signer, err := openSigner(ctx, cfg)
			if err != nil {
				return err
			}
			st, err := openStore(ctx, cfg)
			if err != nil {
				return err
			}
			if p := env.Progress("hold", "version"); p != nil {
				o.Observer = p
			}
			res, err := custody.PlaceHold(ctx, st, cf.stream, o)
			if err != nil {
				return holdError(err)
			}
			if err := recordEvent(ctx, signer, st, &custody.Event{Type: custody.EventHoldPlaced, Actor: o.Actor, Matter: o.Matter,
				Reason: o.Reason, Stream: cf.stream, Details: map[string]string{custody.DetailFrom: nanoTime(from.t), custody.DetailTo: nanoTime(to.t),
					custody.DetailThrough: strconv.FormatUint(res.Through, 10), custody.DetailPlacedAt: nanoTime(res.PlacedAt),
					"objects_held": strconv.Itoa(res.ObjectsHeld), "manifests_held": strconv.Itoa(res.ManifestsHeld)}}); err != nil {
				return err
			}
			if env.JSON {
				return env.PrintJSON(res)
			}
			env.Printf("matter %s, stream %s: %s and %s held\n", res.Matter, res.Stream,
				cli.Count(res.ObjectsHeld, "object", ""), cli.Count(res.ManifestsHeld, "manifest", ""))
			return nil
		},
	}
}

func holdReleaseCommand() *cli.Command {
	var (
		cf             configFlags
		matter, reason string
		who            string
	)
	return &cli.Command{
		Name:     "hold release",
		Summary:  "Release a matter's legal hold from everything no other open matter still holds.",
		Example:  "logkeeper hold release -c /etc/logkeeper/logkeeper.yaml --matter M-2026-17 --reason \"matter closed\"",
		Required: []string{"c", "matter", "reason"},
		Flags: func(fs *flag.FlagSet) {
			cf.define(fs, false)
			fs.StringVar(&matter, "matter", "", "matter `id`")
			fs.StringVar(&reason, "reason", "", "`text`: why the hold is released")
			fs.StringVar(&who, "actor", "", actorUsage)
		},
		Run: func(ctx context.Context, env *cli.Env) error {
			cfg, err := cf.load()
			if err != nil {
				return err
			}
			who = actor(ctx, env, cfg, who)
			signer, err := openSigner(ctx, cfg)
			if err != nil {
				return err
			}
			st, err := openStore(ctx, cfg)
			if err != nil {
				return err
			}
			var obs custody.Observer
			if p := env.Progress("release", "version"); p != nil {
				obs = p
			}
			res, err := custody.ReleaseHold(ctx, st, matter, reason, who, time.Now(), obs)
			if err != nil {
				return holdError(err)
			}
			if err := recordEvent(ctx, signer, st, &custody.Event{Type: custody.EventHoldReleased, Actor: who, Matter: matter,
				Reason: reason, Details: map[string]string{"released": strconv.Itoa(res.Released), "still_held": strconv.Itoa(res.StillHeld),
					custody.DetailReleasedAt: nanoTime(res.ReleasedAt)}}); err != nil {
				return err
			}
			if env.JSON {
				return env.PrintJSON(res)
			}
			env.Printf("matter %s: %s released, %s still held by other matters\n", res.Matter,
				cli.Count(res.Released, "version", ""), cli.Count(res.StillHeld, "version", ""))
			return nil
		},
	}
}

// nanoTime is t in RFC 3339 with its fraction, or "" for no time.
func nanoTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// holdSummary is one matter in hold list.
type holdSummary struct {
	Matter     string     `json:"matter"`
	Stream     string     `json:"stream"`
	From       *time.Time `json:"from"`
	To         *time.Time `json:"to"`
	Objects    int        `json:"objects"`
	Manifests  int        `json:"manifests"`
	PlacedAt   time.Time  `json:"placed_at"`
	PlacedBy   string     `json:"placed_by"`
	Reason     string     `json:"reason"`
	ReleasedAt *time.Time `json:"released_at"`
	ReleasedBy string     `json:"released_by,omitempty"`
}

func holdListCommand() *cli.Command {
	var (
		cf      configFlags
		rebuild bool
	)
	return &cli.Command{
		Name:     "hold list",
		Summary:  "List every matter's legal hold: scope, counts, who placed it and when, and whether released (--rebuild: restore lost records from the custody log).",
		Example:  "logkeeper hold list -c /etc/logkeeper/logkeeper.yaml --json\nlogkeeper hold list -c /etc/logkeeper/logkeeper.yaml --rebuild",
		Required: []string{"c"},
		Flags: func(fs *flag.FlagSet) {
			cf.define(fs, false)
			fs.BoolVar(&rebuild, "rebuild", false, "first rewrite every matter record that is missing or damaged from the custody log (which must verify clean), and set the holds of open matters again")
		},
		Run: func(ctx context.Context, env *cli.Env) error {
			cfg, err := cf.load()
			if err != nil {
				return err
			}
			var (
				st      store.Store
				rebuilt []custody.Rebuilt
			)
			if rebuild {
				if st, rebuilt, err = rebuildHolds(ctx, env, cfg); err != nil {
					return err
				}
			} else if st, err = openStoreReadOnly(ctx, cfg); err != nil {
				return err
			}
			holds, lerr := custody.ListHolds(ctx, st)
			if holds == nil && lerr != nil {
				return cli.Incomplete(lerr)
			}
			out := struct {
				Holds   []holdSummary     `json:"holds"`
				Rebuilt []custody.Rebuilt `json:"rebuilt,omitempty"`
			}{Holds: []holdSummary{}, Rebuilt: rebuilt}
			for _, h := range holds {
				out.Holds = append(out.Holds, holdSummary{Matter: h.Matter, Stream: h.Stream, From: h.From, To: h.To,
					Objects: len(h.Objects), Manifests: len(h.Manifests) / 2, PlacedAt: h.PlacedAt, PlacedBy: h.PlacedBy,
					Reason: h.Reason, ReleasedAt: h.ReleasedAt, ReleasedBy: h.ReleasedBy})
			}
			if env.JSON {
				env.PrintJSON(out) //nolint:errcheck // stdout
			} else {
				for _, r := range rebuilt {
					env.Printf("matter %s: record was %s, rebuilt from the custody log; %s held again\n", r.Matter, r.Was, cli.Count(r.Held, "version", ""))
				}
				for _, h := range out.Holds {
					state := "open"
					if h.ReleasedAt != nil {
						state = "released " + h.ReleasedAt.Format(time.RFC3339) + " by " + h.ReleasedBy
					}
					env.Printf("%s stream %s: %s, %s; placed %s by %s: %s; %s\n", h.Matter, h.Stream,
						cli.Count(h.Objects, "object", ""), cli.Count(h.Manifests, "manifest", ""),
						h.PlacedAt.Format(time.RFC3339), h.PlacedBy, h.Reason, state)
				}
			}
			return cli.Problems(lerr)
		},
	}
}

// rebuildHolds is hold list --rebuild: it reads and verifies the custody
// log and rewrites the matter records it can vouch for. A log that fails
// verification rebuilds nothing (exit 1, its problems named).
func rebuildHolds(ctx context.Context, env *cli.Env, cfg *config.Config) (store.Store, []custody.Rebuilt, error) {
	pub, err := publicKey(ctx, cfg, "")
	if err != nil {
		return nil, nil, err
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	rep, err := custody.ReadLog(ctx, st, pub)
	if err != nil {
		return nil, nil, cli.Incomplete(err)
	}
	if len(rep.Problems) > 0 {
		var errs []error
		for _, p := range rep.Problems {
			errs = append(errs, fmt.Errorf("%s %s: %s", p.Kind, p.Key, p.Detail))
		}
		return nil, nil, cli.Problems(fmt.Errorf("the custody log fails verification, nothing rebuilt: %w", errors.Join(errs...)))
	}
	events := make([]*custody.Event, len(rep.Events))
	for i, le := range rep.Events {
		events[i] = le.Event
	}
	var obs custody.Observer
	if p := env.Progress("rebuild", "version"); p != nil {
		obs = p
	}
	rebuilt, err := custody.RebuildHolds(ctx, st, events, pub, obs)
	if err != nil {
		return nil, nil, holdError(err)
	}
	return st, rebuilt, nil
}
