package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/logkeeper/logkeeper/custody"
	"github.com/logkeeper/logkeeper/internal/config"
	"github.com/logkeeper/logkeeper/service/app"
)

// counter is an observer that adds up what it is told, from many
// goroutines at once (run with -race).
type counter struct {
	mu                sync.Mutex
	files, filesTotal int
	bytes, bytesTotal int64
}

func (c *counter) Total(files int, bytes int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.filesTotal += files
	c.bytesTotal += bytes
}

func (c *counter) Done(files int, bytes int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.files += files
	c.bytes += bytes
}

// The observer hooks of export and verify: at the end, done equals the
// total, and both equal what the run archived or checked.
func TestObserverHooks(t *testing.T) {
	c, cfgPath := setup(t)
	for i := range 20 {
		os.WriteFile(filepath.Join(c.dir, "logs", fmt.Sprintf("f%02d.log", i)), make([]byte, 100_000+i), 0o644)
	}
	ctx := context.Background()
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	st, err := app.OpenStore(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := app.OpenSigner(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	job, err := app.NewJob(ctx, cfg, "edge", st, signer, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var ex counter
	job.Observer = &ex
	res, err := job.Run(ctx, time.Time{}, "test")
	if err != nil {
		t.Fatal(err)
	}
	if ex.filesTotal != res.Files || ex.files != res.Files || ex.bytesTotal != res.Bytes || ex.bytes != res.Bytes || res.Files != 22 {
		t.Fatalf("export observer: %d/%d files, %d/%d bytes; result %d files, %d bytes", ex.files, ex.filesTotal, ex.bytes, ex.bytesTotal, res.Files, res.Bytes)
	}
	for _, deep := range []bool{false, true} {
		var v counter
		rep, err := custody.Verify(ctx, st, "edge", custody.VerifyOptions{PublicKey: signer.Public(), Deep: deep, Observer: &v})
		if err != nil {
			t.Fatal(err)
		}
		if v.filesTotal != rep.ObjectsChecked || v.files != rep.ObjectsChecked || v.bytesTotal != res.Bytes || v.bytes != res.Bytes {
			t.Fatalf("verify (deep %v) observer: %d/%d objects, %d/%d bytes; report %d objects, archive %d bytes", deep, v.files, v.filesTotal, v.bytes, v.bytesTotal, rep.ObjectsChecked, res.Bytes)
		}
	}
}
