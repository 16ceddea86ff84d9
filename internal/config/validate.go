package config

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/logkeeper/logkeeper/internal/gcregion"
	"github.com/logkeeper/logkeeper/internal/loopback"
)

// Limits checked by the validator.
const (
	minPartSizeMiB    = 5
	maxPartSizeMiB    = 5120
	maxConcurrency    = 64
	maxRetainDays     = 36500 // S3 Object Lock allows at most 100 years
	maxSourceRequests = 256
)

// reservedContextPrefixes are encryption context key prefixes that logkeeper
// (logkeeper:) and AWS (aws:) set themselves.
var reservedContextPrefixes = []string{"logkeeper:", "aws:"}

var streamName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// genesysKeys are the source keys that only Genesys sources use.
var genesysKeys = []string{"region", "api_url", "login_url", "client_id", "client_secret",
	"edges", "query", "recurse", "service_name", "max_concurrency", "since", "settle", "recheck_windows"}

// validator checks decoded values, fills derived fields (parsed URLs,
// absolute paths) and records problems. Checks skip a path where decoding
// already reported a problem, so one mistake is reported once.
type validator struct {
	fields   map[string]*fieldInfo
	problems []error
	baseDir  string
}

func (v *validator) fail(path, format string, args ...any) {
	if v.skip(path) {
		return
	}
	v.problems = append(v.problems, &FieldError{Path: path, Line: v.line(path), Msg: oneLine(fmt.Sprintf(format, args...))})
}

// skip reports whether path or a key above it already has a problem.
func (v *validator) skip(path string) bool {
	for p := path; ; p = parent(p) {
		if fi := v.fields[p]; fi != nil && fi.bad {
			return true
		}
		if p == "" {
			return false
		}
	}
}

// line returns the line of path or of the nearest key above it, short of
// the whole document (whose line says nothing about a missing key).
func (v *validator) line(path string) int {
	for p := path; p != ""; p = parent(p) {
		if fi := v.fields[p]; fi != nil && fi.line > 0 {
			return fi.line
		}
	}
	return 0
}

// present reports whether the file sets path to a non-null value.
func (v *validator) present(path string) bool {
	fi := v.fields[path]
	return fi != nil && fi.line > 0
}

func (v *validator) show(path, s string) string { return showValue(v.fields, path, s) }

// expanded reports whether the value at path came from the environment.
func (v *validator) expanded(path string) bool {
	fi := v.fields[path]
	return fi != nil && fi.raw != ""
}

// quote returns ` "s"` to name a piece of the value at path in a message,
// or nothing when the value came from the environment.
func (v *validator) quote(path, s string) string {
	if v.expanded(path) {
		return ""
	}
	return " " + strconv.Quote(s)
}

func (v *validator) config(c *Config) {
	v.store(&c.Store)
	v.signing(&c.Signing)
	v.timestamp(&c.Signing)
	v.daemon(&c.Daemon)
	v.streams(c.Streams)
}

func (v *validator) store(s *Store) {
	if s.URL == "" {
		v.fail("store.url", "required: s3://BUCKET/PREFIX or file:///ABS/PATH")
	} else {
		v.storeURL("store.url", s.URL, s)
	}
	v.witness(s)
	if s.PartSizeMiB < minPartSizeMiB || s.PartSizeMiB > maxPartSizeMiB {
		v.fail("store.part_size_mib", "must be between %d and %d, got %d", minPartSizeMiB, maxPartSizeMiB, s.PartSizeMiB)
	}
	if s.Concurrency < 1 || s.Concurrency > maxConcurrency {
		v.fail("store.concurrency", "must be between 1 and %d, got %d", maxConcurrency, s.Concurrency)
	}
	if s.SSEKMSKeyID != "" && strings.ContainsFunc(s.SSEKMSKeyID, isSpace) {
		v.fail("store.sse_kms_key_id", "must not contain spaces")
	}
	for _, k := range slices.Sorted(maps.Keys(s.EncryptionContext)) {
		p := mapKey("store.encryption_context", k)
		if k == "" {
			v.fail(p, "keys must not be empty")
			continue
		}
		for _, prefix := range reservedContextPrefixes {
			if strings.HasPrefix(strings.ToLower(k), prefix) {
				v.fail(p, "keys starting with %q are reserved", prefix)
			}
		}
	}
	v.objectLock(&s.ObjectLock)
	if s.Origin != "" {
		if err := CheckOrigin(s.Origin); err != nil {
			v.fail("store.origin", "%v", err)
		}
	}
	// A manifest must never claim protection the store did not give: the
	// filesystem store can neither encrypt with KMS nor lock objects.
	if s.Scheme == SchemeFile {
		for _, k := range []struct {
			key string
			set bool
		}{
			{"store.sse_kms_key_id", s.SSEKMSKeyID != ""},
			{"store.encryption_context", len(s.EncryptionContext) > 0},
			{"store.object_lock", s.ObjectLock.Mode != "" || s.ObjectLock.RetainDays != 0},
		} {
			if k.set {
				v.fail(k.key, "only an s3:// store supports it; the file:// store cannot give that protection")
			}
		}
	}
	if len(s.EncryptionContext) > 0 && s.SSEKMSKeyID == "" && s.Scheme != SchemeFile {
		v.fail("store.encryption_context", "needs store.sse_kms_key_id: an encryption context only applies to SSE-KMS")
	}
}

