package e2e

import (
	"context"
	"slices"
	"testing"

	"github.com/logkeeper/logkeeper/custody"
	"github.com/logkeeper/logkeeper/manifest"
)

// counts are a verify report's exact numbers: manifests checked and valid,
// objects checked and valid.
type counts struct{ mc, mv, oc, ov int }

// expectation is what verify must report for a scenario of the tamper
// matrix: the exact problem kinds (sorted) by store flavor ("" for every
// store; "fs", "s3" unversioned, "s3v" versioned), the exact counts and
// the orphans. The archive holds 3 manifests listing 3, 1 and 2 objects.
type expectation struct {
	kinds   map[string][]string
	counts  counts
	orphans int
}

func all(kinds ...string) map[string][]string { return map[string][]string{"": kinds} }

var tamperExpect = map[string]expectation{
	"object byte flipped":              {kinds: map[string][]string{"fs": {"object_hash_mismatch"}, "s3": {"object_checksum_mismatch", "object_hash_mismatch"}, "s3v": {"object_superseded"}}, counts: counts{3, 3, 6, 5}},
	"small object byte flipped":        {kinds: map[string][]string{"fs": {"object_hash_mismatch"}, "s3": {"object_checksum_mismatch"}, "s3v": {"object_superseded"}}, counts: counts{3, 3, 6, 5}},
	"object deleted":                   {kinds: all("object_missing"), counts: counts{3, 3, 6, 5}},
	"object replaced by a new version": {kinds: all("object_superseded"), counts: counts{3, 3, 6, 5}},
	"delete marker over an object":     {kinds: all("object_delete_marker"), counts: counts{3, 3, 6, 5}},
	"manifest byte flipped":            {kinds: all("chain_link_mismatch", "signature_invalid"), counts: counts{3, 1, 6, 6}},
	// Manifest 2's object is no longer listed by any manifest: it and the
	// signature of run 2 are orphans; manifest 3's link cannot be checked.
	"manifest deleted in the middle": {kinds: all("manifest_missing"), counts: counts{3, 1, 5, 5}, orphans: 2},
	"two manifests swapped": {kinds: all("chain_link_mismatch", "manifest_misplaced", "manifest_misplaced", "signature_missing", "signature_missing", "window_gap"),
		counts: counts{3, 0, 6, 6}, orphans: 2},
	"manifest re-signed with another key":         {kinds: all("signature_wrong_key"), counts: counts{3, 2, 6, 6}},
	"signature removed":                           {kinds: all("signature_missing"), counts: counts{3, 2, 6, 6}},
	"forged manifest appended with a foreign key": {kinds: all("signature_wrong_key", "window_gap"), counts: counts{4, 3, 6, 6}},
	"object list reordered":                       {kinds: all("chain_link_mismatch", "merkle_root_mismatch", "signature_invalid"), counts: counts{3, 1, 6, 6}},
	"merkle root altered":                         {kinds: all("merkle_root_mismatch", "signature_invalid"), counts: counts{3, 2, 6, 6}},
	"encryption context altered":                  {kinds: all("chain_link_mismatch", "signature_invalid"), counts: counts{3, 1, 6, 6}},
	// Sequence 3 is missing, 4 holds 3's bytes; 3's signature is an orphan.
	"sequence number skipped": {kinds: all("manifest_misplaced", "manifest_missing", "signature_invalid"), counts: counts{4, 2, 6, 6}, orphans: 1},
	"recorded size changed": {kinds: map[string][]string{
		"fs":  {"chain_link_mismatch", "merkle_root_mismatch", "object_hash_mismatch", "object_size_mismatch", "signature_invalid", "totals_mismatch"},
		"s3":  {"chain_link_mismatch", "merkle_root_mismatch", "object_size_mismatch", "signature_invalid", "totals_mismatch"},
		"s3v": {"chain_link_mismatch", "merkle_root_mismatch", "object_size_mismatch", "signature_invalid", "totals_mismatch"},
	}, counts: counts{3, 1, 6, 5}},
	"object byte flipped, fast verify":                           {kinds: map[string][]string{"fs": {"object_hash_mismatch"}, "s3": {"object_checksum_mismatch"}, "s3v": {"object_superseded"}}, counts: counts{3, 3, 6, 5}},
	"object replaced with a valid SHA-256 checksum, fast verify": {kinds: map[string][]string{"fs": {"object_hash_mismatch"}, "s3": {"object_checksum_mismatch"}, "s3v": {"object_superseded"}}, counts: counts{3, 3, 6, 5}},
	"object truncated, fast verify":                              {kinds: map[string][]string{"fs": {"object_hash_mismatch", "object_size_mismatch"}, "s3": {"object_checksum_mismatch", "object_size_mismatch"}, "s3v": {"object_superseded"}}, counts: counts{3, 3, 6, 5}},
	"signature taken from another manifest":                      {kinds: all("signature_invalid"), counts: counts{3, 2, 6, 6}},
	// Issue 8: provenance and bounds, on every store.
	"object slipped into a run's folder":                  {kinds: all(custody.KindObjectUnclaimed), counts: counts{3, 3, 6, 6}},
	"object outside any run's folder":                     {kinds: all(custody.KindObjectUnclaimed, custody.KindObjectUnclaimed), counts: counts{3, 3, 6, 6}},
	"objects of a crashed run":                            {kinds: all(), counts: counts{3, 3, 6, 6}, orphans: 3},
	"manifest named with the largest sequence":            {kinds: all(custody.KindManifestUnexpected), counts: counts{3, 3, 6, 6}},
	"odd keys among the manifests":                        {kinds: all(custody.KindManifestUnexpected, custody.KindManifestUnexpected), counts: counts{3, 3, 6, 6}},
	"manifest of the same key's chain from another store": {kinds: all(custody.KindStoreMismatch, custody.KindStoreMismatch), counts: counts{3, 1, 6, 6}},
}

