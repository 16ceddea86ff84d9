package sim

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Permissions the simulated endpoints require.
const (
	PermTelephony = "telephony:plugin:all"
	PermAudit     = "audits:audit:view"
)

// Config describes the simulated organization and its limits. The zero
// value of a limit means no limit.
type Config struct {
	// ClientID and ClientSecret are the only credentials the token
	// endpoint accepts.
	ClientID     string
	ClientSecret string
	// OrgID is the organization id (default "5f3e9c1a-0000-4000-8000-00000000c0de").
	OrgID string
	// TokenTTL is the lifetime of an access token (default 24 h).
	TokenTTL time.Duration
	// TokensPerMinute caps tokens issued in any minute; more token
	// requests get 429 with Retry-After.
	TokensPerMinute int
	// RequestsPerWindow caps the API requests of one token in each Window
	// (default window 1 min); more get 429 with Retry-After. Every API
	// answer carries inin-ratelimit-allowed, -count and -reset.
	RequestsPerWindow int
	Window            time.Duration
	// MaxInFlight caps the API requests of one token in flight at once;
	// more get 403 with a body holding waf_block, as an ingress firewall
	// answers a burst.
	MaxInFlight int
	// Latency is added to every API request (while it counts as in
	// flight).
	Latency time.Duration

	// FailRate is the share of API requests and downloads answered 503,
	// ResetRate the share of API requests whose connection is closed
	// without an answer, TruncateRate the share of downloads that send
	// fewer bytes than their Content-Length and then close.
	FailRate     float64
	ResetRate    float64
	TruncateRate float64
	// Seed makes file contents, ids and injected faults repeatable.
	Seed uint64

	// Edges of the organization, with their log files.
	Edges []Edge
	// JobDelay is how long a log job takes to list its files; UploadDelay
	// how long a requested upload takes.
	JobDelay    time.Duration
	UploadDelay time.Duration
	// URLTTL is the lifetime of download URLs (default 10 min). The first
	// StaleURLs URLs are issued already expired.
	URLTTL    time.Duration
	StaleURLs int

	// AuditRecords are the organization's audit trail.
	AuditRecords []AuditRecord
	// AuditDelay is how long an audit query takes; AuditState, when set,
	// is the state it ends in instead of Succeeded (Failed, Cancelled).
	AuditDelay time.Duration
	AuditState string

	// Permissions granted to the OAuth client; nil grants all.
	Permissions []string

	// UnknownEnums makes the simulator answer enum values the published
	// models do not list, as Genesys may after adding one: an upload
	// status QUEUED_AT_EDGE in the first job read after the request and
	// for the first half of UploadDelay, and an audit query state Pending
	// in the first status read and for the first half of AuditDelay.
	UnknownEnums bool
}

// Stats counts what the simulator served.
type Stats struct {
	TokensIssued    int64 `json:"tokens_issued"`
	TokensRefused   int64 `json:"tokens_refused"`   // wrong credentials
	TokensThrottled int64 `json:"tokens_throttled"` // 429 from the token endpoint
	Requests        int64 `json:"requests"`         // API requests, all answers
	Unauthorized    int64 `json:"unauthorized"`     // 401
	RateLimited     int64 `json:"rate_limited"`     // 429
	Blocked         int64 `json:"blocked"`          // 403 waf_block
	Forbidden       int64 `json:"forbidden"`        // 403 missing permission
	Injected503     int64 `json:"injected_503"`     // API and downloads
	Resets          int64 `json:"resets"`
	Downloads       int64 `json:"downloads"`
	RangeRequests   int64 `json:"range_requests"`
	Truncated       int64 `json:"truncated"`
	ExpiredURLs     int64 `json:"expired_urls"`
	BytesServed     int64 `json:"bytes_served"`
	PeakInFlight    int64 `json:"peak_in_flight"` // most API requests of one token in flight
}

type stats struct {
	tokensIssued, tokensRefused, tokensThrottled, requests, unauthorized, rateLimited atomic.Int64
	blocked, forbidden, injected503, resets, downloads, rangeRequests, truncated      atomic.Int64
	expiredURLs, bytesServed, peakInFlight                                            atomic.Int64
}

