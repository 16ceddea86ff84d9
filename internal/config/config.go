package config

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Defaults applied to keys the file leaves out.
const (
	DefaultPartSizeMiB        = 8
	DefaultConcurrency        = 4
	DefaultGracePeriod        = 30 * time.Second
	DefaultMaxBackfillWindows = 24
	DefaultLeaseTTL           = 60 * time.Second
	DefaultWindow             = time.Hour
	DefaultMaxConcurrency     = 8
)

// Store URL schemes.
const (
	SchemeS3   = "s3"
	SchemeFile = "file"
)

// Signing key schemes.
const (
	KeySchemeFile   = "file"
	KeySchemeAWSKMS = "awskms"
)

// Object Lock modes.
const (
	ModeGovernance = "GOVERNANCE"
	ModeCompliance = "COMPLIANCE"
)

// SourceType names where a stream reads its logs from.
type SourceType string

// Source types.
const (
	SourceDir          SourceType = "dir"
	SourceGenesysEdge  SourceType = "genesys-edge"
	SourceGenesysAudit SourceType = "genesys-audit"
)

// ErrUnknownStream is returned (wrapped) by [Config.Stream] for a name the
// configuration does not define.
var ErrUnknownStream = errors.New("unknown stream")

// Config is a parsed and validated configuration file. Every field holds its
// final value: defaults are filled in, ${ENV} references expanded, relative
// paths resolved and URLs split into their parts.
type Config struct {
	Store   Store    `yaml:"store"`
	Signing Signing  `yaml:"signing"`
	Daemon  Daemon   `yaml:"daemon"`
	Streams []Stream `yaml:"streams"`
}

// Store says where archives are written.
type Store struct {
	// URL as written: s3://BUCKET/PREFIX or file:///ABS/PATH.
	URL string `yaml:"url"`
	// PathStyle selects path-style S3 addressing (for local S3 servers).
	PathStyle bool `yaml:"path_style"`
	// PartSizeMiB is the multipart upload part size, 5..5120 MiB.
	PartSizeMiB int `yaml:"part_size_mib"`
	// Concurrency is the number of parts uploaded at once, 1..64.
	Concurrency int `yaml:"concurrency"`
	// SSEKMSKeyID, when set, asks for SSE-KMS with this key id, alias or ARN.
	SSEKMSKeyID string `yaml:"sse_kms_key_id"`
	// EncryptionContext is added to the KMS encryption context of each
	// object. Keys starting with "logkeeper:" or "aws:" are reserved.
	EncryptionContext map[string]string `yaml:"encryption_context"`
	// ObjectLock sets a retention on every archived object.
	ObjectLock ObjectLock `yaml:"object_lock"`
	// AllowHTTP allows a plain-http S3 endpoint that is not on loopback.
	AllowHTTP bool `yaml:"allow_http"`
	// Origin is where the archive was written, as its manifests record it
	// (s3://BUCKET/PREFIX or file:///ABS/PATH), for verifying a copy: a
	// replica, a restored backup, a moved folder. Empty: the store itself.
	Origin string `yaml:"origin"`
	// Witness is a second store (s3://BUCKET/PREFIX, another bucket with
	// Object Lock in COMPLIANCE mode, or file:///ABS/PATH) where each run
	// also writes its checkpoint, write-once, and from which verify reads
	// the witnessed checkpoints. Empty: no witness.
	Witness string `yaml:"witness"`
	// WitnessStore is Witness parsed (Scheme, Bucket, Prefix, Path; the
	// other settings are the store's), nil without a witness.
	WitnessStore *Store `yaml:"-"`

	// Scheme is SchemeS3 or SchemeFile.
	Scheme string `yaml:"-"`
	// Bucket and Prefix are set for s3 URLs. Prefix has no leading or
	// trailing slash and may be empty.
	Bucket string `yaml:"-"`
	Prefix string `yaml:"-"`
	// Path is the absolute, cleaned directory of a file URL.
	Path string `yaml:"-"`
}

// PartSize returns the multipart upload part size in bytes.
func (s Store) PartSize() int64 { return int64(s.PartSizeMiB) << 20 }

// ObjectLock is an S3 Object Lock retention. The zero value means none.
type ObjectLock struct {
	// Mode is ModeGovernance, ModeCompliance, or empty for no retention.
	Mode string `yaml:"mode"`
	// RetainDays is the retention period in days (1..36500) when Mode is set.
	RetainDays int `yaml:"retain_days"`
}

