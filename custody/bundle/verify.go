package bundle

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/logkeeper/logkeeper/internal/signing"
	"github.com/logkeeper/logkeeper/manifest"
)

// Problem kinds reported by Verify.
const (
	KindIndexInvalid     = "index_invalid"        // index.json is missing, unreadable or does not parse
	KindKeyInvalid       = "key_invalid"          // the bundled public key is missing or does not parse (and no --pubkey was given)
	KindKeyMismatch      = "key_mismatch"         // the bundled key is not the trusted key given
	KindManifestMissing  = "manifest_missing"     // a manifest the index names, or a sequence between two bundled ones, is not in the bundle
	KindManifestInvalid  = "manifest_invalid"     // the manifest does not parse, or is not the stream and sequence the index says
	KindMerkleMismatch   = "merkle_root_mismatch" // the manifest's root, tree size or totals do not match its objects
	KindSignatureMissing = "signature_missing"    // no signature file for a manifest
	KindSignatureInvalid = "signature_invalid"    // the signature does not verify over the manifest bytes
	KindSignatureKey     = "signature_wrong_key"  // signed by another key than the trusted one
	KindChainBroken      = "chain_link_mismatch"  // a manifest's previous link is not the bundled predecessor's exact bytes
	KindFileMissing      = "file_missing"         // an object of a bundled manifest has no file, or the file is not there
	KindFileHash         = "file_hash_mismatch"   // the file's bytes are not the size and SHA-256 its manifest records
	KindFileMismatch     = "file_not_in_manifest" // the index lists a file its manifest does not list at that leaf
	KindProofMissing     = "proof_missing"        // a file's inclusion proof is not in the bundle
	KindProofInvalid     = "proof_invalid"        // the proof does not lead from the object to its manifest's root
	KindSumsMismatch     = "checksum_list_mismatch"
	KindUnlisted         = "file_unlisted" // a file in the folder that SHA256SUMS does not list
	KindPathInvalid      = "path_invalid"  // the index names a path outside the bundle or not a regular file
	KindEventInvalid     = "event_invalid" // a custody event does not parse, or is not the sequence or matter the index says
)

// Problem is one thing wrong with a bundle, named by its path in the bundle.
type Problem struct {
	Kind   string `json:"kind"`
	Path   string `json:"path"`
	Detail string `json:"detail"`
}

// Report is the outcome of Verify.
type Report struct {
	FilesChecked     int       `json:"files_checked"`
	FilesValid       int       `json:"files_valid"`
	ManifestsChecked int       `json:"manifests_checked"`
	ManifestsValid   int       `json:"manifests_valid"`
	Problems         []Problem `json:"problems"`
	// TrustedKey is the fingerprint of the key signatures were checked
	// with, and KeySource says where it came from: "pubkey" (given by the
	// verifier) or "bundled" (the bundle's own key, not confirmed from
	// outside: it proves integrity, not origin).
	TrustedKey string `json:"trusted_key"`
	KeySource  string `json:"key_source"`
	Matter     string `json:"matter"`
	Stream     string `json:"stream"`
}

// Key sources.
const (
	KeyGiven   = "pubkey"
	KeyBundled = "bundled"
)

type verifier struct {
	root *os.Root
	rep  *Report
	keys *bundleKeys
	// bundledKey is the bundled key's id when a trusted key was given.
	bundledKey string
}

func (v *verifier) problem(kind, p, format string, a ...any) {
	v.rep.Problems = append(v.rep.Problems, Problem{Kind: kind, Path: p, Detail: fmt.Sprintf(format, a...)})
}

// Verify checks the bundle in dir. pub is the key the verifier trusts; nil
// trusts the bundled key (the report says so). It reads only inside dir
// and returns an error only when dir itself cannot be opened; everything
// wrong inside the bundle is a Problem.
func Verify(dir string, pub crypto.PublicKey) (*Report, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open bundle: %w", err)
	}
	defer root.Close()
	v := &verifier{root: root, rep: &Report{Problems: []Problem{}}}
	v.verify(pub)
	return v.rep, nil
}

