package signing

import (
	"strings"
	"testing"
)

func FuzzParsePrivateKeyPEM(f *testing.F) {
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIAABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f\n-----END PRIVATE KEY-----\n"))
	f.Add([]byte("-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8goAoGCCqGSM49\nAwEHoUQDQgAEUVw9brnjlrkE0/7Kf1T9zQzB6Ze/N13KUVrQpsO0A19FNr46UPMY\n+/mlR1kCoiFQK+8NV+CMU7LMClbxfZ+TVA==\n-----END EC PRIVATE KEY-----\n"))
	f.Add([]byte("-----BEGIN ENCRYPTED PRIVATE KEY-----\n-----END ENCRYPTED PRIVATE KEY-----\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := parsePrivateKeyPEM(data)
		if err != nil {
			if strings.ContainsRune(err.Error(), '\n') {
				t.Fatalf("error spans lines: %q", err)
			}
			return
		}
		if _, err := AlgorithmFor(s.Public()); err != nil {
			t.Fatalf("parsed key is not supported: %v", err)
		}
	})
}
