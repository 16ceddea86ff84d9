package custody

// More custody event types (see events.go): an export run's manifests and
// a recorded verification.
const (
	// EventExportRun records the manifests one export run wrote. Details:
	// run_id, sequences and manifest_sha256 (comma-separated, in the same
	// order), parts, files, bytes, failed.
	EventExportRun = "export_run"
	// EventVerification records a verification of a stream's chain that
	// was asked to be recorded (verify --record). Details: from and to (the
	// manifest sequence range checked), mode (fast or deep), result (valid
	// or problems), problems, manifests_checked, objects_checked and, when
	// the chain verified clean to its head, checkpoint (SEQ:SHA256).
	EventVerification = "verification"
)

// Details of a hold_placed event that RebuildHolds reads.
const (
	// DetailFrom and DetailTo are the hold's range (RFC 3339, empty when
	// open).
	DetailFrom = "from"
	DetailTo   = "to"
	// DetailThrough is the last manifest sequence number of the stream
	// when the hold was placed: a rebuilt record holds no later run.
	DetailThrough = "through_sequence"
	// DetailPlacedAt and DetailReleasedAt are the times in the matter's
	// record (RFC 3339 with nanoseconds), a little before the event's.
	DetailPlacedAt   = "placed_at"
	DetailReleasedAt = "released_at"
)