// read reads the regular file at p inside the bundle, at most limit bytes.
func (v *verifier) read(p string, limit int64) ([]byte, error) {
	f, err := v.open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("larger than %d bytes", limit)
	}
	return b, nil
}

// errNotLocal: a path that names something outside the bundle.
var errNotLocal = errors.New("path is not inside the bundle")

func (v *verifier) open(p string) (*os.File, error) {
	if p == "" || !fs.ValidPath(p) {
		return nil, errNotLocal
	}
	fi, err := v.root.Lstat(p)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("not a regular file (%s)", fi.Mode().Type())
	}
	return v.root.Open(p)
}

// missingKind is the kind for a file that could not be opened: missing
// when it is not there, path_invalid when the path escapes or names a
// link or special file.
func missingKind(err error, kind string) string {
	if errors.Is(err, fs.ErrNotExist) {
		return kind
	}
	return KindPathInvalid
}

type bundled struct {
	entry Manifest
	raw   []byte
	m     *manifest.Manifest
	ok    bool
}

func (v *verifier) verify(pub crypto.PublicKey) {
	raw, err := v.read(IndexFile, MaxIndexBytes)
	if err != nil {
		v.problem(KindIndexInvalid, IndexFile, "%v", err)
		v.checkSums()
		return
	}
	ix, err := ParseIndex(raw)
	if err != nil {
		v.problem(KindIndexInvalid, IndexFile, "%v", err)
		v.checkSums()
		return
	}
	v.rep.Matter, v.rep.Stream = ix.Matter, ix.Stream
	pub = v.trustedKey(ix, pub)
	v.keys = v.checkTransitions(ix, pub)
	// The bundled key may be any key of the chain's history the trusted
	// key reaches (the bundle is made with the chain's current key).
	if _, ok := v.keys.all()[v.bundledKey]; v.bundledKey != "" && !ok {
		v.problem(KindKeyMismatch, ix.PublicKey, "bundled key %s is not the trusted key %s (nor a key of its history)", v.bundledKey, v.rep.TrustedKey)
	}
	ms := v.checkManifests(ix, pub)
	v.checkFiles(ix, ms)
	v.checkEvents(ix, pub)
	v.checkSums()
}

// trustedKey returns the key to check signatures with and records which.
func (v *verifier) trustedKey(ix *Index, given crypto.PublicKey) crypto.PublicKey {
	var bundledKey crypto.PublicKey
	b, err := v.read(ix.PublicKey, MaxKeyBytes)
	if err == nil {
		bundledKey, err = signing.ParsePublicKeyPEM(b)
	}
	if given != nil {
		v.rep.KeySource = KeyGiven
		v.rep.TrustedKey, _ = signing.KeyID(given)
		if err == nil {
			v.bundledKey, _ = signing.KeyID(bundledKey)
		}
		return given
	}
	if err != nil {
		v.problem(KindKeyInvalid, ix.PublicKey, "%v (give the trusted key with --pubkey)", err)
		return nil
	}
	v.rep.KeySource = KeyBundled
	v.rep.TrustedKey, _ = signing.KeyID(bundledKey)
	return bundledKey
}

