// Command genesys-sim serves the Genesys Cloud simulator of package
// export/genesys/sim on a loopback address, for demos of logkeeper's
// genesys-edge and genesys-audit sources:
//
//	genesys-sim [-addr 127.0.0.1:8089] [-edges 3] [-files 40] [-big-mib 20]
//	            [-max-in-flight 50] [-tokens-per-minute 5] [-requests 300 -window 1m]
//	            [-fail-rate 0.05] [-reset-rate 0.05] [-truncate-rate 0.05] ...
//
// It prints a source block to paste into a logkeeper configuration, and
// the simulator's counters when it stops (Ctrl-C). The client secret is
// read from GENESYS_SIM_CLIENT_SECRET (default "sim-secret").
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/logkeeper/logkeeper/export/genesys/sim"
	"github.com/logkeeper/logkeeper/internal/loopback"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("genesys-sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8089", "listen `address` (a loopback address unless -allow-remote)")
	allowRemote := fs.Bool("allow-remote", false, "allow listening on a non-loopback address")
	clientID := fs.String("client-id", "sim-client", "OAuth client id the simulator accepts")
	seed := fs.Uint64("seed", 1, "seed of file contents, ids and faults")
	edges := fs.Int("edges", 3, "number of edges")
	files := fs.Int("files", 40, "log files per edge")
	minSize := fs.Int64("min-size", 1<<10, "smallest log file, bytes")
	maxSize := fs.Int64("max-size", 256<<10, "largest log file, bytes")
	bigMiB := fs.Int64("big-mib", 20, "size of one large file on the second edge, MiB (0: none)")
	tokensPerMinute := fs.Int("tokens-per-minute", 5, "tokens issued per minute at most (0: no limit)")
	requests := fs.Int("requests", 300, "API requests per token per window (0: no limit)")
	window := fs.Duration("window", time.Minute, "rate-limit window")
	maxInFlight := fs.Int("max-in-flight", 50, "API requests per token in flight at once, more get 403 waf_block (0: no limit)")
	latency := fs.Duration("latency", 20*time.Millisecond, "added to every API request")
	failRate := fs.Float64("fail-rate", 0, "share of API requests and downloads answered 503")
	resetRate := fs.Float64("reset-rate", 0, "share of API requests whose connection is reset")
	truncateRate := fs.Float64("truncate-rate", 0, "share of downloads cut short")
	jobDelay := fs.Duration("job-delay", 500*time.Millisecond, "time a log job takes to list its files")
	uploadDelay := fs.Duration("upload-delay", 200*time.Millisecond, "time an upload from the edge takes")
	urlTTL := fs.Duration("url-ttl", 10*time.Minute, "lifetime of download URLs")
	auditRecords := fs.Int("audit-records", 2000, "audit records, spread over the last -audit-span")
	auditSpan := fs.Duration("audit-span", 48*time.Hour, "time span of the audit records, ending now")
	auditDelay := fs.Duration("audit-delay", time.Second, "time an audit query takes")
	offline := fs.Int("offline-edges", 0, "edges the listing reports OFFLINE (their log jobs never list files)")
	unknownEnums := fs.Bool("unknown-enums", false, "answer enum values the published models do not list (upload status, audit state)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	host, _, err := net.SplitHostPort(*addr)
	if err != nil {
		fmt.Fprintf(stderr, "genesys-sim: -addr: %v\n", err)
		return 2
	}
	if !*allowRemote && !loopback.Is(host) {
		fmt.Fprintln(stderr, "genesys-sim: -addr is not a loopback address (use -allow-remote)")
		return 2
	}
	secret := os.Getenv("GENESYS_SIM_CLIENT_SECRET")
	if secret == "" {
		secret = "sim-secret"
	}

	now := time.Now().UTC()
	es := sim.GenerateEdges(*seed, *edges, *files, *minSize, *maxSize, now.Add(-time.Hour))
	if *bigMiB > 0 && len(es) > 1 && len(es[1].Files) > 0 {
		es[1].Files[0].Size = *bigMiB << 20
	}
	for i := range min(*offline, len(es)) {
		es[len(es)-1-i].Offline = true
	}
	var step time.Duration
	if *auditRecords > 0 {
		step = *auditSpan / time.Duration(*auditRecords)
	}
	s := sim.New(sim.Config{
		ClientID: *clientID, ClientSecret: secret, Seed: *seed, Edges: es,
		TokensPerMinute: *tokensPerMinute, RequestsPerWindow: *requests, Window: *window,
		MaxInFlight: *maxInFlight, Latency: *latency,
		FailRate: *failRate, ResetRate: *resetRate, TruncateRate: *truncateRate,
		JobDelay: *jobDelay, UploadDelay: *uploadDelay, URLTTL: *urlTTL,
		AuditRecords: sim.GenerateAuditRecords(*seed, *auditRecords, now.Add(-*auditSpan), step), AuditDelay: *auditDelay,
		UnknownEnums: *unknownEnums,
	})

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(stderr, "genesys-sim: %v\n", err)
		return 1
	}
	base := "http://" + ln.Addr().String()
	fmt.Fprintf(stdout, `genesys-sim serving %d edges x %d files and %d audit records on %s

Source block for a logkeeper configuration (export GENESYS_CLIENT_SECRET=%q):

    source:
      type: genesys-edge            # or genesys-audit (then drop edges, path, query, recurse)
      api_url: %s
      login_url: %s
      client_id: %s
      client_secret: ${GENESYS_CLIENT_SECRET}
      recurse: true
      max_concurrency: 100

`, *edges, *files, *auditRecords, base, secret, base, base, *clientID)

	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		fmt.Fprintf(stderr, "genesys-sim: %v\n", err)
		return 1
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdown)
	b, _ := json.MarshalIndent(s.Stats(), "", "  ")
	fmt.Fprintf(stdout, "simulator counters:\n%s\n", b)
	return 0
}
