package genesys

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/logkeeper/logkeeper/internal/gcregion"
	"github.com/logkeeper/logkeeper/internal/loopback"
)

// Defaults applied to zero fields of a Config.
const (
	DefaultMaxConcurrency     = 8
	DefaultInitialConcurrency = 2
	DefaultRequestRate        = 10 // requests per second, the client-side ceiling
	DefaultRequestBurst       = 2
	DefaultMaxRetries         = 8
	DefaultMaxThrottleRetries = 40
	DefaultBackoffBase        = 500 * time.Millisecond
	DefaultBackoffMax         = 30 * time.Second
	DefaultMaxRetryAfter      = 5 * time.Minute
	DefaultTokenRefreshBefore = 5 * time.Minute
	DefaultMaxURLRefreshes    = 5
)

// Secret holds a credential. Every way of printing or encoding it yields
// "[REDACTED]"; only Reveal returns the value.
type Secret string

const redacted = "[REDACTED]"

// Reveal returns the secret value.
func (s Secret) Reveal() string { return string(s) }

// String returns "[REDACTED]".
func (s Secret) String() string { return redacted }

// GoString returns "[REDACTED]".
func (s Secret) GoString() string { return redacted }

// Format prints "[REDACTED]" whatever the verb.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// LogValue makes log/slog print "[REDACTED]".
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalText returns "[REDACTED]".
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// Config configures a Client: one organization in one region, reached with
// one OAuth client.
type Config struct {
	// Region is the Genesys Cloud region: its domain, such as
	// mypurecloud.com or apse1.pure.cloud, or its AWS region name, such as
	// us-east-1 (the list is the SDK's, see package gcregion). It sets
	// APIURL to https://api.DOMAIN and LoginURL to https://login.DOMAIN
	// where those are empty, and the domain is recorded as provenance.
	Region string
	// APIURL and LoginURL are the API and login base URLs (no trailing
	// slash needed). https, or http to a loopback host only.
	APIURL   string
	LoginURL string
	// ClientID and ClientSecret are the OAuth client credentials.
	ClientID     string
	ClientSecret Secret

	// MaxConcurrency is the ceiling of API requests in flight, and
	// separately of downloads in flight (default 8). The client starts at
	// InitialConcurrency (default 2) and ramps up towards it.
	MaxConcurrency     int
	InitialConcurrency int
	// RequestRate is the ceiling of API requests per second (default 10);
	// the rate-limit headers of the answers lower it. RequestBurst is the
	// number of requests that may start at once (default 2).
	RequestRate  float64
	RequestBurst int

	// MaxRetries bounds the retries of one request after 5xx answers and
	// connection failures (default 8); MaxThrottleRetries the retries
	// after 429s and throttling 403s (default 40).
	MaxRetries         int
	MaxThrottleRetries int
	// BackoffBase and BackoffMax shape the capped exponential backoff
	// with jitter (defaults 500ms and 30s). MaxRetryAfter caps how long
	// one Retry-After is obeyed (default 5m).
	BackoffBase   time.Duration
	BackoffMax    time.Duration
	MaxRetryAfter time.Duration
	// MaxURLRefreshes bounds how often one download re-resolves its URL
	// after the URL was refused as expired (default 5).
	MaxURLRefreshes int

	// TokenRefreshBefore is how long before its expiry the shared token is
	// replaced (default 5m, at most a quarter of the token's lifetime).
	TokenRefreshBefore time.Duration

	// HTTPClient sends API and token requests. The default has a 60 s
	// timeout and keeps up to MaxConcurrency connections to the API.
	HTTPClient *http.Client
	// DownloadClient fetches pre-signed download URLs. The default has no
	// overall timeout (downloads stream for as long as the archive takes)
	// but a 60 s wait for response headers.
	DownloadClient *http.Client

	// Logger receives retries, throttles and token requests (at Debug and
	// Info). Nil discards them.
	Logger *slog.Logger
}

// LogValue prints the configuration without the secret.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(slog.String("api_url", c.APIURL), slog.String("login_url", c.LoginURL),
		slog.String("client_id", c.ClientID), slog.String("client_secret", redacted))
}

// normalize fills defaults and checks the configuration.
func (c *Config) normalize() error {
	var errs []error
	if c.Region != "" {
		region, ok := gcregion.Lookup(c.Region)
		if !ok {
			errs = append(errs, fmt.Errorf("region %q: not a Genesys Cloud region (%s); for another, set the API and login URLs", oneLine(c.Region), strings.Join(gcregion.Domains(), ", ")))
		}
		c.Region = region
		if c.APIURL == "" {
			c.APIURL = "https://api." + region
		}
		if c.LoginURL == "" {
			c.LoginURL = "https://login." + region
		}
	}
	for _, u := range []struct {
		name string
		v    *string
	}{{"api_url", &c.APIURL}, {"login_url", &c.LoginURL}} {
		if err := checkBaseURL(*u.v); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", u.name, err))
		}
		*u.v = strings.TrimRight(*u.v, "/")
	}
	if c.ClientID == "" {
		errs = append(errs, errors.New("client_id is required"))
	}
	if c.ClientSecret == "" {
		errs = append(errs, errors.New("client_secret is required"))
	}
	if c.MaxConcurrency < 0 || c.InitialConcurrency < 0 || c.RequestRate < 0 || c.RequestBurst < 0 ||
		c.MaxRetries < 0 || c.MaxThrottleRetries < 0 || c.MaxURLRefreshes < 0 {
		errs = append(errs, errors.New("limits must not be negative"))
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.MaxConcurrency, DefaultMaxConcurrency)
	def(&c.InitialConcurrency, DefaultInitialConcurrency)
	c.InitialConcurrency = min(c.InitialConcurrency, c.MaxConcurrency)
	if c.RequestRate == 0 {
		c.RequestRate = DefaultRequestRate
	}
	def(&c.RequestBurst, DefaultRequestBurst)
	def(&c.MaxRetries, DefaultMaxRetries)
	def(&c.MaxThrottleRetries, DefaultMaxThrottleRetries)
	def(&c.MaxURLRefreshes, DefaultMaxURLRefreshes)
	defDur(&c.BackoffBase, DefaultBackoffBase)
	defDur(&c.BackoffMax, DefaultBackoffMax)
	c.BackoffMax = max(c.BackoffMax, c.BackoffBase)
	defDur(&c.MaxRetryAfter, DefaultMaxRetryAfter)
	defDur(&c.TokenRefreshBefore, DefaultTokenRefreshBefore)
	if c.HTTPClient == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = c.MaxConcurrency
		t.MaxConnsPerHost = c.MaxConcurrency + 1 // +1: the token request
		c.HTTPClient = &http.Client{Timeout: 60 * time.Second, Transport: t}
	}
	if c.DownloadClient == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = c.MaxConcurrency
		t.ResponseHeaderTimeout = 60 * time.Second
		c.DownloadClient = &http.Client{Transport: t}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// checkBaseURL accepts an absolute https URL, or http to a loopback host.
// Its errors never quote the URL.
func checkBaseURL(s string) error {
	if s == "" {
		return errors.New("required (or set region)")
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return errors.New("not an absolute URL")
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return errors.New("must not have credentials, a query or a fragment")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if loopback.Is(u.Hostname()) {
			return nil
		}
		return errors.New("must use https (http only to a loopback host)")
	default:
		return fmt.Errorf("scheme %q: must be https", u.Scheme)
	}
}
