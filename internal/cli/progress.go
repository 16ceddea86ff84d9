package cli

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
)

// Progress is a live display of files (or objects) and bytes done of the total, with
// the rate and the time left, drawn on a terminal. It implements the
// observer hooks of export.Job and custody.VerifyOptions: Total and Done
// may be called from many goroutines at once and return at once (the
// display is redrawn at most every 100ms). The methods of a nil *Progress
// do nothing.
type Progress struct {
	mu         sync.Mutex
	bar        *progressbar.ProgressBar
	what, noun string
	files      int
	filesTotal int
}

const progressRedraw = 100 * time.Millisecond

func newProgress(w io.Writer, what, noun string) *Progress {
	p := &Progress{what: what, noun: noun}
	p.bar = progressbar.NewOptions64(-1,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(p.describe()),
		progressbar.OptionShowBytes(true),
		progressbar.OptionShowTotalBytes(true),
		progressbar.OptionShowCount(),
		progressbar.OptionUseIECUnits(true),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetElapsedTime(false),
		progressbar.OptionThrottle(progressRedraw),
		progressbar.OptionSetWidth(20),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetRenderBlankState(true),
	)
	return p
}

func (p *Progress) describe() string {
	return fmt.Sprintf("%s %d/%s", p.what, p.files, Count(p.filesTotal, p.noun, ""))
}

// Total adds files and bytes to the work to be done.
func (p *Progress) Total(files int, bytes int64) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.filesTotal += files
	p.bar.Describe(p.describe())
	if total := max(p.bar.GetMax64(), 0) + bytes; total > 0 {
		p.bar.ChangeMax64(total)
	}
}

// Done adds files and bytes done.
func (p *Progress) Done(files int, bytes int64) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if files != 0 {
		p.files += files
		p.bar.Describe(p.describe())
	}
	p.bar.Add64(bytes) //nolint:errcheck // display only
}

// clear removes the display from the terminal (before a log line).
func (p *Progress) clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.bar.Clear() //nolint:errcheck // display only
}

// finish removes the display for good.
func (p *Progress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.bar.Exit()  //nolint:errcheck // display only
	p.bar.Clear() //nolint:errcheck // display only
}
