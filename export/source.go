package export

import (
	"context"
	"io"
	"time"

	"github.com/logkeeper/logkeeper/manifest"
)

// File is one file a source offers.
type File struct {
	// ID is the file's stable identity at the source (a relative path, an
	// edge id and path). A file whose ID, Size and Modified were archived
	// before is skipped.
	ID string
	// Path is the original path or name; the object key is built from it.
	Path string
	// Size in bytes, or -1 when the source does not know it in advance.
	Size     int64
	Modified time.Time
	// IDs are source-side identifiers recorded as provenance.
	IDs map[string]string
	// Skip, when not empty, says why the source found this item and does
	// not offer it for archiving (a symbolic link, a special file, an
	// offline edge). The run records it in the manifest's skipped list and
	// never opens it.
	Skip string
	// Err, when not nil, is a problem the source met with this item while
	// listing (an edge whose files could not be listed, a name that cannot
	// become a key). The run records it as a failure of the item, which a
	// later run tries again, and never opens it.
	Err error
	// Ref is the listing source's own note on the file (where and what it
	// was when listed), for its Open; the exporter passes it back as is.
	Ref any
}

// Source lists and opens the files of one stream. Implementations are safe
// for concurrent use of Open.
type Source interface {
	// Describe says what the source is, for the manifest.
	Describe() manifest.Source
	// List returns the files available for the window, in a stable order.
	List(ctx context.Context, window manifest.Window) ([]File, error)
	// Open opens one listed file. Errors from Open and from reading are
	// recorded as failures of that file.
	Open(ctx context.Context, f File) (io.ReadCloser, error)
}

// Retrier is implemented by sources whose files are offered for one window
// only (an audit query per window): once the window has passed, List never
// offers a file again, so a file that failed would be lost. Run hands such a
// source the failures recorded in earlier manifests whose files no later run
// archived, and archives what Retry returns along with the new window.
type Retrier interface {
	// Retry returns the files to try again for these failures (in order).
	// A failure it does not recognise is left out; an error fails the run
	// before anything is stored, as a List error does.
	Retry(ctx context.Context, failed []manifest.Failure) ([]File, error)
}

// Preparer is implemented by sources that can get ready for the files a
// run will archive before they are opened (a Genesys edge uploads the
// files it is asked for in one batch). Run calls Prepare once, with the
// files it will open, before the first Open. Prepare reports its own
// problems (logs them); Open still works for a file Prepare could not
// prepare.
type Preparer interface {
	Prepare(ctx context.Context, files []File)
}

// Rechecker is implemented by sources whose items can still appear in a
// window after it was archived (audit records indexed late). Before List,
// Run hands it the last RecheckWindows manifests of the chain (oldest
// first; their bytes checked against the chain's hash links) and a reader
// of their objects, and archives the files Recheck returns with the new
// window. Recheck is not called before a stream's first run. The source finds what the archive already holds from those
// objects, so memory stays bounded by the windows rechecked.
type Rechecker interface {
	// RecheckWindows is how many of the latest manifests Recheck needs
	// (0: none, and Recheck is not called).
	RecheckWindows() int
	// Recheck returns the files to archive for items that appeared in
	// those manifests' windows after they were archived. An error fails
	// the run before anything is stored, as a List error does.
	Recheck(ctx context.Context, recent []*manifest.Manifest, read ReadArchived) ([]File, error)
}

// ReadArchived reads an object a manifest lists. The reader fails at the
// end when the bytes do not match the manifest's size and SHA-256.
type ReadArchived func(ctx context.Context, o manifest.Object) (io.ReadCloser, error)
