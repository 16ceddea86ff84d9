package e2e

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/logkeeper/logkeeper/internal/config"
	"github.com/logkeeper/logkeeper/internal/testenv"
	"github.com/logkeeper/logkeeper/service/app"
)

// encodings returns the forms a secret could leak in.
func encodings(secret []byte) []string {
	return []string{
		string(secret),
		hex.EncodeToString(secret),
		strings.ToUpper(hex.EncodeToString(secret)),
		base64.StdEncoding.EncodeToString(secret),
		base64.RawURLEncoding.EncodeToString(secret),
		fmt.Sprint(secret),
	}
}

// The command's output at debug level, text and JSON logs, over successful
// and failing exports, a deep verify, `keys public` and `config check`,
// never holds the signing key's private material, the AWS secret key or a
// Genesys client secret, in any usual encoding.
func TestSecretsNeverInOutput(t *testing.T) {
	env := testenv.S3(t)
	bin := logkeeperBinary(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	writeFile(t, src, "a/x.log", []byte("hello\n"))
	writeFile(t, src, "big.bin", randData(6<<20, 1))
	bucket := env.NewBucket(t, false)
	cfg, _ := writeCLIConfig(t, bin, dir, bucket, "edge", src)

	// A Genesys-like OAuth secret, from the environment, for a source whose
	// login server (on loopback) refuses it.
	var b [24]byte
	rand.Read(b[:])
	genesysSecret := "gs-" + hex.EncodeToString(b[:])
	var sawSecret atomic.Bool
	login := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		if _, pw, ok := r.BasicAuth(); ok && pw == genesysSecret || r.Form.Get("client_secret") == genesysSecret {
			sawSecret.Store(true)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"error":"invalid_client","description":"client authentication failed"}`)
	}))
	defer login.Close()
	yaml, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	yaml = append(yaml, fmt.Sprintf(`  - name: audit
    source:
      type: genesys-audit
      api_url: %s
      login_url: %s
      client_id: logkeeper-test
      client_secret: ${GENESYS_CLIENT_SECRET}
      service_name: Architect
`, login.URL, login.URL)...)
	if err := os.WriteFile(cfg, yaml, 0o600); err != nil {
		t.Fatal(err)
	}

	// The private key as it is on disk, as PEM body lines, and raw.
	keyPEM, err := os.ReadFile(filepath.Join(dir, "key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(keyPEM)
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	priv := parsed.(ed25519.PrivateKey)
	secrets := map[string][]string{
		"AWS secret key":        encodings([]byte(env.SecretKey)),
		"Genesys client secret": encodings([]byte(genesysSecret)),
		"signing key seed":      encodings(priv.Seed()),
		"signing key DER":       encodings(block.Bytes),
		"signing key PEM":       {strings.TrimSpace(string(keyPEM))},
	}
	for _, line := range strings.Split(string(keyPEM), "\n") {
		if len(line) >= 16 && !strings.HasPrefix(line, "-----") {
			secrets["signing key PEM"] = append(secrets["signing key PEM"], line)
		}
	}

	cenv := append(cliEnv(env), "GENESYS_CLIENT_SECRET="+genesysSecret)
	badAWS := append(cliEnv(env), "GENESYS_CLIENT_SECRET="+genesysSecret)
	for i, kv := range badAWS {
		if strings.HasPrefix(kv, "AWS_SECRET_ACCESS_KEY=") {
			badAWS[i] = "AWS_SECRET_ACCESS_KEY=" + env.SecretKey + "x"
		}
	}
	secrets["rejected AWS secret key"] = encodings([]byte(env.SecretKey + "x"))
	runs := []struct {
		name     string
		env      []string
		args     []string
		wantFail bool
	}{
		{"export text logs", cenv, []string{"export", "-c", cfg, "--stream", "edge", "--log-level", "debug", "--log-format", "text"}, false},
		{"export json logs", cenv, []string{"export", "-c", cfg, "--stream", "edge", "--log-level", "debug", "--log-format", "json", "--json"}, false},
		{"verify deep", cenv, []string{"verify", "-c", cfg, "--stream", "edge", "--deep", "--log-level", "debug", "--json"}, false},
		{"export refused credentials", badAWS, []string{"export", "-c", cfg, "--stream", "edge", "--log-level", "debug"}, true},
		{"export genesys refused", cenv, []string{"export", "-c", cfg, "--stream", "audit", "--log-level", "debug"}, true},
		{"keys public", cenv, []string{"keys", "public", "-c", cfg}, false},
		{"config check", cenv, []string{"config", "check", "-c", cfg}, false},
	}
	var all bytes.Buffer
	for _, r := range runs {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		cmd := exec.CommandContext(ctx, bin, r.args...)
		cmd.Env = r.env
		out, err := cmd.CombinedOutput()
		cancel()
		if (err != nil) != r.wantFail {
			t.Errorf("%s: exit %v, want failure %v\n%s", r.name, err, r.wantFail, out)
		}
		fmt.Fprintf(&all, "== %s\n%s\n", r.name, out)
		for what, forms := range secrets {
			for _, f := range forms {
				if f != "" && bytes.Contains(out, []byte(f)) {
					t.Errorf("%s: the %s appears in the output:\n%s", r.name, what, out)
				}
			}
		}
	}
	if !sawSecret.Load() {
		t.Errorf("the Genesys login server never received the client secret: the test did not exercise it\n%s", all.String())
	}
	if !strings.Contains(all.String(), "file archived") {
		t.Errorf("no debug log line in the output: the test did not see debug logs\n%s", all.String())
	}
	if t.Failed() {
		t.Logf("all output:\n%s", all.String())
	}
}

// `logkeeper keys generate` writes the private key 0600 and the public key
// 0644 even under a umask that would let everyone read both.
func TestKeyFileModesFromCommand(t *testing.T) {
	bin := logkeeperBinary(t)
	dir := t.TempDir()
	key := filepath.Join(dir, "signing.pem")
	out, err := exec.Command("sh", "-c", `umask 000 && exec "$0" keys generate --out "$1"`, bin, key).CombinedOutput()
	if err != nil {
		t.Fatalf("keys generate: %v\n%s", err, out)
	}
	for p, want := range map[string]os.FileMode{key: 0o600, key + ".pub": 0o644} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode().Perm(), want)
		}
	}
	for _, e := range []string{".tmp"} {
		m, _ := filepath.Glob(filepath.Join(dir, "*"+e+"*"))
		if len(m) > 0 {
			t.Errorf("temporary files left: %v", m)
		}
	}
}

// A plain-http S3 endpoint off loopback is refused when the store is
// opened (before any request), unless the configuration allows it; on
// loopback it is accepted. No request is made.
func TestPlainHTTPEndpointPolicy(t *testing.T) {
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	dir := t.TempDir()
	tests := []struct {
		name      string
		endpoint  string
		allowHTTP bool
		wantErr   bool
	}{
		{"remote http refused", "http://s3.example.invalid:9000", false, true},
		{"private-range address http refused", "http://10.1.2.3:9000", false, true},
		{"remote http allowed explicitly", "http://s3.example.invalid:9000", true, false},
		{"loopback http", "http://127.0.0.1:9000", false, false},
		{"localhost http", "http://localhost:9000", false, false},
		{"ipv6 loopback http", "http://[::1]:9000", false, false},
		{"remote https", "https://s3.example.invalid", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("AWS_ENDPOINT_URL_S3", tt.endpoint)
			yaml := fmt.Sprintf("store:\n  url: s3://bucket/prefix\n  path_style: true\n  allow_http: %v\nsigning:\n  key: file://%s/key.pem\nstreams:\n  - name: s\n    source: {type: dir, path: %s}\n", tt.allowHTTP, dir, dir)
			c, err := config.Parse([]byte(yaml), dir)
			if err != nil {
				t.Fatal(err)
			}
			_, err = app.OpenStore(context.Background(), c)
			switch {
			case tt.wantErr && (err == nil || !strings.Contains(err.Error(), "plain http")):
				t.Fatalf("OpenStore with %s: %v, want a plain-http refusal", tt.endpoint, err)
			case !tt.wantErr && err != nil:
				t.Fatalf("OpenStore with %s: %v", tt.endpoint, err)
			}
		})
	}
}