// witness parses store.witness into s.WitnessStore.
func (v *validator) witness(s *Store) {
	if s.Witness == "" {
		return
	}
	// The witness is reached like the store; it takes none of the store's
	// encryption, retention or origin (its own bucket's settings apply).
	w := Store{URL: s.Witness, PathStyle: s.PathStyle, PartSizeMiB: s.PartSizeMiB, Concurrency: s.Concurrency, AllowHTTP: s.AllowHTTP}
	v.storeURL("store.witness", s.Witness, &w)
	switch {
	case w.Scheme == "":
		return
	case w.Scheme == s.Scheme && w.Bucket == s.Bucket && w.Prefix == s.Prefix && w.Path == s.Path:
		v.fail("store.witness", "must not be the store itself: whoever can rewrite the store must not be able to rewrite its witness")
		return
	}
	s.WitnessStore = &w
}

// storeURL parses the store URL raw at key path p into s.
func (v *validator) storeURL(p, raw string, s *Store) {
	u, ok := v.parseURL(p, raw)
	if !ok {
		return
	}
	switch u.Scheme {
	case SchemeS3:
		if u.Opaque != "" || u.Host == "" {
			v.fail(p, "s3 URL has no bucket: want s3://BUCKET/PREFIX")
			return
		}
		if !validBucket(u.Host) {
			v.fail(p, "bucket name%s is not valid", v.quote(p, u.Host))
			return
		}
		prefix := strings.Trim(u.Path, "/")
		if prefix != "" && slices.ContainsFunc(strings.Split(prefix, "/"), badSegment) {
			v.fail(p, "prefix%s has an empty, . or .. segment", v.quote(p, prefix))
			return
		}
		s.Scheme, s.Bucket, s.Prefix = SchemeS3, u.Host, prefix
	case SchemeFile:
		path, ok := v.filePath(p, u)
		if !ok {
			return
		}
		s.Scheme, s.Path = SchemeFile, path
	default:
		v.fail(p, "must be an s3:// or file:// URL, got %s", schemeOf(u.Scheme))
	}
}

// parseURL parses a URL and rejects what no URL here may have. Errors never
// quote the URL: it may carry credentials or come from the environment.
func (v *validator) parseURL(path, s string) (*url.URL, bool) {
	u, err := url.Parse(s)
	if err != nil {
		// The parser's message quotes a piece of the URL, which may be part
		// of a password (a "/" in it ends the host early) or come from the
		// environment: show it only when neither can be.
		var ue *url.Error
		if fi := v.fields[path]; errors.As(err, &ue) && !strings.Contains(s, "@") && (fi == nil || fi.raw == "") {
			v.fail(path, "not a valid URL: %v", ue.Err)
		} else {
			v.fail(path, "not a valid URL")
		}
		return nil, false
	}
	switch {
	case u.User != nil:
		v.fail(path, "must not contain credentials")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		v.fail(path, "must not have a query or fragment")
	default:
		return u, true
	}
	return nil, false
}

// filePath returns the cleaned absolute path of a file:// URL.
func (v *validator) filePath(path string, u *url.URL) (string, bool) {
	switch {
	case u.Opaque != "":
		v.fail(path, "file URL needs an absolute path, as in file:///ABS/PATH")
	case u.Host != "" && u.Host != "localhost":
		host := "the part after //"
		if !v.expanded(path) {
			host = strconv.Quote(u.Host)
		}
		v.fail(path, "file URL needs an absolute path, as in file:///ABS/PATH (%s is read as a host name)", host)
	case u.Path == "" || !filepath.IsAbs(u.Path):
		v.fail(path, "file URL needs an absolute path, as in file:///ABS/PATH")
	default:
		return filepath.Clean(u.Path), true
	}
	return "", false
}