func (v *verifier) checkManifests(ix *Index, pub crypto.PublicKey) map[uint64]*bundled {
	ms := map[uint64]*bundled{}
	var seqs []uint64
	for _, e := range ix.Manifests {
		v.rep.ManifestsChecked++
		if ms[e.Sequence] != nil {
			v.problem(KindManifestInvalid, e.Path, "sequence %d listed twice in the index", e.Sequence)
			continue
		}
		b := &bundled{entry: e}
		ms[e.Sequence] = b
		seqs = append(seqs, e.Sequence)
		raw, err := v.read(e.Path, MaxManifestBytes)
		if err != nil {
			v.problem(missingKind(err, KindManifestMissing), e.Path, "%v", err)
			continue
		}
		b.raw = raw
		m, err := manifest.Parse(raw)
		if err != nil {
			v.problem(KindManifestInvalid, e.Path, "%s", oneLine(err))
			continue
		}
		b.m = m
		ok := true
		if m.Stream != ix.Stream || m.Sequence != e.Sequence || manifest.Key(m.Stream, m.Sequence) != e.Key {
			v.problem(KindManifestInvalid, e.Path, "holds stream %q sequence %d, index says %q sequence %d at %s", m.Stream, m.Sequence, ix.Stream, e.Sequence, e.Key)
			ok = false
		}
		for _, err := range m.CheckCommitments() {
			v.problem(KindMerkleMismatch, e.Path, "%s", oneLine(err))
			ok = false
		}
		if !v.checkSignature(e, raw, pub) {
			ok = false
		}
		b.ok = ok
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	for i := 1; i < len(seqs); i++ {
		prev, cur := ms[seqs[i-1]], ms[seqs[i]]
		if seqs[i] != seqs[i-1]+1 {
			v.problem(KindManifestMissing, ManifestsDir, "sequences %d to %d are not in the bundle: the chain between %d and %d cannot be checked", seqs[i-1]+1, seqs[i]-1, seqs[i-1], seqs[i])
			continue
		}
		if prev.raw == nil || cur.m == nil {
			continue // already reported
		}
		want := manifest.Link{Key: manifest.Key(ix.Stream, seqs[i-1]), SHA256: manifest.SHA256(prev.raw)}
		if cur.m.Previous == nil || *cur.m.Previous != want {
			v.problem(KindChainBroken, cur.entry.Path, "previous link does not name the exact bytes of %s (sha256 %s)", prev.entry.Path, want.SHA256)
			cur.ok = false
		}
	}
	for _, b := range ms {
		if b.ok {
			v.rep.ManifestsValid++
		}
	}
	return ms
}

func (v *verifier) checkSignature(e Manifest, raw []byte, _ crypto.PublicKey) bool {
	pub, id := v.keys.at(e.Sequence)
	if pub == nil && id != "" {
		v.problem(KindSignatureKey, e.Signature, "the chain's key at sequence %d is %s, which the trusted key %s does not reach through valid key transitions", e.Sequence, id, v.rep.TrustedKey)
		return false
	}
	return v.checkSigBy(e.Signature, e.Path, e.Key, raw, pub, id)
}

// checkSig checks the signature sidecar at sigPath over raw, the bytes at
// dataPath, stored at key in the archive. Bytes that are not the ones the
// signature names are reported on dataPath; any other failure on sigPath.
// checkSigBy checks the signature sidecar at sigPath over raw, the bytes
// at dataPath, stored at key in the archive, with the key pub whose
// fingerprint is want. Bytes that are not the ones the signature names
// are reported on dataPath; any other failure on sigPath.
func (v *verifier) checkSigBy(sigPath, dataPath, key string, raw []byte, pub crypto.PublicKey, want string) bool {
	e := Manifest{Signature: sigPath, Key: key}
	sb, err := v.read(e.Signature, MaxSignatureBytes)
	if err != nil {
		v.problem(missingKind(err, KindSignatureMissing), e.Signature, "%v", err)
		return false
	}
	sig, err := manifest.ParseSignature(sb)
	if err != nil {
		v.problem(KindSignatureInvalid, e.Signature, "%s", oneLine(err))
		return false
	}
	if pub == nil {
		v.problem(KindSignatureInvalid, e.Signature, "no trusted key to check it with")
		return false
	}
	if sig.KeyID != want {
		v.problem(KindSignatureKey, e.Signature, "signed by key %s, trusted key is %s", sig.KeyID, want)
		return false
	}
	if sig.ManifestKey == e.Key && sig.ManifestSHA256 != manifest.SHA256(raw) {
		v.problem(KindSignatureInvalid, dataPath, "bytes have sha256 %s; the signature %s covers sha256 %s", manifest.SHA256(raw), sigPath, sig.ManifestSHA256)
		return false
	}
	if sig.ManifestKey != e.Key {
		v.problem(KindSignatureInvalid, e.Signature, "signature is for %s sha256 %s, not %s sha256 %s", sig.ManifestKey, sig.ManifestSHA256, e.Key, manifest.SHA256(raw))
		return false
	}
	if err := signing.Verify(pub, sig.Algorithm, raw, sig.Value); err != nil {
		v.problem(KindSignatureInvalid, e.Signature, "%s", oneLine(err))
		return false
	}
	return true
}

func (v *verifier) checkFiles(ix *Index, ms map[uint64]*bundled) {
	listed := map[uint64]map[uint64]bool{}
	for _, f := range ix.Files {
		v.rep.FilesChecked++
		if v.checkFile(f, ms[f.Manifest]) {
			v.rep.FilesValid++
		}
		if listed[f.Manifest] == nil {
			listed[f.Manifest] = map[uint64]bool{}
		}
		listed[f.Manifest][f.LeafIndex] = true
	}
	// Every object of a bundled manifest is bundled: a file left out of
	// the index (and the folder) is named.
	for seq, b := range ms {
		if b.m == nil {
			continue
		}
		for i, o := range b.m.Objects {
			if !listed[seq][uint64(i)] {
				v.problem(KindFileMissing, path.Join(FilesDir, o.Key), "object %d of %s is not in the bundle", i, b.entry.Path)
			}
		}
	}
}

func (v *verifier) checkFile(f File, b *bundled) bool {
	if b == nil {
		v.problem(KindFileMismatch, f.Path, "its manifest %d is not in the bundle", f.Manifest)
		return false
	}
	if b.m == nil {
		v.problem(KindFileMismatch, f.Path, "its manifest %s could not be read", b.entry.Path)
		return false
	}
	if f.LeafIndex >= uint64(len(b.m.Objects)) {
		v.problem(KindFileMismatch, f.Path, "leaf %d: manifest %s lists %d objects", f.LeafIndex, b.entry.Path, len(b.m.Objects))
		return false
	}
	o := b.m.Objects[f.LeafIndex]
	ok := true
	if o.Key != f.Key || o.VersionID != f.VersionID || f.Path != path.Join(FilesDir, o.Key) {
		v.problem(KindFileMismatch, f.Path, "manifest %s lists %s version %q at leaf %d", b.entry.Path, o.Key, o.VersionID, f.LeafIndex)
		ok = false
	}
	if !v.checkProof(f, o, b) {
		ok = false
	}
	fh, err := v.open(f.Path)
	if err != nil {
		v.problem(missingKind(err, KindFileMissing), f.Path, "%v", err)
		return false
	}
	defer fh.Close()
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(fh, o.Size+1))
	if err != nil {
		v.problem(KindFileMissing, f.Path, "read: %v", err)
		return false
	}
	if got := hex.EncodeToString(h.Sum(nil)); n != o.Size || got != o.SHA256 {
		v.problem(KindFileHash, f.Path, "manifest %s records %d bytes sha256 %s, file has %d bytes sha256 %s", b.entry.Path, o.Size, o.SHA256, n, got)
		return false
	}
	return ok
}