// Enabled reports whether a retention is configured.
func (o ObjectLock) Enabled() bool { return o.Mode != "" }

// Retention returns the retention period.
func (o ObjectLock) Retention() time.Duration {
	return time.Duration(o.RetainDays) * 24 * time.Hour
}

// Signing says which key signs manifests.
type Signing struct {
	// Key as written: file:///ABS/PATH.pem or awskms://KEY-ID-OR-ALIAS-OR-ARN.
	Key string `yaml:"key"`

	// KeyScheme is KeySchemeFile or KeySchemeAWSKMS.
	KeyScheme string `yaml:"-"`
	// KeyPath is the absolute path of a file key.
	KeyPath string `yaml:"-"`
	// KMSKeyID is the key id, alias (alias/NAME) or ARN of a KMS key.
	KMSKeyID string `yaml:"-"`

	// TimestampURL is an RFC 3161 time-stamp authority (https; http only
	// on loopback): each checkpoint a run writes gets a time-stamp token
	// from it, stored beside the checkpoint. Empty: none.
	TimestampURL string `yaml:"timestamp_url"`
	// TimestampRoots is a PEM file of the trusted TSA root certificates,
	// absolute or relative to the configuration file's folder (absolute
	// after loading). Required with TimestampURL; verify checks every
	// token against it, and with it set a checkpoint without a token is
	// a problem.
	TimestampRoots string `yaml:"timestamp_roots"`
}

// Daemon holds the settings of the long-running scheduler (logkeeper run).
type Daemon struct {
	// GracePeriod is the shutdown grace period (>= 0): on SIGTERM or
	// SIGINT the daemon stops scheduling and lets running exports finish
	// for up to this long, then cancels them (a cancelled run aborts its
	// uploads and writes no manifest; the next run redoes its work). It is
	// not a delay before a window is exported.
	GracePeriod time.Duration `yaml:"grace_period"`
	// MaxBackfillWindows caps how many windows one scheduled tick of a
	// stream archives (>= 1): after downtime the missed windows are caught
	// up in order, this many per tick.
	MaxBackfillWindows int `yaml:"max_backfill_windows"`
	// LeaseTTL is the lifetime of a stream's run lease (> 0): a replica
	// holds the lease while it runs the stream and renews it every third
	// of this; another replica takes over once it has expired.
	LeaseTTL time.Duration `yaml:"lease_ttl"`
}

// Stream is one named flow of logs into the archive.
type Stream struct {
	// Name is unique and matches ^[a-z0-9][a-z0-9._-]{0,62}$.
	Name string `yaml:"name"`
	// Schedule is an optional cron spec (see [ParseSchedule]).
	Schedule string `yaml:"schedule"`
	// Window is the length of a scheduled window (> 0). Windows are
	// aligned to multiples of it since the Unix epoch, in UTC.
	Window time.Duration `yaml:"window"`
	Source Source        `yaml:"source"`
}

// Source says where a stream reads its logs from. Which fields apply depends
// on Type; the loader rejects fields that do not apply.
type Source struct {
	Type SourceType `yaml:"type"`

	// Path is the absolute directory of a dir source (resolved against the
	// configuration file's folder), or, for a genesys-edge source, the log
	// folder on the edge passed as is to the edge's log jobs (empty: the
	// edge's default).
	Path string `yaml:"path"`
	// FollowSymlinks, for a dir source, archives the regular file a
	// symbolic link resolves to when it lies inside the folder; otherwise
	// (the default) symbolic links are recorded as skipped.
	FollowSymlinks bool `yaml:"follow_symlinks"`

	// Region is the Genesys Cloud domain, such as mypurecloud.com. When it
	// is set the loader fills APIURL and LoginURL from it.
	Region string `yaml:"region"`
	// APIURL and LoginURL are the Genesys Cloud API and login base URLs,
	// without a trailing slash. https, or http on loopback only.
	APIURL   string `yaml:"api_url"`
	LoginURL string `yaml:"login_url"`
	// ClientID and ClientSecret are OAuth client credentials.
	ClientID     string `yaml:"client_id"`
	ClientSecret Secret `yaml:"client_secret"`
	// Edges lists the edge ids of a genesys-edge source.
	Edges []string `yaml:"edges"`
	// Query and Recurse are passed to Genesys log or audit queries.
	Query   string `yaml:"query"`
	Recurse bool   `yaml:"recurse"`
	// ServiceName is the audited service of a genesys-audit source.
	ServiceName string `yaml:"service_name"`
	// MaxConcurrency caps concurrent Genesys requests, 1..256.
	MaxConcurrency int `yaml:"max_concurrency"`

	// Since is how far back a genesys-audit source reaches: a date
	// (2025-01-31), a time (RFC 3339) or an age (365d, 720h). The loader
	// fills SinceDate or SinceAge from it; empty means the documented
	// audit retention (one year).
	Since     string        `yaml:"since"`
	SinceDate time.Time     `yaml:"-"`
	SinceAge  time.Duration `yaml:"-"`
	// Settle delays the audit queries of a window (default 15m, 0..24h;
	// the defaults of Settle and RecheckWindows are set for genesys-audit
	// sources only).
	Settle time.Duration `yaml:"settle"`
	// RecheckWindows is how many of the latest audit intervals each run
	// queries again for records indexed late (default 3, 0..100; 0 turns
	// the recheck off).
	RecheckWindows int `yaml:"recheck_windows"`
}

