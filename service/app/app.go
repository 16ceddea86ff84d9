// Package app builds logkeeper's parts (store, signer, source, export job)
// from a loaded configuration. It is the only place that knows which
// implementation serves which configuration; cmd/logkeeper calls it and the
// business packages never do.
package app

import (
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/logkeeper/logkeeper/export"
	"github.com/logkeeper/logkeeper/export/dirsource"
	"github.com/logkeeper/logkeeper/export/genesys"
	"github.com/logkeeper/logkeeper/internal/config"
	"github.com/logkeeper/logkeeper/internal/signing"
	"github.com/logkeeper/logkeeper/internal/signing/signers"
	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/internal/store/fsstore"
	"github.com/logkeeper/logkeeper/internal/store/s3store"
	"github.com/logkeeper/logkeeper/manifest"
	"github.com/logkeeper/logkeeper/policies"
)

// Version is the program version, set at build time with -ldflags.
var Version = "dev"

// OpenStore opens the configured store.
func OpenStore(ctx context.Context, c *config.Config) (store.Store, error) {
	return openStore(ctx, &c.Store, "store.url")
}

func openStore(ctx context.Context, s *config.Store, key string) (store.Store, error) {
	switch s.Scheme {
	case config.SchemeFile:
		return fsstore.New(s.Path)
	case config.SchemeS3:
		o := s3store.Options{
			Bucket:      s.Bucket,
			Prefix:      s.Prefix,
			PathStyle:   s.PathStyle,
			PartSize:    s.PartSize(),
			Concurrency: s.Concurrency,
			AllowHTTP:   s.AllowHTTP,
		}
		if s.SSEKMSKeyID != "" {
			// Used only where a server's answer to an upload names no key.
			o.KMS = &lazyKMS{}
		}
		return s3store.New(ctx, o)
	default:
		return nil, fmt.Errorf("%s: unsupported scheme %q", key, s.Scheme)
	}
}

// lazyKMS is a KMS client made from the SDK's default chain on first use,
// so a store that never needs to resolve a key never loads KMS settings.
type lazyKMS struct {
	once   sync.Once
	client *kms.Client
	err    error
}

func (l *lazyKMS) DescribeKey(ctx context.Context, in *kms.DescribeKeyInput, optFns ...func(*kms.Options)) (*kms.DescribeKeyOutput, error) {
	l.once.Do(func() { l.client, l.err = signers.DefaultKMSClient(ctx) })
	if l.err != nil {
		return nil, fmt.Errorf("kms client: %w", l.err)
	}
	return l.client.DescribeKey(ctx, in, optFns...)
}

// OpenStoreReadOnly opens the configured store for a reader such as
// verify: nothing is created in it, and a filesystem store whose root does
// not exist is an error wrapping store.ErrNoStore.
func OpenStoreReadOnly(ctx context.Context, c *config.Config) (store.Store, error) {
	if c.Store.Scheme == config.SchemeFile {
		return fsstore.OpenReadOnly(c.Store.Path)
	}
	return OpenStore(ctx, c)
}

// OpenSigner opens the configured signing key.
func OpenSigner(ctx context.Context, c *config.Config) (signing.Signer, error) {
	s, err := signers.Open(ctx, c.Signing.Key, signers.DefaultKMSClient)
	if err != nil {
		return nil, fmt.Errorf("signing.key: %w", err)
	}
	return s, nil
}

// PublicKey returns the public key that verification trusts: the one in
// pubkeyFile when given, otherwise the configured signing key's (for a key
// file, FILE.pub beside it when the private key cannot be read).
func PublicKey(ctx context.Context, c *config.Config, pubkeyFile string) (crypto.PublicKey, error) {
	if pubkeyFile != "" {
		pub, err := signing.LoadPublicKeyFile(pubkeyFile)
		if err != nil {
			return nil, fmt.Errorf("--pubkey: %w", err)
		}
		return pub, nil
	}
	if c.Signing.KeyScheme == config.KeySchemeFile {
		if pub, err := signing.LoadPublicKeyFile(c.Signing.KeyPath + ".pub"); err == nil {
			return pub, nil
		} else if !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("signing.key: %w", err)
		}
	}
	s, err := OpenSigner(ctx, c)
	if err != nil {
		return nil, err
	}
	return s.Public(), nil
}

// Exporter describes this program and host for manifests.
func Exporter() manifest.Exporter {
	host, _ := os.Hostname()
	e := manifest.Exporter{Name: "logkeeper", Version: Version, Host: host}
	if u, err := user.Current(); err == nil {
		e.User = u.Username
	}
	return e
}

// Clients shares Genesys API clients between the streams of one process,
// so that streams on the same organization and OAuth client share one
// cached token and one pacing state instead of each requesting its own.
// The zero value is ready to use; it is safe for concurrent use.
type Clients struct {
	mu      sync.Mutex
	genesys map[string]*genesys.Client
}

