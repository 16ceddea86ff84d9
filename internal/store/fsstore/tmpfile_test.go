package fsstore_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/internal/store/fsstore"
)

// The layout of stores where anonymous temporary files are missing (named
// temporary files, metadata in the attribute) keeps every promise of a
// store.
func TestConformanceNamedTemps(t *testing.T) { conformanceWith(t, fsstore.UseNamedTemps) }

// tmpfileStore is a store whose creates write anonymous temporary files.
// Where the filesystem has user attributes, O_TMPFILE and /proc (Linux's
// ext4, xfs, btrfs, tmpfs: every machine the tests run on), not having
// them is a failure, not a skip.
func tmpfileStore(t *testing.T, root string) *fsstore.Store {
	t.Helper()
	s := xattrStore(t, root)
	if !fsstore.UsesTmpfile(s) {
		if _, err := os.Stat("/proc/self/fd"); err == nil {
			t.Fatal("the store does not use anonymous temporary files on a filesystem with user attributes and /proc")
		}
		t.Skip("no /proc on this machine")
	}
	return s
}

// entries lists every file and folder below root, except the store's lock
// and probe folder.
func entries(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	must(t, filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." || rel == ".logkeeper" || strings.HasPrefix(rel, ".logkeeper/tmp") || rel == ".logkeeper/lock" || rel == ".logkeeper/meta" {
			return nil
		}
		out = append(out, rel)
		return nil
	}))
	sort.Strings(out)
	return out
}

type failingReader struct{ n int }

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, errors.New("source broke")
	}
	k := min(len(p), r.n)
	for i := range p[:k] {
		p[i] = 'x'
	}
	r.n -= k
	return k, nil
}

// A create writes its object's file only, where the key is: no metadata
// folder, no temporary name. A create that fails leaves nothing behind;
// a create of a key that exists fails and leaves the object as it was.
func TestAnonymousCreate(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	s := tmpfileStore(t, root)
	_, err := s.Put(ctx, "s/objects/r/a.log", strings.NewReader("a"), store.PutOptions{Size: 1, Deferred: true})
	must(t, err)
	must(t, s.Sync(ctx))
	if got := strings.Join(entries(t, root), ","); got != "s,s/objects,s/objects/r,s/objects/r/a.log" {
		t.Fatalf("after a create: %s", got)
	}
	if _, err := s.Put(ctx, "s/objects/r/b.log", &failingReader{n: 100}, store.PutOptions{Size: 200}); err == nil {
		t.Fatal("a put of a broken source succeeded")
	}
	if _, err := s.Put(ctx, "s/objects/r/c.log", strings.NewReader("too long"), store.PutOptions{Size: 3}); !errors.Is(err, store.ErrSizeMismatch) {
		t.Fatalf("a put of a growing source: %v", err)
	}
	if _, err := s.Put(ctx, "s/objects/r/a.log", strings.NewReader("b"), store.PutOptions{Size: 1}); !errors.Is(err, store.ErrExists) {
		t.Fatalf("a second create of a key: %v", err)
	}
	if got := strings.Join(entries(t, root), ","); got != "s,s/objects,s/objects/r,s/objects/r/a.log" {
		t.Fatalf("after failed creates: %s", got)
	}
	rc, _, err := s.Get(ctx, "s/objects/r/a.log", store.GetOptions{})
	must(t, err)
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "a" {
		t.Fatalf("the object is %q", b)
	}
}

// A process killed in the middle of a create leaves no file behind in the
// store: the anonymous file it was writing was never named.
func TestKilledCreateLeavesNothing(t *testing.T) {
	if dir := os.Getenv("FSSTORE_KILLED_PUT"); dir != "" {
		killedPut(dir)
		return
	}
	root := t.TempDir()
	tmpfileStore(t, root)
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledCreateLeavesNothing$")
	cmd.Env = append(os.Environ(), "FSSTORE_KILLED_PUT="+root)
	out, err := cmd.StdoutPipe()
	must(t, err)
	must(t, cmd.Start())
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if sc.Text() == "writing" {
				ready <- true
			}
		}
		close(ready)
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatal("the helper ended before writing")
		}
	case <-time.After(time.Minute):
		t.Fatal("the helper never began writing")
	}
	must(t, cmd.Process.Kill())
	cmd.Wait() //nolint:errcheck // killed
	if got := entries(t, root); len(got) != 2 || got[0] != "s" || got[1] != "s/objects" {
		t.Fatalf("after a killed create: %v", got)
	}
}

// killedPut puts one object from a source that says "writing" once some of
// it is written, then never ends.
func killedPut(root string) {
	s, err := fsstore.New(root)
	if err != nil {
		panic(err)
	}
	r := io.MultiReader(strings.NewReader(strings.Repeat("x", 64<<10)), &announce{}, blockForever{})
	s.Put(context.Background(), "s/objects/k.log", r, store.PutOptions{Size: -1}) //nolint:errcheck // killed before it returns
}

type announce struct{ done bool }

func (a *announce) Read([]byte) (int, error) {
	if !a.done {
		a.done = true
		os.Stdout.WriteString("writing\n") //nolint:errcheck // the test waits for it
	}
	return 0, io.EOF
}

type blockForever struct{}

func (blockForever) Read([]byte) (int, error) { select {} }
