package cli

import (
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"sync"

	"golang.org/x/term"
)

// Env is what a command runs with: its output streams, logger and the
// global flags' choices.
type Env struct {
	// Stdout receives results; Stderr logs, errors and progress.
	Stdout, Stderr io.Writer
	// Log writes to Stderr at the chosen level and format.
	Log *slog.Logger
	// JSON is --json: print results as JSON on Stdout.
	JSON bool
	// Terminal is true when Stderr is a terminal.
	Terminal bool
	// Positional holds the arguments of a command that accepts them
	// (Command.Args); otherwise any is a usage error before Run.
	Positional []string

	mu       sync.Mutex
	progress *Progress
}

// Printf writes a line of human output to Stdout, every string argument
// escaped (see Printf).
// Results come at the end: the progress display is removed first.
func (e *Env) Printf(format string, args ...any) {
	e.endProgress()
	Printf(e.Stdout, format, args...)
}

// PrintJSON writes v to Stdout as indented JSON.
func (e *Env) PrintJSON(v any) error {
	e.endProgress()
	enc := json.NewEncoder(e.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// Progress starts a live progress display on Stderr, labelled what, of
// items called noun ("file"), and
// returns it; it returns nil (no display) unless Stderr is a terminal and
// --json is off. The display is removed when the command returns, and
// cleared for each log line.
func (e *Env) Progress(what, noun string) *Progress {
	if !e.Terminal || e.JSON {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.progress == nil {
		e.progress = newProgress(e.Stderr, what, noun)
	}
	return e.progress
}

func (e *Env) endProgress() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.progress != nil {
		e.progress.finish()
		e.progress = nil
	}
}

// logWriter clears the progress display before each log line.
type logWriter struct{ e *Env }

func (w logWriter) Write(b []byte) (int, error) {
	w.e.mu.Lock()
	p := w.e.progress
	w.e.mu.Unlock()
	if p != nil {
		p.clear()
	}
	return w.e.Stderr.Write(b)
}

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