func (v *validator) objectLock(o *ObjectLock) {
	const p = "store.object_lock"
	switch o.Mode {
	case "":
		if v.present(p + ".retain_days") {
			v.fail(p+".mode", "required when retain_days is set: GOVERNANCE or COMPLIANCE")
		}
	case ModeGovernance, ModeCompliance:
		if !v.present(p + ".retain_days") {
			v.fail(p+".retain_days", "required when mode is set")
		}
	default:
		v.fail(p+".mode", "must be GOVERNANCE or COMPLIANCE, got %s", v.show(p+".mode", o.Mode))
	}
	if v.present(p+".retain_days") && (o.RetainDays < 1 || o.RetainDays > maxRetainDays) {
		v.fail(p+".retain_days", "must be between 1 and %d, got %d", maxRetainDays, o.RetainDays)
	}
}

func (v *validator) signing(s *Signing) {
	const p = "signing.key"
	if s.Key == "" {
		v.fail(p, "required: file:///ABS/PATH.pem or awskms://KEY-ID-OR-ALIAS-OR-ARN")
		return
	}
	if id, ok := strings.CutPrefix(s.Key, "awskms://"); ok {
		switch {
		case id == "":
			v.fail(p, "awskms:// needs a key id, alias/NAME or ARN")
		case strings.HasPrefix(id, "/"):
			v.fail(p, "write awskms://KEY-ID-OR-ALIAS-OR-ARN with two slashes, as in awskms://alias/NAME")
		case strings.ContainsFunc(id, isSpace):
			v.fail(p, "KMS key id must not contain spaces")
		default:
			s.KeyScheme, s.KMSKeyID = KeySchemeAWSKMS, id
		}
		return
	}
	scheme, _, ok := strings.Cut(s.Key, "://")
	if !ok || scheme != KeySchemeFile {
		if !ok {
			scheme = ""
		}
		v.fail(p, "must be a file:// or awskms:// URL, got %s", schemeOf(scheme))
		return
	}
	u, ok := v.parseURL(p, s.Key)
	if !ok {
		return
	}
	if path, ok := v.filePath(p, u); ok {
		s.KeyScheme, s.KeyPath = KeySchemeFile, path
	}
}

// timestamp checks signing.timestamp_url and signing.timestamp_roots. The
// roots file is read when a command opens it, naming its key.
func (v *validator) timestamp(s *Signing) {
	const pu, pr = "signing.timestamp_url", "signing.timestamp_roots"
	if s.TimestampURL != "" {
		if u, ok := v.parseURL(pu, s.TimestampURL); ok {
			switch {
			case u.Host == "" || u.Opaque != "":
				v.fail(pu, "must be an absolute URL such as https://tsa.example.com/")
			case u.Scheme == "https":
			case u.Scheme == "http":
				if !loopback.Is(u.Hostname()) {
					v.fail(pu, "must use https (http is allowed only for a loopback host)")
				}
			default:
				v.fail(pu, "must be an https:// URL, got %s", schemeOf(u.Scheme))
			}
		}
		if s.TimestampRoots == "" {
			v.fail(pr, "required with timestamp_url: a PEM file of the trusted time-stamp authority roots")
		}
	}
	if s.TimestampRoots != "" {
		if !filepath.IsAbs(s.TimestampRoots) {
			s.TimestampRoots = filepath.Join(v.baseDir, s.TimestampRoots)
		}
		s.TimestampRoots = filepath.Clean(s.TimestampRoots)
	}
}

func (v *validator) daemon(d *Daemon) {
	if d.GracePeriod < 0 {
		v.fail("daemon.grace_period", "must not be negative, got %s", d.GracePeriod)
	}
	if d.MaxBackfillWindows < 1 {
		v.fail("daemon.max_backfill_windows", "must be at least 1, got %d", d.MaxBackfillWindows)
	}
	if d.LeaseTTL <= 0 {
		v.fail("daemon.lease_ttl", "must be positive, got %s", d.LeaseTTL)
	}
}

