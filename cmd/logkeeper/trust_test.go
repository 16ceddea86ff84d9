package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logkeeper/logkeeper/internal/cli"
	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/internal/store/fsstore"
	"github.com/logkeeper/logkeeper/manifest"
	"github.com/logkeeper/logkeeper/service/lease"
)

// putLease writes stream's lease into the file store at root, as another
// replica (or someone editing the store) would.
func putLease(t *testing.T, root, stream, holder string, expires time.Time) {
	t.Helper()
	st, err := fsstore.New(root)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	b, _ := json.Marshal(lease.Record{Schema: lease.Schema, Name: stream, Holder: holder, Token: "t",
		Acquired: now, Renewed: now, Expires: expires})
	if _, err := st.Put(context.Background(), lease.Key(stream), bytes.NewReader(b), store.PutOptions{Size: int64(len(b))}); err != nil {
		t.Fatal(err)
	}
}

// TestRunOnceAndLeases: run --once beside a valid lease of another replica
// archives nothing and exits 3 (could not complete) saying so; a lease edited to expire in 2099
// is taken over with a warning and the stream is archived (exit 0).
func TestRunOnceAndLeases(t *testing.T) {
	c, cfg := setup(t)
	archive := filepath.Join(c.dir, "archive")
	until := time.Now().UTC().Add(30 * time.Second).Truncate(time.Second)
	putLease(t, archive, "edge", "other-replica", until)
	code, _, stderr := c.run("run", "-c", cfg, "--once")
	want := fmt.Sprintf("stream edge: nothing archived: lease edge: lease held by another holder other-replica until %s", until.Format(time.RFC3339))
	if code != cli.ExitIncomplete || !strings.Contains(stderr, want) {
		t.Fatalf("run --once under another's lease: exit %d, want %d with %q; stderr:\n%s", code, cli.ExitIncomplete, want, stderr)
	}
	if !strings.Contains(stderr, `"level":"INFO","msg":"tick skipped: the stream's lease is held by another replica"`) {
		t.Fatalf("no info line for the skipped tick:\n%s", stderr)
	}
	if _, err := os.Stat(filepath.Join(archive, "edge", "manifests")); !os.IsNotExist(err) {
		t.Fatalf("manifests written under another's lease: %v", err)
	}

	putLease2099(t, archive)
	code, _, stderr = c.run("run", "-c", cfg, "--once")
	if code != cli.ExitOK {
		t.Fatalf("run --once over a 2099 lease: exit %d; stderr:\n%s", code, stderr)
	}
	if !strings.Contains(stderr, `"level":"WARN","msg":"invalid lease taken over"`) || !strings.Contains(stderr, `"previous_expires":"2099-01-01T00:00:00Z"`) {
		t.Fatalf("no warning for the takeover:\n%s", stderr)
	}
	if code, out, _ := c.run("verify", "-c", cfg, "--stream", "edge"); code != cli.ExitOK {
		t.Fatalf("verify after the takeover: exit %d\n%s", code, out)
	}
}

func putLease2099(t *testing.T, archive string) {
	t.Helper()
	st, err := fsstore.New(archive)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Delete(context.Background(), lease.Key("edge")); err != nil {
		t.Fatal(err)
	}
	putLease(t, archive, "edge", "intruder", time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC))
}

// TestExportFIFOSwappedIn: a source file swapped for a FIFO while the
// export runs made it hang, deaf to SIGTERM. Now the file is a failure of
// its own and the export finishes; and a SIGTERM sent while it uploads
// ends it within a few seconds, writing no manifest.
func TestExportFIFOSwappedIn(t *testing.T) {
	for _, term := range []bool{false, true} {
		t.Run(fmt.Sprintf("sigterm %v", term), func(t *testing.T) {
			c, cfg := setup(t)
			src := filepath.Join(c.dir, "logs")
			// Enough files that the uploads (each fsynced) take a while.
			for i := range 800 {
				if err := os.WriteFile(filepath.Join(src, fmt.Sprintf("f%04d.log", i)), []byte("line\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			last := filepath.Join(src, "zzz.log")
			if err := os.WriteFile(last, []byte("last\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			p := start(t, nil, "export", "-c", cfg, "--stream", "edge", "--log-format", "json")
			p.waitLine("export started", 30*time.Second)
			if err := os.Remove(last); err != nil {
				t.Fatal(err)
			}
			if err := syscall.Mkfifo(last, 0o644); err != nil {
				t.Fatal(err)
			}
			if term {
				if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
					t.Fatal(err)
				}
			}
			code := p.wait(10 * time.Second)
			manifests, _ := filepath.Glob(filepath.Join(c.dir, "archive", "edge", "manifests", "*.json"))
			switch {
			case term && (code == cli.ExitOK || len(manifests) != 0):
				t.Fatalf("SIGTERM: exit %d, %d manifests; want non-zero and none\n%s", code, len(manifests), p.log())
			case !term && (code != cli.ExitProblems || len(manifests) != 1 || !strings.Contains(p.log(), "it is a named pipe (FIFO) now")):
				t.Fatalf("FIFO swapped in: exit %d, %d manifests; want %d, 1 and the FIFO reported\n%s", code, len(manifests), cli.ExitProblems, p.log())
			}
		})
	}
}

// TestExportNeverArchivesTheSigningKey: a hard link to the configured key
// file inside the source folder is recorded as skipped, never archived.
func TestExportNeverArchivesTheSigningKey(t *testing.T) {
	c, cfg := setup(t)
	if err := os.Link(filepath.Join(c.dir, "key.pem"), filepath.Join(c.dir, "logs", "app.log.1")); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := c.run("export", "-c", cfg, "--stream", "edge", "--json")
	if code != cli.ExitOK {
		t.Fatalf("export: exit %d\n%s", code, stderr)
	}
	var res struct {
		Files        int `json:"files"`
		NotCollected int `json:"not_collected"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Files != 2 || res.NotCollected != 1 {
		t.Fatalf("export result %s (%v): want 2 files and 1 not collected", out, err)
	}
	b, err := os.ReadFile(filepath.Join(c.dir, "archive", "edge", "manifests", "00000000000000000001.json"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := manifest.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Skipped) != 1 || m.Skipped[0].ID != "app.log.1" || !strings.HasPrefix(m.Skipped[0].Reason, "excluded: ") {
		t.Fatalf("skipped %+v: want app.log.1 excluded", m.Skipped)
	}
	for _, o := range m.Objects {
		if o.Source.ID == "app.log.1" {
			t.Fatal("the signing key was archived")
		}
	}
}