// Scenarios of issue 8 that apply to every store.
func init() {
	scenarios = append(scenarios,
		scenario{name: "object slipped into a run's folder",
			tamper: func(t *testing.T, h *harness, tp tamperer, ms []*manifest.Manifest) {
				tp.overwrite(t, manifest.ObjectsPrefix(h.stream, ms[1].RunID)+"planted.log", []byte("planted\n"))
			}},
		scenario{name: "object outside any run's folder",
			tamper: func(t *testing.T, h *harness, tp tamperer, ms []*manifest.Manifest) {
				tp.overwrite(t, h.stream+"/objects/loose.log", []byte("x"))
				tp.overwrite(t, h.stream+"/notes.txt", []byte("x"))
			}},
		scenario{name: "objects of a crashed run",
			tamper: func(t *testing.T, h *harness, tp tamperer, ms []*manifest.Manifest) {
				tp.overwrite(t, manifest.ObjectsPrefix(h.stream, "crashed-run")+"a.log", []byte("a"))
				tp.overwrite(t, manifest.ObjectsPrefix(h.stream, "crashed-run")+"sub/b.log", []byte("b"))
				tp.overwrite(t, manifest.SignatureKey(manifest.Key(h.stream, 4), "crashed-run"), []byte("{}"))
			}},
		scenario{name: "manifest named with the largest sequence",
			tamper: func(t *testing.T, h *harness, tp tamperer, ms []*manifest.Manifest) {
				tp.overwrite(t, manifest.Key(h.stream, 18446744073709551615), tp.read(t, manifest.Key(h.stream, 3)))
			}},
		scenario{name: "odd keys among the manifests",
			tamper: func(t *testing.T, h *harness, tp tamperer, ms []*manifest.Manifest) {
				tp.overwrite(t, manifest.Key(h.stream, 2)+".bak", tp.read(t, manifest.Key(h.stream, 2)))
				tp.overwrite(t, h.stream+"/manifests/3.json", tp.read(t, manifest.Key(h.stream, 3)))
			}},
		// Manifests 2 and 3 replaced by ones signed with the same key but
		// naming another store: a stream copied over from elsewhere.
		scenario{name: "manifest of the same key's chain from another store",
			tamper: func(t *testing.T, h *harness, tp tamperer, ms []*manifest.Manifest) {
				for seq := uint64(2); seq <= 3; seq++ {
					resignEdited(t, h, tp, seq, func(m *manifest.Manifest) { m.Store = "s3://another-bucket/prefix" })
				}
			}},
	)
}

// flavorOf names the store a tamperer works on.
func flavorOf(tp tamperer) string {
	switch {
	case !isS3(tp):
		return "fs"
	case tp.versioned():
		return "s3v"
	default:
		return "s3"
	}
}

func isS3(tp tamperer) bool { _, ok := tp.(s3Tamperer); return ok }

// checkExpected asserts the exact kinds, counts and orphans of a scenario.
func checkExpected(t *testing.T, name, flavor string, rep *custody.Report) {
	t.Helper()
	want, ok := tamperExpect[name]
	if !ok {
		t.Fatalf("no expectation for scenario %q", name)
	}
	kinds, ok := want.kinds[flavor]
	if !ok {
		kinds = want.kinds[""]
	}
	got := slices.Sorted(slices.Values(kindsOf(rep)))
	if !slices.Equal(got, kinds) {
		t.Fatalf("%s on %s: kinds %v, want %v; problems %v", name, flavor, got, kinds, rep.Problems)
	}
	if c := (counts{rep.ManifestsChecked, rep.ManifestsValid, rep.ObjectsChecked, rep.ObjectsValid}); c != want.counts {
		t.Fatalf("%s on %s: counts (manifests checked, valid, objects checked, valid) %v, want %v; problems %v", name, flavor, c, want.counts, rep.Problems)
	}
	if rep.Orphans != want.orphans {
		t.Fatalf("%s on %s: orphans %d %v, want %d", name, flavor, rep.Orphans, rep.OrphanKeys, want.orphans)
	}
}

func kindsOf(rep *custody.Report) []string { return kinds(rep) }

// resignEdited edits manifest seq with fn, links it to the stored bytes of
// seq-1 and signs it with the archive's own key, as someone holding the
// key and copying a chain from another store would.
func resignEdited(t *testing.T, h *harness, tp tamperer, seq uint64, fn func(m *manifest.Manifest)) {
	key := manifest.Key(h.stream, seq)
	m, err := manifest.Parse(tp.read(t, key))
	if err != nil {
		t.Fatal(err)
	}
	fn(m)
	if seq > 1 {
		prevKey := manifest.Key(h.stream, seq-1)
		m.Previous = &manifest.Link{Key: prevKey, SHA256: manifest.SHA256(tp.read(t, prevKey))}
	}
	raw, err := manifest.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	v, err := h.signer.Sign(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := manifest.MarshalSignature(&manifest.Signature{ManifestKey: key, ManifestSHA256: manifest.SHA256(raw), Algorithm: h.signer.Algorithm(), KeyID: h.signer.KeyID(), Value: v})
	if err != nil {
		t.Fatal(err)
	}
	tp.overwrite(t, key, raw)
	tp.overwrite(t, manifest.SignatureKey(key, m.RunID), sb)
}