func (v *validator) streams(streams []Stream) {
	if len(streams) == 0 {
		v.fail("streams", "at least one stream is required")
		return
	}
	first := map[string]int{}
	for i := range streams {
		s := &streams[i]
		p := index("streams", i)
		switch {
		case s.Name == "":
			v.fail(p+".name", "required")
		case !streamName.MatchString(s.Name):
			v.fail(p+".name", "must match %s, got %s", streamName, v.show(p+".name", s.Name))
		default:
			if j, dup := first[s.Name]; dup {
				v.fail(p+".name", "duplicate stream name %s, also used by streams[%d]", v.show(p+".name", s.Name), j)
			} else {
				first[s.Name] = i
			}
		}
		if s.Schedule != "" {
			if sched, err := ParseSchedule(s.Schedule); err == nil {
				if v.fields[p+".window"] == nil { // not written: the schedule's period
					s.Window = SchedulePeriod(sched)
				}
			} else {
				if v.expanded(p + ".schedule") {
					// The parser's message quotes the spec.
					v.fail(p+".schedule", "invalid cron spec %s", v.show(p+".schedule", s.Schedule))
				} else {
					v.fail(p+".schedule", "invalid cron spec %q: %v", s.Schedule, err)
				}
			}
		}
		if s.Window <= 0 {
			v.fail(p+".window", "must be positive, got %s", s.Window)
		}
		v.nameStream(p, s.Name)
		v.source(p+".source", &s.Source)
	}
}

// nameStream puts the stream's name in the problems with its schedule and
// window, the keys an operator edits by stream name: "streams[2].window:
// stream "audit": must be a duration ...". Positions in a list are easy to
// miscount; the name is not.
func (v *validator) nameStream(p, name string) {
	if !streamName.MatchString(name) || v.expanded(p+".name") {
		return
	}
	for _, err := range v.problems {
		if fe, ok := err.(*FieldError); ok && (fe.Path == p+".schedule" || fe.Path == p+".window") {
			fe.Msg = fmt.Sprintf("stream %q: %s", name, fe.Msg)
		}
	}
}

func (v *validator) source(p string, s *Source) {
	switch s.Type {
	case "":
		v.fail(p+".type", "required: dir, genesys-edge or genesys-audit")
	case SourceDir:
		v.dirSource(p, s)
	case SourceGenesysEdge, SourceGenesysAudit:
		v.genesysSource(p, s)
	default:
		v.fail(p+".type", "must be dir, genesys-edge or genesys-audit, got %s", v.show(p+".type", string(s.Type)))
	}
}

func (v *validator) dirSource(p string, s *Source) {
	v.notUsed(p, s.Type, genesysKeys...)
	if s.Path == "" {
		v.fail(p+".path", "required for source type dir")
		return
	}
	if !filepath.IsAbs(s.Path) {
		s.Path = filepath.Join(v.baseDir, s.Path)
	}
	s.Path = filepath.Clean(s.Path)
}

func (v *validator) genesysSource(p string, s *Source) {
	v.notUsed(p, s.Type, "follow_symlinks")
	if s.Type == SourceGenesysEdge {
		v.notUsed(p, s.Type, "service_name", "since", "settle", "recheck_windows")
		// The edge path is a folder on the edge, not on this machine: it
		// is passed to Genesys as written, never resolved.
		if strings.ContainsFunc(s.Path, isControl) {
			v.fail(p+".path", "must not contain control characters")
		}
	} else {
		v.notUsed(p, s.Type, "edges", "path")
		v.auditKeys(p, s)
	}

	switch {
	case s.Region != "":
		if s.APIURL != "" || s.LoginURL != "" {
			v.fail(p+".region", "set either region, or api_url and login_url, not both")
			break
		}
		region, ok := gcregion.Lookup(s.Region)
		if !ok {
			v.fail(p+".region", "must be a Genesys Cloud region (%s, or its AWS region name such as us-east-1; for another, set api_url and login_url), got %s",
				strings.Join(gcregion.Domains(), ", "), v.show(p+".region", s.Region))
			break
		}
		s.Region = region
		s.APIURL, s.LoginURL = "https://api."+region, "https://login."+region
	case s.APIURL == "" && s.LoginURL == "":
		v.fail(p+".region", "required for source type %s (or api_url and login_url)", s.Type)
	default:
		s.APIURL = v.genesysURL(p+".api_url", s.APIURL)
		s.LoginURL = v.genesysURL(p+".login_url", s.LoginURL)
	}

	if s.ClientID == "" {
		v.fail(p+".client_id", "required for source type %s", s.Type)
	}
	if s.ClientSecret == "" {
		v.fail(p+".client_secret", "required for source type %s", s.Type)
	}
	seen := map[string]int{}
	for i, e := range s.Edges {
		ep := index(p+".edges", i)
		if e == "" {
			v.fail(ep, "must not be empty")
		} else if j, dup := seen[e]; dup {
			v.fail(ep, "duplicate edge id %s, also edges[%d]", v.show(ep, e), j)
		} else {
			seen[e] = i
		}
	}
	if s.MaxConcurrency < 1 || s.MaxConcurrency > maxSourceRequests {
		v.fail(p+".max_concurrency", "must be between 1 and %d, got %d", maxSourceRequests, s.MaxConcurrency)
	}
}

