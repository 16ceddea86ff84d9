package main

import (
	"context"
	"errors"
	"flag"
	"strings"

	"github.com/logkeeper/logkeeper/internal/cli"
	"github.com/logkeeper/logkeeper/internal/config"
	"github.com/logkeeper/logkeeper/service/app"
	"github.com/logkeeper/logkeeper/service/policycheck"
)

// policyError classifies the errors of the policy commands: what could not
// be reached is exit 3; what the configuration does not allow, exit 2.
func policyError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, policycheck.ErrNotApplicable):
		return cli.Usage(err)
	}
	return cli.Incomplete(err)
}

func policyCheckCommand() *cli.Command {
	var (
		cf     configFlags
		strict bool
	)
	return &cli.Command{
		Name:     "policy check",
		Summary:  "Check the bucket, KMS key and witness settings the archive relies on (versioning, Object Lock, encryption, access, key policy): pass, fail or unknown, each with a one-line fix.",
		Example:  "logkeeper policy check -c /etc/logkeeper/logkeeper.yaml",
		Required: []string{"c"},
		Flags: func(fs *flag.FlagSet) {
			cf.define(fs, false)
			fs.BoolVar(&strict, "strict", false, "exit 1 also when the server does not say for some check (unknown)")
		},
		Run: func(ctx context.Context, env *cli.Env) error {
			cfg, err := cf.load()
			if err != nil {
				return err
			}
			var o policycheck.Options
			if cfg.Store.Scheme == config.SchemeS3 {
				// What fails here is the configuration (exit 2), as in
				// every command; reaching the bucket is Check's (exit 3).
				if o.Store, err = openStoreReadOnly(ctx, cfg); err != nil {
					return err
				}
			}
			if w := cfg.Store.WitnessStore; w != nil && w.Scheme == config.SchemeS3 {
				if o.Witness, err = app.OpenWitnessReadOnly(ctx, cfg); err != nil {
					return cli.Usage(err)
				}
			}
			res, err := policycheck.Check(ctx, cfg, o)
			if err != nil {
				return cli.Incomplete(err)
			}
			if env.JSON {
				if err := env.PrintJSON(res); err != nil {
					return err
				}
			} else {
				printPolicyCheck(env, res)
			}
			if res.Failed() || strict && res.Unknown() {
				return cli.Reported(cli.ExitProblems)
			}
			return nil
		},
	}
}

func printPolicyCheck(env *cli.Env, res policycheck.Result) {
	counts := map[string]int{}
	for _, c := range res.Checks {
		counts[c.Status]++
		env.Printf("%-7s %s: %s\n", strings.ToUpper(c.Status), c.Name, c.Detail)
		if c.Fix != "" && c.Status != policycheck.StatusPass {
			env.Printf("        fix: %s\n", c.Fix)
		}
	}
	env.Printf("%s: %d passed, %d failed, %d unknown\n", cli.Count(len(res.Checks), "check", ""),
		counts[policycheck.StatusPass], counts[policycheck.StatusFail], counts[policycheck.StatusUnknown])
}

func policyRenderCommand() *cli.Command {
	var (
		cf         configFlags
		kind       string
		principals string
	)
	return &cli.Command{
		Name:     "policy render",
		Summary:  "Print the bucket policy, KMS key policy or exporter IAM policy for the configured store and keys, to apply with your own tooling.",
		Example:  "logkeeper policy render -c /etc/logkeeper/logkeeper.yaml --kind bucket > bucket-policy.json",
		Required: []string{"c", "kind"},
		Flags: func(fs *flag.FlagSet) {
			cf.define(fs, false)
			fs.StringVar(&kind, "kind", "", "which policy: `kind` bucket, kms or iam")
			fs.StringVar(&principals, "principal", "", "IAM principal `ARNs` (comma-separated; the exporter's role) the KMS key policy lets use the key through S3")
		},
		Run: func(ctx context.Context, env *cli.Env) error {
			cfg, err := cf.load()
			if err != nil {
				return err
			}
			var o policycheck.RenderOptions
			for _, p := range strings.Split(principals, ",") {
				if p = strings.TrimSpace(p); p != "" {
					o.Principals = append(o.Principals, p)
				}
			}
			if len(o.Principals) > 0 && kind != policycheck.KindKMS {
				return cli.Usage(errors.New("--principal is for --kind kms"))
			}
			out, err := policycheck.Render(ctx, cfg, kind, o)
			if err != nil {
				return policyError(err)
			}
			_, err = env.Stdout.Write(out)
			return err
		},
	}
}