// Server is the simulated Genesys Cloud login and API service, as an
// http.Handler: serve it with httptest.NewServer (or net/http) and use its
// URL as both api_url and login_url.
type Server struct {
	cfg  Config
	mux  *http.ServeMux
	key  []byte // signs download URLs
	st   stats
	rmu  sync.Mutex
	rng  *mrand.Rand
	seq  atomic.Int64
	perm map[string]bool

	mu        sync.Mutex
	tokens    map[string]*token
	issued    []time.Time // token issue times, for TokensPerMinute
	allTokens []string    // every token issued
	edges     map[string]*Edge
	jobs      map[string]*job
	downloads map[string]*download
	urls      int // download URLs issued
	// uploadRequests counts POST .../upload requests.
	uploadRequests int
	audits         map[string]*auditRun
}

type token struct {
	expires  time.Time
	winStart time.Time
	count    int
	inflight int
}

// New returns a simulator for cfg.
func New(cfg Config) *Server {
	if cfg.OrgID == "" {
		cfg.OrgID = "5f3e9c1a-0000-4000-8000-00000000c0de"
	}
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = 24 * time.Hour
	}
	if cfg.Window <= 0 {
		cfg.Window = time.Minute
	}
	if cfg.URLTTL <= 0 {
		cfg.URLTTL = 10 * time.Minute
	}
	s := &Server{
		cfg: cfg, mux: http.NewServeMux(), key: make([]byte, 32),
		rng:    mrand.New(mrand.NewPCG(cfg.Seed, 0x5eed)),
		tokens: map[string]*token{}, edges: map[string]*Edge{}, jobs: map[string]*job{},
		downloads: map[string]*download{}, audits: map[string]*auditRun{},
	}
	_, _ = rand.Read(s.key)
	if cfg.Permissions != nil {
		s.perm = map[string]bool{}
		for _, p := range cfg.Permissions {
			s.perm[p] = true
		}
	}
	// The simulator's own copy: SetEdge changes it, not the caller's.
	s.cfg.Edges = slices.Clone(cfg.Edges)
	for i := range s.cfg.Edges {
		s.cfg.Edges[i].Files = slices.Clone(s.cfg.Edges[i].Files)
		s.edges[s.cfg.Edges[i].ID] = &s.cfg.Edges[i]
	}
	s.routes()
	return s
}

func (s *Server) routes() {
	const edges = "/api/v2/telephony/providers/edges"
	s.mux.HandleFunc("POST /oauth/token", s.handleToken)
	s.mux.HandleFunc("GET /api/v2/organizations/me", s.api("", s.handleOrg))
	s.mux.HandleFunc("GET "+edges, s.api(PermTelephony, s.handleEdges))
	s.mux.HandleFunc("POST "+edges+"/{edge}/logs/jobs", s.api(PermTelephony, s.handleCreateJob))
	s.mux.HandleFunc("GET "+edges+"/{edge}/logs/jobs/{job}", s.api(PermTelephony, s.handleGetJob))
	s.mux.HandleFunc("POST "+edges+"/{edge}/logs/jobs/{job}/upload", s.api(PermTelephony, s.handleUpload))
	s.mux.HandleFunc("GET /api/v2/downloads/{id}", s.api("", s.handleResolve))
	s.mux.HandleFunc("POST /api/v2/audits/query", s.api(PermAudit, s.handleCreateAudit))
	s.mux.HandleFunc("GET /api/v2/audits/query/{id}", s.api(PermAudit, s.handleAuditStatus))
	s.mux.HandleFunc("GET /api/v2/audits/query/{id}/results", s.api(PermAudit, s.handleAuditResults))
	s.mux.HandleFunc("GET /sim/blobs/{id}", s.handleBlob)
	s.mux.HandleFunc("/", s.api("", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not.found", "No resource at "+r.URL.Path)
	}))
}