// auditKeys checks since, settle and recheck_windows of a genesys-audit
// source.
func (v *validator) auditKeys(p string, s *Source) {
	if s.Since != "" {
		date, age, err := parseSince(s.Since)
		if err != nil {
			v.fail(p+".since", "%v, got %s", err, v.show(p+".since", s.Since))
		}
		s.SinceDate, s.SinceAge = date, age
	}
	if !v.present(p + ".settle") {
		s.Settle = DefaultSettle
	}
	if !v.present(p + ".recheck_windows") {
		s.RecheckWindows = DefaultRecheckWindows
	}
	if s.Settle < 0 || s.Settle > MaxSettle {
		v.fail(p+".settle", "must be between 0s and %s, got %s", MaxSettle, s.Settle)
	}
	if s.RecheckWindows < 0 || s.RecheckWindows > MaxRecheckWindows {
		v.fail(p+".recheck_windows", "must be between 0 and %d, got %d", MaxRecheckWindows, s.RecheckWindows)
	}
}

// parseSince reads a date (2006-01-02, UTC), an RFC 3339 time, or an age:
// a duration, or a whole number of days such as 365d. The age must be
// positive.
func parseSince(s string) (time.Time, time.Duration, error) {
	const want = "must be a date (2025-01-31), an RFC 3339 time or an age such as 365d or 720h"
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t.UTC(), 0, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), 0, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 || n > 100*366 {
			return time.Time{}, 0, errors.New(want)
		}
		return time.Time{}, time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return time.Time{}, 0, errors.New(want)
	}
	return time.Time{}, d, nil
}

// genesysURL checks a Genesys base URL and returns it without a trailing
// slash: https, or http to a loopback host (a test server).
func (v *validator) genesysURL(path, s string) string {
	if s == "" {
		v.fail(path, "required when region is not set")
		return ""
	}
	u, ok := v.parseURL(path, s)
	if !ok {
		return s
	}
	switch {
	case u.Host == "" || u.Opaque != "":
		v.fail(path, "must be an absolute URL such as https://api.mypurecloud.com")
	case u.Scheme == "https":
	case u.Scheme == "http":
		if !loopback.Is(u.Hostname()) {
			v.fail(path, "must use https (http is allowed only for a loopback host)")
		}
	default:
		v.fail(path, "must be an https:// URL, got %s", schemeOf(u.Scheme))
	}
	return strings.TrimRight(s, "/")
}

// notUsed reports keys the file sets that a source of type t does not use.
func (v *validator) notUsed(p string, t SourceType, keys ...string) {
	for _, k := range keys {
		if v.present(p + "." + k) {
			v.fail(p+"."+k, "not used by source type %s", t)
		}
	}
}

func schemeOf(s string) string {
	if s == "" {
		return "no scheme"
	}
	return fmt.Sprintf("scheme %q", s)
}

// validBucket accepts S3 bucket names, including legacy ones with upper
// case letters and underscores; S3 itself has the last word.
func validBucket(b string) bool {
	if len(b) < 3 || len(b) > 255 {
		return false
	}
	for _, c := range b {
		if !(c == '.' || c == '-' || c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

func badSegment(s string) bool { return s == "" || s == "." || s == ".." }

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

func isSpace(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' }

// CheckOrigin checks a store origin (store.origin, verify --origin): the
// URL a store describes itself by in manifests, s3://BUCKET[/PREFIX] or
// file:///ABS/PATH, with no credentials, query or trailing slash.
func CheckOrigin(origin string) error {
	u, err := url.Parse(origin)
	switch {
	case err != nil:
		return errors.New("not a valid URL")
	case u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return errors.New("must not carry credentials, a query or a fragment")
	case u.Scheme == SchemeS3 && u.Host != "" && !strings.HasSuffix(origin, "/"):
	case u.Scheme == SchemeFile && u.Host == "" && strings.HasPrefix(u.Path, "/") && filepath.Clean(u.Path) == u.Path:
	default:
		return errors.New("want s3://BUCKET/PREFIX or file:///ABS/PATH as the manifests record it (no trailing slash)")
	}
	return nil
}
