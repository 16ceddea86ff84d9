package custody

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/logkeeper/logkeeper/internal/signing"
)

// A TreeHead is a stream's signed checkpoint: the C2SP tlog-checkpoint
// (c2sp.org/tlog-checkpoint) of its transparency log, as the text of a
// signed note (c2sp.org/signed-note):
//
//	<origin>
//	<tree size, decimal>
//	<root hash, base64>
//
//	— logkeeper/<key id> base64(key hash || signature)
//
// The tree size is the number of manifests (the head's sequence); the
// root commits to every manifest's exact bytes, in order (see
// ManifestLeafHash). The origin names the log: the store the manifests
// record (their signed store field) and the stream, see Origin.
type TreeHead struct {
	Origin string
	Size   uint64
	Root   []byte
	// Note is the signed note's text, signatures included.
	Note []byte
}

// MaxNoteBytes caps a checkpoint note read from a store or a file.
const MaxNoteBytes = 16 << 10

// Errors of OpenTreeHead. Each is wrapped with what was found.
var (
	// ErrNoteKey means the note carries no signature by the trusted key.
	ErrNoteKey = errors.New("checkpoint is not signed by the trusted key")
	// ErrNoteOrigin means the note is signed, for another log.
	ErrNoteOrigin = errors.New("checkpoint is for another log")
	// ErrNoteFormat means the text is not a checkpoint note.
	ErrNoteFormat = errors.New("not a checkpoint note")
)

// Origin is the checkpoint origin of a stream's log: the store its
// manifests record, without its scheme's "://", then the stream, e.g.
// s3/compliance-archive/logkeeper/prod/edge-logs.
func Origin(storeURL, stream string) string {
	scheme, rest, _ := strings.Cut(storeURL, "://")
	return scheme + "/" + strings.TrimLeft(rest, "/") + "/" + stream
}

// Signature types of c2sp.org/signed-note.
const (
	noteTypeEd25519 = 0x01
	noteTypeECDSA   = 0x02 // as github.com/transparency-dev/witness: key id over the SPKI DER
)

// noteKey is the key name and key hash of a note signature by pub.
func noteKey(pub crypto.PublicKey) (name string, hash uint32, err error) {
	id, err := signing.KeyID(pub)
	if err != nil {
		return "", 0, err
	}
	name = "logkeeper/" + strings.ReplaceAll(id, ":", "-")
	h := sha256.New()
	switch k := pub.(type) {
	case ed25519.PublicKey:
		h.Write([]byte(name + "\n"))
		h.Write([]byte{noteTypeEd25519})
		h.Write(k)
	case *ecdsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(k)
		if err != nil {
			return "", 0, fmt.Errorf("note key: %w", err)
		}
		h.Write(der)
	default:
		return "", 0, fmt.Errorf("note key %T: %w", pub, signing.ErrUnsupported)
	}
	return name, binary.BigEndian.Uint32(h.Sum(nil)), nil
}

// checkpointText is the note text of a checkpoint.
func checkpointText(origin string, size uint64, root []byte) string {
	return origin + "\n" + strconv.FormatUint(size, 10) + "\n" + base64.StdEncoding.EncodeToString(root) + "\n"
}

// SignTreeHead signs a checkpoint with signer: Ed25519 keys give
// signed-note type 0x01 signatures, KMS ECDSA P-256 keys type 0x02 (ASN.1
// DER over SHA-256 of the text).
func SignTreeHead(ctx context.Context, signer signing.Signer, origin string, size uint64, root []byte) (*TreeHead, error) {
	if origin == "" || strings.ContainsAny(origin, "\n") {
		return nil, fmt.Errorf("checkpoint origin %q: %w", origin, ErrNoteFormat)
	}
	name, hash, err := noteKey(signer.Public())
	if err != nil {
		return nil, err
	}
	text := checkpointText(origin, size, root)
	sig, err := signer.Sign(ctx, []byte(text))
	if err != nil {
		return nil, fmt.Errorf("sign checkpoint: %w", err)
	}
	b := binary.BigEndian.AppendUint32(nil, hash)
	b = append(b, sig...)
	n := text + "\n\u2014 " + name + " " + base64.StdEncoding.EncodeToString(b) + "\n"
	return &TreeHead{Origin: origin, Size: size, Root: root, Note: []byte(n)}, nil
}

// noteVerifier verifies note signatures with a logkeeper public key.
type noteVerifier struct {
	name string
	hash uint32
	pub  crypto.PublicKey
	alg  string
}