func (v *verifier) checkProof(f File, o manifest.Object, b *bundled) bool {
	raw, err := v.read(f.Proof, MaxProofBytes)
	if err != nil {
		v.problem(missingKind(err, KindProofMissing), f.Proof, "%v", err)
		return false
	}
	p, err := ParseProof(raw)
	if err == nil && (p.LeafIndex != f.LeafIndex || p.ManifestKey != b.entry.Key) {
		err = fmt.Errorf("proof is for leaf %d of %s, file is leaf %d of %s", p.LeafIndex, p.ManifestKey, f.LeafIndex, b.entry.Key)
	}
	if err == nil {
		err = VerifyProof(p, o, b.m.Merkle.Root, b.m.Merkle.TreeSize)
	}
	if err != nil {
		v.problem(KindProofInvalid, f.Proof, "%s", oneLine(err))
		return false
	}
	return true
}

// checkSums checks SHA256SUMS against the folder: every listed file's
// hash, and every file in the folder listed.
func (v *verifier) checkSums() {
	raw, err := v.read(SumsFile, MaxSumsBytes)
	if err != nil {
		v.problem(missingKind(err, KindSumsMismatch), SumsFile, "%v", err)
		return
	}
	listed := map[string]bool{SumsFile: true}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		sum, p, ok := ParseSumLine(sc.Text())
		if !ok {
			v.problem(KindSumsMismatch, SumsFile, "line %d is not \"SHA256  PATH\"", line)
			continue
		}
		listed[p] = true
		f, err := v.open(p)
		if err != nil {
			v.problem(missingKind(err, KindFileMissing), SumsFile, "lists %q, which cannot be opened: %v", p, err)
			continue
		}
		h := sha256.New()
		_, err = io.Copy(h, f)
		f.Close()
		if got := hex.EncodeToString(h.Sum(nil)); err != nil || got != sum {
			v.problem(KindSumsMismatch, p, "%s lists sha256 %s, file has %s", SumsFile, sum, got)
		}
	}
	if err := sc.Err(); err != nil {
		v.problem(KindSumsMismatch, SumsFile, "%v", err)
	}
	err = fs.WalkDir(v.root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			v.problem(KindPathInvalid, p, "%v", err)
			return nil
		}
		if !d.IsDir() && !listed[p] {
			v.problem(KindUnlisted, p, "not listed in %s", SumsFile)
		}
		return nil
	})
	if err != nil {
		v.problem(KindPathInvalid, ".", "%v", err)
	}
}

