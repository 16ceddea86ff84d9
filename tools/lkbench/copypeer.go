package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	iofs "io/fs"
	"log"
	"os"
	"path/filepath"

	"golang.org/x/sync/errgroup"
)

// copyPeer is the plain peer of the file store for many small files: every
// regular file under src is copied durably to the same relative path under
// dst, workers at once, the way a careful copy program does it: write to
// a temporary file in the target folder, fsync it, rename it into place.
// (No fsync of the folder, no metadata, no hash: the least a durable copy
// does.)
func copyPeer(ctx context.Context, args []string) {
	fs := flag.NewFlagSet("copypeer", flag.ExitOnError)
	src := fs.String("src", "", "folder to copy")
	dst := fs.String("dst", "", "target folder")
	workers := fs.Int("workers", 16, "files at once")
	fs.Parse(args)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(*workers)
	err := filepath.WalkDir(*src, func(p string, d iofs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			rel, _ := filepath.Rel(*src, p)
			return os.MkdirAll(filepath.Join(*dst, rel), 0o750)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			rel, _ := filepath.Rel(*src, p)
			return durableCopy(p, filepath.Join(*dst, rel))
		})
		return nil
	})
	if werr := g.Wait(); err == nil {
		err = werr
	}
	if err != nil {
		log.Fatal(err)
	}
}

func durableCopy(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.CreateTemp(filepath.Dir(to), ".copy-*")
	if err != nil {
		return err
	}
	defer os.Remove(out.Name())
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Rename(out.Name(), to)
}

// addFile writes one file of size random bytes at dir/name.
func addFile(args []string) {
	fs := flag.NewFlagSet("addfile", flag.ExitOnError)
	dir := fs.String("dir", "", "folder")
	name := fs.String("name", "", "file name")
	size := fs.Int("size", 512, "bytes")
	fs.Parse(args)
	buf := make([]byte, *size)
	if _, err := rand.Read(buf); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(*dir, *name), buf, 0o644); err != nil {
		log.Fatal(fmt.Errorf("addfile: %w", err))
	}
}
