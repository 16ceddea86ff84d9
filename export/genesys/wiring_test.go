package genesys_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/logkeeper/logkeeper/custody"
	"github.com/logkeeper/logkeeper/internal/config"
	"github.com/logkeeper/logkeeper/service/app"
)

// TestConfigToArchive: both source types, configured as a user writes
// them (secret from the environment), export and verify through the same
// wiring as `logkeeper export` and `logkeeper verify`.
func TestConfigToArchive(t *testing.T) {
	cfg := auditSim()
	cfg.Edges = smallEdges(2, 3)
	h := newHarness(t, cfg, nil)
	t.Setenv("GENESYS_TEST_SECRET", testClientSecret)
	doc := `store: {url: 'file:///unused'}
signing: {key: 'file:///unused.pem'}
streams:
  - name: edge-logs
    source:
      type: genesys-edge
      api_url: ` + h.srv.URL + `
      login_url: ` + h.srv.URL + `
      client_id: ` + testClientID + `
      client_secret: ${GENESYS_TEST_SECRET}
      edges: [` + cfg.Edges[1].ID + `]
      path: logs
      recurse: true
      max_concurrency: 4
  - name: audit
    source:
      type: genesys-audit
      api_url: ` + h.srv.URL + `
      login_url: ` + h.srv.URL + `
      client_id: ` + testClientID + `
      client_secret: ${GENESYS_TEST_SECRET}
      service_name: Directory
      query: "Action=Update"
      since: 2026-11-01
      settle: 10m
`
	c, err := config.Parse([]byte(doc), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// One process, one organization: both streams share one client, so
	// one token (the harness's own client has not requested any).
	clients := &app.Clients{}
	tokensBefore := len(h.sim.IssuedTokens())
	for _, tc := range []struct {
		stream string
		files  int
	}{{"edge-logs", 3}, {"audit", 1}} {
		t.Run(tc.stream, func(t *testing.T) {
			a := newArchive(t, tc.stream)
			job, err := app.NewJob(context.Background(), c, tc.stream, a.st, a.signer, clients, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			res, err := job.Run(ctx, auditStart.Add(48*time.Hour), "test")
			if err != nil || res.Files != tc.files {
				t.Fatalf("export: %+v, %v", res, err)
			}
			rep, err := custody.Verify(ctx, a.st, tc.stream, custody.VerifyOptions{PublicKey: a.signer.Public(), Deep: true})
			if err != nil || len(rep.Problems) != 0 || rep.ObjectsChecked != tc.files {
				t.Fatalf("verify: %+v, %v", rep, err)
			}
		})
	}
	if n := len(h.sim.IssuedTokens()) - tokensBefore; n != 1 {
		t.Fatalf("two streams of one organization requested %d tokens, want 1 shared", n)
	}
}
