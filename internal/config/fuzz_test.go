package config

import (
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse checks that Parse never panics, that every problem it reports
// starts with a key path, and that a configuration it accepts holds what the
// validator promises.
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		f.Add(readTestdata(f, filepath.Base(name)))
	}
	for _, seed := range []string{
		"",
		"[]",
		"store: &s {object_lock: *s}",
		"a: &a\n  b: *a\n",
		"streams: [&s {name: a, source: {<<: *s}}]",
		"store: {url: s3://b, <<: [{concurrency: 2}, {concurrency: 3}]}",
		"streams: [{name: a, schedule: 'TZ=UTC', source: {type: dir, path: x}}]",
		"store: {url: '${A'}",
		"? [a]\n: b\n",
		"x: 1\n---\ny: 2\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := parse(data, "/base", lookupIn(testEnv))
		if err != nil {
			for _, line := range problems(err) {
				if !errorLine.MatchString(line) && !strings.HasPrefix(line, "parse config: ") {
					t.Errorf("error line %q does not start with a key path", line)
				}
			}
			if cfg != nil {
				t.Error("parse returned a config with an error")
			}
			return
		}
		if len(cfg.Streams) == 0 {
			t.Error("accepted a config without streams")
		}
		switch cfg.Store.Scheme {
		case SchemeS3:
			if cfg.Store.Bucket == "" || strings.HasPrefix(cfg.Store.Prefix, "/") || strings.HasSuffix(cfg.Store.Prefix, "/") {
				t.Errorf("store = %+v", cfg.Store)
			}
		case SchemeFile:
			if !filepath.IsAbs(cfg.Store.Path) {
				t.Errorf("store path %q is not absolute", cfg.Store.Path)
			}
		default:
			t.Errorf("store scheme %q", cfg.Store.Scheme)
		}
		if cfg.Signing.KeyScheme != KeySchemeFile && cfg.Signing.KeyScheme != KeySchemeAWSKMS {
			t.Errorf("signing key scheme %q", cfg.Signing.KeyScheme)
		}
		names := map[string]bool{}
		for _, s := range cfg.Streams {
			if names[s.Name] {
				t.Errorf("duplicate stream %q accepted", s.Name)
			}
			names[s.Name] = true
			if s.Source.Type == SourceDir && !filepath.IsAbs(s.Source.Path) {
				t.Errorf("dir path %q is not absolute", s.Source.Path)
			}
			if s.Schedule != "" {
				if _, err := ParseSchedule(s.Schedule); err != nil {
					t.Errorf("accepted schedule %q: %v", s.Schedule, err)
				}
			}
		}
	})
}
