// Package signing signs and verifies logkeeper manifests.
//
// A manifest is signed by a [Signer]: a local key file ([LoadKeyFile],
// created with [GenerateKeyFile]) or a key held by AWS KMS (package
// awskms). Package signers opens either from a URI. Anyone holding only
// the public key can check a signature with [Verify]; verification needs no
// network and no AWS SDK.
//
// # Algorithms
//
// Two algorithms are supported, each tied to one key type:
//
//	AlgEd25519          "ed25519"            pure Ed25519 over the message bytes
//	AlgECDSAP256SHA256  "ecdsa-p256-sha256"  ECDSA P-256 over SHA-256(message),
//	                                         ASN.1 DER signature (as AWS KMS
//	                                         ECDSA_SHA_256 returns it)
//
// A signature always covers the exact message bytes handed to Sign; callers
// decide what those bytes are (for a manifest, its canonical encoding).
//
// # Key ids
//
// A key is named by its fingerprint, [KeyID]: "sha256:" followed by the
// lowercase hex SHA-256 of the public key's PKIX (SubjectPublicKeyInfo) DER
// encoding. The same key has the same id wherever it lives, so a manifest
// signed through KMS can be checked against a PEM file exported from it:
//
//	openssl pkey -pubin -in key.pub -outform DER | sha256sum
//
// prints the same hex digits.
//
// # Key files
//
// Private keys are PEM files, "PRIVATE KEY" (PKCS#8) or "EC PRIVATE KEY"
// (SEC 1), unencrypted, and must not be accessible to group or others (mode
// 0600): [LoadKeyFile] refuses them otherwise. Public keys are "PUBLIC KEY"
// (PKIX) PEM files. [GenerateKeyFile] never overwrites an existing file and
// never leaves a partly written one.
//
// # Errors
//
// [Verify] returns an error wrapping [ErrBadSignature] when a signature does
// not match, and [ErrUnsupported] when the algorithm is unknown or does not
// fit the key. No error, String method or log value in this package contains
// private key material.
package signing
