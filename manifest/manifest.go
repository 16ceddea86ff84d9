package manifest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"
)

// SchemaV1 is the value of the schema field of a version 1 manifest.
const SchemaV1 = "logkeeper.manifest/v1"

// MerkleAlgorithm names the tree hash used for Merkle.Root.
const MerkleAlgorithm = "rfc6962-sha256"

// Manifest is one export run of a stream.
type Manifest struct {
	Schema   string `json:"schema"`
	Stream   string `json:"stream"`
	Sequence uint64 `json:"sequence"`
	RunID    string `json:"run_id"`
	// Part is set when the run was sealed as several manifests (parts.go):
	// which part this is and whether it is the last. Without it the
	// manifest is the whole run.
	Part *Part `json:"part,omitempty"`
	// Window is the time span of source data this run covers. For a folder
	// source, the end is when the run scanned the folder.
	Window     Window    `json:"window"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	Exporter   Exporter  `json:"exporter"`
	// Reason says why the run happened (a schedule, a request number).
	Reason string `json:"reason,omitempty"`
	// KeyTransition, when set, makes this manifest a key transition
	// record (transition.go): it lists no objects and hands the chain
	// from one signing key to the next.
	KeyTransition *KeyTransition `json:"key_transition,omitempty"`
	// Store is where the objects are, e.g. "s3://bucket/prefix" (no secrets).
	Store  string `json:"store"`
	Source Source `json:"source"`
	// Previous links to the previous manifest of the stream; nil only for
	// sequence 1.
	Previous *Link `json:"previous"`
	// Objects are the objects this run stored, in the order of their
	// Merkle tree leaves.
	Objects []Object `json:"objects"`
	// Failures are source files this run could not archive; the next run
	// tries them again. A failure never has an object.
	Failures []Failure `json:"failures,omitempty"`
	// Skipped are items the source found and deliberately did not collect
	// (a symbolic link or special file in a folder, an offline edge), each
	// with the reason, so the evidence says what was left out and why.
	Skipped []Skip `json:"skipped,omitempty"`
	Totals  Totals `json:"totals"`
	Merkle  Merkle `json:"merkle"`
}

// Window is a half-open time interval [Start, End).
type Window struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Exporter identifies the program and host that wrote the manifest.
type Exporter struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Host    string `json:"host"`
	// User is the operating-system account the exporter ran as.
	User string `json:"user,omitempty"`
}

// Source describes where the stream's data comes from.
type Source struct {
	Type     string `json:"type"`
	Location string `json:"location"`
}

// Link is a reference to another manifest by key and content hash.
type Link struct {
	Key    string `json:"key"`
	SHA256 string `json:"sha256"`
}

// Object is one stored object.
type Object struct {
	Key       string `json:"key"`
	VersionID string `json:"version_id,omitempty"`
	Size      int64  `json:"size"`
	// SHA256 is the lower-case hex SHA-256 of the stored bytes.
	SHA256    string     `json:"sha256"`
	Checksum  Checksum   `json:"checksum"`
	SSE       *SSE       `json:"sse,omitempty"`
	Retention *Retention `json:"retention,omitempty"`
	Source    Provenance `json:"source"`
}

// Checksum is the backend checksum of an object as S3 computes it.
type Checksum struct {
	// Algorithm is "SHA256".
	Algorithm string `json:"algorithm"`
	// Type is "FULL_OBJECT" for a single-part object or "COMPOSITE" for a
	// multipart upload.
	Type string `json:"type"`
	// Value is base64 of the SHA-256 (FULL_OBJECT) or the composite
	// "base64-N" (COMPOSITE).
	Value string `json:"value"`
	// PartSize and Parts (base64 SHA-256 of each part) for COMPOSITE.
	PartSize int64    `json:"part_size,omitempty"`
	Parts    []string `json:"parts,omitempty"`
}

// Checksum types.
const (
	ChecksumFullObject = "FULL_OBJECT"
	ChecksumComposite  = "COMPOSITE"
)

// SSE is the server-side encryption requested for an object.
type SSE struct {
	Algorithm string `json:"algorithm"`
	// KMSKeyID is the key as configured (a key id, alias or ARN).
	KMSKeyID string `json:"kms_key_id,omitempty"`
	// ServerKMSKeyID is the key as the server reported it when it stored
	// the object (AWS S3: the key ARN), which is what it reports on HEAD;
	// verify compares the two. Absent in manifests written before it was
	// recorded, and where the server reported no key.
	ServerKMSKeyID string            `json:"server_kms_key_id,omitempty"`
	Context        map[string]string `json:"encryption_context,omitempty"`
}

// Retention is the Object Lock retention set on an object.
type Retention struct {
	Mode        string    `json:"mode"`
	RetainUntil time.Time `json:"retain_until"`
}

// Provenance says where an object's bytes came from.
type Provenance struct {
	// ID is the file's stable identity at the source; a later run skips a
	// file whose ID, size and modification time were archived before.
	ID string `json:"id"`
	// Path is the original path or name of the file at the source.
	Path string `json:"path"`
	// Size and Modified as the source reported them.
	Size     int64     `json:"size"`
	Modified time.Time `json:"modified,omitzero"`
	// IDs are source-side identifiers (edge id, file id, job id, ...).
	IDs map[string]string `json:"ids,omitempty"`
}

// Failure is a source file a run could not archive.
type Failure struct {
	// ID is the file's identity at the source (as Provenance.ID), so a
	// later run can offer it again.
	ID    string `json:"id,omitempty"`
	Path  string `json:"path"`
	Error string `json:"error"`
}

// Skip is an item a source found and did not collect, on purpose.
type Skip struct {
	// ID is the item's identity at the source, when it has one.
	ID     string `json:"id,omitempty"`
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// Totals sums the objects.
type Totals struct {
	Objects int   `json:"objects"`
	Bytes   int64 `json:"bytes"`
}

// Merkle is the Merkle tree commitment over the objects.
type Merkle struct {
	Algorithm string `json:"algorithm"`
	TreeSize  uint64 `json:"tree_size"`
	// Root is the lower-case hex root hash.
	Root string `json:"root"`
}

// Marshal encodes m in its canonical form (indented JSON, trailing newline).
// It fills Totals and Merkle from the objects first, and validates.
func Marshal(m *Manifest) ([]byte, error) {
	m.Totals = Totals{Objects: len(m.Objects)}
	for _, o := range m.Objects {
		m.Totals.Bytes += o.Size
	}
	root, err := Root(m.Objects)
	if err != nil {
		return nil, err
	}
	m.Merkle = Merkle{Algorithm: MerkleAlgorithm, TreeSize: uint64(len(m.Objects)), Root: root}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.Grow(4096 + 600*len(m.Objects)) // about what an indented object takes
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return nil, fmt.Errorf("encode manifest: %w", err)
	}
	if buf.Len() > MaxBytes {
		return nil, fmt.Errorf("%w: %d bytes, at most %d are written", ErrTooLarge, buf.Len(), MaxBytes)
	}
	return buf.Bytes(), nil
}

// Parse decodes a manifest strictly: unknown fields, trailing data, a
// schema other than v1 and any field that fails Validate are errors. It
// does not check the Merkle root or totals against the objects (Check does).
func Parse(data []byte) (*Manifest, error) {
	if len(data) > MaxReadBytes {
		return nil, fmt.Errorf("decode manifest: %w: %d bytes", ErrTooLarge, len(data))
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("decode manifest: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("decode manifest: trailing data after the JSON object")
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

var (
	hexSHA256   = regexp.MustCompile(`^[0-9a-f]{64}$`)
	streamName  = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)
	b64SHA256   = regexp.MustCompile(`^[A-Za-z0-9+/]{43}=$`)
	b64Compound = regexp.MustCompile(`^[A-Za-z0-9+/]{43}=-[1-9][0-9]{0,4}$`)
)

// ValidStreamName reports whether name may name a stream.
func ValidStreamName(name string) bool { return streamName.MatchString(name) }

// Validate checks the manifest's fields on their own (not against the
// objects' hashes, the chain or the store). It reports every problem.
func (m *Manifest) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if m.Schema != SchemaV1 {
		bad("schema: %q, want %q", m.Schema, SchemaV1)
	}
	if !streamName.MatchString(m.Stream) {
		bad("stream: invalid name %q", m.Stream)
	}
	if m.Sequence == 0 {
		bad("sequence: must be 1 or more")
	}
	if m.RunID == "" {
		bad("run_id: missing")
	}
	if m.Window.End.Before(m.Window.Start) {
		bad("window: end %s before start %s", m.Window.End, m.Window.Start)
	}
	if err := m.Part.validate(m); err != nil {
		bad("part: %v", err)
	}
	if m.FinishedAt.Before(m.StartedAt) {
		bad("finished_at: before started_at")
	}
	switch {
	case m.Sequence == 1 && m.Previous != nil:
		bad("previous: sequence 1 must have no previous manifest")
	case m.Sequence > 1 && m.Previous == nil:
		bad("previous: missing for sequence %d", m.Sequence)
	case m.Previous != nil && (m.Previous.Key == "" || !hexSHA256.MatchString(m.Previous.SHA256)):
		bad("previous: needs a key and a hex sha256")
	}
	seen := make(map[string]bool, len(m.Objects))
	for i, o := range m.Objects {
		p := fmt.Sprintf("objects[%d]", i)
		if o.Key == "" {
			bad("%s.key: missing", p)
		}
		if seen[o.Key] {
			bad("%s.key: %q listed twice", p, o.Key)
		}
		seen[o.Key] = true
		if o.Size < 0 {
			bad("%s.size: negative", p)
		}
		if !hexSHA256.MatchString(o.SHA256) {
			bad("%s.sha256: not a lower-case hex SHA-256", p)
		}
		if err := o.Checksum.validate(); err != nil {
			bad("%s.checksum: %v", p, err)
		}
		if o.SSE != nil && o.SSE.Algorithm == "" {
			bad("%s.sse.algorithm: missing", p)
		}
		if o.Retention != nil && o.Retention.Mode != "GOVERNANCE" && o.Retention.Mode != "COMPLIANCE" {
			bad("%s.retention.mode: %q", p, o.Retention.Mode)
		}
		if strings.ContainsRune(o.Key, '\n') {
			bad("%s.key: contains a newline", p)
		}
	}
	for i, sk := range m.Skipped {
		if sk.Reason == "" {
			bad("skipped[%d].reason: missing", i)
		}
	}
	if err := m.KeyTransition.validate(m); err != nil {
		bad("key_transition: %v", err)
	}
	return errors.Join(errs...)
}

func (c Checksum) validate() error {
	if c.Algorithm != "SHA256" {
		return fmt.Errorf("algorithm %q, want SHA256", c.Algorithm)
	}
	switch c.Type {
	case ChecksumFullObject:
		if !b64SHA256.MatchString(c.Value) || len(c.Parts) != 0 {
			return errors.New("FULL_OBJECT needs a base64 SHA-256 value and no parts")
		}
	case ChecksumComposite:
		if !b64Compound.MatchString(c.Value) || c.PartSize <= 0 || len(c.Parts) == 0 {
			return errors.New("COMPOSITE needs a base64-N value, a part size and part checksums")
		}
		if !strings.HasSuffix(c.Value, fmt.Sprintf("-%d", len(c.Parts))) {
			return fmt.Errorf("composite value counts a different number of parts than the %d listed", len(c.Parts))
		}
		for i, p := range c.Parts {
			if !b64SHA256.MatchString(p) {
				return fmt.Errorf("parts[%d]: not a base64 SHA-256", i)
			}
		}
	default:
		return fmt.Errorf("type %q, want FULL_OBJECT or COMPOSITE", c.Type)
	}
	return nil
}

// SHA256 returns the lower-case hex SHA-256 of data: the hash by which the
// next manifest links to this one.
func SHA256(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}
