// Package archindex is a stream's archived-file index: for every source
// file id the chain has seen, the size and modification time of its newest
// archived copy and, for a file whose latest record is a failure no later
// run archived, that failure (which a source that lists a window only once
// is offered again). It is what an exporter needs from the whole chain to
// stay incremental, in a compact form that does not live in memory: one
// file of fixed 64-byte records sorted by the SHA-256 of the file id, read
// with ReadAt through a sparse in-memory index (one key per 32 records:
// 1 MiB for a million files), followed by the failures as JSON lines.
//
// The index is a cache: losing it loses nothing. It is built from the
// manifests (Builder, which spills sorted runs to disk so that building
// from a million archived files holds a few megabytes), and it names the
// chain head it was built for (sequence and manifest SHA-256) in its
// header, with the SHA-256 of its body. Open checks the body against that
// digest; the caller checks the head against the chain before trusting the
// index, and folds in the manifests appended since (Update) or rebuilds it.
//
// The file is a function of the chain alone (no times, no host, records in
// key order, the header's fields fixed), so two builders of one chain write
// the same bytes: a signed state kept next to a checkpoint can commit to
// the index by its SHA-256, and anyone can rebuild and compare it.
package archindex
