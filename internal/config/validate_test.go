package config

import (
	"errors"
	"fmt"
	"github.com/logkeeper/logkeeper/internal/gcregion"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// Valid sections, to build documents around the section under test. Each is
// two lines long.
const (
	okStore   = "store:\n  url: s3://bucket/prefix\n"
	okSigning = "signing:\n  key: file:///etc/logkeeper/key.pem\n"
	okStreams = "streams:\n  - {name: app, source: {type: dir, path: /var/log/app}}\n"
)

// problems returns the lines of a Parse error.
func problems(err error) []string {
	if err == nil {
		return nil
	}
	return strings.Split(err.Error(), "\n")
}

// errorLine is the shape of every problem: a key path, then the message.
var errorLine = regexp.MustCompile(`^(config|([a-z_][a-z0-9_]*|\["(?:[^"\\]|\\.)*"\])(\.[a-z_][a-z0-9_]*|\[\d+\]|\["(?:[^"\\]|\\.)*"\])*): \S`)

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want []string
	}{
		// The document.
		{"empty file", "", []string{
			"store.url: required: s3://BUCKET/PREFIX or file:///ABS/PATH",
			"signing.key: required: file:///ABS/PATH.pem or awskms://KEY-ID-OR-ALIAS-OR-ARN",
			"streams: at least one stream is required",
		}},
		{"document is a list", "- a\n- b\n", []string{"config: must be a mapping, got a list (line 1)"}},
		{"two documents", okStore + okSigning + okStreams + "---\nstore: {}\n", []string{
			"config: holds more than one YAML document (line 7)",
		}},
		{"unknown top-level key", okStore + okSigning + okStreams + "stream: []\n", []string{
			`stream: unknown key; did you mean "streams"? (line 7)`,
		}},
		{"unknown keys that are not plain names", okStore + okSigning + okStreams + "\"a.b\": 1\n\"x\\ny\": 2\nstore2: {}\n", []string{
			`["a.b"]: unknown key (line 7)`,
			`["x\ny"]: unknown key (line 8)`,
			`store2: unknown key; did you mean "store"? (line 9)`,
		}},
		{"duplicate key", "store:\n  url: s3://a\n  url: s3://bkt\n" + okSigning + okStreams, []string{
			"store.url: duplicate key, first at line 2 (line 3)",
		}},
		{"section of the wrong type is reported once", "store: s3://bucket\n" + okSigning + okStreams, []string{
			"store: must be a mapping, got a single value (line 1)",
		}},

		// store.url
		{"missing store url", okSigning + okStreams, []string{
			"store.url: required: s3://BUCKET/PREFIX or file:///ABS/PATH",
		}},
		{"store url of another scheme", "store: {url: 'https://example.com/x'}\n" + okSigning + okStreams, []string{
			`store.url: must be an s3:// or file:// URL, got scheme "https" (line 1)`,
		}},
		{"store url without scheme", "store: {url: /var/lib/logkeeper}\n" + okSigning + okStreams, []string{
			"store.url: must be an s3:// or file:// URL, got no scheme (line 1)",
		}},
		{"s3 url without bucket", "store: {url: 's3:///prefix'}\n" + okSigning + okStreams, []string{
			"store.url: s3 URL has no bucket: want s3://BUCKET/PREFIX (line 1)",
		}},
		{"s3 url with credentials", "store: {url: 's3://AKIA:hunter2@bucket/p'}\n" + okSigning + okStreams, []string{
			"store.url: must not contain credentials (line 1)",
		}},
		{"s3 url with query", "store: {url: 's3://bucket/p?region=eu-west-1'}\n" + okSigning + okStreams, []string{
			"store.url: must not have a query or fragment (line 1)",
		}},
		{"s3 url with port", "store: {url: 's3://bucket:9000/p'}\n" + okSigning + okStreams, []string{
			`store.url: bucket name "bucket:9000" is not valid (line 1)`,
		}},
		{"s3 prefix with dot-dot", "store: {url: 's3://bucket/a/../b'}\n" + okSigning + okStreams, []string{
			`store.url: prefix "a/../b" has an empty, . or .. segment (line 1)`,
		}},
		{"s3 prefix with empty segment", "store: {url: 's3://bucket/a//b'}\n" + okSigning + okStreams, []string{
			`store.url: prefix "a//b" has an empty, . or .. segment (line 1)`,
		}},
		{"file url with relative path", "store: {url: 'file://var/lib/logkeeper'}\n" + okSigning + okStreams, []string{
			`store.url: file URL needs an absolute path, as in file:///ABS/PATH ("var" is read as a host name) (line 1)`,
		}},
		{"file url without slashes", "store: {url: 'file:archive'}\n" + okSigning + okStreams, []string{
			"store.url: file URL needs an absolute path, as in file:///ABS/PATH (line 1)",
		}},
		{"store url that does not parse", "store: {url: 's3://bu cket'}\n" + okSigning + okStreams, []string{
			`store.url: not a valid URL: invalid character " " in host name (line 1)`,
		}},

		// Other store keys.
		{"store numbers out of range", "store: {url: 's3://bkt/p', part_size_mib: 4, concurrency: 65}\n" + okSigning + okStreams, []string{
			"store.part_size_mib: must be between 5 and 5120, got 4 (line 1)",
			"store.concurrency: must be between 1 and 64, got 65 (line 1)",
		}},
		{"store numbers out of range the other way", "store: {url: 's3://bkt/p', part_size_mib: 5121, concurrency: 0}\n" + okSigning + okStreams, []string{
			"store.part_size_mib: must be between 5 and 5120, got 5121 (line 1)",
			"store.concurrency: must be between 1 and 64, got 0 (line 1)",
		}},
		{"string where an int is expected", "store:\n  url: s3://bkt\n  part_size_mib: eight\n" + okSigning + okStreams, []string{
			`store.part_size_mib: must be an integer, got "eight" (line 3)`,
		}},
		{"float where an int is expected", "store:\n  url: s3://bkt\n  concurrency: 4.5\n" + okSigning + okStreams, []string{
			`store.concurrency: must be an integer, got "4.5" (line 3)`,
		}},
		{"not a bool", "store:\n  url: s3://bkt\n  path_style: maybe\n" + okSigning + okStreams, []string{
			`store.path_style: must be true or false, got "maybe" (line 3)`,
		}},
		{"unknown store key", "store:\n  url: s3://bkt\n  bogus: 1\n" + okSigning + okStreams, []string{
			"store.bogus: unknown key (line 3)",
		}},
		{"misspelt store key", "store:\n  url: s3://bkt\n  partsize_mib: 16\n" + okSigning + okStreams, []string{
			`store.partsize_mib: unknown key; did you mean "part_size_mib"? (line 3)`,
		}},
		{"kms key id with a space", "store: {url: 's3://bkt', sse_kms_key_id: 'alias/a b'}\n" + okSigning + okStreams, []string{
			"store.sse_kms_key_id: must not contain spaces (line 1)",
		}},
		{"kms and object lock on a file store", `store:
  url: file:///srv/archive
  sse_kms_key_id: alias/k
  encryption_context: {team: blue}
  object_lock: {mode: COMPLIANCE, retain_days: 1}
` + okSigning + okStreams, []string{
			`store.sse_kms_key_id: only an s3:// store supports it; the file:// store cannot give that protection (line 3)`,
			`store.encryption_context: only an s3:// store supports it; the file:// store cannot give that protection (line 4)`,
			`store.object_lock: only an s3:// store supports it; the file:// store cannot give that protection (line 5)`,
		}},
		{"encryption context without a kms key", `store:
  url: s3://bkt
  encryption_context: {team: blue}
` + okSigning + okStreams, []string{
			`store.encryption_context: needs store.sse_kms_key_id: an encryption context only applies to SSE-KMS (line 3)`,
		}},
		{"reserved encryption context keys", `store:
  url: s3://bkt
  sse_kms_key_id: alias/k
  encryption_context:
    aws:s3:arn: x
    logkeeper:stream: y
    AWS:Other: z
    "": empty
    team: [a]
` + okSigning + okStreams, []string{
			`store.encryption_context["aws:s3:arn"]: keys starting with "aws:" are reserved (line 5)`,
			`store.encryption_context["logkeeper:stream"]: keys starting with "logkeeper:" are reserved (line 6)`,
			`store.encryption_context["AWS:Other"]: keys starting with "aws:" are reserved (line 7)`,
			`store.encryption_context[""]: keys must not be empty (line 8)`,
			`store.encryption_context["team"]: must be a string, got a list (line 9)`,
		}},
		{"encryption context is a list", "store:\n  url: s3://bkt\n  encryption_context: [a]\n" + okSigning + okStreams, []string{
			"store.encryption_context: must be a mapping, got a list (line 3)",
		}},

		// store.object_lock
		{"bad object lock mode", "store:\n  url: s3://bkt\n  object_lock:\n    mode: compliant\n    retain_days: 7\n" + okSigning + okStreams, []string{
			`store.object_lock.mode: must be GOVERNANCE or COMPLIANCE, got "compliant" (line 4)`,
		}},
		{"object lock mode without retain_days", "store:\n  url: s3://bkt\n  object_lock:\n    mode: COMPLIANCE\n" + okSigning + okStreams, []string{
			"store.object_lock.retain_days: required when mode is set (line 3)",
		}},
		{"object lock retain_days without mode", "store:\n  url: s3://bkt\n  object_lock:\n    retain_days: 30\n" + okSigning + okStreams, []string{
			"store.object_lock.mode: required when retain_days is set: GOVERNANCE or COMPLIANCE (line 3)",
		}},
		{"object lock retain_days zero", "store:\n  url: s3://bkt\n  object_lock: {mode: GOVERNANCE, retain_days: 0}\n" + okSigning + okStreams, []string{
			"store.object_lock.retain_days: must be between 1 and 36500, got 0 (line 3)",
		}},
		{"object lock retain_days too long", "store:\n  url: s3://bkt\n  object_lock: {mode: GOVERNANCE, retain_days: 36501}\n" + okSigning + okStreams, []string{
			"store.object_lock.retain_days: must be between 1 and 36500, got 36501 (line 3)",
		}},

		// signing.key
		{"missing signing key", okStore + okStreams, []string{
			"signing.key: required: file:///ABS/PATH.pem or awskms://KEY-ID-OR-ALIAS-OR-ARN",
		}},
		{"empty signing section", okStore + "signing: {}\n" + okStreams, []string{
			"signing.key: required: file:///ABS/PATH.pem or awskms://KEY-ID-OR-ALIAS-OR-ARN (line 3)",
		}},
		{"signing key of unknown scheme", okStore + "signing: {key: 'gcpkms://projects/p/keys/k'}\n" + okStreams, []string{
			`signing.key: must be a file:// or awskms:// URL, got scheme "gcpkms" (line 3)`,
		}},
		{"signing key as a plain path", okStore + "signing: {key: /etc/key.pem}\n" + okStreams, []string{
			"signing.key: must be a file:// or awskms:// URL, got no scheme (line 3)",
		}},
		{"signing key file with relative path", okStore + "signing: {key: 'file://key.pem'}\n" + okStreams, []string{
			`signing.key: file URL needs an absolute path, as in file:///ABS/PATH ("key.pem" is read as a host name) (line 3)`,
		}},
		{"awskms without key id", okStore + "signing: {key: 'awskms://'}\n" + okStreams, []string{
			"signing.key: awskms:// needs a key id, alias/NAME or ARN (line 3)",
		}},
		{"awskms with three slashes", okStore + "signing: {key: 'awskms:///alias/k'}\n" + okStreams, []string{
			"signing.key: write awskms://KEY-ID-OR-ALIAS-OR-ARN with two slashes, as in awskms://alias/NAME (line 3)",
		}},

		// daemon
		{"duration without unit", okStore + okSigning + okStreams + "daemon:\n  grace_period: 30\n", []string{
			`daemon.grace_period: must be a duration such as 30s or 1h30m, got "30" (line 8)`,
		}},
		{"daemon values out of range", okStore + okSigning + okStreams + "daemon: {grace_period: -1s, max_backfill_windows: 0, lease_ttl: 0s}\n", []string{
			"daemon.grace_period: must not be negative, got -1s (line 7)",
			"daemon.max_backfill_windows: must be at least 1, got 0 (line 7)",
			"daemon.lease_ttl: must be positive, got 0s (line 7)",
		}},
		{"unknown daemon key", okStore + okSigning + okStreams + "daemon:\n  lease: 1m\n", []string{
			`daemon.lease: unknown key (line 8)`,
		}},

		// streams
		{"empty streams list", okStore + okSigning + "streams: []\n", []string{
			"streams: at least one stream is required (line 5)",
		}},
		{"streams is a mapping", okStore + okSigning + "streams:\n  name: app\n", []string{
			"streams: must be a list, got a mapping (line 5)",
		}},
		{"stream without name", okStore + okSigning + "streams:\n  - source: {type: dir, path: /x}\n", []string{
			"streams[0].name: required (line 6)",
		}},
		{"stream names", okStore + okSigning + `streams:
  - {name: Edge_Logs, source: {type: dir, path: /x}}
  - {name: ` + strings.Repeat("a", 64) + `, source: {type: dir, path: /x}}
  - {name: -edge, source: {type: dir, path: /x}}
`, []string{
			`streams[0].name: must match ^[a-z0-9][a-z0-9._-]{0,62}$, got "Edge_Logs" (line 6)`,
			`streams[1].name: must match ^[a-z0-9][a-z0-9._-]{0,62}$, got "` + strings.Repeat("a", 64) + `" (line 7)`,
			`streams[2].name: must match ^[a-z0-9][a-z0-9._-]{0,62}$, got "-edge" (line 8)`,
		}},
		{"duplicate stream names", okStore + okSigning + `streams:
  - {name: app, source: {type: dir, path: /x}}
  - {name: other, source: {type: dir, path: /y}}
  - {name: app, source: {type: dir, path: /z}}
`, []string{
			`streams[2].name: duplicate stream name "app", also used by streams[0] (line 8)`,
		}},
		{"bad cron spec", okStore + okSigning + "streams:\n  - name: app\n    schedule: '* * *'\n    source: {type: dir, path: /x}\n", []string{
			`streams[0].schedule: stream "app": invalid cron spec "* * *": expected 5 to 6 fields, found 3: [* * *] (line 7)`,
		}},
		{"window not positive", okStore + okSigning + "streams:\n  - name: app\n    window: -1h\n    source: {type: dir, path: /x}\n", []string{
			`streams[0].window: stream "app": must be positive, got -1h0m0s (line 7)`,
		}},
		{"window not a duration", okStore + okSigning + "streams:\n  - name: app\n    source: {type: dir, path: /x}\n  - name: audit\n    window: 1 hour\n    schedule: '@every 1x'\n    source: {type: dir, path: /y}\n", []string{
			`streams[1].window: stream "audit": must be a duration such as 30s or 1h30m, got "1 hour" (line 9)`,
			`streams[1].schedule: stream "audit": invalid cron spec "@every 1x": failed to parse duration @every 1x: time: unknown unit "x" in duration "1x" (line 10)`,
		}},
		{"unknown stream key", okStore + okSigning + "streams:\n  - name: app\n    sched: '@daily'\n    source: {type: dir, path: /x}\n", []string{
			"streams[0].sched: unknown key (line 7)",
		}},

		// streams[].source
		{"stream without source", okStore + okSigning + "streams:\n  - name: app\n", []string{
			"streams[0].source.type: required: dir, genesys-edge or genesys-audit (line 6)",
		}},
		{"unknown source type", okStore + okSigning + "streams:\n  - name: app\n    source:\n      type: ftp\n", []string{
			`streams[0].source.type: must be dir, genesys-edge or genesys-audit, got "ftp" (line 8)`,
		}},
		{"dir source without path", okStore + okSigning + "streams:\n  - name: app\n  - name: b\n    source:\n      type: dir\n", []string{
			"streams[0].source.type: required: dir, genesys-edge or genesys-audit (line 6)",
			"streams[1].source.path: required for source type dir (line 8)",
		}},
		{"dir source with genesys keys", okStore + okSigning + `streams:
  - name: app
    source:
      type: dir
      path: /x
      region: mypurecloud.com
      client_secret: hush
      max_concurrency: 3
`, []string{
			"streams[0].source.region: not used by source type dir (line 10)",
			"streams[0].source.client_secret: not used by source type dir (line 11)",
			"streams[0].source.max_concurrency: not used by source type dir (line 12)",
		}},
		{"misspelt source key", okStore + okSigning + "streams:\n  - name: app\n    source:\n      type: dir\n      pth: /x\n", []string{
			"streams[0].source.path: required for source type dir (line 7)",
			`streams[0].source.pth: unknown key; did you mean "path"? (line 9)`,
		}},
		{"genesys source with nothing set", okStore + okSigning + "streams:\n  - name: e\n    source: {type: genesys-edge}\n", []string{
			"streams[0].source.region: required for source type genesys-edge (or api_url and login_url) (line 7)",
			"streams[0].source.client_id: required for source type genesys-edge (line 7)",
			"streams[0].source.client_secret: required for source type genesys-edge (line 7)",
		}},
		{"genesys region and urls together", okStore + okSigning + `streams:
  - name: e
    source:
      type: genesys-audit
      region: mypurecloud.com
      api_url: https://api.mypurecloud.com
      client_id: id
      client_secret: s
`, []string{
			"streams[0].source.region: set either region, or api_url and login_url, not both (line 9)",
		}},
		{"genesys region that is a URL", okStore + okSigning + `streams:
  - name: e
    source: {type: genesys-audit, region: 'https://mypurecloud.com', client_id: id, client_secret: s}
`, []string{
			`streams[0].source.region: must be a Genesys Cloud region (` + strings.Join(gcregion.Domains(), ", ") + `, or its AWS region name such as us-east-1; for another, set api_url and login_url), got "https://mypurecloud.com" (line 7)`,
		}},
		{"genesys region not in the SDK's list", okStore + okSigning + `streams:
  - name: e
    source: {type: genesys-audit, region: apse2.pure.cloud, client_id: id, client_secret: s}
`, []string{
			`streams[0].source.region: must be a Genesys Cloud region (` + strings.Join(gcregion.Domains(), ", ") + `, or its AWS region name such as us-east-1; for another, set api_url and login_url), got "apse2.pure.cloud" (line 7)`,
		}},
		{"genesys urls", okStore + okSigning + `streams:
  - name: e
    source:
      type: genesys-audit
      api_url: http://api.example.com
      client_id: id
      client_secret: s
  - name: f
    source:
      type: genesys-audit
      api_url: ftp://127.0.0.1
      login_url: /login
      client_id: id
      client_secret: s
`, []string{
			"streams[0].source.login_url: required when region is not set (line 7)",
			"streams[0].source.api_url: must use https (http is allowed only for a loopback host) (line 9)",
			`streams[1].source.api_url: must be an https:// URL, got scheme "ftp" (line 15)`,
			"streams[1].source.login_url: must be an absolute URL such as https://api.mypurecloud.com (line 16)",
		}},
		{"genesys keys of the other type", okStore + okSigning + `streams:
  - name: e
    source:
      type: genesys-edge
      region: mypurecloud.com
      client_id: id
      client_secret: s
      path: /x
      service_name: Architect
  - name: a
    source:
      type: genesys-audit
      region: mypurecloud.com
      client_id: id
      client_secret: s
      edges: [e1]
      path: /var/log
`, []string{
			"streams[0].source.service_name: not used by source type genesys-edge (line 13)",
			"streams[1].source.edges: not used by source type genesys-audit (line 20)",
			"streams[1].source.path: not used by source type genesys-audit (line 21)",
		}},
		{"genesys edge path with a control character", okStore + okSigning + `streams:
  - name: e
    source: {type: genesys-edge, region: mypurecloud.com, client_id: id, client_secret: s, path: "/var/log\n"}
`, []string{
			"streams[0].source.path: must not contain control characters (line 7)",
		}},
		{"genesys edges and concurrency", okStore + okSigning + `streams:
  - name: e
    source:
      type: genesys-edge
      region: mypurecloud.com
      client_id: id
      client_secret: s
      edges: [e1, "", e1, [x]]
      max_concurrency: 257
  - name: f
    source: {type: genesys-edge, region: mypurecloud.com, client_id: id, client_secret: s, max_concurrency: 0}
`, []string{
			`streams[0].source.edges[3]: must be a string, got a list (line 12)`,
			"streams[0].source.edges[1]: must not be empty (line 12)",
			`streams[0].source.edges[2]: duplicate edge id "e1", also edges[0] (line 12)`,
			"streams[0].source.max_concurrency: must be between 1 and 256, got 257 (line 13)",
			"streams[1].source.max_concurrency: must be between 1 and 256, got 0 (line 15)",
		}},

		{"genesys audit since, settle and recheck_windows", okStore + okSigning + `streams:
  - name: a
    source: {type: genesys-audit, region: mypurecloud.com, client_id: id, client_secret: s, since: yesterday, settle: -1m, recheck_windows: 101}
  - name: b
    source: {type: genesys-audit, region: mypurecloud.com, client_id: id, client_secret: s, since: 0d, settle: 25h, recheck_windows: -1}
  - name: c
    source: {type: genesys-edge, region: mypurecloud.com, client_id: id, client_secret: s, since: 30d, settle: 1m, recheck_windows: 2}
  - name: d
    source: {type: genesys-audit, region: mypurecloud.com, client_id: id, client_secret: s, since: 2026-02-30, settle: soon, recheck_windows: many}
`, []string{
			`streams[0].source.since: must be a date (2025-01-31), an RFC 3339 time or an age such as 365d or 720h, got "yesterday" (line 7)`,
			"streams[0].source.settle: must be between 0s and 24h0m0s, got -1m0s (line 7)",
			"streams[0].source.recheck_windows: must be between 0 and 100, got 101 (line 7)",
			`streams[1].source.since: must be a date (2025-01-31), an RFC 3339 time or an age such as 365d or 720h, got "0d" (line 9)`,
			"streams[1].source.settle: must be between 0s and 24h0m0s, got 25h0m0s (line 9)",
			"streams[1].source.recheck_windows: must be between 0 and 100, got -1 (line 9)",
			"streams[2].source.since: not used by source type genesys-edge (line 11)",
			"streams[2].source.settle: not used by source type genesys-edge (line 11)",
			"streams[2].source.recheck_windows: not used by source type genesys-edge (line 11)",
			`streams[3].source.settle: must be a duration such as 30s or 1h30m, got "soon" (line 13)`,
			`streams[3].source.recheck_windows: must be an integer, got "many" (line 13)`,
			`streams[3].source.since: must be a date (2025-01-31), an RFC 3339 time or an age such as 365d or 720h, got "2026-02-30" (line 13)`,
		}},

		// YAML features.
		{"merge of a single value", okStore + okSigning + "streams:\n  - name: app\n    source:\n      <<: x\n      type: dir\n      path: /x\n", []string{
			"streams[0].source: << must merge a mapping or a list of mappings, got a single value (line 8)",
		}},
		{"merge that contains itself", okStore + okSigning + "streams:\n  - name: app\n    source: &s\n      <<: *s\n      type: dir\n      path: /x\n", []string{
			"streams[0].source: alias *s refers to a value that contains it (line 8)",
		}},
		{"non-string key", okStore + okSigning + okStreams + "? [a, b]\n: c\n", []string{
			"config: keys must be single values, got a list (line 7)",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parseTest(t, tt.doc)
			if err == nil {
				t.Fatalf("parse succeeded with %+v, want errors:\n%s", cfg, strings.Join(tt.want, "\n"))
			}
			got := problems(err)
			if !slices.Equal(got, tt.want) {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			for _, line := range got {
				if !errorLine.MatchString(line) {
					t.Errorf("error line %q does not start with a key path", line)
				}
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Errorf("error %T is not a *FieldError", err)
			}
		})
	}
}

