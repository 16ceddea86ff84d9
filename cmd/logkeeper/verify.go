package main

import (
	"context"
	"crypto"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/logkeeper/logkeeper/custody"
	"github.com/logkeeper/logkeeper/internal/cli"
	"github.com/logkeeper/logkeeper/internal/config"
	"github.com/logkeeper/logkeeper/internal/signing"
	"github.com/logkeeper/logkeeper/service/app"
)

func verifyCommand() *cli.Command {
	var (
		cf         configFlags
		opts       custody.VerifyOptions
		pubkeys    []string
		checkpoint string
		origin     string
		note       []byte
		rec        recordFlags
	)
	return &cli.Command{
		Name:     "verify",
		Summary:  "Prove a stream's chain of manifests and every archived object complete and unaltered.",
		Example:  "logkeeper verify -c /etc/logkeeper/logkeeper.yaml --stream app-logs --deep --checkpoint 42:SHA256",
		Required: []string{"c", "stream"},
		Flags: func(fs *flag.FlagSet) {
			cf.define(fs, true)
			fs.BoolVar(&opts.Deep, "deep", false, "download every object and re-hash it")
			fs.Func("pubkey", "trust this public key `file` (PEM) instead of the configured signing key's; repeat it to trust several (a chain whose key was rotated is followed from any key of its history)", func(v string) error {
				pubkeys = append(pubkeys, v)
				return nil
			})
			fs.Uint64Var(&opts.From, "from", 0, "first manifest `sequence` number to check")
			fs.Uint64Var(&opts.To, "to", 0, "last manifest `sequence` number to check")
			fs.StringVar(&checkpoint, "checkpoint", "", "`SEQ:SHA256` of a manifest recorded at an earlier verify (head and head_sha256), or a checkpoint note FILE (logkeeper checkpoint): reports a chain cut short or rewritten since")
			fs.StringVar(&origin, "origin", "", "`URL` where the archive was written (s3://BUCKET/PREFIX or file:///PATH), to verify a copy of it; default store.origin, else store.url")
			fs.DurationVar(&opts.MaxAge, "max-age", 0, "report chain_stale when the newest manifest's window ended longer ago than `DUR` (0: no check)")
			rec.define(fs)
		},
		Run: func(ctx context.Context, env *cli.Env) error {
			if opts.From > 0 && opts.To > 0 && opts.From > opts.To {
				return cli.Usage(fmt.Errorf("--from %d is after --to %d: nothing to check", opts.From, opts.To))
			}
			if opts.MaxAge < 0 {
				return cli.Usage(fmt.Errorf("--max-age %s: must not be negative", opts.MaxAge))
			}
			if origin != "" {
				if err := config.CheckOrigin(origin); err != nil {
					return cli.Usage(fmt.Errorf("--origin: %w", err))
				}
			}
			if checkpoint != "" {
				cp, err := parseCheckpoint(checkpoint)
				if err != nil && !looksLikeSeqSum(checkpoint) {
					note, err = readCheckpointNote(checkpoint)
				}
				if err != nil {
					return cli.Usage(err)
				}
				opts.Checkpoint = cp
			}
			cfg, err := cf.load()
			if err != nil {
				return err
			}
			opts.Origin = cfg.Store.Origin
			if origin != "" {
				opts.Origin = origin
			}
			// The key first: a key problem is exit 2 whatever the store.
			if len(pubkeys) == 0 {
				pubkeys = []string{""}
			}
			for i, f := range pubkeys {
				pub, err := publicKey(ctx, cfg, f)
				if err != nil {
					return err
				}
				if i == 0 {
					opts.PublicKey = pub
				} else {
					opts.TrustedKeys = append(opts.TrustedKeys, pub)
				}
			}
			if err := rec.open(ctx, env, cfg); err != nil {
				return err
			}
			st, err := openStoreReadOnly(ctx, cfg)
			if err != nil {
				return err
			}
			if note != nil {
				keys, err := custody.HistoryKeys(ctx, st, cf.stream, append([]crypto.PublicKey{opts.PublicKey}, opts.TrustedKeys...)...)
				if err != nil {
					return cli.Incomplete(fmt.Errorf("could not complete: %w", err))
				}
				th, err := custody.OpenTreeHeadKeys(note, keys, custody.Origin(storeOrigin(opts.Origin, st), cf.stream))
				if err != nil {
					return cli.Usage(fmt.Errorf("--checkpoint %s: %w", checkpoint, err))
				}
				opts.TreeHeads = append(opts.TreeHeads, th)
			}
			if opts.Witness, err = openWitnessReadOnly(ctx, cfg); err != nil {
				return err
			}
			// Trusted roots, like the key: a bad file is exit 2.
			if opts.TimestampRoots, err = app.TimestampRoots(cfg); err != nil {
				return cli.Usage(err)
			}
			if p := env.Progress("verify", "object"); p != nil {
				opts.Observer = p
			}
			started := time.Now()
			rep, err := custody.Verify(ctx, st, cf.stream, opts)
			if errors.Is(err, custody.ErrRange) {
				return cli.Usage(fmt.Errorf("--from/--to: %w", err))
			}
			if err != nil {
				return cli.Incomplete(fmt.Errorf("could not complete: %w", err))
			}
			printVerify(env, rep, opts, time.Since(started))
			if err := rec.verification(ctx, rep, opts); err != nil {
				return err
			}
			if len(rep.Problems) > 0 {
				return cli.Reported(cli.ExitProblems)
			}
			return nil
		},
	}
}

