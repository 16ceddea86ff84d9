package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/logkeeper/logkeeper/internal/cli"
	"github.com/logkeeper/logkeeper/internal/config"
	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/service/policycheck"
	"github.com/logkeeper/logkeeper/service/report"
)

func reportCommand() *cli.Command {
	var (
		cf       configFlags
		from, to timeFlag
		out      string
		pubkey   string
		origin   string
		deep     bool
	)
	return &cli.Command{
		Name:     "report",
		Summary:  "Write a stream's report for reviewers: one self-contained HTML file (coverage, runs, verification, checkpoints, retention, holds, policy).",
		Example:  "logkeeper report -c /etc/logkeeper/logkeeper.yaml --stream app-logs --from 2026-11-01T00:00:00Z --to 2026-12-01T00:00:00Z --out app-logs-november.html",
		Required: []string{"c", "stream", "out"},
		Flags: func(fs *flag.FlagSet) {
			cf.define(fs, true)
			fs.Var(&from, "from", "start of the report's range, a `time` (RFC 3339); default the window in which the first run ended")
			fs.Var(&to, "to", "end of the report's range, a `time` (RFC 3339); default the last complete window (scheduled streams) or the last run's end")
			fs.StringVar(&out, "out", "", "the HTML `file` to write (replaced whole if it exists)")
			fs.StringVar(&pubkey, "pubkey", "", "trust only this public key `file` (PEM) instead of the configured signing key's")
			fs.StringVar(&origin, "origin", "", "`URL` where the archive was written, to report on a copy of it (as verify --origin)")
			fs.BoolVar(&deep, "deep", false, "download every object and re-hash it (as verify --deep)")
		},
		Run: func(ctx context.Context, env *cli.Env) error {
			if !from.t.IsZero() && !to.t.IsZero() && !from.t.Before(to.t) {
				return cli.Usage(fmt.Errorf("--from %s is not before --to %s", from.String(), to.String()))
			}
			if err := checkOutFile(out); err != nil {
				return cli.Usage(err)
			}
			if origin != "" {
				if err := config.CheckOrigin(origin); err != nil {
					return cli.Usage(fmt.Errorf("--origin: %w", err))
				}
			}
			cfg, err := cf.load()
			if err != nil {
				return err
			}
			s, _ := cfg.Stream(cf.stream)
			in := report.Input{Stream: cf.stream, From: from.t, To: to.t, Window: s.Window, Scheduled: s.Schedule != "",
				RetentionMode: cfg.Store.ObjectLock.Mode, RetentionDays: cfg.Store.ObjectLock.RetainDays,
				Origin: cfg.Store.Origin, WitnessURL: cfg.Store.Witness, Deep: deep}
			if origin != "" {
				in.Origin = origin
			}
			if in.PublicKey, err = publicKey(ctx, cfg, pubkey); err != nil {
				return err
			}
			if in.Store, err = openStoreReadOnly(ctx, cfg); err != nil {
				return err
			}
			if in.Witness, err = openWitnessReadOnly(ctx, cfg); err != nil {
				return err
			}
			in.Policy = reportPolicy(ctx, env, cfg, in.Store, in.Witness)
			if p := env.Progress("verify", "object"); p != nil {
				in.Observer = p
			}
			rep, err := report.Build(ctx, in)
			if errors.Is(err, report.ErrRange) {
				return cli.Usage(err)
			}
			if err != nil {
				return cli.Incomplete(fmt.Errorf("could not complete: %w", err))
			}
			rep.Out = out
			if abs, err := filepath.Abs(out); err == nil {
				rep.Out = abs
			}
			if err := report.WriteFile(out, rep); err != nil {
				return cli.Incomplete(err)
			}
			printReport(env, rep)
			if len(rep.Problems) > 0 || len(rep.Gaps) > 0 {
				return cli.Reported(cli.ExitProblems)
			}
			return nil
		},
	}
}

// reportPolicy runs the policy check for the report. A check that cannot
// complete (KMS out of reach) does not stop the report: it shows as one
// unknown check that says why.
func reportPolicy(ctx context.Context, env *cli.Env, cfg *config.Config, st, witness store.Store) []report.PolicyCheck {
	res, err := policycheck.Check(ctx, cfg, policycheck.Options{Store: st, Witness: witness})
	if err != nil {
		env.Log.Warn("policy check could not complete", "err", err.Error())
		return []report.PolicyCheck{{Name: "policy_check", Status: policycheck.StatusUnknown, Detail: err.Error(),
			Fix: "run logkeeper policy check -c FILE where the store, the witness and KMS can be reached"}}
	}
	out := make([]report.PolicyCheck, len(res.Checks))
	for i, c := range res.Checks {
		out[i] = report.PolicyCheck{Name: c.Name, Status: c.Status, Detail: c.Detail, Fix: c.Fix}
	}
	return out
}

// checkOutFile refuses an --out whose folder is missing or that names a
// folder, before anything is read.
func checkOutFile(out string) error {
	if out == "" || strings.HasSuffix(out, string(filepath.Separator)) {
		return fmt.Errorf("--out %q: want a file name, such as report.html", out)
	}
	dir := filepath.Dir(out)
	if fi, err := os.Stat(dir); err != nil {
		return fmt.Errorf("--out %s: folder %s does not exist (create it first)", out, dir)
	} else if !fi.IsDir() {
		return fmt.Errorf("--out %s: %s is not a folder", out, dir)
	}
	if fi, err := os.Stat(out); err == nil && fi.IsDir() {
		return fmt.Errorf("--out %s: is a folder; want a file name, such as report.html", out)
	}
	return nil
}

func printReport(env *cli.Env, r *report.Report) {
	if env.JSON {
		env.PrintJSON(r) //nolint:errcheck // stdout
		return
	}
	if r.NoData != "" {
		env.Printf("no data: %s\n", r.NoData)
	}
	for _, g := range r.Gaps {
		env.Printf("gap %s to %s (%s)\n", g.Start.Format(time.RFC3339Nano), g.End.Format(time.RFC3339Nano), cli.Count(g.Windows, "window", ""))
	}
	env.Printf("stream %s: report %s: %s, %s, %s, %s\n", r.Stream, r.Out, cli.Count(len(r.Windows), "window", ""),
		cli.Count(len(r.Gaps), "gap", ""), cli.Count(len(r.Runs), "run", ""), cli.Count(len(r.Problems), "problem", ""))
}
