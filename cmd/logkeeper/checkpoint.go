package main

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/logkeeper/logkeeper/custody"
	"github.com/logkeeper/logkeeper/internal/cli"
	"github.com/logkeeper/logkeeper/internal/store"
)

func checkpointCommand() *cli.Command {
	var (
		cf     configFlags
		pubkey string
	)
	return &cli.Command{
		Name:     "checkpoint",
		Summary:  "Print the stream's current signed checkpoint (a C2SP tlog-checkpoint note) for an auditor to keep.",
		Example:  "logkeeper checkpoint -c /etc/logkeeper/logkeeper.yaml --stream app-logs > app-logs.checkpoint",
		Required: []string{"c", "stream"},
		Flags: func(fs *flag.FlagSet) {
			cf.define(fs, true)
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
			// A rotated key: the chain is loaded with its current key,
			// reached from pub through its key transition records.
			keys, err := custody.HistoryKeys(ctx, st, cf.stream, pub)
			if err != nil {
				return cli.Incomplete(fmt.Errorf("could not complete: %w", err))
			}
			chain, err := custody.Load(ctx, st, cf.stream, pub)
			for i := len(keys) - 1; i >= 0 && errors.Is(err, custody.ErrKeyNotCurrent); i-- {
				chain, err = custody.Load(ctx, st, cf.stream, keys[i])
			}
			if errors.Is(err, custody.ErrChainBroken) {
				return cli.Problems(fmt.Errorf("%w (run logkeeper verify for the full report)", err))
			}
			if err != nil {
				return cli.Incomplete(fmt.Errorf("could not complete: %w", err))
			}
			if chain.Head == nil {
				return cli.Problems(fmt.Errorf("stream %s has no manifests: no checkpoint yet", cf.stream))
			}
			size, root, err := chain.Root()
			if err != nil {
				return cli.Incomplete(err)
			}
			origin := custody.Origin(storeOrigin(cfg.Store.Origin, st), cf.stream)
			th, err := custody.ReadTreeHead(ctx, st, cf.stream, size, pub, origin, keys...)
			switch {
			case errors.Is(err, store.ErrNotFound):
				return cli.Problems(fmt.Errorf("no checkpoint for tree size %d at %s: the run that wrote manifest %d stopped before its checkpoint; the next run writes one", size, custody.CheckpointKey(cf.stream, size), size))
			case errors.Is(err, custody.ErrNoteKey), errors.Is(err, custody.ErrNoteOrigin), errors.Is(err, custody.ErrNoteFormat), errors.Is(err, store.ErrUnreadable):
				return cli.Problems(fmt.Errorf("checkpoint %s: %w", custody.CheckpointKey(cf.stream, size), err))
			case err != nil:
				return cli.Incomplete(fmt.Errorf("could not complete: %w", err))
			}
			if string(th.Root) != string(root) {
				return cli.Problems(fmt.Errorf("checkpoint %s says root %s, the chain's tree has %s", custody.CheckpointKey(cf.stream, size),
					base64.StdEncoding.EncodeToString(th.Root), base64.StdEncoding.EncodeToString(root)))
			}
			if env.JSON {
				return env.PrintJSON(map[string]any{ //nolint:errcheck // stdout
					"stream": cf.stream, "size": th.Size, "root": base64.StdEncoding.EncodeToString(th.Root), "note": string(th.Note),
				})
			}
			for _, line := range strings.SplitAfter(string(th.Note), "\n") {
				if line != "" {
					env.Printf("%s\n", strings.TrimSuffix(line, "\n"))
				}
			}
			return nil
		},
	}
}

// storeOrigin is where the manifests say they were written: store.origin
// (or --origin), else the store itself.
func storeOrigin(origin string, st store.Store) string {
	if origin != "" {
		return origin
	}
	return st.Describe()
}

// readCheckpointNote reads a checkpoint note file given to --checkpoint.
func readCheckpointNote(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--checkpoint: neither SEQUENCE:SHA256 nor a readable checkpoint note file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, custody.MaxNoteBytes+1))
	if err != nil {
		return nil, fmt.Errorf("--checkpoint %s: %w", path, err)
	}
	if len(b) > custody.MaxNoteBytes {
		return nil, fmt.Errorf("--checkpoint %s: larger than %d bytes: not a checkpoint note", path, custody.MaxNoteBytes)
	}
	if !custody.LooksLikeNote(b) {
		return nil, fmt.Errorf("--checkpoint %s: not a checkpoint note (text, a blank line, signature lines) nor SEQUENCE:SHA256", path)
	}
	return b, nil
}
