package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestSecretRedaction(t *testing.T) {
	const value = "hunter2-value"
	s := Secret(value)
	if s.Reveal() != value {
		t.Fatalf("Reveal() = %q", s.Reveal())
	}
	src := Source{Type: SourceGenesysAudit, ClientID: "id", ClientSecret: s}
	var outputs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10.3s", "%t"} {
		outputs = append(outputs, fmt.Sprintf(verb, s), fmt.Sprintf(verb, src), fmt.Sprintf(verb, &src))
	}
	outputs = append(outputs, s.String(), s.GoString(), fmt.Sprint(s), fmt.Sprintln(s), s.LogValue().String())
	j, err := json.Marshal(src)
	if err != nil {
		t.Fatal(err)
	}
	y, err := yaml.Marshal(src)
	if err != nil {
		t.Fatal(err)
	}
	text, _ := s.MarshalText()
	outputs = append(outputs, string(j), string(y), string(text))
	for _, out := range outputs {
		if strings.Contains(out, value) || !strings.Contains(out, redacted) {
			t.Errorf("printed as %q, want %s and no secret", out, redacted)
		}
	}
	if !strings.Contains(string(j), `"ClientSecret":"[REDACTED]"`) {
		t.Errorf("JSON = %s", j)
	}
}

// TestSecretsStayOutOfLogs dumps a whole parsed Config with slog.
func TestSecretsStayOutOfLogs(t *testing.T) {
	cfg, err := parse(readTestdata(t, "valid.yaml"), "/", lookupIn(testEnv))
	if err != nil {
		t.Fatal(err)
	}
	secret := testEnv["GENESYS_CLIENT_SECRET"]
	if cfg.Streams[1].Source.ClientSecret.Reveal() != secret {
		t.Fatal("the test config does not hold the secret")
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", "config", cfg, "source", cfg.Streams[1].Source,
		"secret", cfg.Streams[1].Source.ClientSecret)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("config", "config", cfg, "source", cfg.Streams[1].Source,
		"secret", cfg.Streams[1].Source.ClientSecret)
	out := buf.String()
	if strings.Contains(out, secret) {
		t.Errorf("log output holds the secret:\n%s", out)
	}
	if !strings.Contains(out, `"ClientSecret":"[REDACTED]"`) || !strings.Contains(out, "secret=[REDACTED]") {
		t.Errorf("log output does not show [REDACTED]:\n%s", out)
	}
	if !strings.Contains(out, `"ClientID":"client-123"`) {
		t.Errorf("log output lost the rest of the config:\n%s", out)
	}
}

// TestSecretsStayOutOfErrors puts bad values next to secrets, and secrets
// where they do not belong, and checks no error message holds one.
func TestSecretsStayOutOfErrors(t *testing.T) {
	const literal = "LiteralSecret-77"
	const fromEnv = "EnvSecret-88"
	env := lookupIn(map[string]string{"GENESYS_CLIENT_ID": "id", "GENESYS_CLIENT_SECRET": fromEnv})
	docs := map[string]string{
		"bad values next to a literal secret": okStore + okSigning + `streams:
  - name: e
    source:
      type: genesys-edge
      region: not a domain
      client_id: id
      client_secret: ` + literal + `
      max_concurrency: lots
      edges: ["", x, x]
`,
		"bad values next to a secret from the environment": okStore + okSigning + `streams:
  - name: E!
    schedule: nonsense
    source:
      type: genesys-audit
      api_url: http://example.com
      client_id: ${GENESYS_CLIENT_ID}
      client_secret: ${GENESYS_CLIENT_SECRET}
      max_concurrency: 0
`,
		"secret under a dir source": okStore + okSigning + `streams:
  - name: d
    source: {type: dir, client_secret: ` + literal + `}
`,
		"secret where a number goes":          "store:\n  url: s3://bkt\n  concurrency: ${GENESYS_CLIENT_SECRET}\n" + okSigning + okStreams,
		"secret where a duration goes":        okStore + okSigning + okStreams + "daemon: {lease_ttl: '${GENESYS_CLIENT_SECRET}'}\n",
		"secret where a mode goes":            "store:\n  url: s3://bkt\n  object_lock: {mode: '${GENESYS_CLIENT_SECRET}'}\n" + okSigning + okStreams,
		"secret in a store url":               "store:\n  url: 's3://AKIA:" + literal + "@bkt/${GENESYS_CLIENT_SECRET}'\n" + okSigning + okStreams,
		"secret in a url that does not parse": "store:\n  url: 's3://" + literal + "%zz'\n" + okSigning + okStreams,
		"password with a slash in a url":      "store:\n  url: 's3://AKIA:" + literal + "/x@bkt'\n" + okSigning + okStreams,
		"url from the environment":            "store:\n  url: 's3://bkt/${GENESYS_CLIENT_SECRET}%zz'\n" + okSigning + okStreams,
		"secret in a genesys url": okStore + okSigning + `streams:
  - name: e
    source: {type: genesys-edge, api_url: 'https://u:` + literal + `@h', login_url: 'ftp://` + literal + `', client_id: i, client_secret: s}
`,
		"secret of the wrong type": okStore + okSigning + `streams:
  - name: e
    source: {type: genesys-edge, region: mypurecloud.com, client_id: i, client_secret: [` + literal + `]}
`,
	}
	for name, doc := range docs {
		t.Run(name, func(t *testing.T) {
			_, err := parse([]byte(doc), "/", env)
			if err == nil {
				t.Fatal("parse succeeded, want errors")
			}
			for _, line := range problems(err) {
				if strings.Contains(line, literal) || strings.Contains(line, fromEnv) {
					t.Errorf("error shows a secret: %s", line)
				}
			}
			t.Log(err)
		})
	}
}