// genesysClient returns the shared client for a stream's source.
func (cs *Clients) genesysClient(s *config.Stream, log *slog.Logger) (*genesys.Client, error) {
	cfg := genesys.Config{
		Region: s.Source.Region, APIURL: s.Source.APIURL, LoginURL: s.Source.LoginURL,
		ClientID: s.Source.ClientID, ClientSecret: genesys.Secret(s.Source.ClientSecret.Reveal()),
		MaxConcurrency: s.Source.MaxConcurrency, Logger: log,
	}
	if cs == nil {
		return genesys.NewClient(cfg)
	}
	// The secret is part of the identity: a changed secret gets a new client.
	sum := sha256.Sum256([]byte(s.Source.ClientSecret.Reveal()))
	key := strings.Join([]string{s.Source.Region, s.Source.APIURL, s.Source.LoginURL, s.Source.ClientID, hex.EncodeToString(sum[:])}, "\x00")
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if c, ok := cs.genesys[key]; ok {
		return c, nil
	}
	c, err := genesys.NewClient(cfg)
	if err != nil {
		return nil, err
	}
	if cs.genesys == nil {
		cs.genesys = map[string]*genesys.Client{}
	}
	cs.genesys[key] = c
	return c, nil
}

// NewSource builds the source of a stream. clients may be nil (a client of
// its own); log receives the source's log lines.
func NewSource(c *config.Config, s *config.Stream, clients *Clients, log *slog.Logger) (export.Source, error) {
	if log == nil {
		log = slog.Default()
	}
	var (
		src export.Source
		err error
	)
	switch s.Source.Type {
	case config.SourceDir:
		opts := dirsource.Options{FollowSymlinks: s.Source.FollowSymlinks}
		if c.Signing.KeyScheme == config.KeySchemeFile {
			// Never archive the private key, even through a hard link.
			opts.Exclude = []string{c.Signing.KeyPath}
		}
		src, err = dirsource.NewWithOptions(s.Source.Path, opts)
	case config.SourceGenesysEdge, config.SourceGenesysAudit:
		var c *genesys.Client
		c, err = clients.genesysClient(s, log)
		if err != nil {
			break
		}
		if s.Source.Type == config.SourceGenesysEdge {
			src, err = genesys.NewEdgeSource(c, genesys.EdgeOptions{
				Edges: s.Source.Edges, Path: s.Source.Path, Query: s.Source.Query, Recurse: s.Source.Recurse,
			})
		} else {
			src, err = genesys.NewAuditSource(c, auditOptions(s.Source))
		}
	default:
		err = fmt.Errorf("source type %s is not supported", s.Source.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", s.Name, err)
	}
	return src, nil
}

// auditOptions maps a genesys-audit source's keys to the source's options
// (whose zero values mean "default", where the configuration's 0 means
// "none").
func auditOptions(src config.Source) genesys.AuditOptions {
	o := genesys.AuditOptions{
		ServiceName: src.ServiceName, Query: src.Query, SinceDate: src.SinceDate, SinceAge: src.SinceAge,
		Settle: src.Settle, RecheckWindows: src.RecheckWindows,
	}
	if o.Settle == 0 {
		o.Settle = -1
	}
	if o.RecheckWindows == 0 {
		o.RecheckWindows = -1
	}
	return o
}

// NewJob builds the export job of one stream.
// clients may be nil.
func NewJob(ctx context.Context, c *config.Config, streamName string, st store.Store, signer signing.Signer, clients *Clients, log *slog.Logger) (*export.Job, error) {
	s, err := c.Stream(streamName)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	src, err := NewSource(c, s, clients, log.With("stream", s.Name))
	if err != nil {
		return nil, err
	}
	j, err := NewKeyJob(ctx, c, s.Name, st, signer, log)
	if err != nil {
		return nil, err
	}
	j.Source = src
	return j, nil
}

// NewKeyJob is NewJob without a source: what appending to a stream's chain
// needs (the store, key, witness, encryption and retention), as a key
// rotation does (export.Job.Rotate).
func NewKeyJob(ctx context.Context, c *config.Config, stream string, st store.Store, signer signing.Signer, log *slog.Logger) (*export.Job, error) {
	if log == nil {
		log = slog.Default()
	}
	var err error
	j := &export.Job{
		Stream: stream,
		Store:  st,
		Signer: signer,
		// Files in flight. Small files are bound by request latency, not
		// bandwidth: 16 at once match a plain 16-worker PutObject loop
		// (make bench-compare). Memory stays bounded by the store's
		// buffer budget, whatever the number of workers.
		Workers:  max(c.Store.Concurrency*2, 16),
		StateDir: StateDir(),
		Exporter: Exporter(),
		Logger:   log,
	}
	if j.Witness, err = OpenWitness(ctx, c); err != nil {
		return nil, err
	}
	if j.Timestamps, err = OpenTimestamps(c); err != nil {
		return nil, err
	}
	if c.Store.SSEKMSKeyID != "" {
		j.Encryption = &policies.Encryption{KMSKeyID: c.Store.SSEKMSKeyID, Context: c.Store.EncryptionContext}
	}
	if c.Store.ObjectLock.Enabled() {
		j.Retention = &policies.Retention{Mode: c.Store.ObjectLock.Mode, RetainDays: c.Store.ObjectLock.RetainDays}
	}
	return j, nil
}

// StateDir is the folder of the exporter's local state (the archived-file
// index of each stream: export.Job.StateDir): $LOGKEEPER_STATE_DIR, else
// logkeeper under the user's cache folder, else none (the chain is then
// held in memory). Losing it loses nothing: it is rebuilt from the
// manifests.
func StateDir() string {
	if d := os.Getenv("LOGKEEPER_STATE_DIR"); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "logkeeper")
	}
	return ""
}
