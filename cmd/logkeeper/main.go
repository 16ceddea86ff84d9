// Command logkeeper archives logs to S3 or a local folder with a signed,
// hash-chained chain of custody, and verifies such archives.
//
//	logkeeper export -c FILE --stream NAME [--json] [--reason TEXT] [--stale-upload-age AGE]
//	logkeeper verify -c FILE --stream NAME [--deep] [--json] [--pubkey FILE] [--from N] [--to N] [--checkpoint SEQ:SHA256] [--origin URL] [--max-age DUR]
//	logkeeper run -c FILE [--listen ADDR] [--once]
//	logkeeper config check -c FILE
//	logkeeper keys generate --out FILE
//	logkeeper keys public -c FILE
//	logkeeper version
//
// This file only wires: flags, signals, logger, configuration and exit
// codes. The work is done in the export, custody and app packages.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/logkeeper/logkeeper/custody"
	"github.com/logkeeper/logkeeper/export"
	"github.com/logkeeper/logkeeper/internal/config"
	"github.com/logkeeper/logkeeper/internal/signing"
	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/service/app"
)

// Exit codes.
const (
	exitOK         = 0
	exitProblems   = 1 // export failed, or verify found integrity problems
	exitUsage      = 2 // bad flags or configuration
	exitIncomplete = 3 // verify could not complete
)

