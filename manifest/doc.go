// Package manifest defines logkeeper's manifest format, version 1: the signed,
// hash-chained JSON record that one export run of a stream writes next to the
// objects it archived.
//
// A manifest lists every object the run stored (key, version, size, SHA-256,
// part checksums, encryption, retention) with the provenance of its source
// file, commits to that list with an RFC 6962 Merkle root, and links to the
// exact bytes of the previous manifest of the stream by their SHA-256. One
// manifest is written for every run, including runs that found nothing, so
// absence is attested as well as presence; a run too large for one
// manifest (MaxBytes) is sealed as several, its parts (Part). The manifest's bytes are signed
// as they are stored; the signature lives in a sidecar object (see Keys).
//
// The package is pure logic over bytes: it encodes, decodes, validates and
// hashes, and never does I/O. The JSON Schema of the format is schema/v1.json
// at the repository root.
package manifest
