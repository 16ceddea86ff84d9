package custody

// SetHoldChunkBytes sets the bound of a matter's record and of its chunks
// until the returned function restores it.
func SetHoldChunkBytes(n int) (restore func()) {
	old := holdChunkBytes
	holdChunkBytes = n
	return func() { holdChunkBytes = old }
}
