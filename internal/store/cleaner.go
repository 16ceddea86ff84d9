package store

import (
	"context"
	"time"
)

// UploadCleaner is implemented by stores whose uploads can outlive the
// process that started them: an S3 multipart upload of a process that was
// killed stays (and is billed) until someone aborts it. Such an upload is
// never visible as an object, so it cannot harm the archive; it only
// costs storage.
//
// AbortStale aborts every unfinished upload whose key starts with prefix
// and that was started more than olderThan ago (olderThan <= 0: all of
// them), and returns how many it aborted. An upload that finishes or is
// aborted by someone else meanwhile is not an error. An upload younger than
// olderThan may belong to a writer that is still running and is left
// alone: callers pick olderThan longer than any run they could interrupt.
// Errors are those of the listing or of an abort (it stops at the first).
type UploadCleaner interface {
	AbortStale(ctx context.Context, prefix string, olderThan time.Duration) (n int, err error)
}
