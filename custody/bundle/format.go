package bundle

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/logkeeper/logkeeper/manifest"
)

// Schemas of the bundle's machine-readable files.
const (
	IndexSchema = "logkeeper.bundle/v1"
	ProofSchema = "logkeeper.inclusion-proof/v1"
)

// Fixed names in a bundle folder.
const (
	IndexFile     = "index.json"
	SumsFile      = "SHA256SUMS"
	PublicKeyFile = "pubkey.pem"
	ReadmeFile    = "README.txt"
	HTMLFile      = "index.html"
	ManifestsDir  = "manifests"
	FilesDir      = "files"
	ProofsDir     = "proofs"
	EventsDir     = "custody"
)

// Bounds on what a verifier reads from a bundle, whatever it holds.
const (
	MaxIndexBytes     = 256 << 20
	MaxManifestBytes  = 64 << 20
	MaxSignatureBytes = 64 << 10
	MaxProofBytes     = 64 << 10
	MaxKeyBytes       = 64 << 10
	MaxEventBytes     = 1 << 20
	MaxSumsBytes      = 256 << 20
)

// Index is index.json: what the bundle holds and where.
type Index struct {
	Schema    string     `json:"schema"`
	Matter    string     `json:"matter"`
	Stream    string     `json:"stream"`
	From      *time.Time `json:"from"`
	To        *time.Time `json:"to"`
	CreatedAt time.Time  `json:"created_at"`
	CreatedBy string     `json:"created_by"`
	// Store is where the archive is (no secrets).
	Store string `json:"store"`
	// PublicKey is the bundled key's path and KeyID its fingerprint.
	PublicKey string     `json:"public_key"`
	KeyID     string     `json:"key_id"`
	Manifests []Manifest `json:"manifests"`
	Files     []File     `json:"files"`
	Bytes     int64      `json:"bytes"`
	// Events are the matter's custody events, as in the store's log.
	Events []Event `json:"events"`
	// Transitions are the chain's key transition records (keys.go):
	// absent when its key was never rotated.
	Transitions []Transition `json:"transitions,omitempty"`
}

// Event is one bundled custody event and its signature.
type Event struct {
	Sequence  uint64 `json:"sequence"`
	Key       string `json:"key"`
	Path      string `json:"path"`
	SHA256    string `json:"sha256"`
	Signature string `json:"signature"`
}

// Manifest is one bundled manifest.
type Manifest struct {
	Sequence  uint64 `json:"sequence"`
	Key       string `json:"key"`
	Path      string `json:"path"`
	SHA256    string `json:"sha256"`
	Signature string `json:"signature"`
}

// File is one bundled file.
type File struct {
	Path      string              `json:"path"`
	Key       string              `json:"key"`
	VersionID string              `json:"version_id,omitempty"`
	Size      int64               `json:"size"`
	SHA256    string              `json:"sha256"`
	Manifest  uint64              `json:"manifest"`
	LeafIndex uint64              `json:"leaf_index"`
	Proof     string              `json:"proof"`
	Source    manifest.Provenance `json:"source"`
}

// Proof is an RFC 6962 inclusion proof of one object in one manifest.
type Proof struct {
	Schema      string `json:"schema"`
	ManifestKey string `json:"manifest_key"`
	// Root and TreeSize are the manifest's merkle.root and tree_size.
	Root     string `json:"root"`
	TreeSize uint64 `json:"tree_size"`
	// LeafIndex is the object's place in the manifest's objects.
	LeafIndex uint64 `json:"leaf_index"`
	// Leaf is the object's hash record (manifest.LeafData) as text.
	Leaf string `json:"leaf"`
	// Hashes are the proof's node hashes, hex, from the leaf up.
	Hashes []string `json:"hashes"`
}

// decodeStrict decodes one JSON value with no unknown fields and nothing
// after it.
func decodeStrict(data []byte, v any, what string) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decode %s: %w", what, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("decode " + what + ": trailing data after the JSON object")
	}
	return nil
}

// ParseIndex decodes index.json strictly.
func ParseIndex(data []byte) (*Index, error) {
	var ix Index
	if err := decodeStrict(data, &ix, "index"); err != nil {
		return nil, err
	}
	if ix.Schema != IndexSchema {
		return nil, fmt.Errorf("index schema %q, want %q", ix.Schema, IndexSchema)
	}
	return &ix, nil
}

// ParseProof decodes a proof file strictly.
func ParseProof(data []byte) (*Proof, error) {
	var p Proof
	if err := decodeStrict(data, &p, "proof"); err != nil {
		return nil, err
	}
	if p.Schema != ProofSchema {
		return nil, fmt.Errorf("proof schema %q, want %q", p.Schema, ProofSchema)
	}
	return &p, nil
}

// Marshal encodes v as indented JSON with a trailing newline.
func Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	return buf.Bytes(), nil
}
