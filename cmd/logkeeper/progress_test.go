package main

import (
	"bytes"
	"crypto/rand"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
)

// runInTerminal runs logkeeper with stderr on a pseudo-terminal and stdout
// on a pipe, and returns the exit code, stdout and what the terminal got.
func runInTerminal(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatalf("open a pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	pty.Setsize(ptmx, &pty.Winsize{Rows: 40, Cols: 120}) //nolint:errcheck // default width then
	cmd := exec.Command(binary, args...)
	var stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, tty
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close()
	var term bytes.Buffer
	copied := make(chan struct{})
	go func() { io.Copy(&term, ptmx); close(copied) }() //nolint:errcheck // EIO at the end
	cmd.Wait()                                          //nolint:errcheck // the exit code says
	select {
	case <-copied:
	case <-time.After(5 * time.Second):
		t.Fatal("terminal output did not end")
	}
	return cmd.ProcessState.ExitCode(), stdout.String(), term.String()
}

// progressLine matches a frame of the display: files done of the total,
// bytes done of the total, rate and the time left.
// Sizes and rates may be in any IEC unit (a fast disk reads at GiB/s).
var progressLine = regexp.MustCompile(`(export|verify) \d+/\d+ (files|objects) +\d+% \|.*\| \(\d+(\.\d+)?/\d+(\.\d+)? [KMGT]iB, \d+(\.\d+)? [KMGT]?i?B/s\) \[\d+s:\d+s\]`)

// export and verify draw a live progress display on stderr when it is a
// terminal, and remove it before the one-line summary; never with --json
// or when stderr is not a terminal.
func TestProgressOnTerminal(t *testing.T) {
	c, cfg := setup(t)
	// Enough bytes that the display is redrawn (every 100ms) while files
	// are copied and read back: with 4 x 24 MiB, verify of the file store
	// sometimes finished before the first redraw.
	for _, name := range []string{"big1.log", "big2.log", "big3.log", "big4.log"} {
		b := make([]byte, 64<<20)
		rand.Read(b)
		os.WriteFile(filepath.Join(c.dir, "logs", name), b, 0o644)
	}
	for _, tc := range []struct{ cmd, noun string }{{"export", "files"}, {"verify", "objects"}} {
		code, out, term := runInTerminal(t, tc.cmd, "-c", cfg, "--stream", "edge")
		if code != 0 {
			t.Fatalf("%s in a terminal: exit %d\n%s%q", tc.cmd, code, out, term)
		}
		if !progressLine.MatchString(term) {
			t.Fatalf("%s: no progress frame (files and bytes of the total, rate, time left) on the terminal: %q", tc.cmd, term)
		}
		if !strings.Contains(term, " 6 "+tc.noun) && !strings.Contains(term, "/6 "+tc.noun) {
			t.Fatalf("%s: the display does not count 6 %s: %q", tc.cmd, tc.noun, term)
		}
		if strings.Contains(term, "level=") || strings.Contains(term, `"level"`) {
			t.Fatalf("%s: info logs on a terminal (quiet means warnings only): %q", tc.cmd, term)
		}
		if strings.Count(out, "\n") > 2 || strings.Contains(out, "\r") {
			t.Fatalf("%s: the result is not a short human summary: %q", tc.cmd, out)
		}
		// The summary is in human units.
		if !regexp.MustCompile(`\d+(\.\d+)? [KMGT]iB`).MatchString(out) {
			t.Fatalf("%s: summary without human sizes: %q", tc.cmd, out)
		}
		// --json: no display, JSON on stdout.
		code, out, term = runInTerminal(t, tc.cmd, "-c", cfg, "--stream", "edge", "--json")
		if code != 0 || progressLine.MatchString(term) || strings.Contains(term, "%") || !strings.HasPrefix(out, "{") {
			t.Fatalf("%s --json in a terminal: exit %d, terminal %q, stdout %q", tc.cmd, code, term, out)
		}
	}
	// Not a terminal: no display, and logs are JSON lines at info.
	cmd := exec.Command(binary, "export", "-c", cfg, "--stream", "edge")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(stderr.String(), "%") || !strings.HasPrefix(stderr.String(), `{"time":`) {
		t.Fatalf("export with stderr on a pipe: %q", stderr.String())
	}
}
