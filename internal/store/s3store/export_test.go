package s3store

// BufferStats reports the bytes of the Store's buffer budget in use now, the
// most ever in use, and the budget, for tests.
func BufferStats(s *Store) (held, peak, budget int64) {
	return s.bufs.held.Load(), s.bufs.peak.Load(), s.bufs.budget
}
