// Package memstore is an in-memory store.Store for fast unit tests. It
// passes the shared conformance suite (internal/store/storetest), so what a
// test shows on it holds for the contract every store gives; and it can be
// made hostile, the way someone with write access to a bucket or folder
// could make a real store: keys no writer would use (PutRaw), content that
// is huge or never ends, that changes between two reads, that blocks until
// the reader gives up, or that fails to read (SetFault).
//
// It keeps no versions (like the filesystem store): Versions returns the
// one current object. Whether its Head reports checksums a verifier may
// trust (store.ChecksumAuthority) is chosen at New.
package memstore
