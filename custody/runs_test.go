package custody_test

import (
	"context"
	"testing"

	"github.com/logkeeper/logkeeper/custody"
	"github.com/logkeeper/logkeeper/internal/signing"
	"github.com/logkeeper/logkeeper/manifest"
)

// ReadRuns returns every listed manifest, in order, without judging it:
// one that does not parse comes back with its error, one whose signature
// is gone with no key id, and the others with their signer's key id.
func TestReadRunsTakesWhatIsStored(t *testing.T) {
	f := newFixture(t, 4, 1)
	f.st.PutRaw(manifest.Key("s", 2), []byte("{not a manifest"))
	f.st.Delete(context.Background(), manifest.SignatureKey(manifest.Key("s", 3), f.ms[2].RunID))
	runs, err := custody.ReadRuns(context.Background(), f.st, "s")
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 4 {
		t.Fatalf("%d runs", len(runs))
	}
	keyID, _ := signing.KeyID(f.signer.Public())
	for i, r := range runs {
		if r.Sequence != uint64(i+1) || r.Key != manifest.Key("s", r.Sequence) {
			t.Fatalf("run %d: %+v", i, r)
		}
		switch r.Sequence {
		case 2:
			if r.Manifest != nil || r.Err == nil {
				t.Fatalf("unparsable manifest: %+v", r)
			}
		case 3:
			if r.Manifest == nil || r.KeyID != "" {
				t.Fatalf("manifest without signature: %+v", r)
			}
		default:
			if r.Manifest == nil || r.Err != nil || r.KeyID != keyID {
				t.Fatalf("run %d: %+v, want key %s", r.Sequence, r, keyID)
			}
		}
	}
}