// TestParseReportsAllProblems parses a file with many mistakes and checks
// that each is reported, with its path and line, in one error.
func TestParseReportsAllProblems(t *testing.T) {
	_, err := parse(readTestdata(t, "invalid.yaml"), "/etc/logkeeper", lookupIn(nil))
	want := []string{
		"store.url: s3 URL has no bucket: want s3://BUCKET/PREFIX (line 2)",
		"store.part_size_mib: must be between 5 and 5120, got 4 (line 3)",
		"store.bogus: unknown key (line 4)",
		`store.object_lock.mode: must be GOVERNANCE or COMPLIANCE, got "compliant" (line 6)`,
		`signing.key: must be a file:// or awskms:// URL, got scheme "gcpkms" (line 8)`,
		`streams[0].name: must match ^[a-z0-9][a-z0-9._-]{0,62}$, got "Bad_Name" (line 10)`,
		`streams[0].schedule: invalid cron spec "61 * * * *": end of range (61) above maximum (59): 61 (line 11)`,
		"streams[0].source.path: required for source type dir (line 12)",
		"streams[1].source.region: required for source type genesys-edge (or api_url and login_url) (line 15)",
		"streams[1].source.client_id: required for source type genesys-edge (line 15)",
		`streams[1].source.max_concurrency: must be an integer, got "lots" (line 18)`,
		`streams[2].name: duplicate stream name "dup", also used by streams[1] (line 19)`,
		`streams[2].source.type: must be dir, genesys-edge or genesys-audit, got "ftp" (line 21)`,
	}
	if got := problems(err); !slices.Equal(got, want) {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Each problem is also a *FieldError a caller can inspect.
	var paths []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var fe *FieldError
		if !errors.As(e, &fe) {
			t.Fatalf("%v is not a *FieldError", e)
		}
		paths = append(paths, fe.Path)
	}
	if !slices.Contains(paths, "streams[1].source.max_concurrency") || !slices.Contains(paths, "store.bogus") {
		t.Errorf("paths = %v", paths)
	}
}

