// Package awskms signs logkeeper manifests with an asymmetric AWS KMS key.
//
// The key must have KeySpec ECC_NIST_P256 and KeyUsage SIGN_VERIFY; it
// signs with ECDSA_SHA_256, which is signing.AlgECDSAP256SHA256. The private
// key never leaves KMS: [New] fetches the public key once, and each
// [Signer.Sign] hashes the message locally, sends only the SHA-256 digest
// (MessageType DIGEST), and checks the returned signature against the cached
// public key before handing it out, so a signature that would not verify is
// never written.
//
// A key may be named by key id, key ARN, alias name ("alias/logkeeper") or
// alias ARN. New resolves it once: the Signer then always signs with the key
// ARN that KMS returned, so moving the alias to another key later does not
// change which key an existing Signer uses (its KeyID stays true).
//
// Verifiers need no KMS access: [PublicKey] (or the AWS console, or
// `aws kms get-public-key`) gives the public key, and signing.Verify checks
// signatures offline.
//
// KMS failures that a caller cannot fix by retrying are reported as one-line
// errors naming the key and wrapping [ErrKeyNotFound], [ErrKeyDisabled],
// [ErrAccessDenied] or [ErrKeyState]; a key of the wrong kind wraps
// signing.ErrUnsupported. Throttling and network errors are retried by the
// AWS SDK and, if they persist, returned wrapped as the SDK reports them.
//
// Package signers opens a Signer from an awskms:// URI, with a client from
// the SDK's default chain (signers.DefaultKMSClient).
package awskms
