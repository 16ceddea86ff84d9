// Package custody keeps and checks a stream's chain of custody: the
// sequence of signed manifests in the store, each linked by hash to the one
// before.
//
// Load reads a stream's chain as an exporter needs it (the head, and which
// source files are already archived), checking every link and the head's
// signature so that nothing is ever appended to a chain that was tampered
// with. Append adds a manifest: it signs the exact bytes, stores the
// signature under a key unique to the run, then creates the manifest with a
// conditional put, so two writers can never both own a sequence number.
// Verify is the auditor's check, the equivalent of
// `aws cloudtrail validate-logs` and more: it reports every problem it finds
// as a typed Problem, and only returns an error when it could not finish.
package custody
