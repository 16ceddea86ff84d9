package manifest

import (
	"fmt"
	"path"
	"strconv"
	"strings"
)

// Object key layout, relative to the store's prefix:
//
//	<stream>/manifests/<sequence, 20 digits>.json             the manifest
//	<stream>/manifests/<sequence, 20 digits>.<run_id>.sig     its signature
//	<stream>/objects/<run_id>/<sanitized source path>         archived data
//
// The manifest key is derived from the sequence number alone and created
// conditionally, so two exporters can never both write sequence N. The
// signature key carries the run id, so a crashed or losing writer's
// signature can never take the place of the winner's.

// ManifestsPrefix returns the key prefix of a stream's manifests.
func ManifestsPrefix(stream string) string { return stream + "/manifests/" }

// ObjectsPrefix returns the key prefix of one run's objects.
func ObjectsPrefix(stream, runID string) string { return stream + "/objects/" + runID + "/" }

// Key returns the key of a stream's manifest number seq.
func Key(stream string, seq uint64) string {
	return fmt.Sprintf("%s%020d.json", ManifestsPrefix(stream), seq)
}

// SignatureKey returns the key of the signature of the manifest at
// manifestKey written by run runID.
func SignatureKey(manifestKey, runID string) string {
	return strings.TrimSuffix(manifestKey, ".json") + "." + runID + ".sig"
}

// ParseKey returns the sequence number of a manifest key of stream, and
// false when key is not one (a signature, or some other object).
func ParseKey(stream, key string) (uint64, bool) {
	rest, ok := strings.CutPrefix(key, ManifestsPrefix(stream))
	if !ok {
		return 0, false
	}
	digits, ok := strings.CutSuffix(rest, ".json")
	if !ok || len(digits) != 20 || path.Base(rest) != rest {
		return 0, false
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || n == 0 {
		return 0, false
	}
	return n, true
}
