package genesys

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// tokens holds the one access token every request of a Client shares. It
// is requested on first use, reused until shortly before it expires, and
// replaced at most once per 401: concurrent requests that all see a 401
// for the same token cause one new token, not one each.
type tokens struct {
	c     *Client
	conf  clientcredentials.Config
	early time.Duration
	lock  chan struct{} // one slot: held while checking or fetching

	tok     *oauth2.Token
	fetched time.Time
}

func newTokens(c *Client) *tokens {
	return &tokens{
		c: c,
		conf: clientcredentials.Config{
			ClientID:     c.cfg.ClientID,
			ClientSecret: c.cfg.ClientSecret.Reveal(),
			TokenURL:     c.cfg.LoginURL + "/oauth/token",
			AuthStyle:    oauth2.AuthStyleInHeader, // HTTP Basic, as Genesys documents
		},
		early: c.cfg.TokenRefreshBefore,
		lock:  make(chan struct{}, 1),
	}
}

// valid reports whether the cached token can still be used.
func (t *tokens) valid(now time.Time) bool {
	if t.tok == nil || t.tok.AccessToken == "" {
		return false
	}
	if t.tok.Expiry.IsZero() {
		return true
	}
	early := min(t.early, t.tok.Expiry.Sub(t.fetched)/4)
	return now.Add(early).Before(t.tok.Expiry)
}

// get returns the shared token, requesting a new one when there is none or
// it is about to expire.
func (t *tokens) get(ctx context.Context) (*oauth2.Token, error) {
	select {
	case t.lock <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-t.lock }()
	if t.valid(time.Now()) {
		return t.tok, nil
	}
	tok, err := t.fetch(ctx)
	if err != nil {
		return nil, err
	}
	t.tok, t.fetched = tok, time.Now()
	return tok, nil
}

// drop forgets tok after the API refused it, unless it was already
// replaced. It reports whether it dropped it.
func (t *tokens) drop(ctx context.Context, tok *oauth2.Token) bool {
	select {
	case t.lock <- struct{}{}:
	case <-ctx.Done():
		return false
	}
	defer func() { <-t.lock }()
	if t.tok != tok {
		return false
	}
	t.tok = nil
	return true
}

// fetch requests a token, retrying 429s, 5xx answers and connection
// failures. Errors name the login URL and the server's error code, never
// the secret.
func (t *tokens) fetch(ctx context.Context) (*oauth2.Token, error) {
	c := t.c
	hctx := context.WithValue(ctx, oauth2.HTTPClient, c.cfg.HTTPClient)
	failures, throttles := 0, 0
	for attempt := 0; ; attempt++ {
		c.st.tokenRequests.Add(1)
		start := time.Now()
		tok, err := t.conf.Token(hctx)
		if err == nil {
			c.log.Info("genesys token requested", "login_url", c.cfg.LoginURL, "client_id", c.cfg.ClientID,
				"expires_in", time.Until(tok.Expiry).Round(time.Second), "attempt", attempt+1, "took", time.Since(start).Round(time.Millisecond))
			return tok, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("genesys token request: %w", ctx.Err())
		}
		var re *oauth2.RetrieveError
		var wait time.Duration
		switch {
		case errors.As(err, &re) && re.Response != nil && re.Response.StatusCode == http.StatusTooManyRequests:
			throttles++
			c.st.rateLimited.Add(1)
			if throttles > c.cfg.MaxThrottleRetries {
				return nil, t.refused(re, ErrThrottled)
			}
			wait = min(retryAfter(re.Response.Header, time.Now()), c.cfg.MaxRetryAfter)
			if wait == 0 {
				wait = c.backoff(throttles)
			}
			c.log.Warn("genesys token request throttled", "login_url", c.cfg.LoginURL, "retry_in", wait, "attempt", attempt+1)
		case errors.As(err, &re) && re.Response != nil && re.Response.StatusCode >= 500:
			failures++
			c.st.serverErrors.Add(1)
			if failures > c.cfg.MaxRetries {
				return nil, t.refused(re, ErrUnavailable)
			}
			wait = c.backoff(failures)
			c.log.Debug("genesys token request retried", "login_url", c.cfg.LoginURL, "status", re.Response.StatusCode, "retry_in", wait, "attempt", attempt+1)
		case errors.As(err, &re):
			kind := ErrRejected
			if re.Response != nil && (re.Response.StatusCode == http.StatusUnauthorized || re.Response.StatusCode == http.StatusForbidden) ||
				re.ErrorCode == "invalid_client" || re.ErrorCode == "unauthorized_client" {
				kind = ErrBadCredentials
			}
			return nil, t.refused(re, kind)
		case isConnError(err):
			failures++
			c.st.connErrors.Add(1)
			if failures > c.cfg.MaxRetries {
				return nil, fmt.Errorf("genesys token request to %s: %w: %w", t.conf.TokenURL, ErrUnavailable, err)
			}
			wait = c.backoff(failures)
			c.log.Debug("genesys token request retried", "login_url", c.cfg.LoginURL, "err", err, "retry_in", wait, "attempt", attempt+1)
		default:
			// An answer that is no token (such as one without
			// access_token): retrying would not help.
			return nil, fmt.Errorf("genesys token request to %s: %w: %w", t.conf.TokenURL, ErrMalformed, err)
		}
		c.st.throttleWait.Add(int64(wait))
		if err := sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("genesys token request: %w", err)
		}
	}
}

// refused turns the login service's error answer into an error that names
// the status and the OAuth error code and description, but not the body
// (which oauth2's own message includes verbatim).
func (t *tokens) refused(re *oauth2.RetrieveError, kind error) error {
	status := 0
	if re.Response != nil {
		status = re.Response.StatusCode
	}
	msg := fmt.Sprintf("genesys token request to %s: %d %s", t.conf.TokenURL, status, http.StatusText(status))
	if re.ErrorCode != "" {
		msg += " (" + oneLine(re.ErrorCode) + ")"
	}
	if re.ErrorDescription != "" {
		msg += ": " + oneLine(re.ErrorDescription)
	}
	if errors.Is(kind, ErrBadCredentials) {
		msg += "; check client_id and client_secret, and that the OAuth client uses the Client Credentials grant"
	}
	return fmt.Errorf("%s: %w", msg, kind)
}
