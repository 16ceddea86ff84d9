package main

import (
	"context"
	"crypto"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"time"

	"github.com/logkeeper/logkeeper/custody"
	"github.com/logkeeper/logkeeper/custody/bundle"
	"github.com/logkeeper/logkeeper/internal/cli"
	"github.com/logkeeper/logkeeper/internal/signing"
)

// timeFlag is an optional RFC 3339 time.
type timeFlag struct{ t time.Time }

func (f *timeFlag) String() string {
	if f.t.IsZero() {
		return ""
	}
	return f.t.Format(time.RFC3339)
}

func (f *timeFlag) Set(s string) error {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return fmt.Errorf("want an RFC 3339 time such as 2026-11-25T00:00:00Z")
	}
	f.t = t
	return nil
}

func bundleCommand() *cli.Command {
	var (
		cf       configFlags
		from, to timeFlag
		o        custody.BundleOptions
		reason   string
	)
	return &cli.Command{
		Name:     "bundle",
		Summary:  "Write a self-contained discovery bundle of a stream's archived files with inclusion proofs, for offline verification.",
		Example:  "logkeeper bundle -c /etc/logkeeper/logkeeper.yaml --matter M-2026-17 --stream app-logs --from 2026-11-25T00:00:00Z --to 2026-11-26T00:00:00Z --out ./M-2026-17",
		Required: []string{"c", "matter", "stream", "out"},
		Flags: func(fs *flag.FlagSet) {
			cf.define(fs, true)
			fs.StringVar(&o.Matter, "matter", "", "matter `id` the bundle is produced for")
			fs.Var(&from, "from", "bundle runs whose window ends after this `time` (RFC 3339)")
			fs.Var(&to, "to", "bundle runs whose window starts before this `time` (RFC 3339)")
			fs.StringVar(&o.Out, "out", "", "output `folder`; must not exist or be empty")
			fs.StringVar(&o.Actor, "actor", "", actorUsage)
			fs.StringVar(&reason, "reason", "discovery production", "`text` recorded in the custody log: why the bundle is produced")
		},
		Run: func(ctx context.Context, env *cli.Env) error {
			if o.Matter == "" {
				return cli.Usage(errors.New("--matter: empty"))
			}
			if !from.t.IsZero() && !to.t.IsZero() && !from.t.Before(to.t) {
				return cli.Usage(fmt.Errorf("--from %s is not before --to %s", from.String(), to.String()))
			}
			o.From, o.To = from.t, to.t
			cfg, err := cf.load()
			if err != nil {
				return err
			}
			o.Actor = actor(ctx, env, cfg, o.Actor)
			signer, err := openSigner(ctx, cfg)
			if err != nil {
				return err
			}
			o.PublicKey = signer.Public()
			if _, err := openStoreReadOnly(ctx, cfg); err != nil {
				return err // a file store that does not exist is not created
			}
			st, err := openStore(ctx, cfg)
			if err != nil {
				return err
			}
			if p := env.Progress("bundle", "file"); p != nil {
				o.Observer = p
			}
			started := time.Now()
			res, err := custody.WriteBundle(ctx, st, cf.stream, o)
			if errors.Is(err, custody.ErrOutNotEmpty) {
				return cli.Usage(fmt.Errorf("--out: %w", err))
			}
			if err != nil {
				return cli.Incomplete(err)
			}
			if err := recordEvent(ctx, signer, st, &custody.Event{Type: custody.EventBundle, Actor: o.Actor, Matter: o.Matter,
				Reason: reason, Stream: cf.stream, Details: map[string]string{"from": from.String(), "to": to.String(),
					"files": strconv.Itoa(res.Files), "manifests": strconv.Itoa(res.Manifests), "bundle_sha256sums_digest": res.Digest}}); err != nil {
				return err
			}
			if env.JSON {
				return env.PrintJSON(res)
			}
			env.Printf("matter %s, stream %s: %s from %s (%s, %s) in %s, digest %s\n",
				res.Matter, res.Stream, cli.Count(res.Files, "file", ""), cli.Count(res.Manifests, "manifest", ""),
				cli.Size(res.Bytes), cli.Rate(res.Bytes, time.Since(started)), res.Out, res.Digest)
			return nil
		},
	}
}

func verifyBundleCommand() *cli.Command {
	var pubkey string
	return &cli.Command{
		Name:    "verify-bundle",
		Summary: "Verify a discovery bundle offline: every file, inclusion proof, manifest signature and chain link.",
		Example: "logkeeper verify-bundle ./M-2026-17 --pubkey owner.pub.pem",
		Args:    "DIR",
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&pubkey, "pubkey", "", "trust only this public key `file` (PEM); default the bundled key, which proves integrity but not origin")
		},
		Run: func(ctx context.Context, env *cli.Env) error {
			if len(env.Positional) != 1 {
				return cli.Usage(errors.New("want exactly one bundle folder DIR"))
			}
			var pub crypto.PublicKey
			if pubkey != "" {
				var err error
				if pub, err = signing.LoadPublicKeyFile(pubkey); err != nil {
					return cli.Usage(fmt.Errorf("--pubkey: %w", err))
				}
			}
			rep, err := bundle.Verify(env.Positional[0], pub)
			if err != nil {
				return cli.Usage(err)
			}
			if env.JSON {
				env.PrintJSON(rep) //nolint:errcheck // stdout
			} else {
				for _, p := range rep.Problems {
					env.Printf("%s %s: %s\n", p.Kind, p.Path, p.Detail)
				}
				trust := "the key given with --pubkey"
				if rep.KeySource == bundle.KeyBundled {
					trust = "the bundled key only (not confirmed from outside: give --pubkey)"
				}
				env.Printf("matter %s, stream %s: %d of %s valid, %d of %s valid, key %s trusted: %s; %s\n",
					rep.Matter, rep.Stream, rep.FilesValid, cli.Count(rep.FilesChecked, "file", ""),
					rep.ManifestsValid, cli.Count(rep.ManifestsChecked, "manifest", ""), rep.TrustedKey, trust,
					cli.Count(len(rep.Problems), "problem", ""))
			}
			if len(rep.Problems) > 0 {
				return cli.Reported(cli.ExitProblems)
			}
			return nil
		},
	}
}