func TestParseSyntaxError(t *testing.T) {
	_, err := parseTest(t, "store:\n  url: [unclosed\n")
	if err == nil || !strings.HasPrefix(err.Error(), "parse config: yaml: ") {
		t.Errorf("error = %v, want a YAML syntax error", err)
	}
}

func TestParseAliasBomb(t *testing.T) {
	// Each anchor merges the one before twice: walking the last one would
	// take 2^40 steps without a limit.
	var b strings.Builder
	b.WriteString(okStore + okSigning + okStreams)
	b.WriteString("x0: &x0 {a: 1}\n")
	for i := 1; i <= 40; i++ {
		fmt.Fprintf(&b, "x%d: &x%d {<<: [*x%d, *x%d]}\n", i, i, i-1, i-1)
	}
	b.WriteString("daemon:\n  <<: *x40\n")
	done := make(chan error, 1)
	go func() {
		_, err := parseTest(t, b.String())
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "config: too many alias expansions") {
			t.Errorf("error = %v, want too many alias expansions", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("parse did not stop")
	}
}

func TestFollowSymlinksOnlyForDir(t *testing.T) {
	dir := okStore + okSigning + "streams:\n  - name: a\n    source: {type: dir, path: /var/log/a, follow_symlinks: true}\n"
	c, err := Parse([]byte(dir), "/etc/logkeeper")
	if err != nil || !c.Streams[0].Source.FollowSymlinks {
		t.Fatalf("dir source with follow_symlinks: %v", err)
	}
	edge := okStore + okSigning + "streams:\n  - name: e\n    source: {type: genesys-edge, region: mypurecloud.com, client_id: x, client_secret: y, follow_symlinks: true}\n"
	if _, err := Parse([]byte(edge), "/etc/logkeeper"); err == nil || !strings.Contains(err.Error(), "follow_symlinks: not used by source type genesys-edge") {
		t.Fatalf("genesys source with follow_symlinks: %v", err)
	}
}
