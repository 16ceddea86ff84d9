package s3store

// BufferStats reports the bytes of the Store's buffer budget in use now, the
// most ever in use, and the budget, for tests.
func BufferStats(s *Store) (held, peak, budget int64) {
	return s.bufs.held.Load(), s.bufs.peak.Load(), s.bufs.budget
}

// IsCorruptCode reports whether code is one of the refusals of corrupted
// bytes (store.ErrCorrupted), for tests on raw SDK errors.
func IsCorruptCode(code string) bool { return isCorruptCode(code) }
