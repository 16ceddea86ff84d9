package export

import (
	"context"

	"github.com/logkeeper/logkeeper/manifest"
)

// Walker is implemented by sources that can offer their files one at a
// time instead of as one list: a run over a million files then holds a
// bounded number of them, not the whole listing (Job.StateDir).
type Walker interface {
	// Walk calls fn for every item List would return, in a stable order,
	// until fn returns an error, which Walk returns. Open accepts the files
	// it offers, as those of List.
	Walk(ctx context.Context, window manifest.Window, fn func(File) error) error
}
