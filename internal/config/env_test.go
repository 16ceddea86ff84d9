package config

import (
	"strings"
	"testing"
	"time"
)

func TestExpand(t *testing.T) {
	env := lookupIn(map[string]string{"A": "alpha", "B_2": "beta", "EMPTY": ""})
	tests := []struct {
		name, in, want, wantErr string
	}{
		{name: "no reference", in: "plain", want: "plain"},
		{name: "empty", in: "", want: ""},
		{name: "whole value", in: "${A}", want: "alpha"},
		{name: "several references", in: "x${A}-${B_2}y", want: "xalpha-betay"},
		{name: "defined but empty", in: "[${EMPTY}]", want: "[]"},
		{name: "escaped dollar", in: "cost $$5", want: "cost $5"},
		{name: "escaped reference", in: "$${A}", want: "${A}"},
		{name: "escape then reference", in: "$$${A}", want: "$alpha"},
		{name: "bare dollar name is kept", in: "$A and $", want: "$A and $"},
		{name: "lone dollar before brace close", in: "a$}", want: "a$}"},
		{name: "undefined", in: "${NOPE}", wantErr: "environment variable NOPE is not set"},
		{name: "unterminated", in: "${A", wantErr: "unterminated ${ reference"},
		{name: "empty name", in: "${}", wantErr: "malformed ${...} reference"},
		{name: "name starting with a digit", in: "${1A}", wantErr: "malformed ${...} reference"},
		{name: "default syntax is not supported", in: "${A:-x}", wantErr: "malformed ${...} reference"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := expand(tt.in, env)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("expand(%q) = %q, %v; want error %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("expand(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestParseExpandsValuesNotKeys(t *testing.T) {
	t.Setenv("LK_BUCKET", "archive")
	t.Setenv("LK_CONCURRENCY", "12")
	t.Setenv("LK_PATH_STYLE", "true")
	t.Setenv("LK_WINDOW", "15m")
	t.Setenv("LK_TEAM", "blue")
	t.Setenv("LK_KEY", "expanded-key")
	t.Setenv("LK_SECRET", "Pa55-${not-expanded-twice}")
	doc := `store:
  url: s3://${LK_BUCKET}/logs
  concurrency: ${LK_CONCURRENCY}
  path_style: ${LK_PATH_STYLE}
  sse_kms_key_id: alias/k
  encryption_context:
    ${LK_KEY}: team-${LK_TEAM}
    price: $$5
signing:
  key: file:///etc/key.pem
streams:
  - name: e
    window: ${LK_WINDOW}
    source:
      type: genesys-edge
      region: mypurecloud.com
      client_id: id
      client_secret: ${LK_SECRET}
`
	cfg, err := Parse([]byte(doc), "/")
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Store
	if s.Bucket != "archive" || s.Concurrency != 12 || !s.PathStyle {
		t.Errorf("store = %+v", s)
	}
	wantCtx := map[string]string{"${LK_KEY}": "team-blue", "price": "$5"}
	if len(s.EncryptionContext) != 2 || s.EncryptionContext["${LK_KEY}"] != wantCtx["${LK_KEY}"] || s.EncryptionContext["price"] != "$5" {
		t.Errorf("encryption_context = %v, want %v (keys are not expanded)", s.EncryptionContext, wantCtx)
	}
	if cfg.Streams[0].Window != 15*time.Minute {
		t.Errorf("window = %v", cfg.Streams[0].Window)
	}
	if got := cfg.Streams[0].Source.ClientSecret.Reveal(); got != "Pa55-${not-expanded-twice}" {
		t.Errorf("client_secret = %q: a variable's value must not be expanded again", got)
	}
}

func TestParseUndefinedVariable(t *testing.T) {
	doc := okStore + okSigning + `streams:
  - name: e
    source:
      type: genesys-edge
      region: mypurecloud.com
      client_id: ${GENESYS_CLIENT_ID}
      client_secret: ${LK_UNSET_SECRET}
`
	_, err := parseTest(t, doc)
	want := "streams[0].source.client_secret: environment variable LK_UNSET_SECRET is not set (line 11)"
	if err == nil || err.Error() != want {
		t.Errorf("error = %v\nwant %s", err, want)
	}
}

// TestParseHidesExpandedValues: a value read from the environment may be a
// secret, so a message about it shows the reference, not the value.
func TestParseHidesExpandedValues(t *testing.T) {
	env := lookupIn(map[string]string{"TOKEN": "tok-9f8e7d", "MODE": "tok-9f8e7d"})
	doc := `store:
  url: s3://bkt
  concurrency: ${TOKEN}
  object_lock: {mode: "${MODE}", retain_days: 1}
` + okSigning + okStreams
	_, err := parse([]byte(doc), "/", env)
	want := []string{
		`store.concurrency: must be an integer, got the expansion of "${TOKEN}" (line 3)`,
		`store.object_lock.mode: must be GOVERNANCE or COMPLIANCE, got the expansion of "${MODE}" (line 4)`,
	}
	if got := problems(err); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
