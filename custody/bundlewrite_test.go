package custody_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/logkeeper/logkeeper/custody"
)

// TestBundleLongChain: the chain is read a batch of manifests at a time,
// keeping only those in the range. A bundle over a chain of several
// batches selects exactly the runs in its range, and a broken link in
// another batch than the range is still refused.
func TestBundleLongChain(t *testing.T) {
	f := newFixture(t, 40, 1)
	ctx := context.Background()
	opts := func(out string) custody.BundleOptions {
		return custody.BundleOptions{Matter: "M-1", From: f.ms[34].Window.Start, To: f.ms[35].Window.End,
			Out: filepath.Join(t.TempDir(), out), PublicKey: f.signer.Public(), Actor: "t"}
	}
	res, err := custody.WriteBundle(ctx, f.st, "s", opts("b"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Manifests != 2 || res.Files != 2 {
		t.Fatalf("bundle of runs 35 and 36 of 40: %d manifests, %d files", res.Manifests, res.Files)
	}
	b := f.st.Bytes(mkey(5))
	f.st.PutRaw(mkey(5), bytes.Replace(b, []byte(`"host": "t"`), []byte(`"host": "u"`), 1))
	_, err = custody.WriteBundle(ctx, f.st, "s", opts("c"))
	if !errors.Is(err, custody.ErrChainBroken) || !strings.Contains(err.Error(), mkey(6)) {
		t.Fatalf("bundle after manifest 5 was rewritten: %v, want the broken link at %s", err, mkey(6))
	}
}
