package genesys_test

import (
	"bytes"
	"crypto/ed25519"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logkeeper/logkeeper/export/genesys"
	"github.com/logkeeper/logkeeper/export/genesys/sim"
	"github.com/logkeeper/logkeeper/internal/signing"
	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/internal/store/fsstore"
)

const (
	testClientID     = "logkeeper-test"
	testClientSecret = "s3cr3t-Zq8v-never-logged"
)

// modified is the modification time of generated edge files.
var modified = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// harness is a simulator on a loopback test server and a client for it.
type harness struct {
	t      testing.TB
	sim    *sim.Server
	srv    *httptest.Server
	client *genesys.Client
	logs   *syncBuffer
}

// newHarness starts a simulator for cfg (credentials filled in) and a
// client with test-speed backoffs; mod may change the client config.
func newHarness(t testing.TB, cfg sim.Config, mod func(*genesys.Config)) *harness {
	t.Helper()
	return newHarnessWrapped(t, cfg, mod, nil)
}

// newHarnessWrapped is newHarness with the simulator behind wrap (when not
// nil), to tamper with answers.
func newHarnessWrapped(t testing.TB, cfg sim.Config, mod func(*genesys.Config), wrap func(http.Handler) http.Handler) *harness {
	t.Helper()
	if cfg.ClientID == "" {
		cfg.ClientID, cfg.ClientSecret = testClientID, testClientSecret
	}
	s := sim.New(cfg)
	var handler http.Handler = s
	if wrap != nil {
		handler = wrap(s)
	}
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	h := &harness{t: t, sim: s, srv: srv, logs: &syncBuffer{}}
	h.client = h.newClient(mod)
	return h
}

func (h *harness) newClient(mod func(*genesys.Config)) *genesys.Client {
	h.t.Helper()
	c := genesys.Config{
		APIURL: h.srv.URL, LoginURL: h.srv.URL,
		ClientID: testClientID, ClientSecret: testClientSecret,
		RequestRate: 5000, RequestBurst: 10,
		BackoffBase: 2 * time.Millisecond, BackoffMax: 40 * time.Millisecond, MaxRetryAfter: 2 * time.Second,
		Logger: slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if mod != nil {
		mod(&c)
	}
	client, err := genesys.NewClient(c)
	if err != nil {
		h.t.Fatal(err)
	}
	return client
}

// checkNoSecrets fails when the logs hold the client secret or a token
// the simulator issued.
func (h *harness) checkNoSecrets(texts ...string) {
	h.t.Helper()
	texts = append(texts, h.logs.String())
	for _, text := range texts {
		if strings.Contains(text, testClientSecret) {
			h.t.Fatalf("client secret leaked into: %.300s", text)
		}
		for _, tok := range h.sim.IssuedTokens() {
			if strings.Contains(text, tok) {
				h.t.Fatalf("access token leaked into: %.300s", text)
			}
		}
	}
}

// fastEdge returns edge source options with test-speed waits.
func fastEdge(o genesys.EdgeOptions) genesys.EdgeOptions {
	if o.PollInterval == 0 {
		o.PollInterval = 5 * time.Millisecond
	}
	if o.JobTimeout == 0 {
		o.JobTimeout = 5 * time.Second
	}
	if o.UploadTimeout == 0 {
		o.UploadTimeout = 10 * time.Second
	}
	return o
}

func fixedSigner(t testing.TB) signing.Signer {
	t.Helper()
	s, err := signing.NewKeySigner(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newFS(t testing.TB) store.Store {
	t.Helper()
	s, err := fsstore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}