// ServeHTTP serves the login, API and download endpoints.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Stats returns the counters so far.
func (s *Server) Stats() Stats {
	return Stats{
		TokensIssued: s.st.tokensIssued.Load(), TokensRefused: s.st.tokensRefused.Load(), TokensThrottled: s.st.tokensThrottled.Load(),
		Requests: s.st.requests.Load(), Unauthorized: s.st.unauthorized.Load(), RateLimited: s.st.rateLimited.Load(),
		Blocked: s.st.blocked.Load(), Forbidden: s.st.forbidden.Load(), Injected503: s.st.injected503.Load(),
		Resets: s.st.resets.Load(), Downloads: s.st.downloads.Load(), RangeRequests: s.st.rangeRequests.Load(),
		Truncated: s.st.truncated.Load(), ExpiredURLs: s.st.expiredURLs.Load(), BytesServed: s.st.bytesServed.Load(),
		PeakInFlight: s.st.peakInFlight.Load(),
	}
}

// float returns a pseudo-random number in [0,1) from the seeded source.
func (s *Server) float() float64 {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	return s.rng.Float64()
}

// int64n returns a pseudo-random number in [0,n).
func (s *Server) int64n(n int64) int64 {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	return s.rng.Int64N(n)
}

// newID returns a UUID-shaped id from the seeded source.
func (s *Server) newID() string {
	s.rmu.Lock()
	a, b := s.rng.Uint64(), s.rng.Uint64()
	s.rmu.Unlock()
	return uuidOf(a, b)
}

func uuidOf(a, b uint64) string {
	return fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", a>>32, (a>>16)&0xffff, a&0xfff, 0x8000|(b>>48)&0x3fff, b&0xffffffffffff)
}

// handleToken is POST /oauth/token: client credentials in HTTP Basic.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("ININ-Correlation-Id", s.newID())
	id, secret, ok := r.BasicAuth()
	if !ok {
		// clientcredentials may also send them in the form.
		_ = r.ParseForm()
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if subtle.ConstantTimeCompare([]byte(id), []byte(s.cfg.ClientID)) != 1 ||
		subtle.ConstantTimeCompare([]byte(secret), []byte(s.cfg.ClientSecret)) != 1 {
		s.st.tokensRefused.Add(1)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client", "description": "client not found or secret mismatch"})
		return
	}
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "client_credentials" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type"})
		return
	}
	now := time.Now()
	s.mu.Lock()
	if n := s.cfg.TokensPerMinute; n > 0 {
		recent := s.issued[:0]
		for _, t := range s.issued {
			if now.Sub(t) < time.Minute {
				recent = append(recent, t)
			}
		}
		s.issued = recent
		if len(recent) >= n {
			wait := time.Minute - now.Sub(recent[0])
			s.mu.Unlock()
			s.st.tokensThrottled.Add(1)
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
			writeJSON(w, http.StatusTooManyRequests, map[string]string{"error": "rate_limit_exceeded", "description": "too many token requests"})
			return
		}
		s.issued = append(s.issued, now)
	}
	var b [24]byte
	_, _ = rand.Read(b[:])
	tok := hex.EncodeToString(b[:])
	s.tokens[tok] = &token{expires: now.Add(s.cfg.TokenTTL), winStart: now}
	s.allTokens = append(s.allTokens, tok)
	s.mu.Unlock()
	s.st.tokensIssued.Add(1)
	writeJSON(w, http.StatusOK, map[string]any{"access_token": tok, "token_type": "bearer", "expires_in": int(s.cfg.TokenTTL.Seconds())})
}

// ExpireTokens makes every issued token invalid, as a token revoked or
// expired early at the server would be.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.tokens)
}

