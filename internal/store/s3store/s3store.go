package s3store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/logkeeper/logkeeper/internal/loopback"
	"github.com/logkeeper/logkeeper/internal/store"
)

// Part sizes and concurrency.
const (
	// DefaultPartSize is the multipart part size when Options.PartSize is 0.
	DefaultPartSize = 8 << 20
	// MinPartSize is the smallest part size S3 accepts (but for the last part).
	MinPartSize = 5 << 20
	// MaxPartSize is the largest part size S3 accepts.
	MaxPartSize = 5 << 30
	// DefaultConcurrency is the number of parts in flight per Put when
	// Options.Concurrency is 0.
	DefaultConcurrency = 4
)

// Options configure a Store.
type Options struct {
	// Bucket is the bucket name (required).
	Bucket string
	// Prefix is prepended, with a "/", to every key; keys in ObjectInfo are
	// relative to it. Leading and trailing slashes are ignored.
	Prefix string
	// PathStyle addresses the bucket in the path (http://host/bucket/key),
	// as local S3 servers need. With Client set it is applied per request.
	PathStyle bool
	// PartSize of multipart uploads: DefaultPartSize when 0, at least
	// MinPartSize. Objects up to PartSize bytes go up in one PutObject.
	// A Put of known size grows the part size as needed to fit in 10,000
	// parts; one of unknown size can be at most 10,000 x PartSize bytes.
	PartSize int64
	// Concurrency is the number of parts uploaded at once by one Put
	// (DefaultConcurrency when 0). Part buffers for all Puts on the Store
	// together hold at most (Concurrency+1) x PartSize bytes.
	Concurrency int
	// Client is the S3 client to use. When nil, New builds one with
	// config.LoadDefaultConfig, so the usual AWS_REGION, AWS_PROFILE,
	// AWS_ENDPOINT_URL_S3 etc. apply.
	Client *s3.Client
	// AllowHTTP permits a plain-http endpoint that is not on loopback.
	AllowHTTP bool
	// MaxAttempts is how often each request is tried in all (first try and
	// retries, with the SDK's backoff) on throttling, 5xx answers and
	// connection errors. 0 keeps the client's setting (the SDK's default
	// is 3).
	MaxAttempts int
	// KMS resolves the requested SSE-KMS key (an alias or key id) to its
	// ARN when a server's answer to an upload does not say which key it
	// used (ObjectInfo.SSE.ServerKMSKeyID). Nil: such objects record none.
	KMS KeyDescriber
}

// Store is an S3 bucket (and key prefix) as a store.Store. It is safe for
// concurrent use.
type Store struct {
	client      *s3.Client
	bucket      string
	prefix      string // no leading or trailing slash; may be empty
	pathStyle   bool
	partSize    int64
	concurrency int
	maxAttempts int
	bufs        *bufferPool
	objectLock  atomic.Bool // the bucket was seen with Object Lock enabled
	keys        *keyResolver
}

var (
	_ store.Store             = (*Store)(nil)
	_ store.Deleter           = (*Store)(nil)
	_ store.UploadCleaner     = (*Store)(nil)
	_ store.ChecksumAuthority = (*Store)(nil)
	_ store.KeyLimiter        = (*Store)(nil)
)

