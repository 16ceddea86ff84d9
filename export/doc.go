// Package export runs one export job of a stream: it reads the chain of
// custody to learn what is already archived, lists the source, streams each
// new or changed file into the store (the store hashes every byte in the
// same pass), and appends a signed manifest that records exactly what was
// stored. It does not import any cloud SDK: sources, stores and signers are
// interfaces.
//
// A run that is cancelled, or whose store fails, writes no manifest: the
// objects it uploaded are not claimed by any manifest and the next run
// uploads those files again. A source file that cannot be read is recorded
// as a failure in the manifest (absence is attested), the run returns an
// error, and the next run tries the file again.
package export