func (v *noteVerifier) Name() string    { return v.name }
func (v *noteVerifier) KeyHash() uint32 { return v.hash }
func (v *noteVerifier) Verify(msg, sig []byte) bool {
	return signing.Verify(v.pub, v.alg, msg, sig) == nil
}

// OpenTreeHead verifies a checkpoint note with the trusted key pub and
// checks that it is for the log origin. A note signed by another key is
// ErrNoteKey, one for another log ErrNoteOrigin, anything that is not a
// checkpoint ErrNoteFormat; each error says what was found, quoted.
func OpenTreeHead(raw []byte, pub crypto.PublicKey, origin string) (*TreeHead, error) {
	return OpenTreeHeadKeys(raw, []crypto.PublicKey{pub}, origin)
}

// OpenTreeHeadKeys is OpenTreeHead for a chain whose key was rotated: a
// note signed by any of keys (the keys of the chain's history) verifies.
func OpenTreeHeadKeys(raw []byte, keys []crypto.PublicKey, origin string) (*TreeHead, error) {
	if len(raw) > MaxNoteBytes {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrNoteFormat, MaxNoteBytes)
	}
	var vs []note.Verifier
	var names []string
	seen := map[string]bool{}
	for _, pub := range keys {
		name, hash, err := noteKey(pub)
		if err != nil {
			return nil, err
		}
		if seen[name] {
			continue // the same key twice
		}
		seen[name] = true
		alg, err := signing.AlgorithmFor(pub)
		if err != nil {
			return nil, err
		}
		vs = append(vs, &noteVerifier{name: name, hash: hash, pub: pub, alg: alg})
		names = append(names, name)
	}
	name := strings.Join(names, ", ")
	n, err := note.Open(raw, note.VerifierList(vs...))
	if err != nil {
		var unverified *note.UnverifiedNoteError
		var invalid *note.InvalidSignatureError
		switch {
		case errors.As(err, &unverified):
			var by []string
			for _, s := range unverified.Note.UnverifiedSigs {
				by = append(by, strconv.Quote(s.Name))
			}
			return nil, fmt.Errorf("%w (trusted key %s; signed by %s)", ErrNoteKey, name, strings.Join(by, ", "))
		case errors.As(err, &invalid):
			return nil, fmt.Errorf("%w: the signature by %s does not verify", ErrNoteKey, name)
		default:
			return nil, fmt.Errorf("%w: %v", ErrNoteFormat, err)
		}
	}
	th, err := parseCheckpointText(n.Text)
	if err != nil {
		return nil, err
	}
	if th.Origin != origin {
		return nil, fmt.Errorf("%w: its origin is %q, this log is %q", ErrNoteOrigin, th.Origin, origin)
	}
	// Keep the text and the signature verified, nothing else: what a
	// caller prints or stores was all checked.
	var b strings.Builder
	b.WriteString(n.Text + "\n")
	for _, sig := range n.Sigs {
		b.WriteString("\u2014 " + sig.Name + " " + sig.Base64 + "\n")
	}
	th.Note = []byte(b.String())
	return th, nil
}

// parseCheckpointText reads the first three lines of a checkpoint;
// extension lines after them are allowed and ignored.
func parseCheckpointText(text string) (*TreeHead, error) {
	lines := strings.SplitN(text, "\n", 4)
	if len(lines) < 4 {
		return nil, fmt.Errorf("%w: want origin, size and root lines", ErrNoteFormat)
	}
	size, err := strconv.ParseUint(lines[1], 10, 64)
	if err != nil || (lines[1] != "0" && strings.HasPrefix(lines[1], "0")) {
		return nil, fmt.Errorf("%w: tree size %q", ErrNoteFormat, lines[1])
	}
	root, err := base64.StdEncoding.Strict().DecodeString(lines[2])
	if err != nil || len(root) != sha256.Size {
		return nil, fmt.Errorf("%w: root hash %q is not 32 bytes of base64", ErrNoteFormat, lines[2])
	}
	if lines[0] == "" {
		return nil, fmt.Errorf("%w: empty origin", ErrNoteFormat)
	}
	return &TreeHead{Origin: lines[0], Size: size, Root: root}, nil
}

// LooksLikeNote reports whether b has the form of a signed note (text, a
// blank line, a signature line), to tell a checkpoint file from other input.
func LooksLikeNote(b []byte) bool {
	return strings.Contains(string(b), "\n\n\u2014 ")
}
