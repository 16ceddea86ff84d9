package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/logkeeper/logkeeper/custody"
	"github.com/logkeeper/logkeeper/export"
	"github.com/logkeeper/logkeeper/internal/cli"
	"github.com/logkeeper/logkeeper/internal/signing"
	"github.com/logkeeper/logkeeper/internal/signing/signers"
	"github.com/logkeeper/logkeeper/service/app"
)

// keyProbe is what a key is asked to sign to show that it can.
var keyProbe = []byte("logkeeper key probe: this key can sign\n")

// probeSigner signs keyProbe with s and verifies the signature with its
// public key: a key that can be opened but not used (KMS access denied
// for Sign, a key pair that does not match) is refused here, before
// anything is written.
func probeSigner(ctx context.Context, s signing.Signer) error {
	sig, err := s.Sign(ctx, keyProbe)
	if err != nil {
		return fmt.Errorf("key %s cannot sign: %w", s.KeyID(), err)
	}
	if err := signing.Verify(s.Public(), s.Algorithm(), keyProbe, sig); err != nil {
		return fmt.Errorf("key %s signs, but its signature does not verify with its public key: %w", s.KeyID(), err)
	}
	return nil
}

func keysRotateCommand() *cli.Command {
	var (
		cf     configFlags
		to     string
		reason string
		who    string
	)
	return &cli.Command{
		Name:     "keys rotate",
		Summary:  "Hand every stream's chain from the configured signing key to a new one: a key transition record signed by both keys.",
		Example:  "logkeeper keys rotate -c /etc/logkeeper/logkeeper.yaml --to awskms://alias/logkeeper-2027 --reason \"yearly rotation\"",
		Required: []string{"c", "to"},
		Flags: func(fs *flag.FlagSet) {
			cf.define(fs, false)
			fs.StringVar(&to, "to", "", "the new signing key `URL`: file:///ABS/PATH.pem or awskms://KEY-ID-OR-ALIAS-OR-ARN")
			fs.StringVar(&reason, "reason", "", "why the key is rotated (`text`, recorded in each transition record and the custody log)")
			fs.StringVar(&who, "actor", "", actorUsage)
		},
		Run: func(ctx context.Context, env *cli.Env) error {
			cfg, err := cf.load()
			if err != nil {
				return err
			}
			old, err := openSigner(ctx, cfg)
			if err != nil {
				return err
			}
			next, err := signers.Open(ctx, to, signers.DefaultKMSClient)
			if err != nil {
				err = fmt.Errorf("--to: %w", err)
				if strings.HasPrefix(to, signers.SchemeAWSKMS+"://") {
					return cli.Incomplete(err)
				}
				return cli.Usage(err)
			}
			if next.KeyID() == old.KeyID() {
				return cli.Usage(fmt.Errorf("--to names the configured signing key %s: nothing to rotate", old.KeyID()))
			}
			for _, p := range []struct {
				what string
				s    signing.Signer
			}{{"signing.key", old}, {"--to", next}} {
				if err := probeSigner(ctx, p.s); err != nil {
					return cli.Incomplete(fmt.Errorf("%s: %w (nothing was written)", p.what, err))
				}
			}
			st, err := openStore(ctx, cfg)
			if err != nil {
				return err
			}
			// Every chain is checked before any is changed: a stream whose
			// current key is neither key stops the rotation with nothing
			// written.
			jobs := make([]*export.Job, 0, len(cfg.Streams))
			for _, s := range cfg.Streams {
				j, err := app.NewKeyJob(ctx, cfg, s.Name, st, old, env.Log)
				if err != nil {
					return cli.Usage(err)
				}
				if _, err := custody.Load(ctx, st, s.Name, old.Public()); err != nil {
					if _, nerr := custody.Load(ctx, st, s.Name, next.Public()); nerr == nil && errors.Is(err, custody.ErrKeyNotCurrent) {
						jobs = append(jobs, j) // already handed over by an earlier rotation
						continue
					}
					if errors.Is(err, custody.ErrChainBroken) {
						return cli.Problems(fmt.Errorf("stream %s: %w (nothing was written; run logkeeper verify)", s.Name, err))
					}
					return cli.Incomplete(fmt.Errorf("stream %s: %w (nothing was written)", s.Name, err))
				}
				jobs = append(jobs, j)
			}
			var done []*export.Rotation
			var rotated []string
			for _, j := range jobs {
				r, err := j.Rotate(ctx, next, reason)
				if err != nil {
					return cli.Incomplete(fmt.Errorf("%w (streams handed over before it: %s; run the command again to finish)", err, strings.Join(rotated, ", ")))
				}
				done = append(done, r)
				if r.Outcome == export.Rotated {
					rotated = append(rotated, r.Stream)
				}
			}
			if len(rotated) > 0 {
				pem, _ := signing.MarshalPublicKeyPEM(next.Public())
				if err := recordEvent(ctx, old, st, &custody.Event{Type: custody.EventKeyRotated, Actor: actor(ctx, env, cfg, who), Reason: reason,
					Details: map[string]string{"old_key_id": old.KeyID(), "new_key_id": next.KeyID(), "new_public_key": string(pem), "streams": strings.Join(rotated, ",")}}); err != nil {
					return err
				}
			}
			const hint = "the chains are now signed by the new key: set signing.key to it in the configuration (logkeeper config check warns until then); keep the old key's public key, or any one key of the history, to verify"
			if env.JSON {
				return env.PrintJSON(map[string]any{"old_key_id": old.KeyID(), "new_key_id": next.KeyID(), "new_key": to, "streams": done, "next_step": hint})
			}
			for _, r := range done {
				switch r.Outcome {
				case export.Rotated:
					env.Printf("%s: key transition record %d (%s)\n", r.Stream, r.Sequence, r.ManifestKey)
				case export.AlreadyRotated:
					env.Printf("%s: already handed over to %s\n", r.Stream, next.KeyID())
				default:
					env.Printf("%s: no manifest yet; its first run will be signed by the new key\n", r.Stream)
				}
			}
			env.Printf("rotated from %s to %s\n%s: %s\n", old.KeyID(), next.KeyID(), hint, to)
			return nil
		},
	}
}
