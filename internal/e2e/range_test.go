package e2e

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/logkeeper/logkeeper/custody"
	"github.com/logkeeper/logkeeper/internal/testenv"
	"github.com/logkeeper/logkeeper/manifest"
)

// testRanges checks the accounting of a verify over part of the chain:
// an empty selection is an error (the command's usage error), and the
// manifest before --from is read and its link into the range checked.
func testRanges(t *testing.T, newHarness func(t *testing.T) (*harness, tamperer)) {
	verify := func(h *harness, from, to uint64) (*custody.Report, error) {
		return custody.Verify(context.Background(), h.st, h.stream, custody.VerifyOptions{PublicKey: h.signer.Public(), From: from, To: to})
	}
	t.Run("empty selections", func(t *testing.T) {
		h, _ := newHarness(t)
		archive(t, h, 1<<10)
		for _, r := range [][2]uint64{{5, 0}, {4, 0}, {3, 2}} {
			if _, err := verify(h, r[0], r[1]); !errors.Is(err, custody.ErrRange) {
				t.Errorf("from %d to %d: want ErrRange, got %v", r[0], r[1], err)
			}
		}
	})
	for _, tc := range []struct {
		name   string
		tamper func(t *testing.T, h *harness, tp tamperer)
		kind   string
	}{
		{"predecessor deleted", func(t *testing.T, h *harness, tp tamperer) { tp.remove(t, manifest.Key(h.stream, 1)) }, custody.KindManifestMissing},
		{"predecessor garbage", func(t *testing.T, h *harness, tp tamperer) {
			tp.overwrite(t, manifest.Key(h.stream, 1), []byte("garbage"))
		}, custody.KindManifestInvalid},
		{"predecessor replaced", func(t *testing.T, h *harness, tp tamperer) {
			tp.overwrite(t, manifest.Key(h.stream, 1), append(tp.read(t, manifest.Key(h.stream, 1)), ' '))
		}, custody.KindChainBroken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, tp := newHarness(t)
			archive(t, h, 1<<10)
			tc.tamper(t, h, tp)
			rep, err := verify(h, 2, 0)
			if err != nil {
				t.Fatal(err)
			}
			// Manifest 2's link cannot be checked (or does not match): only 3 is valid.
			got := slices.Sorted(slices.Values(kinds(rep)))
			want := []string{tc.kind}
			if !slices.Equal(got, want) || rep.ManifestsChecked != 2 || rep.ManifestsValid != 1 || rep.ObjectsChecked != 3 || rep.ObjectsValid != 3 {
				t.Fatalf("from 2: kinds %v (want %v), manifests %d/%d, objects %d/%d (want 1/2, 3/3)",
					got, want, rep.ManifestsValid, rep.ManifestsChecked, rep.ObjectsValid, rep.ObjectsChecked)
			}
		})
	}
}

func TestRangesFS(t *testing.T) {
	testRanges(t, func(t *testing.T) (*harness, tamperer) {
		root := t.TempDir()
		return &harness{t: t, st: newFSAt(t, root), signer: fixedSigner(t, 1), src: t.TempDir(), stream: "edge"}, fsTamperer{root}
	})
}

func TestRangesS3(t *testing.T) {
	env := testenv.S3(t)
	testRanges(t, func(t *testing.T) (*harness, tamperer) {
		bucket := env.NewBucket(t, false)
		h := &harness{t: t, st: newS3(t, env, bucket), signer: fixedSigner(t, 1), src: t.TempDir(), stream: "edge"}
		return h, s3Tamperer{client: env.Client(), bucket: bucket}
	})
}
