package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/logkeeper/logkeeper/custody"
	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/manifest"
)

// tamperer changes an archive behind logkeeper's back, as an intruder with
// write access to the store would.
type tamperer interface {
	read(t *testing.T, key string) []byte
	// overwrite replaces the bytes at key (a new version in a versioned bucket).
	overwrite(t *testing.T, key string, data []byte)
	// remove deletes the object and, in a versioned bucket, all its versions.
	remove(t *testing.T, key string)
	// deleteMarker puts a delete marker over key; false if the store has no versions.
	deleteMarker(t *testing.T, key string) bool
	// versioned reports whether overwrite keeps the old version.
	versioned() bool
}

type fsTamperer struct{ root string }

func (f fsTamperer) path(key string) string { return filepath.Join(f.root, filepath.FromSlash(key)) }
func (f fsTamperer) read(t *testing.T, key string) []byte {
	b, err := os.ReadFile(f.path(key))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
func (f fsTamperer) overwrite(t *testing.T, key string, data []byte) {
	if err := os.MkdirAll(filepath.Dir(f.path(key)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.path(key), data, 0o644); err != nil {
		t.Fatal(err)
	}
}
func (f fsTamperer) remove(t *testing.T, key string) {
	if err := os.Remove(f.path(key)); err != nil {
		t.Fatal(err)
	}
}
func (f fsTamperer) deleteMarker(*testing.T, string) bool { return false }
func (f fsTamperer) versioned() bool                      { return false }

// archive builds a three-manifest chain and returns its manifests.
func archive(t *testing.T, h *harness, big int) []*manifest.Manifest {
	writeFile(t, h.src, "a/one.log", []byte("one\n"))
	writeFile(t, h.src, "a/two.log", []byte("two two\n"))
	writeFile(t, h.src, "big.bin", randData(big, 9))
	var ms []*manifest.Manifest
	ms = append(ms, h.export().Manifest)
	writeFile(t, h.src, "b/three.log", []byte("three\n"))
	ms = append(ms, h.export().Manifest)
	writeFile(t, h.src, "b/four.log", []byte("four\n"))
	writeFile(t, h.src, "b/five.log", []byte("five\n"))
	ms = append(ms, h.export().Manifest)
	if rep := h.verify(true); len(rep.Problems) != 0 {
		t.Fatalf("untampered archive: %v", rep.Problems)
	}
	return ms
}

// editManifest rewrites manifest seq's JSON with fn, without re-signing.
func editManifest(t *testing.T, tp tamperer, stream string, seq uint64, fn func(m map[string]any)) {
	key := manifest.Key(stream, seq)
	var m map[string]any
	if err := json.Unmarshal(tp.read(t, key), &m); err != nil {
		t.Fatal(err)
	}
	fn(m)
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	tp.overwrite(t, key, append(b, '\n'))
}

type scenario struct {
	name string
	// needsVersions: only on a versioned store.
	needsVersions bool
	tamper        func(t *testing.T, h *harness, tp tamperer, ms []*manifest.Manifest)
	// deep: a deep verify (fast otherwise). What verify must report is
	// in tamperExpect, by scenario name.
	deep bool
}

func objKey(ms []*manifest.Manifest, seq int, path string) string {
	for _, o := range ms[seq-1].Objects {
		if o.Source.Path == path {
			return o.Key
		}
	}
	panic("no object for " + path)
}

var scenarios = []scenario{
	{name: "object byte flipped", deep: true,
		tamper: func(t *testing.T, h *harness, tp tamperer, ms []*manifest.Manifest) {
			k := objKey(ms, 1, "big.bin")
			b := tp.read(t, k)
			b[len(b)/2] ^= 1
			tp.overwrite(t, k, b)
		}},
	{name: "small object byte flipped",
		tamper: func(t *testing.T, h *harness, tp tamperer, ms []*manifest.Manifest) {
			k := objKey(ms, 2, "b/three.log")
			b := tp.read(t, k)
			b[0] ^= 0x20
			tp.overwrite(t, k, b)
		}},
	{name: "object deleted",
		tamper: func(t *testing.T, h *harness, tp tamperer, ms []*manifest.Manifest) {
			tp.remove(t, objKey(ms, 1, "a/one.log"))
		}},
	{name: "object replaced by a new version", needsVersions: true,
		tamper: func(t *testing.T, h *harness, tp tamperer, ms []*manifest.Manifest) {
			tp.overwrite(t, objKey(ms, 1, "a/two.log"), []byte("two two\n"))
		}},
	{name: "delete marker over an object", needsVersions: true,
		tamper: func(t *testing.T, h *harness, tp tamperer, ms []*manifest.Manifest) {
			tp.deleteMarker(t, objKey(ms, 3, "b/four.log"))
		}},
	{name: "manifest byte flipped",
		tamper: func(t *testing.T, h *harness, tp tamperer, ms []*manifest.Manifest) {
			k := manifest.Key(h.stream, 2)
			b := tp.read(t, k)
			i := strings.Index(string(b), `"host": "`) + len(`"host": "`)
			b[i] ^= 1
			tp.overwrite(t, k, b)
		}},
	{name: "manifest deleted in the middle",
		tamper: func(t *testing.T, h *harness, tp tamperer, ms []*manifest.Manifest) {
			tp.remove(t, manifest.Key(h.stream, 2))
		}},
	{name: "two manifests swapped",
		tamper: func(t *testing.T, h *harness, tp tamperer, ms []*manifest.Manifest) {
			a, b := tp.read(t, manifest.Key(h.stream, 1)), tp.read(t, manifest.Key(h.stream, 2))
			tp.overwrite(t, manifest.Key(h.stream, 1), b)
			tp.overwrite(t, manifest.Key(h.stream, 2), a)
		}},
	{name: "manifest re-signed with another key",
		tamper: func(t *testing.T, h *harness, tp tamperer, ms []*manifest.Manifest) {
			resign(t, h, tp, 3)
		}},
	{name: "signature removed",
		tamper: func(t *testing.T, h *harness, tp tamperer, ms []*manifest.Manifest) {
			tp.remove(t, manifest.SignatureKey(manifest.Key(h.stream, 1), ms[0].RunID))
		}},
	{name: "forged manifest appended with a foreign key",
		tamper: func(t *testing.T, h *harness, tp tamperer, ms []*manifest.Manifest) {
			forger := *h
			forger.signer = fixedSigner(t, 66)
			chain, err := custody.Load(context.Background(), h.st, h.stream, h.signer.Public())
			if err != nil {
				t.Fatal(err)
			}
			m := *ms[2]
			m.RunID = "forged-run"
			m.Objects = []manifest.Object{}
			if _, err := chain.Append(context.Background(), h.st, forger.signer, &m, store.PutOptions{}); err != nil {
				t.Fatal(err)
			}
		}},
	{name: "object list reordered",
		tamper: func(t *testing.T, h *harness, tp tamperer, ms []*manifest.Manifest) {
			editManifest(t, tp, h.stream, 1, func(m map[string]any) {
				objs := m["objects"].([]any)
				slices.Reverse(objs)
			})
		}},
	{name: "merkle root altered",
		tamper: func(t *testing.T, h *harness, tp tamperer, ms []*manifest.Manifest) {
			editManifest(t, tp, h.stream, 3, func(m map[string]any) {
				m["merkle"].(map[string]any)["root"] = strings.Repeat("ab", 32)
			})
		}},
	{name: "encryption context altered",
		tamper: func(t *testing.T, h *harness, tp tamperer, ms []*manifest.Manifest) {
			editManifest(t, tp, h.stream, 1, func(m map[string]any) {
				o := m["objects"].([]any)[0].(map[string]any)
				o["sse"] = map[string]any{"algorithm": "aws:kms", "kms_key_id": "alias/other", "encryption_context": map[string]any{"logkeeper:stream": "other"}}
			})
		}},
	{name: "sequence number skipped",
		tamper: func(t *testing.T, h *harness, tp tamperer, ms []*manifest.Manifest) {
			// Move manifest 3 (and its signature) to sequence 4.
			k3, k4 := manifest.Key(h.stream, 3), manifest.Key(h.stream, 4)
			tp.overwrite(t, k4, tp.read(t, k3))
			tp.overwrite(t, manifest.SignatureKey(k4, ms[2].RunID), tp.read(t, manifest.SignatureKey(k3, ms[2].RunID)))
			tp.remove(t, k3)
		}},
	{name: "recorded size changed",
		tamper: func(t *testing.T, h *harness, tp tamperer, ms []*manifest.Manifest) {
			editManifest(t, tp, h.stream, 2, func(m map[string]any) {
				o := m["objects"].([]any)[0].(map[string]any)
				o["size"] = o["size"].(float64) + 1
			})
		}},
}

// resign replaces manifest seq's signature with one by another key.
func resign(t *testing.T, h *harness, tp tamperer, seq uint64) {
	key := manifest.Key(h.stream, seq)
	raw := tp.read(t, key)
	m, err := manifest.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	other := fixedSigner(t, 99)
	v, err := other.Sign(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := manifest.MarshalSignature(&manifest.Signature{ManifestKey: key, ManifestSHA256: manifest.SHA256(raw), Algorithm: other.Algorithm(), KeyID: other.KeyID(), Value: v})
	if err != nil {
		t.Fatal(err)
	}
	tp.overwrite(t, manifest.SignatureKey(key, m.RunID), sb)
}

// runTamperMatrix runs every scenario that applies to the store: the
// version scenarios only where the store keeps versions.
func runTamperMatrix(t *testing.T, versioned bool, newHarness func(t *testing.T) (*harness, tamperer), big int) {
	for _, sc := range scenarios {
		if sc.needsVersions && !versioned {
			continue
		}
		t.Run(sc.name, func(t *testing.T) {
			h, tp := newHarness(t)
			if tp.versioned() != versioned {
				t.Fatalf("tamperer versioned=%v, matrix run for versioned=%v", tp.versioned(), versioned)
			}
			ms := archive(t, h, big)
			sc.tamper(t, h, tp, ms)
			rep := h.verify(sc.deep)
			checkExpected(t, sc.name, flavorOf(tp), rep)
			for _, p := range rep.Problems {
				if p.Key == "" || p.Detail == "" {
					t.Fatalf("problem without key or detail: %+v", p)
				}
			}
		})
	}
}

func TestTamperMatrixFS(t *testing.T) {
	runTamperMatrix(t, false, func(t *testing.T) (*harness, tamperer) {
		root := t.TempDir()
		st := newFSAt(t, root)
		return &harness{t: t, st: st, signer: fixedSigner(t, 1), src: t.TempDir(), stream: "edge"}, fsTamperer{root}
	}, 2<<20)
}
