package signing_test

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/logkeeper/logkeeper/internal/signing"
)

func TestKeySignerRedacts(t *testing.T) {
	priv := fixedEd25519(t)
	p256 := fixedP256(t)
	p256DER, _ := x509.MarshalECPrivateKey(p256)
	tests := []struct {
		name   string
		signer *signing.KeySigner
		secret [][]byte // byte strings that must never appear, in any encoding
	}{
		{"ed25519", newSigner(t, priv), [][]byte{priv.Seed(), priv}},
		{"p256", newSigner(t, p256), [][]byte{p256.D.Bytes(), p256DER}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var outputs []string
			for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T %v"} {
				outputs = append(outputs, fmt.Sprintf(verb, tt.signer))
				outputs = append(outputs, fmt.Sprintf(verb, *tt.signer))
				outputs = append(outputs, fmt.Sprintf(verb, []any{tt.signer}))
				outputs = append(outputs, fmt.Sprintf(verb, struct{ S signing.Signer }{tt.signer}))
			}
			outputs = append(outputs, tt.signer.String())
			for _, newHandler := range []func(*bytes.Buffer) slog.Handler{
				func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
				func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
			} {
				var buf bytes.Buffer
				slog.New(newHandler(&buf)).Info("loaded", "signer", tt.signer, "value", *tt.signer, "any", slog.AnyValue(tt.signer))
				outputs = append(outputs, buf.String())
			}
			j, _ := json.Marshal(tt.signer)
			outputs = append(outputs, string(j))

			for _, out := range outputs {
				for _, secret := range tt.secret {
					for _, enc := range []string{
						string(secret),
						hex.EncodeToString(secret),
						strings.ToUpper(hex.EncodeToString(secret)),
						base64.StdEncoding.EncodeToString(secret),
						fmt.Sprint(secret),
						fmt.Sprintf("%d", secret[:8]),
						strings.Trim(fmt.Sprint(secret[:8]), "[]"),
					} {
						if strings.Contains(out, enc) {
							t.Fatalf("output %q leaks the private key", out)
						}
					}
				}
			}
			if out := fmt.Sprintf("%v", tt.signer); !strings.Contains(out, tt.signer.KeyID()) {
				t.Fatalf("%%v = %q, want the key id", out)
			}
			var buf bytes.Buffer
			slog.New(slog.NewJSONHandler(&buf, nil)).Info("loaded", "signer", tt.signer)
			var rec struct {
				Signer struct {
					Algorithm string `json:"algorithm"`
					KeyID     string `json:"key_id"`
				} `json:"signer"`
			}
			if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
				t.Fatal(err)
			}
			if rec.Signer.KeyID != tt.signer.KeyID() || rec.Signer.Algorithm != tt.signer.Algorithm() {
				t.Fatalf("slog JSON = %s, want the algorithm and key id", buf.Bytes())
			}
		})
	}
}