// New returns a Store for the bucket and prefix in o. It makes no request.
func New(ctx context.Context, o Options) (*Store, error) {
	var errs []error
	if o.Bucket == "" || strings.Contains(o.Bucket, "/") {
		errs = append(errs, fmt.Errorf("bucket %q: must be a bucket name", o.Bucket))
	}
	prefix := strings.Trim(o.Prefix, "/")
	if prefix != "" {
		if err := store.ValidateKey(prefix); err != nil {
			errs = append(errs, fmt.Errorf("prefix: %w", err))
		}
	}
	if o.PartSize == 0 {
		o.PartSize = DefaultPartSize
	}
	if o.PartSize < MinPartSize || o.PartSize > MaxPartSize {
		errs = append(errs, fmt.Errorf("part size %d: must be between %d (5 MiB) and %d (5 GiB)", o.PartSize, MinPartSize, int64(MaxPartSize)))
	}
	if o.Concurrency == 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.Concurrency < 1 {
		errs = append(errs, fmt.Errorf("concurrency %d: must be at least 1", o.Concurrency))
	}
	if o.MaxAttempts < 0 {
		errs = append(errs, fmt.Errorf("max attempts %d: must not be negative", o.MaxAttempts))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("s3 store: %w", err)
	}

	client := o.Client
	if client == nil {
		cfg, err := config.LoadDefaultConfig(ctx)
		if err != nil {
			return nil, fmt.Errorf("s3 store: load aws config: %w", err)
		}
		if cfg.Region == "" {
			return nil, errors.New("s3 store: no AWS region configured (set AWS_REGION or a profile region)")
		}
		client = s3.NewFromConfig(cfg, func(so *s3.Options) { so.UsePathStyle = o.PathStyle })
	}
	if err := checkEndpoint(client.Options().BaseEndpoint, o.AllowHTTP); err != nil {
		return nil, fmt.Errorf("s3 store: %w", err)
	}
	return &Store{
		client:      client,
		bucket:      o.Bucket,
		prefix:      prefix,
		pathStyle:   o.PathStyle,
		partSize:    o.PartSize,
		concurrency: o.Concurrency,
		maxAttempts: o.MaxAttempts,
		bufs:        newBufferPool(o.PartSize, int64(o.Concurrency+1)*o.PartSize),
		keys:        &keyResolver{kms: o.KMS},
	}, nil
}

// checkEndpoint refuses a plain-http endpoint off loopback unless allowed.
// A nil endpoint means AWS's own, which is https.
func checkEndpoint(endpoint *string, allowHTTP bool) error {
	ep := aws.ToString(endpoint)
	if ep == "" {
		return nil
	}
	u, err := url.Parse(ep)
	if err != nil || u.Host == "" {
		return fmt.Errorf("endpoint %q is not a URL", ep)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if allowHTTP || loopback.Is(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("endpoint http://%s is plain http off loopback: objects would cross the network unencrypted (use https, or set AllowHTTP)", u.Host)
	default:
		return fmt.Errorf("endpoint %s://%s: scheme must be https or http", u.Scheme, u.Host)
	}
}

// Describe returns "s3://bucket/prefix" (or "s3://bucket").
func (s *Store) Describe() string {
	if s.prefix == "" {
		return "s3://" + s.bucket
	}
	return "s3://" + s.bucket + "/" + s.prefix
}

// MaxKeyLen is the longest store key whose S3 key (prefix, slash and key)
// stays within S3's 1024 bytes.
func (s *Store) MaxKeyLen() int {
	if s.prefix == "" {
		return store.MaxKeyLen
	}
	return store.MaxKeyLen - len(s.prefix) - 1
}

// checkKey validates a store key and the length of its S3 key.
func (s *Store) checkKey(key string) error {
	if err := store.ValidateKey(key); err != nil {
		return err
	}
	if len(key) > s.MaxKeyLen() {
		return fmt.Errorf("%w: %d bytes: with the store's prefix %q the S3 key passes %d bytes", store.ErrInvalidKey, len(key), s.prefix, store.MaxKeyLen)
	}
	return nil
}

// fullKey is the S3 key of a store key (or of a List prefix).
func (s *Store) fullKey(key string) string {
	if s.prefix == "" {
		return key
	}
	return s.prefix + "/" + key
}

// relKey is the store key of an S3 key under the prefix; ok is false for a
// key outside it.
func (s *Store) relKey(full string) (key string, ok bool) {
	if s.prefix == "" {
		return full, true
	}
	return strings.CutPrefix(full, s.prefix+"/")
}

// opts are the per-request client options every call uses, plus extra.
func (s *Store) opts(extra ...func(*s3.Options)) []func(*s3.Options) {
	return append([]func(*s3.Options){func(o *s3.Options) {
		if s.pathStyle {
			o.UsePathStyle = true
		}
		if s.maxAttempts > 0 {
			o.RetryMaxAttempts = s.maxAttempts
		}
		if r, ok := o.Retryer.(aws.RetryerV2); ok {
			if _, done := r.(noRetryCorrupt); !done {
				o.Retryer = noRetryCorrupt{r}
			}
		}
		// Composite (multipart) checksums cannot be checked on download;
		// that is expected, not worth a warning per Get.
		o.DisableLogOutputChecksumValidationSkipped = true
	}}, extra...)
}
