package fsstore

// UseSideFiles makes s write metadata side files, as stores did before
// metadata moved into an extended attribute (and as a store does on a
// filesystem without user attributes).
func UseSideFiles(s *Store) { s.xattr, s.tmpfile = false, false }

// UseNamedTemps makes s write named temporary files, as stores did before
// anonymous ones (and as a store does where O_TMPFILE or /proc is
// missing).
func UseNamedTemps(s *Store) { s.tmpfile = false }

// UsesTmpfile reports whether s's creates write anonymous temporary files.
func UsesTmpfile(s *Store) bool { return s.tmpfile }

// UsesXattr reports whether s writes metadata in an extended attribute.
func UsesXattr(s *Store) bool { return s.xattr }

// MetaXattr is the name of the metadata attribute.
const MetaXattr = metaXattr

// SetMaxMetaXattr sets the cap of the metadata attribute until the
// returned function restores it.
func SetMaxMetaXattr(n int) (restore func()) {
	old := maxMetaXattr
	maxMetaXattr = n
	return func() { maxMetaXattr = old }
}
