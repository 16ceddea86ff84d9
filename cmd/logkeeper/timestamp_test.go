package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logkeeper/logkeeper/internal/cli"
	"github.com/logkeeper/logkeeper/internal/testenv"
)

// withTimestamps writes a copy of cfg with signing.timestamp_url and
// signing.timestamp_roots.
func (w *witnessed) withTimestamps(cfg, name, url, roots string) string {
	w.t.Helper()
	b, err := os.ReadFile(cfg)
	must(w.t, err)
	s := strings.Replace(string(b), "signing:\n", "signing:\n  timestamp_url: "+url+"\n  timestamp_roots: "+roots+"\n", 1)
	out := filepath.Join(w.dir, name)
	must(w.t, os.WriteFile(out, []byte(s), 0o644))
	return out
}

// Trusted time through the command, on a folder and on versitygw: export
// with signing.timestamp_url stamps each checkpoint; verify prints and
// reports (--json checkpoint.timestamp) the attested time; an authority
// that is down fails the export; a bad roots file is a usage error naming
// its key.
func TestTimestampCLI(t *testing.T) {
	env := testenv.TSA(t)
	for _, kind := range []string{"fs", "versitygw"} {
		t.Run(kind, func(t *testing.T) {
			w := newWitnessed(t, kind)
			cfg := w.withTimestamps(w.cfg, "stamped.yaml", env.URL, env.Roots)
			before := time.Now().Add(-2 * time.Second)
			w.export(cfg, "edge", 2, 0)

			code, out, errs := w.run("verify", "-c", cfg, "--stream", "edge", "--json")
			var v struct {
				Problems   []json.RawMessage `json:"problems"`
				Checkpoint struct {
					Size      uint64 `json:"size"`
					Timestamp *struct {
						Size      uint64    `json:"size"`
						Time      time.Time `json:"time"`
						Authority string    `json:"authority"`
					} `json:"timestamp"`
					Timestamped int `json:"timestamped"`
				} `json:"checkpoint"`
			}
			must(t, json.Unmarshal([]byte(out), &v))
			ts := v.Checkpoint.Timestamp
			if code != 0 || ts == nil || ts.Size != 2 || ts.Time.Before(before) || ts.Time.After(time.Now()) || v.Checkpoint.Timestamped != 2 {
				t.Fatalf("verify --json: exit %d, %s; %s", code, out, errs)
			}
			code, out, _ = w.run("verify", "-c", cfg, "--stream", "edge")
			if code != 0 || !strings.Contains(out, "checkpoint 2 time-stamped at "+ts.Time.Format(time.RFC3339)+" by ") {
				t.Fatalf("verify: exit %d:\n%s", code, out)
			}

			// The authority down: the export fails, naming the time-stamp.
			down := w.withTimestamps(w.cfg, "down.yaml", "http://127.0.0.1:9/", env.Roots)
			code, _, errs = w.run("export", "-c", down, "--stream", "edge")
			if code != cli.ExitIncomplete || !strings.Contains(errs, "not time-stamped") {
				t.Fatalf("export with the authority down: exit %d: %s", code, errs)
			}
			// ... and verify says which checkpoint lacks its token.
			if code, v := w.verifyJSON("-c", cfg); code != cli.ExitProblems || kindsOf(v) != "timestamp_missing" {
				t.Fatalf("after the failed run: exit %d, %s", code, kindsOf(v))
			}

			// Roots that are not certificates: exit 2, naming the key.
			bad := filepath.Join(w.dir, "bad.pem")
			must(t, os.WriteFile(bad, []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), 0o600))
			code, _, errs = w.run("verify", "-c", w.withTimestamps(w.cfg, "bad.yaml", env.URL, bad), "--stream", "edge")
			if code != cli.ExitUsage || !strings.Contains(errs, "signing.timestamp_roots") {
				t.Fatalf("bad roots: exit %d: %s", code, errs)
			}
		})
	}
}

// config check reads signing.timestamp_roots: a file that is missing or
// not certificates is a problem at that key (exit 2); a good one passes.
func TestConfigCheckTimestampRoots(t *testing.T) {
	h, _ := setup(t)
	dir := h.dir
	cfg := func(roots string) string {
		p := filepath.Join(dir, "c.yaml")
		must(t, os.WriteFile(p, []byte("store: {url: 'file://"+dir+"/archive'}\nsigning:\n  key: file://"+dir+"/key.pem\n  timestamp_url: https://tsa.example/\n  timestamp_roots: "+roots+"\nstreams: [{name: s, source: {type: dir, path: logs}}]\n"), 0o644))
		return p
	}
	for _, roots := range []string{"missing.pem", "key.pem"} {
		code, out, _ := h.run("config", "check", "-c", cfg(roots))
		if code != cli.ExitUsage || !strings.Contains(out, "signing.timestamp_roots") {
			t.Fatalf("%s: exit %d: %s", roots, code, out)
		}
	}
	// A real certificate.
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "root"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	must(t, err)
	must(t, os.WriteFile(filepath.Join(dir, "roots.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644))
	if code, out, errs := h.run("config", "check", "-c", cfg("roots.pem")); code != 0 {
		t.Fatalf("good roots: exit %d: %s %s", code, out, errs)
	}
}