// Defaults and bounds of the genesys-audit keys.
const (
	DefaultSettle         = 15 * time.Minute
	MaxSettle             = 24 * time.Hour
	DefaultRecheckWindows = 3
	MaxRecheckWindows     = 100
)

// Load reads and parses the configuration file at path. Relative paths in
// the file are resolved against the file's folder.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(data, filepath.Dir(path))
}

// Parse parses and validates a configuration. Relative paths are resolved
// against baseDir (made absolute against the working directory if it is
// relative). ${NAME} references are expanded from the process environment.
//
// When the YAML itself does not parse, the error says so ("parse config:
// yaml: line N: ..."). Otherwise every problem found is reported: the error
// joins one [*FieldError] per problem, in the order of the file.
func Parse(data []byte, baseDir string) (*Config, error) {
	return parse(data, baseDir, os.LookupEnv)
}

func parse(data []byte, baseDir string, lookup func(string) (string, bool)) (*Config, error) {
	base, err := filepath.Abs(baseDir)
	if err != nil {
		return nil, fmt.Errorf("config base directory: %w", err)
	}
	root, err := parseYAML(data)
	if err != nil {
		return nil, err
	}
	cfg := &Config{}
	cfg.setDefaults()
	d := newDecoder(lookup, len(data))
	d.decodeRoot(root, cfg)
	v := &validator{fields: d.fields, problems: d.problems, baseDir: base}
	v.config(cfg)
	if len(v.problems) > 0 {
		// In the order of the file; problems without a line come last.
		slices.SortStableFunc(v.problems, func(a, b error) int {
			return cmpLine(a.(*FieldError).Line, b.(*FieldError).Line)
		})
		return nil, errors.Join(v.problems...)
	}
	return cfg, nil
}

func (c *Config) setDefaults() {
	c.Store.PartSizeMiB = DefaultPartSizeMiB
	c.Store.Concurrency = DefaultConcurrency
	c.Daemon = Daemon{
		GracePeriod:        DefaultGracePeriod,
		MaxBackfillWindows: DefaultMaxBackfillWindows,
		LeaseTTL:           DefaultLeaseTTL,
	}
}

func (s *Stream) setDefaults() {
	s.Window = DefaultWindow
	s.Source.MaxConcurrency = DefaultMaxConcurrency
}

// Stream returns the stream called name. The error wraps ErrUnknownStream
// and lists the names the configuration defines.
func (c *Config) Stream(name string) (*Stream, error) {
	names := make([]string, 0, len(c.Streams))
	for i := range c.Streams {
		if c.Streams[i].Name == name {
			return &c.Streams[i], nil
		}
		names = append(names, c.Streams[i].Name)
	}
	slices.Sort(names)
	known := "none"
	if len(names) > 0 {
		known = strings.Join(names, ", ")
	}
	return nil, fmt.Errorf("%w %q (known streams: %s)", ErrUnknownStream, name, known)
}

func cmpLine(a, b int) int {
	if a == 0 || b == 0 {
		return cmp.Compare(b, a) // 0 sorts last
	}
	return cmp.Compare(a, b)
}
