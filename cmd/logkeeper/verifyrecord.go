package main

import (
	"context"
	"errors"
	"flag"
	"strconv"

	"github.com/logkeeper/logkeeper/custody"
	"github.com/logkeeper/logkeeper/internal/cli"
	"github.com/logkeeper/logkeeper/internal/config"
	"github.com/logkeeper/logkeeper/internal/signing"
	"github.com/logkeeper/logkeeper/internal/store"
)

// recordFlags are verify's --record, --actor, --matter and --reason: a
// verification is recorded in the custody log only when asked, so that
// routine checks (the daemon's --verify-every, monitoring) do not bury the
// events that matter under thousands of identical ones.
type recordFlags struct {
	record         bool
	who            string
	matter, reason string

	st     store.Store
	signer signing.Signer
	actor  string
}

func (r *recordFlags) define(fs *flag.FlagSet) {
	fs.BoolVar(&r.record, "record", false, "record this verification (range, result, checkpoint) in the store's custody log, signed")
	fs.StringVar(&r.who, "actor", "", actorUsage+" (with --record)")
	fs.StringVar(&r.matter, "matter", "", "matter `id` the verification is made for (with --record)")
	fs.StringVar(&r.reason, "reason", "verification", "`text` recorded with --record: why the chain is verified")
}

// open checks the flags and, with --record, opens the signer and the
// store for writing the event: before anything is verified, so a key that
// cannot sign fails first.
func (r *recordFlags) open(ctx context.Context, env *cli.Env, cfg *config.Config) error {
	if !r.record {
		if r.who != "" || r.matter != "" {
			return cli.Usage(errors.New("--actor and --matter are recorded only with --record"))
		}
		return nil
	}
	var err error
	if r.signer, err = openSigner(ctx, cfg); err != nil {
		return err
	}
	if r.st, err = openStore(ctx, cfg); err != nil {
		return err
	}
	r.actor = actor(ctx, env, cfg, r.who)
	return nil
}

// verification records rep when asked to.
func (r *recordFlags) verification(ctx context.Context, rep *custody.Report, opts custody.VerifyOptions) error {
	if !r.record {
		return nil
	}
	from, to := opts.From, opts.To
	if from == 0 {
		from = 1
	}
	if to == 0 {
		to = rep.Head
	}
	mode, result := "fast", "valid"
	if opts.Deep {
		mode = "deep"
	}
	if len(rep.Problems) > 0 {
		result = "problems"
	}
	d := map[string]string{"from": strconv.FormatUint(from, 10), "to": strconv.FormatUint(to, 10), "mode": mode, "result": result,
		"problems": strconv.Itoa(len(rep.Problems)), "manifests_checked": strconv.Itoa(rep.ManifestsChecked),
		"objects_checked": strconv.Itoa(rep.ObjectsChecked)}
	if rep.HeadSHA256 != "" {
		d["checkpoint"] = strconv.FormatUint(rep.Head, 10) + ":" + rep.HeadSHA256
	}
	if c := rep.Checkpoint; c != nil && c.Root != "" {
		d["tree_size"], d["tree_root"] = strconv.FormatUint(c.Size, 10), c.Root
	}
	return recordEvent(ctx, r.signer, r.st, &custody.Event{Type: custody.EventVerification, Actor: r.actor,
		Matter: r.matter, Reason: r.reason, Stream: rep.Stream, Details: d})
}
