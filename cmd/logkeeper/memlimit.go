package main

import (
	"os"
	"runtime/debug"
)

// defaultMemoryLimit is the Go runtime's soft memory limit when
// GOMEMLIMIT is not set: the collector works harder as the heap nears it,
// instead of letting garbage grow to the size of what is live. What a run
// holds is bounded by design (streaming runs, parts of 2 MiB, the index
// on disk); this keeps the garbage around it bounded too. A soft limit
// never fails an allocation: a heap that needs more grows past it.
const defaultMemoryLimit = 96 << 20

func init() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
}
