package custody

import "github.com/logkeeper/logkeeper/manifest"

// checkPartOrder checks that m may follow the entry prev (nil for the
// first manifest) as a part of a run (manifest.Part).
func checkPartOrder(prev *Entry, m *manifest.Manifest) error {
	if prev == nil {
		return manifest.CheckPartOrder(nil, m)
	}
	return manifest.CheckPartOrder(prev.Manifest, m)
}
