package config

import (
	"bytes"
	"flag"
	"os"
	"testing"
)

var updateREADME = flag.Bool("update-readme", false, "rewrite the README's configuration block from testdata/valid.yaml")

const readmePath = "../../README.md"

// readmeMarker introduces the README's configuration reference block.
const readmeMarker = "Every key, with its default (this file is `internal/config/testdata/valid.yaml`,\nwhich the tests load):\n\n```yaml\n"

// The README's configuration reference is testdata/valid.yaml, byte for
// byte, so the documentation cannot drift from what the tests load
// (go test ./internal/config -run TestREADME -update-readme rewrites it).
// Every other YAML block of the README parses too.
func TestREADMEConfiguration(t *testing.T) {
	readme, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	valid := readTestdata(t, "valid.yaml")
	start := bytes.Index(readme, []byte(readmeMarker))
	if start < 0 {
		t.Fatalf("README lacks the configuration block introduced by %q", readmeMarker)
	}
	start += len(readmeMarker)
	end := bytes.Index(readme[start:], []byte("```\n"))
	if end < 0 {
		t.Fatal("README's configuration block does not end")
	}
	block := readme[start : start+end]
	if !bytes.Equal(block, valid) {
		if *updateREADME {
			out := append(append(append([]byte{}, readme[:start]...), valid...), readme[start+end:]...)
			if err := os.WriteFile(readmePath, out, 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Fatalf("README's configuration block differs from testdata/valid.yaml; run go test ./internal/config -run TestREADME -update-readme\nREADME:\n%s", block)
	}
	// Every ```yaml block parses.
	rest := readme
	for n := 0; ; n++ {
		i := bytes.Index(rest, []byte("```yaml\n"))
		if i < 0 {
			break
		}
		rest = rest[i+len("```yaml\n"):]
		j := bytes.Index(rest, []byte("```\n"))
		if j < 0 {
			t.Fatalf("README yaml block %d does not end", n)
		}
		if _, err := parseTest(t, string(rest[:j])); err != nil {
			t.Errorf("README yaml block %d does not parse: %v\n%s", n, err, rest[:j])
		}
		rest = rest[j:]
	}
}
