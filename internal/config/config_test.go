package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// testEnv is the environment the tests parse with.
var testEnv = map[string]string{
	"GENESYS_CLIENT_ID":     "client-123",
	"GENESYS_CLIENT_SECRET": "s3cr3t-Zq8v",
	"SCHED":                 "@every 15m",
}

func lookupIn(env map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	}
}

func parseTest(t *testing.T, doc string) (*Config, error) {
	t.Helper()
	return parse([]byte(doc), "/etc/logkeeper", lookupIn(testEnv))
}

func mustParse(t *testing.T, doc string) *Config {
	t.Helper()
	cfg, err := parseTest(t, doc)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return cfg
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestParseValidUsesEveryKey(t *testing.T) {
	cfg, err := parse(readTestdata(t, "valid.yaml"), "/etc/logkeeper", lookupIn(testEnv))
	if err != nil {
		t.Fatalf("parse valid.yaml: %v", err)
	}
	genesys := Source{
		Type:           SourceGenesysEdge,
		Region:         "mypurecloud.com",
		APIURL:         "https://api.mypurecloud.com",
		LoginURL:       "https://login.mypurecloud.com",
		ClientID:       "client-123",
		ClientSecret:   "s3cr3t-Zq8v",
		Edges:          []string{"6c0fd4a0-6d3f-4e8c-9f5e-1a2b3c4d5e6f", "0e6f9a1b-2c3d-4e5f-8a9b-0c1d2e3f4a5b"},
		Path:           "logs",
		Query:          "*.log",
		Recurse:        true,
		MaxConcurrency: 4,
	}
	want := &Config{
		Store: Store{
			URL:               "s3://compliance-archive/logkeeper/prod",
			PartSizeMiB:       16,
			Concurrency:       8,
			SSEKMSKeyID:       "alias/logkeeper-archive",
			EncryptionContext: map[string]string{"department": "compliance", "environment": "prod"},
			ObjectLock:        ObjectLock{Mode: ModeCompliance, RetainDays: 2555},
			Scheme:            SchemeS3,
			Bucket:            "compliance-archive",
			Prefix:            "logkeeper/prod",
			Origin:            "s3://compliance-archive/logkeeper/prod",
			Witness:           "s3://compliance-witness/logkeeper/prod",
			WitnessStore: &Store{
				URL: "s3://compliance-witness/logkeeper/prod", PartSizeMiB: 16, Concurrency: 8,
				Scheme: SchemeS3, Bucket: "compliance-witness", Prefix: "logkeeper/prod",
			},
		},
		Signing: Signing{
			Key:       "awskms://alias/logkeeper-signing",
			KeyScheme: KeySchemeAWSKMS,
			KMSKeyID:  "alias/logkeeper-signing",

			TimestampURL:   "https://freetsa.example/tsr",
			TimestampRoots: "/etc/logkeeper/tsa-roots.pem",
		},
		Daemon: Daemon{GracePeriod: 45 * time.Second, MaxBackfillWindows: 48, LeaseTTL: 2 * time.Minute},
		Streams: []Stream{
			{
				Name: "app-logs", Schedule: "@hourly", Window: time.Hour,
				Source: Source{Type: SourceDir, Path: "/etc/logkeeper/logs/app", MaxConcurrency: 8},
			},
			{Name: "edge-logs", Schedule: "0 5 * * * *", Window: time.Hour, Source: genesys},
			{
				Name: "audit", Schedule: "CRON_TZ=UTC 30 0 * * *", Window: 24 * time.Hour,
				Source: Source{
					Type:           SourceGenesysAudit,
					APIURL:         "https://api.usw2.pure.cloud",
					LoginURL:       "https://login.usw2.pure.cloud",
					ClientID:       "client-123",
					ClientSecret:   "s3cr3t-Zq8v",
					ServiceName:    "Architect",
					MaxConcurrency: 8,
					Since:          "2026-01-01",
					SinceDate:      time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
					Settle:         30 * time.Minute,
					RecheckWindows: 4,
				},
			},
		},
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("parse valid.yaml:\n got %+v\nwant %+v", cfg, want)
	}
	if got := cfg.Store.PartSize(); got != 16<<20 {
		t.Errorf("PartSize() = %d, want %d", got, 16<<20)
	}
	if got := cfg.Store.ObjectLock.Retention(); got != 2555*24*time.Hour {
		t.Errorf("Retention() = %v", got)
	}
}

func TestParseDefaults(t *testing.T) {
	cfg, err := parse(readTestdata(t, "minimal.yaml"), "/", lookupIn(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		Store: Store{
			URL:         "file:///var/lib/logkeeper",
			PartSizeMiB: DefaultPartSizeMiB,
			Concurrency: DefaultConcurrency,
			Scheme:      SchemeFile,
			Path:        "/var/lib/logkeeper",
		},
		Signing: Signing{Key: "file:///etc/logkeeper/signing.pem", KeyScheme: KeySchemeFile, KeyPath: "/etc/logkeeper/signing.pem"},
		Daemon:  Daemon{GracePeriod: 30 * time.Second, MaxBackfillWindows: 24, LeaseTTL: 60 * time.Second},
		Streams: []Stream{{
			Name: "app", Window: time.Hour,
			Source: Source{Type: SourceDir, Path: "/var/log/app", MaxConcurrency: 8},
		}},
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("parse minimal.yaml:\n got %+v\nwant %+v", cfg, want)
	}
	if got := cfg.Store.PartSize(); got != 8<<20 {
		t.Errorf("PartSize() = %d, want %d", got, 8<<20)
	}
	if cfg.Store.ObjectLock.Enabled() {
		t.Error("ObjectLock.Enabled() = true without object_lock")
	}
}

// TestParseValues covers how single values are read and URLs are split.
func TestParseValues(t *testing.T) {
	const streams = "signing: {key: 'file:///k.pem'}\nstreams: [{name: a, source: {type: dir, path: /d}}]\n"
	tests := []struct {
		name  string
		doc   string
		check func(*Config) bool
	}{
		{"s3 url without prefix", "store: {url: s3://bucket}\n" + streams,
			func(c *Config) bool { return c.Store.Bucket == "bucket" && c.Store.Prefix == "" }},
		{"s3 prefix loses its slashes", "store: {url: s3://bucket/a/b/}\n" + streams,
			func(c *Config) bool { return c.Store.Bucket == "bucket" && c.Store.Prefix == "a/b" }},
		{"file url with localhost", "store: {url: 'file://localhost/srv/archive/'}\n" + streams,
			func(c *Config) bool { return c.Store.Scheme == SchemeFile && c.Store.Path == "/srv/archive" }},
		{"bools in several spellings", "store: {url: s3://bucket, path_style: yes, allow_http: True}\n" + streams,
			func(c *Config) bool { return c.Store.PathStyle && c.Store.AllowHTTP }},
		{"quoted integer", "store: {url: s3://bucket, concurrency: '16'}\n" + streams,
			func(c *Config) bool { return c.Store.Concurrency == 16 }},
		{"null leaves the default", "store: {url: s3://bucket, part_size_mib: ~}\ndaemon:\n" + streams,
			func(c *Config) bool { return c.Store.PartSizeMiB == 8 && c.Daemon.LeaseTTL == time.Minute }},
		{"zero shutdown grace period: running exports are cancelled at once", "store: {url: s3://bucket}\ndaemon: {grace_period: 0s}\n" + streams,
			func(c *Config) bool { return c.Daemon.GracePeriod == 0 }},
		{"governance lock", "store: {url: s3://bucket, object_lock: {mode: GOVERNANCE, retain_days: 1}}\n" + streams,
			func(c *Config) bool { return c.Store.ObjectLock == ObjectLock{Mode: ModeGovernance, RetainDays: 1} }},
		{"kms key arn", "store: {url: s3://bucket}\nsigning: {key: 'awskms://arn:aws:kms:us-east-1:111122223333:key/1234abcd'}\nstreams: [{name: a, source: {type: dir, path: /d}}]\n",
			func(c *Config) bool {
				return c.Signing.KeyScheme == KeySchemeAWSKMS && c.Signing.KMSKeyID == "arn:aws:kms:us-east-1:111122223333:key/1234abcd"
			}},
		{"genesys loopback http urls lose trailing slash", "store: {url: s3://bucket}\n" + `signing: {key: 'file:///k.pem'}
streams:
  - name: e
    source: {type: genesys-edge, api_url: 'http://127.0.0.1:8080/', login_url: 'http://localhost:8081', client_id: id, client_secret: s}
`, func(c *Config) bool {
			return c.Streams[0].Source.APIURL == "http://127.0.0.1:8080" && c.Streams[0].Source.LoginURL == "http://localhost:8081"
		}},
		{"region is lower-cased", "store: {url: s3://bucket}\n" + `signing: {key: 'file:///k.pem'}
streams:
  - name: e
    source: {type: genesys-audit, region: MyPureCloud.DE, client_id: id, client_secret: s}
`, func(c *Config) bool {
			s := c.Streams[0].Source
			return s.Region == "mypurecloud.de" && s.APIURL == "https://api.mypurecloud.de" && s.LoginURL == "https://login.mypurecloud.de"
		}},
		{"genesys edge path is kept as written", "store: {url: s3://bucket}\n" + `signing: {key: 'file:///k.pem'}
streams:
  - name: e
    source: {type: genesys-edge, region: mypurecloud.com, client_id: id, client_secret: s, path: logs/../edge}
  - name: f
    source: {type: genesys-edge, region: mypurecloud.com, client_id: id, client_secret: s}
`, func(c *Config) bool {
			return c.Streams[0].Source.Path == "logs/../edge" && c.Streams[1].Source.Path == ""
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := mustParse(t, tt.doc)
			if !tt.check(cfg) {
				t.Errorf("unexpected result: %+v", cfg)
			}
		})
	}
}

func TestParseMergeKeys(t *testing.T) {
	cfg, err := parse(readTestdata(t, "merge.yaml"), "/", lookupIn(testEnv))
	if err != nil {
		t.Fatal(err)
	}
	a, b := cfg.Streams[0].Source, cfg.Streams[1].Source
	if b.Type != SourceGenesysEdge || b.Region != "mypurecloud.ie" || b.ClientSecret.Reveal() != "s3cr3t-Zq8v" {
		t.Errorf("merged source = %+v, want the anchored settings", b)
	}
	if !reflect.DeepEqual(a.Edges, []string{"edge-a"}) || !reflect.DeepEqual(b.Edges, []string{"edge-b"}) {
		t.Errorf("edges = %v and %v, want the stream's own edges to win over merged ones", a.Edges, b.Edges)
	}
}

func TestDirPathResolution(t *testing.T) {
	dir := t.TempDir()
	doc := `store: {url: 's3://bucket'}
signing: {key: 'file:///k.pem'}
streams:
  - {name: rel, source: {type: dir, path: logs/app}}
  - {name: up, source: {type: dir, path: ../shared/./logs}}
  - {name: abs, source: {type: dir, path: /var/log/x/}}
`
	path := filepath.Join(dir, "conf", "logkeeper.yaml")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		filepath.Join(dir, "conf", "logs", "app"),
		filepath.Join(dir, "shared", "logs"),
		"/var/log/x",
	}
	for i, w := range want {
		if got := cfg.Streams[i].Source.Path; got != w {
			t.Errorf("streams[%d].source.path = %q, want %q", i, got, w)
		}
	}

	// A relative base directory is taken from the working directory.
	t.Chdir(dir)
	cfg, err = Load(filepath.Join("conf", "logkeeper.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Streams[0].Source.Path; got != want[0] {
		t.Errorf("with a relative config path: streams[0].source.path = %q, want %q", got, want[0])
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load of a missing file: %v, want an error wrapping os.ErrNotExist", err)
	}
}

func TestStream(t *testing.T) {
	cfg, err := parse(readTestdata(t, "valid.yaml"), "/", lookupIn(testEnv))
	if err != nil {
		t.Fatal(err)
	}
	s, err := cfg.Stream("edge-logs")
	if err != nil || s.Name != "edge-logs" || s != &cfg.Streams[1] {
		t.Errorf("Stream(edge-logs) = %v, %v", s, err)
	}
	_, err = cfg.Stream("nope")
	if !errors.Is(err, ErrUnknownStream) {
		t.Errorf("Stream(nope) error %v does not wrap ErrUnknownStream", err)
	}
	const want = `unknown stream "nope" (known streams: app-logs, audit, edge-logs)`
	if err == nil || err.Error() != want {
		t.Errorf("Stream(nope) error = %v, want %s", err, want)
	}
}

func TestParseSchedule(t *testing.T) {
	tests := []struct {
		spec    string
		next    string // next run after 2024-01-01T00:00:30Z
		wantErr string
	}{
		{spec: "@hourly", next: "2024-01-01T01:00:00Z"},
		{spec: "*/15 * * * *", next: "2024-01-01T00:15:00Z"},
		{spec: "45 * * * * *", next: "2024-01-01T00:00:45Z"},
		{spec: "0 2 * * *", next: "2024-01-01T02:00:00Z"},
		{spec: "CRON_TZ=Europe/Paris 0 2 * * *", next: "2024-01-01T01:00:00Z"},
		{spec: "@every 10m", next: "2024-01-01T00:10:30Z"},
		{spec: "61 * * * *", wantErr: "end of range (61) above maximum (59)"},
		{spec: "TZ=UTC", wantErr: "time zone prefix"},
		{spec: "CRON_TZ=Nowhere/City * * * * *", wantErr: "bad location"},
		{spec: "@fortnightly", wantErr: "unrecognized descriptor"},
	}
	start := time.Date(2024, 1, 1, 0, 0, 30, 0, time.UTC)
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			s, err := ParseSchedule(tt.spec)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseSchedule(%q) error = %v, want %q", tt.spec, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Next(start).UTC().Format(time.RFC3339); got != tt.next {
				t.Errorf("Next = %s, want %s", got, tt.next)
			}
		})
	}
}
