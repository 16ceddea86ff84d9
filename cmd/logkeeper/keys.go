package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/logkeeper/logkeeper/internal/cli"
	"github.com/logkeeper/logkeeper/internal/signing"
	"github.com/logkeeper/logkeeper/service/app"
)

func keysGenerateCommand() *cli.Command {
	var out string
	return &cli.Command{
		Name:     "keys generate",
		Summary:  "Create a new Ed25519 signing key file (mode 0600) and its public key beside it (FILE.pub).",
		Example:  "logkeeper keys generate --out /etc/logkeeper/signing.pem",
		Required: []string{"out"},
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&out, "out", "", "private key `file` to create (the public key goes to FILE.pub)")
		},
		Run: func(ctx context.Context, env *cli.Env) error {
			dir := filepath.Dir(out)
			if fi, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
				return cli.Usage(fmt.Errorf("--out %s: folder %s does not exist (create it first)", out, dir))
			} else if err == nil && !fi.IsDir() {
				return cli.Usage(fmt.Errorf("--out %s: %s is not a folder", out, dir))
			}
			pubPath, err := signing.GenerateKeyFile(out)
			if errors.Is(err, fs.ErrExist) {
				return cli.Usage(err)
			}
			if err != nil {
				return cli.Incomplete(err)
			}
			pub, err := signing.LoadPublicKeyFile(pubPath)
			if err != nil {
				return cli.Incomplete(err)
			}
			id, _ := signing.KeyID(pub)
			if env.JSON {
				return env.PrintJSON(map[string]string{"private_key": out, "public_key": pubPath, "key_id": id})
			}
			env.Printf("private key %s (mode 0600)\npublic key  %s\nkey id      %s\n", out, pubPath, id)
			return nil
		},
	}
}

func keysPublicCommand() *cli.Command {
	var cf configFlags
	return &cli.Command{
		Name:     "keys public",
		Summary:  "Print the public key (PEM) of the configured signing key, to hand to auditors for verify --pubkey.",
		Example:  "logkeeper keys public -c /etc/logkeeper/logkeeper.yaml > logkeeper.pub",
		Required: []string{"c"},
		Flags:    func(fs *flag.FlagSet) { cf.define(fs, false) },
		Run: func(ctx context.Context, env *cli.Env) error {
			cfg, err := cf.load()
			if err != nil {
				return err
			}
			signer, err := openSigner(ctx, cfg)
			if err != nil {
				return err
			}
			pem, err := signing.MarshalPublicKeyPEM(signer.Public())
			if err != nil {
				return cli.Incomplete(err)
			}
			if env.JSON {
				id, _ := signing.KeyID(signer.Public())
				return env.PrintJSON(map[string]string{"public_key_pem": string(pem), "key_id": id})
			}
			_, err = env.Stdout.Write(pem)
			return err
		},
	}
}

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:    "version",
		Summary: "Print the version (also: logkeeper --version).",
		Example: "logkeeper version --json",
		Run: func(ctx context.Context, env *cli.Env) error {
			if env.JSON {
				return env.PrintJSON(map[string]string{"version": app.Version})
			}
			env.Printf("logkeeper %s\n", app.Version)
			return nil
		},
	}
}
