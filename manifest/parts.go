package manifest

import (
	"errors"
	"fmt"
)

// MaxBytes bounds a manifest's encoding: Marshal refuses to write a larger
// one. A run whose objects do not fit in one manifest is sealed as several
// parts.
const MaxBytes = 16 << 20

// MaxReadBytes bounds what Parse reads: manifests written before parts
// existed held a whole run, however large (62 MB for 120,000 files), and
// still verify.
const MaxReadBytes = 64 << 20

// ErrTooLarge means a manifest would exceed MaxBytes (Marshal), or
// exceeds MaxReadBytes (Parse).
var ErrTooLarge = errors.New("manifest too large")

// Part says which part of a run a manifest is, for a run sealed as several
// manifests. Every part is a whole manifest of its own: it has the next
// sequence number, links to the one before, is signed, and commits to its
// own objects with its own Merkle root, so an object's inclusion proof is
// within its part. The parts of a run share its run id and follow each
// other in the chain, numbered from 1; the last says Final.
//
// The window of a part that is not the last is empty, at the run's start
// (start = end = the previous manifest's end): a part attests the objects
// it lists, not a span of time. The last part carries the run's window.
// So windows still meet from manifest to manifest, and a run cut short
// after some parts (a crash while sealing) leaves a chain whose head is a
// part that is not final: every object its parts list is stored (objects
// are stored before the part that lists them is sealed), its window is
// empty, and the next run starts over from the same point, skipping the
// files those parts archived.
type Part struct {
	// Index is 1 for the first part of the run.
	Index uint32 `json:"index"`
	// Final is set on the last part: the run is complete.
	Final bool `json:"final"`
}

// validate checks the part on its own and against its manifest.
func (p *Part) validate(m *Manifest) error {
	switch {
	case p == nil:
		return nil
	case p.Index == 0:
		return errors.New("index must be 1 or more")
	case p.Index > 1 && m.Sequence == 1:
		return fmt.Errorf("part %d cannot be the first manifest of a stream", p.Index)
	case !p.Final && !m.Window.Start.Equal(m.Window.End):
		return errors.New("a part that is not the last has an empty window")
	}
	return nil
}

// PartIndex is the manifest's part number: 1 for a manifest without parts.
func (m *Manifest) PartIndex() uint32 {
	if m.Part == nil {
		return 1
	}
	return m.Part.Index
}

// Complete reports whether the manifest ends its run: it has no parts, or
// it is the last.
func (m *Manifest) Complete() bool { return m.Part == nil || m.Part.Final }

// CheckPartOrder checks that cur may follow prev in a chain (prev is nil
// for the first manifest): a part after the first follows the part before
// it of the same run, and a manifest that starts a run follows one that
// ended its own run or, after a run cut short, one of another run. It
// returns nil or an error saying what is wrong.
func CheckPartOrder(prev, cur *Manifest) error {
	idx := cur.PartIndex()
	if idx == 1 {
		if prev != nil && !prev.Complete() && prev.RunID == cur.RunID {
			return fmt.Errorf("run %s starts again at part 1 after part %d", cur.RunID, prev.PartIndex())
		}
		return nil
	}
	switch {
	case prev == nil:
		return fmt.Errorf("part %d of run %s has no part before it", idx, cur.RunID)
	case prev.RunID != cur.RunID:
		return fmt.Errorf("part %d of run %s follows run %s", idx, cur.RunID, prev.RunID)
	case prev.Complete():
		return fmt.Errorf("part %d of run %s follows the run's last part", idx, cur.RunID)
	case prev.PartIndex() != idx-1:
		return fmt.Errorf("part %d of run %s follows part %d", idx, cur.RunID, prev.PartIndex())
	}
	return nil
}
