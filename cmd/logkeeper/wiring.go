package main

import (
	"context"
	"crypto"
	"errors"
	"flag"
	"fmt"

	"github.com/logkeeper/logkeeper/internal/cli"
	"github.com/logkeeper/logkeeper/internal/config"
	"github.com/logkeeper/logkeeper/internal/signing"
	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/service/app"
)

// configFlags are -c FILE and, for commands about one stream, --stream.
type configFlags struct {
	path   string
	stream string
}

func (c *configFlags) define(fs *flag.FlagSet, stream bool) {
	fs.StringVar(&c.path, "c", "", "configuration `file` (YAML)")
	if stream {
		fs.StringVar(&c.stream, "stream", "", "stream `name` (one of the configuration's streams)")
	}
}

// load reads the configuration and checks the stream, if one was asked
// for: every problem is a usage error (exit 2).
func (c *configFlags) load() (*config.Config, error) {
	cfg, err := config.Load(c.path)
	if err != nil {
		return nil, cli.Usage(err)
	}
	if c.stream != "" {
		if _, err := cfg.Stream(c.stream); err != nil {
			return nil, cli.Usage(err)
		}
	}
	return cfg, nil
}

// loadStore loads the configuration and opens its store.
func (c *configFlags) loadStore(ctx context.Context) (*config.Config, store.Store, error) {
	cfg, err := c.load()
	if err != nil {
		return nil, nil, err
	}
	st, err := openStore(ctx, cfg)
	return cfg, st, err
}

// openStore opens the configured store; what fails here is the
// configuration (a missing folder, a bad URL), exit 2.
func openStore(ctx context.Context, cfg *config.Config) (store.Store, error) {
	st, err := app.OpenStore(ctx, cfg)
	return st, cli.Usage(err)
}

// openStoreReadOnly opens the configured store for a reader: nothing is
// created in it. A file store whose folder does not exist cannot be
// verified (exit 3, naming the path); other failures are configuration.
func openStoreReadOnly(ctx context.Context, cfg *config.Config) (store.Store, error) {
	st, err := app.OpenStoreReadOnly(ctx, cfg)
	if errors.Is(err, store.ErrNoStore) {
		return nil, cli.Incomplete(fmt.Errorf("could not complete: %w", err))
	}
	return st, cli.Usage(err)
}

// keyError classifies an error opening the signing key: a key file that
// is missing or unreadable is configuration (exit 2) in every command; a
// KMS key that cannot be reached is a command that could not complete.
func keyError(cfg *config.Config, err error) error {
	if cfg.Signing.KeyScheme == config.KeySchemeFile {
		return cli.Usage(err)
	}
	return cli.Incomplete(err)
}

func openSigner(ctx context.Context, cfg *config.Config) (signing.Signer, error) {
	s, err := app.OpenSigner(ctx, cfg)
	return s, keyError(cfg, err)
}

// publicKey is the key verify trusts (see app.PublicKey): a --pubkey file
// that cannot be read is a usage error.
func publicKey(ctx context.Context, cfg *config.Config, pubkeyFile string) (crypto.PublicKey, error) {
	pub, err := app.PublicKey(ctx, cfg, pubkeyFile)
	if err != nil && pubkeyFile != "" {
		return nil, cli.Usage(err)
	}
	return pub, keyError(cfg, err)
}

// openWitnessReadOnly opens store.witness for verify (nil without one): a
// file witness whose folder does not exist cannot be checked (exit 3).
func openWitnessReadOnly(ctx context.Context, cfg *config.Config) (store.Store, error) {
	w, err := app.OpenWitnessReadOnly(ctx, cfg)
	if errors.Is(err, store.ErrNoStore) {
		return nil, cli.Incomplete(fmt.Errorf("could not complete: %w", err))
	}
	return w, cli.Usage(err)
}
