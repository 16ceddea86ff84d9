package genesys

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// scripted is a login and API server whose API answers follow a script:
// the n-th API request gets steps[n], the last step repeats.
type scripted struct {
	steps     []http.HandlerFunc
	api       atomic.Int64
	tokens    atomic.Int64
	expiresIn int
	tokenStep func(n int64, w http.ResponseWriter) bool // answers a token request itself when true
	authSeen  sync.Map                                  // Authorization headers the API saw
}

func (s *scripted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/oauth/token" {
		n := s.tokens.Add(1)
		if s.tokenStep != nil && s.tokenStep(n, w) {
			return
		}
		exp := s.expiresIn
		if exp == 0 {
			exp = 3600
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"tok-%d","token_type":"bearer","expires_in":%d}`, n, exp)
		return
	}
	s.authSeen.Store(r.Header.Get("Authorization"), true)
	n := int(s.api.Add(1)) - 1
	s.steps[min(n, len(s.steps)-1)](w, r)
}

func answer(status int, body string, headers ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		w.Header().Set("ININ-Correlation-Id", "corr-test")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}
}

func hangup(w http.ResponseWriter, _ *http.Request) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		conn.Close()
	}
}

// unauthorizedUnless answers 401 unless the request carries token tok.
func unauthorizedUnless(tok string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+tok {
			answer(http.StatusUnauthorized, `{"message":"Invalid login credentials.","code":"bad.credentials","status":401}`)(w, r)
			return
		}
		answer(http.StatusOK, `{"id":"org-1"}`)(w, r)
	}
}

const ok = `{"id":"org-1"}`

func newScripted(t testing.TB, s *scripted, mod func(*Config)) *Client {
	t.Helper()
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	cfg := Config{
		APIURL: srv.URL, LoginURL: srv.URL, ClientID: "id", ClientSecret: "secret-value",
		RequestRate: 10000, RequestBurst: 100,
		MaxRetries: 3, MaxThrottleRetries: 3,
		BackoffBase: time.Millisecond, BackoffMax: 5 * time.Millisecond, MaxRetryAfter: 50 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler),
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func getOrg(ctx context.Context, c *Client) error {
	_, _, err := doJSON(ctx, c, request{op: "get organization", method: http.MethodGet, path: "/api/v2/organizations/me", perm: "telephony:plugin:all"}, decodeOrganization)
	return err
}

// TestDoRetriesAndFailures is the retry contract of Client.do, answer by
// answer.
func TestDoRetriesAndFailures(t *testing.T) {
	waf := `{"message":"Request blocked (waf_block)","code":"waf_block","status":403}`
	tests := []struct {
		name     string
		steps    []http.HandlerFunc
		wantErr  error  // nil: success
		wantText string // in the error
		requests int64  // API requests the server saw
		tokens   int64
		check    func(Stats) bool
	}{
		{"success", []http.HandlerFunc{answer(200, ok)}, nil, "", 1, 1,
			func(s Stats) bool { return s.Requests == 1 && s.Retries == 0 }},
		{"5xx retried", []http.HandlerFunc{answer(503, `{}`), answer(502, ``), answer(200, ok)}, nil, "", 3, 1,
			func(s Stats) bool { return s.ServerErrors == 2 && s.Retries == 2 }},
		{"429 waits Retry-After", []http.HandlerFunc{answer(429, `{}`, "Retry-After", "0.01"), answer(200, ok)}, nil, "", 2, 1,
			func(s Stats) bool {
				return s.RateLimited == 1 && s.Throttled == 1 && s.ThrottleWait >= 10*time.Millisecond
			}},
		{"403 waf_block retried", []http.HandlerFunc{answer(403, waf), answer(200, ok)}, nil, "", 2, 1,
			func(s Stats) bool { return s.Blocked == 1 && s.Throttled == 1 }},
		{"403 rate_limit_exceeded retried", []http.HandlerFunc{answer(403, `{"code":"rate_limit_exceeded"}`), answer(200, ok)}, nil, "", 2, 1,
			func(s Stats) bool { return s.Blocked == 1 }},
		{"connection reset retried", []http.HandlerFunc{hangup, answer(200, ok)}, nil, "", 2, 1,
			func(s Stats) bool { return s.ConnErrors == 1 && s.Retries == 1 }},
		{"401 refreshes the token once", []http.HandlerFunc{unauthorizedUnless("tok-2")}, nil, "", 2, 2,
			func(s Stats) bool { return s.TokenRefreshes == 1 && s.TokenRequests == 2 }},
		{"401 twice fails", []http.HandlerFunc{answer(401, `{"message":"nope"}`)}, ErrUnauthorized, "401 Unauthorized", 2, 2, nil},
		{"missing permission fails fast", []http.HandlerFunc{answer(403, `{"message":"You are missing the following permission(s): [audits:audit:view]","code":"missing.any.permissions","status":403}`)},
			ErrPermission, "lacks permission audits:audit:view", 1, 1, nil},
		{"missing permission without names uses the documented one", []http.HandlerFunc{answer(403, `{"message":"Missing permission","code":"missing.permissions"}`)},
			ErrPermission, "lacks permission telephony:plugin:all", 1, 1, nil},
		{"other 403 fails fast", []http.HandlerFunc{answer(403, `{"message":"Org is suspended","code":"org.suspended"}`)},
			ErrForbidden, "Org is suspended", 1, 1, nil},
		{"404", []http.HandlerFunc{answer(404, `{"message":"Edge not found","code":"not.found"}`)}, ErrNotFound, "corr-test", 1, 1, nil},
		{"400", []http.HandlerFunc{answer(400, `not json`)}, ErrRejected, "400 Bad Request", 1, 1, nil},
		{"5xx gives up", []http.HandlerFunc{answer(500, `{}`)}, ErrUnavailable, "500", 4, 1, nil},
		{"throttled gives up", []http.HandlerFunc{answer(429, `{}`)}, ErrThrottled, "429", 4, 1, nil},
		{"resets give up", []http.HandlerFunc{hangup}, ErrUnavailable, "after 4 attempts", 4, 1, nil},
		{"malformed answer", []http.HandlerFunc{answer(200, `{"id":`)}, ErrMalformed, "correlation id corr-test", 1, 1, nil},
		{"answer without id", []http.HandlerFunc{answer(200, `{}`)}, ErrMalformed, "id is missing", 1, 1, nil},
		{"answer too large", []http.HandlerFunc{answer(200, `{"id":"`+strings.Repeat("x", maxBody)+`"}`)}, ErrMalformed, "larger than", 1, 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &scripted{steps: tt.steps}
			c := newScripted(t, s, nil)
			// A POST with a body, which net/http never retries on its own.
			_, _, err := doJSON(context.Background(), c, request{op: "create thing", method: http.MethodPost, path: "/api/v2/things",
				body: map[string]string{"a": "b"}, perm: "telephony:plugin:all"}, decodeID)
			switch {
			case tt.wantErr == nil && err != nil:
				t.Fatalf("error %v, want success", err)
			case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
				t.Fatalf("error %v, want one wrapping %v", err, tt.wantErr)
			case tt.wantErr != nil && !strings.Contains(err.Error(), tt.wantText):
				t.Fatalf("error %q does not say %q", err, tt.wantText)
			}
			if err != nil && (strings.Contains(err.Error(), "secret-value") || strings.Contains(err.Error(), "tok-")) {
				t.Fatalf("error leaks a credential: %v", err)
			}
			if got := s.api.Load(); got != tt.requests {
				t.Errorf("server saw %d API requests, want %d", got, tt.requests)
			}
			if got := s.tokens.Load(); got != tt.tokens {
				t.Errorf("server saw %d token requests, want %d", got, tt.tokens)
			}
			if st := c.Stats(); tt.check != nil && !tt.check(st) {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

// TestOneTokenForAllWorkers: many workers at once share one token, and a
// 401 seen by all of them at once replaces it once.
func TestOneTokenForAllWorkers(t *testing.T) {
	s := &scripted{steps: []http.HandlerFunc{unauthorizedUnless("tok-2")}}
	c := newScripted(t, s, func(c *Config) { c.MaxConcurrency = 64; c.InitialConcurrency = 64 })
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for range 100 {
		wg.Go(func() { errs <- getOrg(context.Background(), c) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := s.tokens.Load(); n != 2 {
		t.Fatalf("%d token requests for 100 workers and one refused token, want 2", n)
	}
	if st := c.Stats(); st.TokenRequests != 2 || st.TokenRefreshes != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestTokenRefreshedBeforeExpiry: a token is replaced a quarter of its
// lifetime before it expires, not after the API refuses it.
func TestTokenRefreshedBeforeExpiry(t *testing.T) {
	s := &scripted{steps: []http.HandlerFunc{answer(200, ok)}, expiresIn: 1}
	c := newScripted(t, s, nil)
	for range 3 {
		if err := getOrg(context.Background(), c); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.tokens.Load(); n != 1 {
		t.Fatalf("%d tokens for three quick requests, want 1", n)
	}
	time.Sleep(800 * time.Millisecond) // past 3/4 of the 1 s lifetime
	if err := getOrg(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	if n := s.tokens.Load(); n != 2 {
		t.Fatalf("%d tokens, want a second one before the first expired", n)
	}
}

// TestTokenEndpointErrors: a throttled token endpoint is retried; refused
// credentials fail with ErrBadCredentials, naming the login URL but not
// the secret.
func TestTokenEndpointErrors(t *testing.T) {
	tests := []struct {
		name    string
		step    func(n int64, w http.ResponseWriter) bool
		wantErr error
		tokens  int64
	}{
		{"throttled then issued", func(n int64, w http.ResponseWriter) bool {
			if n == 1 {
				w.Header().Set("Retry-After", "0.01")
				answer(429, `{"error":"rate_limit_exceeded"}`)(w, nil)
				return true
			}
			return false
		}, nil, 2},
		{"5xx then issued", func(n int64, w http.ResponseWriter) bool {
			if n == 1 {
				answer(502, `bad gateway`)(w, nil)
				return true
			}
			return false
		}, nil, 2},
		{"bad credentials", func(_ int64, w http.ResponseWriter) bool {
			answer(401, `{"error":"invalid_client","error_description":"client not found"}`)(w, nil)
			return true
		}, ErrBadCredentials, 1},
		{"bad credentials as 400", func(_ int64, w http.ResponseWriter) bool {
			answer(400, `{"error":"invalid_client"}`)(w, nil)
			return true
		}, ErrBadCredentials, 1},
		{"no token in the answer", func(_ int64, w http.ResponseWriter) bool {
			answer(200, `{"token_type":"bearer"}`)(w, nil)
			return true
		}, ErrMalformed, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &scripted{steps: []http.HandlerFunc{answer(200, ok)}, tokenStep: tt.step}
			c := newScripted(t, s, nil)
			err := getOrg(context.Background(), c)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
			if err != nil && (strings.Contains(err.Error(), "secret-value") || !strings.Contains(err.Error(), "/oauth/token")) {
				t.Fatalf("error %q: want the token URL named and no secret", err)
			}
			if n := s.tokens.Load(); n != tt.tokens {
				t.Fatalf("%d token requests, want %d", n, tt.tokens)
			}
		})
	}
}

// TestConcurrencyRampsAndBacksOff: the adaptive limit grows with successes
// and halves on throttles against a server that blocks bursts.
func TestConcurrencyRampsAndBacksOff(t *testing.T) {
	var inflight, peak atomic.Int64
	const limit = 6
	block := func(w http.ResponseWriter, r *http.Request) {
		n := inflight.Add(1)
		defer inflight.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(5 * time.Millisecond)
		if n > limit {
			answer(403, `{"code":"waf_block"}`)(w, r)
			return
		}
		answer(200, ok)(w, r)
	}
	s := &scripted{steps: []http.HandlerFunc{block}}
	c := newScripted(t, s, func(c *Config) { c.MaxConcurrency = 32; c.MaxThrottleRetries = 100 })
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range 300 {
		wg.Go(func() {
			if err := getOrg(context.Background(), c); err != nil {
				failed.Add(1)
			}
		})
	}
	wg.Wait()
	st := c.Stats()
	if failed.Load() != 0 {
		t.Fatalf("%d requests failed; stats %+v", failed.Load(), st)
	}
	if st.Blocked == 0 || st.ConcurrencyLimit >= 32 {
		t.Fatalf("the limit never met the server's cap: %+v", st)
	}
	t.Logf("peak %d in flight, %d blocked, final limit %d", peak.Load(), st.Blocked, st.ConcurrencyLimit)
}

func TestConfigNormalize(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
		check   func(Config) bool
	}{
		{"region sets both URLs", Config{Region: "APSE1.pure.cloud", ClientID: "i", ClientSecret: "s"}, "",
			func(c Config) bool {
				return c.APIURL == "https://api.apse1.pure.cloud" && c.LoginURL == "https://login.apse1.pure.cloud" && c.Region == "apse1.pure.cloud"
			}},
		{"AWS region name", Config{Region: "ap-southeast-2", ClientID: "i", ClientSecret: "s"}, "",
			func(c Config) bool {
				return c.APIURL == "https://api.mypurecloud.com.au" && c.Region == "mypurecloud.com.au"
			}},
		{"not a Genesys domain", Config{Region: "apse2.pure.cloud", ClientID: "i", ClientSecret: "s"}, "not a Genesys Cloud region", nil},
		{"explicit URLs override the region", Config{Region: "mypurecloud.com", APIURL: "http://127.0.0.1:9/", LoginURL: "http://localhost:9", ClientID: "i", ClientSecret: "s"}, "",
			func(c Config) bool { return c.APIURL == "http://127.0.0.1:9" && c.LoginURL == "http://localhost:9" }},
		{"defaults", Config{Region: "mypurecloud.com", ClientID: "i", ClientSecret: "s"}, "",
			func(c Config) bool {
				return c.MaxConcurrency == 8 && c.InitialConcurrency == 2 && c.RequestRate == 10 && c.HTTPClient != nil
			}},
		{"initial above max", Config{Region: "mypurecloud.com", ClientID: "i", ClientSecret: "s", MaxConcurrency: 1}, "",
			func(c Config) bool { return c.InitialConcurrency == 1 }},
		{"http off loopback", Config{APIURL: "http://api.example.com", LoginURL: "https://login.example.com", ClientID: "i", ClientSecret: "s"}, "api_url: must use https", nil},
		{"no URLs", Config{ClientID: "i", ClientSecret: "s"}, "api_url: required", nil},
		{"region is a URL", Config{Region: "https://mypurecloud.com", ClientID: "i", ClientSecret: "s"}, "region", nil},
		{"no credentials", Config{Region: "mypurecloud.com"}, "client_secret is required", nil},
		{"URL with credentials", Config{APIURL: "https://u:p@api.example.com", LoginURL: "https://login.example.com", ClientID: "i", ClientSecret: "s"}, "credentials", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			err := cfg.normalize()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !tt.check(cfg) {
				t.Fatalf("normalize: %v, %+v", err, cfg)
			}
		})
	}
}

func TestSecretNeverPrinted(t *testing.T) {
	s := Secret("hunter2")
	cfg := Config{ClientSecret: s}
	var b strings.Builder
	logger := slog.New(slog.NewJSONHandler(&b, nil))
	logger.Info("x", "secret", s, "cfg", cfg)
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s %q %x %d", s, cfg, cfg, s, s, s, s), b.String()} {
		if strings.Contains(out, "hunter2") {
			t.Fatalf("secret printed: %s", out)
		}
	}
	if s.Reveal() != "hunter2" {
		t.Fatal("Reveal")
	}
}
