package dirsource

// WithoutOpenat2 makes Open take the path component by component, as where
// openat2(2) is missing, until the returned function restores it.
func WithoutOpenat2() (restore func()) {
	old := noOpenat2.Load()
	noOpenat2.Store(true)
	return func() { noOpenat2.Store(old) }
}