func printVerify(env *cli.Env, rep *custody.Report, opts custody.VerifyOptions, took time.Duration) {
	if env.JSON {
		env.PrintJSON(rep) //nolint:errcheck // stdout
		return
	}
	for _, p := range rep.Problems {
		env.Printf("%s %s: %s\n", p.Kind, p.Key, p.Detail)
	}
	keyID, _ := signing.KeyID(opts.PublicKey)
	if len(rep.Keys) > 1 {
		var ks []string
		for _, k := range rep.Keys {
			ks = append(ks, fmt.Sprintf("%s (%d-%d)", k.KeyID, k.From, k.To))
		}
		keyID = "history " + strings.Join(ks, ", ")
	}
	mode := "fast"
	if opts.Deep {
		mode = "deep"
	}
	env.Printf("stream %s (%s verify, key %s): %d of %s valid, %d of %s valid, %s read (%s), %s\n",
		rep.Stream, mode, keyID, rep.ManifestsValid, cli.Count(rep.ManifestsChecked, "manifest", ""),
		rep.ObjectsValid, cli.Count(rep.ObjectsChecked, "object", ""), cli.Size(rep.Bytes), cli.Rate(rep.Bytes, took),
		cli.Count(len(rep.Problems), "problem", ""))
	if rep.Orphans > 0 {
		env.Printf("%s of runs that wrote no manifest (crashed, or lost a race; not a failure): %s\n",
			cli.Count(rep.Orphans, "orphaned object", ""), strings.Join(rep.OrphanKeys, " "))
	}
	// Without a witness or a note the output stays as it was.
	if c := rep.Checkpoint; c != nil && c.Root != "" && (opts.Witness != nil || len(opts.TreeHeads) > 0) {
		env.Printf("tree size %d, root %s, %s proven consistent\n", c.Size, c.Root, cli.Count(c.Witnessed, "witnessed checkpoint", ""))
	}
	if c := rep.Checkpoint; c != nil && c.Timestamp != nil {
		ts := c.Timestamp
		env.Printf("checkpoint %d time-stamped at %s by %s (serial %s)", ts.Size, ts.Time.Format(time.RFC3339), ts.Authority, ts.Serial)
		if opts.Witness != nil {
			env.Printf(", %s in the witness verified", cli.Count(c.Timestamped, "time-stamp", ""))
		}
		env.Printf("\n")
	}
	if rep.HeadSHA256 != "" {
		env.Printf("checkpoint %d:%s (keep it; pass it as --checkpoint to a later verify to detect a chain cut short or rewritten)\n", rep.Head, rep.HeadSHA256)
	} else {
		env.Printf("no checkpoint: %s\n", rep.NoCheckpoint)
	}
}

// looksLikeSeqSum tells a mistyped SEQ:SHA256 (digits, a colon) from a
// file name, so that its error is about the SEQ:SHA256 form.
func looksLikeSeqSum(s string) bool {
	seq, _, ok := strings.Cut(s, ":")
	return ok && seq != "" && strings.Trim(seq, "0123456789") == ""
}

// parseCheckpoint reads SEQ:SHA256.
func parseCheckpoint(s string) (*custody.Checkpoint, error) {
	seq, sum, ok := strings.Cut(s, ":")
	n, err := strconv.ParseUint(seq, 10, 64)
	if !ok || err != nil || n == 0 || len(sum) != 64 || strings.Trim(sum, "0123456789abcdef") != "" {
		return nil, errors.New("--checkpoint " + strconv.Quote(s) + ": want SEQUENCE:SHA256 (the head and head_sha256 of an earlier verify --json)")
	}
	return &custody.Checkpoint{Sequence: n, SHA256: sum}, nil
}
