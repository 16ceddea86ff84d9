package manifest

import (
	"bytes"
	"testing"
)

// FuzzParseSignature: the sidecar parser never panics, and whatever it
// accepts encodes again to a sidecar that parses to the same values.
func FuzzParseSignature(f *testing.F) {
	good, err := MarshalSignature(&Signature{
		ManifestKey:    Key("edge-logs", 1),
		ManifestSHA256: "4f2b8a54e9f5c4a40d9d8a1b07dd5d9e0f1d2c3b4a5968778695a4b3c2d1e0f9",
		Algorithm:      "ed25519",
		KeyID:          "sha256:46e9",
		Value:          bytes.Repeat([]byte{0xab}, 64),
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"schema":"logkeeper.signature/v1"}`))
	f.Add(append(bytes.Clone(good), []byte(`{}`)...))
	f.Add(bytes.Replace(good, []byte(`"signature"`), []byte(`"extra":1,"signature"`), 1))
	f.Add([]byte(`{"schema":"logkeeper.signature/v1","manifest_key":"k","manifest_sha256":"00","algorithm":"x","key_id":"y","signature":"!!"}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseSignature(data)
		if err != nil {
			if s != nil {
				t.Fatal("ParseSignature returned a signature with an error")
			}
			return
		}
		if s.Schema != SignatureSchemaV1 || s.Algorithm == "" || s.KeyID == "" || len(s.Value) == 0 || !hexSHA256.MatchString(s.ManifestSHA256) {
			t.Fatalf("accepted an incomplete signature: %+v", s)
		}
		again, err := MarshalSignature(s)
		if err != nil {
			t.Fatalf("accepted signature does not encode: %v", err)
		}
		s2, err := ParseSignature(again)
		if err != nil {
			t.Fatalf("re-encoded signature does not parse: %v\n%s", err, again)
		}
		if s2.ManifestKey != s.ManifestKey || s2.ManifestSHA256 != s.ManifestSHA256 || s2.Algorithm != s.Algorithm || s2.KeyID != s.KeyID || !bytes.Equal(s2.Value, s.Value) {
			t.Fatalf("round trip changed the signature: %+v -> %+v", s, s2)
		}
	})
}
