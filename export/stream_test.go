package export_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/logkeeper/logkeeper/export"
	"github.com/logkeeper/logkeeper/export/dirsource"
	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/manifest"
)

// streamRun exports the folder once as a streaming run (state folder set),
// sealing a part every partBytes.
func (e *env) streamRun(state string, partBytes int) (*export.Result, error) {
	e.t.Helper()
	src, err := dirsource.New(e.root)
	if err != nil {
		e.t.Fatal(err)
	}
	j := e.job(src)
	j.StateDir, j.PartBytes = state, partBytes
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return j.Run(ctx, time.Time{}, "test")
}

// A streaming run over more files than one part holds seals several
// parts: chained, numbered, the last one final with the run's window, none
// over the bound; the archive verifies; a second run archives only what
// changed, and a run that fits in one part writes no part field.
func TestStreamingRunSealsParts(t *testing.T) {
	e := newEnv(t)
	state := t.TempDir()
	for i := range 60 {
		writeFile(t, e.path(fmt.Sprintf("d%d/f%02d.log", i%4, i)), fmt.Sprintf("line %d\n", i))
	}
	if err := os.Symlink("/etc/passwd", e.path("link")); err != nil {
		t.Fatal(err)
	}
	const partBytes = 6 << 10
	res, err := e.streamRun(state, partBytes)
	if err != nil {
		t.Fatal(err)
	}
	if res.Files != 60 || res.NotCollected != 1 || res.Failed != 0 || res.Parts < 3 || res.Sequence != uint64(res.Parts) {
		t.Fatalf("result %+v", res)
	}
	objects := 0
	var prev *manifest.Manifest
	for seq := uint64(1); seq <= res.Sequence; seq++ {
		m := readManifest(t, e, seq, partBytes)
		if m.Part == nil || m.Part.Index != uint32(seq) || m.Part.Final != (seq == res.Sequence) || m.RunID != res.RunID {
			t.Fatalf("manifest %d: part %+v run %s", seq, m.Part, m.RunID)
		}
		if err := manifest.CheckPartOrder(prev, m); err != nil {
			t.Fatal(err)
		}
		if !m.Part.Final && !m.Window.Start.Equal(m.Window.End) {
			t.Fatalf("part %d has a window", seq)
		}
		objects += len(m.Objects)
		prev = m
	}
	if objects != 60 {
		t.Fatalf("%d objects over the parts, want 60", objects)
	}
	if kinds := e.verify(); len(kinds) != 0 {
		t.Fatalf("verify found %v", kinds)
	}

	writeFile(t, e.path("d1/new.log"), "new")
	writeFile(t, e.path("d0/f00.log"), "changed")
	res2, err := e.streamRun(state, partBytes)
	if err != nil {
		t.Fatal(err)
	}
	if res2.Files != 2 || res2.Skipped != 59 || res2.Parts != 1 {
		t.Fatalf("second run %+v", res2)
	}
	if m := readManifest(t, e, res2.Sequence, partBytes); m.Part != nil || !m.Window.Start.Equal(prev.Window.End) {
		t.Fatalf("one-part run: part %+v, window %+v after %+v", m.Part, m.Window, prev.Window)
	}
	// The same state answers as the chain in memory would: a run without
	// the state folder finds nothing new either.
	res3, err := e.run()
	if err != nil || res3.Files != 0 {
		t.Fatalf("in-memory run after streaming runs: %+v %v", res3, err)
	}
}

// Losing the state folder loses nothing: the index is rebuilt from the
// manifests and the next run archives nothing twice.
func TestStreamingRunRebuildsLostState(t *testing.T) {
	e := newEnv(t)
	for i := range 20 {
		writeFile(t, e.path(fmt.Sprintf("f%02d.log", i)), "x")
	}
	state := t.TempDir()
	if _, err := e.streamRun(state, 2<<10); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(state); err != nil {
		t.Fatal(err)
	}
	res, err := e.streamRun(t.TempDir(), 2<<10)
	if err != nil || res.Files != 0 || res.Skipped != 20 {
		t.Fatalf("run with a new state folder: %+v %v", res, err)
	}
}

// failingSource is a folder source whose file "a0.log" cannot be opened.
type failingSource struct{ *dirsource.Source }

func (f failingSource) Open(ctx context.Context, file export.File) (io.ReadCloser, error) {
	if file.ID == "a0.log" {
		return nil, errors.New("device not ready")
	}
	return f.Source.Open(ctx, file)
}

// A file that cannot be read is a failure in whichever part it falls, and
// the run's error names it even when the last part has none.
func TestStreamingRunFailureInEarlyPart(t *testing.T) {
	e := newEnv(t)
	writeFile(t, e.path("a0.log"), "unreadable")
	for i := range 30 {
		writeFile(t, e.path(fmt.Sprintf("b%02d.log", i)), "x")
	}
	src, err := dirsource.New(e.root)
	if err != nil {
		t.Fatal(err)
	}
	j := e.job(failingSource{src})
	j.StateDir, j.PartBytes, j.Workers = t.TempDir(), 3<<10, 1
	res, err := j.Run(context.Background(), time.Time{}, "test")
	if !errors.Is(err, export.ErrFilesFailed) || res.Failed != 1 || res.Files != 30 || res.Parts < 2 ||
		!strings.Contains(err.Error(), "a0.log: open: device not ready") {
		t.Fatalf("%+v %v", res, err)
	}
	if len(res.Manifest.Failures) != 0 {
		t.Fatalf("the failure should be in an early part, the last has %v", res.Manifest.Failures)
	}
}

func readManifest(t *testing.T, e *env, seq uint64, maxRaw int) *manifest.Manifest {
	t.Helper()
	rc, _, err := e.st.Get(context.Background(), manifest.Key("app", seq), store.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	raw := make([]byte, 0, 1<<16)
	buf := make([]byte, 32<<10)
	for {
		n, err := rc.Read(buf)
		raw = append(raw, buf[:n]...)
		if err != nil {
			break
		}
	}
	if len(raw) > maxRaw {
		t.Fatalf("manifest %d: %d bytes, over %d", seq, len(raw), maxRaw)
	}
	m, err := manifest.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
