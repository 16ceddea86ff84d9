// Package config loads logkeeper's YAML configuration file.
//
// [Load] reads a file and [Parse] parses bytes; both return a [Config] whose
// fields hold final values: defaults filled in, ${NAME} references expanded,
// relative paths made absolute, and URLs split into their parts
// (Store.Scheme, Store.Bucket, Store.Prefix, Store.Path; Signing.KeyScheme,
// Signing.KeyPath, Signing.KMSKeyID). testdata/valid.yaml shows every key
// with its default.
//
// # Layout of the file
//
//	store:                        where archives go
//	  url: s3://BUCKET/PREFIX     or file:///ABS/PATH (required)
//	  path_style: false
//	  part_size_mib: 8            5..5120
//	  concurrency: 4              1..64
//	  sse_kms_key_id: ""
//	  encryption_context: {}      keys "logkeeper:*" and "aws:*" are reserved
//	  object_lock: {mode: COMPLIANCE, retain_days: 2555}
//	  allow_http: false
//	  origin: ""                  where the archive was written, to verify a copy
//	signing:
//	  key: file:///ABS/key.pem    or awskms://KEY-ID-OR-ALIAS-OR-ARN (required)
//	daemon:                       logkeeper run only
//	  grace_period: 30s           shutdown: let running exports finish this long
//	  max_backfill_windows: 24    windows archived per stream per tick
//	  lease_ttl: 60s              run lease shared by replicas
//	streams:                      at least one
//	  - name: edge-logs           unique, ^[a-z0-9][a-z0-9._-]{0,62}$
//	    schedule: "@hourly"       see ParseSchedule
//	    window: 1h
//	    source:
//	      type: dir               dir | genesys-edge | genesys-audit
//	      path: logs/edge         dir: relative to the file's folder;
//	                              genesys-edge: folder on the edge, as is
//
// A dir source also takes follow_symlinks (default false).
// Genesys sources take region (or api_url and login_url), client_id,
// client_secret, query, recurse and max_concurrency (1..256, default 8);
// genesys-edge also takes edges and path, genesys-audit service_name. A
// key that does not apply to the source's type is an error.
//
// # Environment variables
//
// ${NAME} in a value is replaced by the environment variable NAME, and $$
// by a single $; a $ before anything else stays as written. An unset
// variable is an error naming the key and the variable. Keys are never
// expanded, and an expanded value is not expanded again.
//
// # Errors
//
// Parsing walks the YAML node tree against the yaml tags of the Config
// types, so an unknown key, a duplicate key or a value of the wrong type is
// reported at its precise place; values are checked afterwards. Every
// problem is reported at once: the error joins one [*FieldError] per
// problem, in the order of the file, and prints one per line as
//
//	streams[1].source.path: required for source type dir (line 12)
//
// YAML anchors, aliases and merge keys (<<: *anchor) work as in YAML 1.1.
//
// # Secrets
//
// Credentials are held as [Secret], which prints, logs and marshals as
// "[REDACTED]"; call Reveal where the value is used. Error messages never
// quote a secret, nor any value that came from the environment: they show
// the ${NAME} reference instead.
package config