const usage = `logkeeper archives logs with a signed, hash-chained chain of custody.

Usage:
  logkeeper export -c FILE --stream NAME [--json] [--reason TEXT] [--stale-upload-age AGE]
  logkeeper verify -c FILE --stream NAME [--deep] [--json] [--pubkey FILE] [--from N] [--to N]
                   [--checkpoint SEQ:SHA256] [--origin URL] [--max-age DUR]
  logkeeper run -c FILE [--listen ADDR] [--listen-remote] [--once] [--verify-every DUR]
  logkeeper config check -c FILE
  logkeeper keys generate --out FILE
  logkeeper keys public -c FILE
  logkeeper version

Run "logkeeper COMMAND -h" for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// usageError is a problem with the command line or configuration (exit 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	var err error
	code := exitOK
	switch args[0] {
	case "export":
		code, err = cmdExport(ctx, args[1:], stdout, stderr)
	case "verify":
		code, err = cmdVerify(ctx, args[1:], stdout, stderr)
	case "keys":
		code, err = cmdKeys(ctx, args[1:], stdout, stderr)
	case "run":
		code, err = cmdRun(ctx, args[1:], stdout, stderr)
	case "config":
		code, err = cmdConfig(args[1:], stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "logkeeper", app.Version)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "logkeeper: unknown command %q\n\n%s", args[0], usage)
		return exitUsage
	}
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintf(stderr, "logkeeper %s: %s\n", args[0], strings.ReplaceAll(err.Error(), "\n", "\n  "))
		var ue usageError
		if errors.As(err, &ue) {
			return exitUsage
		}
		if code == exitOK {
			code = exitProblems
		}
	}
	return code
}

// common flags.
type common struct {
	config   string
	stream   string
	jsonOut  bool
	logLevel string
	logJSON  bool
}

func newFlags(name string, stderr io.Writer, c *common) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.config, "c", "", "configuration `file` (YAML)")
	fs.StringVar(&c.stream, "stream", "", "stream `name`")
	fs.BoolVar(&c.jsonOut, "json", false, "print the result as JSON")
	fs.StringVar(&c.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.BoolVar(&c.logJSON, "log-json", false, "write logs as JSON lines")
	return fs
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))}
	}
	return nil
}

func (c *common) load() (*config.Config, error) {
	if c.config == "" {
		return nil, usageError{errors.New("-c FILE is required")}
	}
	cfg, err := config.Load(c.config)
	if err != nil {
		return nil, usageError{err}
	}
	if c.stream == "" {
		return nil, usageError{errors.New("--stream NAME is required")}
	}
	if _, err := cfg.Stream(c.stream); err != nil {
		return nil, usageError{err}
	}
	return cfg, nil
}

func (c *common) logger(stderr io.Writer) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if c.logJSON {
		return slog.New(slog.NewJSONHandler(stderr, opts))
	}
	return slog.New(slog.NewTextHandler(stderr, opts))
}

func cmdExport(ctx context.Context, args []string, stdout, stderr io.Writer) (int, error) {
	var c common
	fs := newFlags("export", stderr, &c)
	reason := fs.String("reason", "manual export", "why this run happens (recorded in the manifest)")
	staleAge := fs.Duration("stale-upload-age", export.DefaultStaleUploadAge,
		"abort unfinished uploads of killed runs under the stream's objects older than this `age` (0: all; only when no other exporter of the stream runs)")
	if err := parseFlags(fs, args); err != nil {
		return exitUsage, err
	}
	cfg, err := c.load()
	if err != nil {
		return exitUsage, err
	}
	log := c.logger(stderr)
	st, err := app.OpenStore(ctx, cfg)
	if err != nil {
		return exitUsage, usageError{err}
	}
	signer, err := app.OpenSigner(ctx, cfg)
	if err != nil {
		return exitProblems, err
	}
	job, err := app.NewJob(ctx, cfg, c.stream, st, signer, nil, log)
	if err != nil {
		return exitUsage, usageError{err}
	}
	job.Reason = *reason
	job.StaleUploadAge = *staleAge
	if *staleAge <= 0 {
		job.StaleUploadAge = -1 // all, whatever their age
	}
	res, err := job.Run(ctx, time.Time{})
	if res != nil {
		printExport(stdout, c.jsonOut, res)
	}
	if err != nil {
		return exitProblems, err
	}
	return exitOK, nil
}

func printExport(w io.Writer, asJSON bool, r *export.Result) {
	if asJSON {
		json.NewEncoder(w).Encode(r) //nolint:errcheck // stdout
		return
	}
	fmt.Fprintf(w, "stream %s: manifest %d (%s), %d files, %d bytes archived, %d unchanged, %d failed, run %s\n",
		r.Stream, r.Sequence, r.ManifestKey, r.Files, r.Bytes, r.Skipped, r.Failed, r.RunID)
}

func cmdVerify(ctx context.Context, args []string, stdout, stderr io.Writer) (int, error) {
	var c common
	fs := newFlags("verify", stderr, &c)
	deep := fs.Bool("deep", false, "download every object and re-hash it")
	pubkey := fs.String("pubkey", "", "trust only this public key `file` (PEM) instead of the configured signing key's")
	from := fs.Uint64("from", 0, "first manifest sequence number to check")
	to := fs.Uint64("to", 0, "last manifest sequence number to check")
	checkpoint := fs.String("checkpoint", "", "`SEQ:SHA256` of a manifest recorded at an earlier verify (head and head_sha256): reports a chain cut short or rewritten since")
	origin := fs.String("origin", "", "`URL` where the archive was written (s3://BUCKET/PREFIX or file:///PATH), to verify a copy of it; default store.origin, else store.url")
	maxAge := fs.Duration("max-age", 0, "report chain_stale when the newest manifest's window ended longer ago than `DUR` (0: no check)")
	if err := parseFlags(fs, args); err != nil {
		return exitUsage, err
	}
	if *from > 0 && *to > 0 && *from > *to {
		return exitUsage, usageError{fmt.Errorf("--from %d is after --to %d: nothing to check", *from, *to)}
	}
	if *maxAge < 0 {
		return exitUsage, usageError{fmt.Errorf("--max-age %s: must not be negative", *maxAge)}
	}
	cfg, err := c.load()
	if err != nil {
		return exitUsage, err
	}
	opts := custody.VerifyOptions{Deep: *deep, From: *from, To: *to, Origin: cfg.Store.Origin, MaxAge: *maxAge}
	if *origin != "" {
		if err := config.CheckOrigin(*origin); err != nil {
			return exitUsage, usageError{fmt.Errorf("--origin: %w", err)}
		}
		opts.Origin = *origin
	}
	if *checkpoint != "" {
		cp, err := parseCheckpoint(*checkpoint)
		if err != nil {
			return exitUsage, usageError{err}
		}
		opts.Checkpoint = cp
	}
	st, err := app.OpenStoreReadOnly(ctx, cfg)
	if errors.Is(err, store.ErrNoStore) {
		return exitIncomplete, fmt.Errorf("could not complete: %w", err)
	}
	if err != nil {
		return exitUsage, usageError{err}
	}
	pub, err := app.PublicKey(ctx, cfg, *pubkey)
	if err != nil {
		return exitIncomplete, err
	}
	opts.PublicKey = pub
	rep, err := custody.Verify(ctx, st, c.stream, opts)
	if errors.Is(err, custody.ErrRange) {
		return exitUsage, usageError{fmt.Errorf("--from/--to: %w", err)}
	}
	if err != nil {
		return exitIncomplete, fmt.Errorf("could not complete: %w", err)
	}
	if c.jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(rep) //nolint:errcheck // stdout
	} else {
		for _, p := range rep.Problems {
			fmt.Fprintln(stdout, p.String())
		}
		keyID, _ := signing.KeyID(pub)
		mode := "fast"
		if *deep {
			mode = "deep"
		}
		fmt.Fprintf(stdout, "stream %s (%s verify, key %s): %d/%d manifests valid, %d/%d objects valid, %d bytes read, %s\n",
			rep.Stream, mode, keyID, rep.ManifestsValid, rep.ManifestsChecked, rep.ObjectsValid, rep.ObjectsChecked, rep.Bytes, plural(len(rep.Problems), "problem"))
		if rep.Orphans > 0 {
			fmt.Fprintf(stdout, "%s of runs that wrote no manifest (crashed, or lost a race; not a failure): %s\n",
				plural(rep.Orphans, "orphaned object"), strings.Join(rep.OrphanKeys, " "))
		}
		if rep.HeadSHA256 != "" {
			fmt.Fprintf(stdout, "checkpoint %d:%s (keep it; pass it as --checkpoint to a later verify to detect a chain cut short or rewritten)\n", rep.Head, rep.HeadSHA256)
		} else {
			fmt.Fprintf(stdout, "no checkpoint: %s\n", rep.NoCheckpoint)
		}
	}
	if len(rep.Problems) > 0 {
		return exitProblems, nil
	}
	return exitOK, nil
}

func cmdKeys(ctx context.Context, args []string, stdout, stderr io.Writer) (int, error) {
	if len(args) == 0 {
		return exitUsage, usageError{errors.New("keys: want generate or public")}
	}
	switch args[0] {
	case "generate":
		fs := flag.NewFlagSet("keys generate", flag.ContinueOnError)
		fs.SetOutput(stderr)
		out := fs.String("out", "", "private key `file` to create (the public key goes to FILE.pub)")
		if err := parseFlags(fs, args[1:]); err != nil {
			return exitUsage, err
		}
		if *out == "" {
			return exitUsage, usageError{errors.New("--out FILE is required")}
		}
		pubPath, err := signing.GenerateKeyFile(*out)
		if err != nil {
			return exitProblems, err
		}
		pub, err := signing.LoadPublicKeyFile(pubPath)
		if err != nil {
			return exitProblems, err
		}
		id, _ := signing.KeyID(pub)
		fmt.Fprintf(stdout, "private key %s (mode 0600)\npublic key  %s\nkey id      %s\n", *out, pubPath, id)
		return exitOK, nil
	case "public":
		cfgPath, err := configFlag("keys public", args[1:], stderr)
		if err != nil {
			return exitUsage, err
		}
		cfg, err := config.Load(*cfgPath)
		if err != nil {
			return exitUsage, usageError{err}
		}
		signer, err := app.OpenSigner(ctx, cfg)
		if err != nil {
			return exitProblems, err
		}
		pem, err := signing.MarshalPublicKeyPEM(signer.Public())
		if err != nil {
			return exitProblems, err
		}
		_, err = stdout.Write(pem)
		return exitOK, err
	default:
		return exitUsage, usageError{fmt.Errorf("keys: unknown subcommand %q (want generate or public)", args[0])}
	}
}

// parseCheckpoint reads SEQ:SHA256.
func parseCheckpoint(s string) (*custody.Checkpoint, error) {
	seq, sum, ok := strings.Cut(s, ":")
	n, err := strconv.ParseUint(seq, 10, 64)
	if !ok || err != nil || n == 0 || len(sum) != 64 || strings.Trim(sum, "0123456789abcdef") != "" {
		return nil, fmt.Errorf("--checkpoint %q: want SEQUENCE:SHA256 (the head and head_sha256 of an earlier verify --json)", s)
	}
	return &custody.Checkpoint{Sequence: n, SHA256: sum}, nil
}

// plural writes "1 problem", "2 problems".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// configFlag parses a command whose only flag is the required -c FILE.
func configFlag(name string, args []string, stderr io.Writer) (*string, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("c", "", "configuration `file` (YAML)")
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	if *cfgPath == "" {
		return nil, usageError{errors.New("-c FILE is required")}
	}
	return cfgPath, nil
}
