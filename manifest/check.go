package manifest

import "fmt"

// CommitmentError says that a manifest's totals or Merkle root do not match
// its own object list.
type CommitmentError struct {
	Field              string
	Expected, Computed string
}

func (e *CommitmentError) Error() string {
	return fmt.Sprintf("%s: manifest says %s, objects give %s", e.Field, e.Expected, e.Computed)
}

// CheckCommitments recomputes the totals and the Merkle root from the
// object list and returns a *CommitmentError for each mismatch.
func (m *Manifest) CheckCommitments() []error {
	var errs []error
	var bytes int64
	for _, o := range m.Objects {
		bytes += o.Size
	}
	if m.Totals.Objects != len(m.Objects) {
		errs = append(errs, &CommitmentError{"totals.objects", fmt.Sprint(m.Totals.Objects), fmt.Sprint(len(m.Objects))})
	}
	if m.Totals.Bytes != bytes {
		errs = append(errs, &CommitmentError{"totals.bytes", fmt.Sprint(m.Totals.Bytes), fmt.Sprint(bytes)})
	}
	if m.Merkle.Algorithm != MerkleAlgorithm {
		errs = append(errs, &CommitmentError{"merkle.algorithm", m.Merkle.Algorithm, MerkleAlgorithm})
	}
	if m.Merkle.TreeSize != uint64(len(m.Objects)) {
		errs = append(errs, &CommitmentError{"merkle.tree_size", fmt.Sprint(m.Merkle.TreeSize), fmt.Sprint(len(m.Objects))})
	}
	root, err := Root(m.Objects)
	if err != nil {
		errs = append(errs, err)
	} else if root != m.Merkle.Root {
		errs = append(errs, &CommitmentError{"merkle.root", m.Merkle.Root, root})
	}
	return errs
}