// SumLine returns the line of SHA256SUMS for a file, as sha256sum writes
// it: a name with a backslash or newline is escaped and the line starts
// with a backslash.
func SumLine(sum, p string) string {
	if strings.ContainsAny(p, "\\\n\r") {
		r := strings.NewReplacer("\\", "\\\\", "\n", "\\n", "\r", "\\r")
		return "\\" + sum + "  " + r.Replace(p) + "\n"
	}
	return sum + "  " + p + "\n"
}

// ParseSumLine reads one line of SHA256SUMS (text mode, two spaces).
func ParseSumLine(line string) (sum, p string, ok bool) {
	escaped := strings.HasPrefix(line, "\\")
	line = strings.TrimPrefix(line, "\\")
	sum, p, ok = strings.Cut(line, "  ")
	if !ok || len(sum) != 64 || strings.Trim(sum, "0123456789abcdef") != "" || p == "" {
		return "", "", false
	}
	if escaped {
		var b strings.Builder
		for i := 0; i < len(p); i++ {
			if p[i] != '\\' || i+1 == len(p) {
				b.WriteByte(p[i])
				continue
			}
			i++
			switch p[i] {
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			default:
				b.WriteByte(p[i])
			}
		}
		p = b.String()
	}
	return sum, p, true
}

func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }

// event is what the verifier reads of a custody event (its format is
// package custody's; the signature covers all of it).
type event struct {
	Sequence uint64         `json:"sequence"`
	ID       string         `json:"id"`
	Previous *manifest.Link `json:"previous"`
	Matter   string         `json:"matter"`
}

// checkEvents checks each bundled custody event's signature, that it is
// the sequence and matter the index says, and the links between events
// with consecutive numbers (the others are another matter's).
func (v *verifier) checkEvents(ix *Index, pub crypto.PublicKey) {
	type read struct {
		key, sum string
	}
	bySeq := map[uint64]read{}
	events := append([]Event{}, ix.Events...)
	sort.Slice(events, func(i, j int) bool { return events[i].Sequence < events[j].Sequence })
	for _, e := range events {
		raw, err := v.read(e.Path, MaxEventBytes)
		if err != nil {
			v.problem(missingKind(err, KindEventInvalid), e.Path, "%v", err)
			continue
		}
		var ev event
		if err := json.Unmarshal(raw, &ev); err != nil {
			v.problem(KindEventInvalid, e.Path, "%s", oneLine(err))
			continue
		}
		if ev.Sequence != e.Sequence || ev.Matter != ix.Matter {
			v.problem(KindEventInvalid, e.Path, "holds event %d of matter %q, index says %d of %q", ev.Sequence, ev.Matter, e.Sequence, ix.Matter)
		}
		kp, kid := v.eventKey(e.Signature, pub)
		v.checkSigBy(e.Signature, e.Path, e.Key, raw, kp, kid)
		if prev, ok := bySeq[e.Sequence-1]; ok && (ev.Previous == nil || ev.Previous.Key != prev.key || ev.Previous.SHA256 != prev.sum) {
			v.problem(KindChainBroken, e.Path, "previous link does not name the exact bytes of event %d", e.Sequence-1)
		}
		bySeq[e.Sequence] = read{e.Key, manifest.SHA256(raw)}
	}
}
