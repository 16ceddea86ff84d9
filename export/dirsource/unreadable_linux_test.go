package dirsource_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/logkeeper/logkeeper/export"
	"github.com/logkeeper/logkeeper/export/dirsource"
	"github.com/logkeeper/logkeeper/manifest"
)

// withoutDAC runs f on a thread of its own that has dropped the
// capabilities that let root read any folder, so that folder permissions
// apply as they do to the exporter's own user. The thread is never given
// back to the runtime: it ends with f.
func withoutDAC(f func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with this goroutine
		hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
		var data [2]unix.CapUserData
		if err := unix.Capget(&hdr, &data[0]); err != nil {
			done <- fmt.Errorf("capget: %w", err)
			return
		}
		data[0].Effective &^= 1<<unix.CAP_DAC_OVERRIDE | 1<<unix.CAP_DAC_READ_SEARCH
		if err := unix.Capset(&hdr, &data[0]); err != nil {
			done <- fmt.Errorf("capset: %w", err)
			return
		}
		done <- f()
	}()
	return <-done
}

// TestUnreadableSubfolder: a folder the exporter may not read is a failure
// of that folder; the rest is listed.
func TestUnreadableSubfolder(t *testing.T) {
	root := t.TempDir()
	write(t, filepath.Join(root, "a.log"), "a")
	write(t, filepath.Join(root, "locked", "secret.log"), "s")
	write(t, filepath.Join(root, "z", "b.log"), "b")
	must(t, os.Chmod(filepath.Join(root, "locked"), 0o300)) // no read
	t.Cleanup(func() { os.Chmod(filepath.Join(root, "locked"), 0o755) })
	src, err := dirsource.New(root)
	must(t, err)
	var files []export.File
	must(t, withoutDAC(func() error {
		var err error
		files, err = src.List(context.Background(), manifest.Window{})
		return err
	}))
	want := []listing{{id: "a.log"}, {id: "locked", failed: true}, {id: "z/b.log"}}
	if got := summary(files); !equal(got, want) {
		t.Fatalf("listing:\n got %v\nwant %v", got, want)
	}
	if msg := files[1].Err.Error(); !strings.Contains(msg, "permission denied") {
		t.Fatalf("failure of the locked folder: %s", msg)
	}
}