// api wraps an API handler with what every API request goes through, in
// order: a correlation id, the bearer token (401), the in-flight cap per
// token (403 waf_block), the request rate per token (429 + Retry-After),
// latency, injected faults (503, reset), and the endpoint's permission.
func (s *Server) api(perm string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.st.requests.Add(1)
		w.Header().Set("ININ-Correlation-Id", s.newID())
		const prefix = "Bearer "
		auth := r.Header.Get("Authorization")
		now := time.Now()
		s.mu.Lock()
		var t *token
		if len(auth) > len(prefix) && auth[:len(prefix)] == prefix {
			t = s.tokens[auth[len(prefix):]]
		}
		if t == nil || now.After(t.expires) {
			s.mu.Unlock()
			s.st.unauthorized.Add(1)
			writeError(w, http.StatusUnauthorized, "bad.credentials", "Invalid login credentials.")
			return
		}
		t.inflight++
		if int64(t.inflight) > s.st.peakInFlight.Load() {
			s.st.peakInFlight.Store(int64(t.inflight))
		}
		defer func() {
			s.mu.Lock()
			t.inflight--
			s.mu.Unlock()
		}()
		if s.cfg.MaxInFlight > 0 && t.inflight > s.cfg.MaxInFlight {
			s.mu.Unlock()
			s.st.blocked.Add(1)
			writeError(w, http.StatusForbidden, "waf_block", "Request blocked: too many concurrent requests (waf_block)")
			return
		}
		if now.Sub(t.winStart) >= s.cfg.Window {
			t.winStart, t.count = now, 0
		}
		left := t.winStart.Add(s.cfg.Window).Sub(now)
		resetSecs := strconv.Itoa(int(math.Ceil(left.Seconds())))
		if n := s.cfg.RequestsPerWindow; n > 0 {
			w.Header().Set("inin-ratelimit-allowed", strconv.Itoa(n))
			w.Header().Set("inin-ratelimit-reset", resetSecs)
			if t.count >= n {
				w.Header().Set("inin-ratelimit-count", strconv.Itoa(t.count))
				s.mu.Unlock()
				s.st.rateLimited.Add(1)
				w.Header().Set("Retry-After", resetSecs)
				writeError(w, http.StatusTooManyRequests, "too.many.requests", "Rate limit exceeded the maximum")
				return
			}
			t.count++
			w.Header().Set("inin-ratelimit-count", strconv.Itoa(t.count))
		}
		s.mu.Unlock()

		if s.cfg.Latency > 0 {
			select {
			case <-time.After(s.cfg.Latency):
			case <-r.Context().Done():
				return
			}
		}
		if x := s.float(); x < s.cfg.FailRate {
			s.st.injected503.Add(1)
			writeError(w, http.StatusServiceUnavailable, "service.unavailable", "Service Unavailable (injected)")
			return
		} else if x < s.cfg.FailRate+s.cfg.ResetRate {
			s.st.resets.Add(1)
			resetConn(w)
			return
		}
		if perm != "" && s.perm != nil && !s.perm[perm] {
			s.st.forbidden.Add(1)
			writeJSON(w, http.StatusForbidden, map[string]any{
				"message":       "Unable to perform the requested action. You are missing the following permission(s): [" + perm + "]",
				"code":          "missing.any.permissions",
				"status":        http.StatusForbidden,
				"messageParams": map[string]string{"permissions": perm},
			})
			return
		}
		h(w, r)
	}
}

// resetConn closes the connection without an answer.
func resetConn(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

func (s *Server) handleOrg(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"id": s.cfg.OrgID, "name": "Simulated Org"})
}

// sign returns the signature of a download URL.
func (s *Server) sign(id string, exp int64) string {
	m := hmac.New(sha256.New, s.key)
	fmt.Fprintf(m, "%s|%d", id, exp)
	return hex.EncodeToString(m.Sum(nil))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeError writes a Genesys-style error body.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	var b [8]byte
	_, _ = rand.Read(b[:])
	writeJSON(w, status, map[string]any{"message": msg, "code": code, "status": status, "contextId": hex.EncodeToString(b[:])})
}

// UploadRequests returns how many upload requests (POST .../upload) were
// served.
func (s *Server) UploadRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.uploadRequests
}

// IssuedTokens returns the access tokens issued so far (for tests that
// check no token leaks into logs or errors).
func (s *Server) IssuedTokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.allTokens)
}
