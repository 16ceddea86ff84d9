package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"os"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sync/errgroup"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/logkeeper/logkeeper/custody"
	lkconfig "github.com/logkeeper/logkeeper/internal/config"
	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/manifest"
	"github.com/logkeeper/logkeeper/service/app"
)

// mkChain writes n real, signed, chained manifests of one stream straight
// to the configured store (each an hourly run that archived nothing),
// faster than n runs: the manifests are made and signed in order, then
// stored 16 at a time, each with its signature first and a conditional
// create, as custody.Chain.Append stores them. It then reads the chain
// back (custody.Load, which checks it), writes its checkpoint and the
// start-up state, as the last run would have.
func mkChain(ctx context.Context, args []string) {
	fs := flag.NewFlagSet("mkchain", flag.ExitOnError)
	cfgPath := fs.String("config", "", "logkeeper configuration")
	stream := fs.String("stream", "", "stream name")
	n := fs.Int("n", 0, "manifests to write")
	fs.Parse(args)
	if *cfgPath == "" || *stream == "" || *n <= 0 {
		log.Fatal("mkchain: -config, -stream and -n are required")
	}
	cfg, err := lkconfig.Load(*cfgPath)
	if err != nil {
		log.Fatal(err)
	}
	sc, err := cfg.Stream(*stream)
	if err != nil {
		log.Fatal(err)
	}
	st, err := app.OpenStore(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	signer, err := app.OpenSigner(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	src, err := app.NewSource(cfg, sc, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		log.Fatal(err)
	}
	c, err := custody.Load(ctx, st, *stream, signer.Public())
	if err != nil {
		log.Fatal(err)
	}
	if c.Head != nil {
		log.Fatalf("mkchain: stream %s has %d manifests already", *stream, c.Head.Sequence)
	}
	start := time.Now()
	end := time.Now().UTC().Truncate(time.Hour).Add(-time.Duration(*n) * time.Hour)
	type obj struct {
		key string
		b   []byte
	}
	var objs [][2]obj
	var prev *manifest.Link
	for i := 1; i <= *n; i++ {
		id, _ := uuid.NewV7()
		begin := end
		end = end.Add(time.Hour)
		m := &manifest.Manifest{
			Schema: manifest.SchemaV1, RunID: id.String(), Stream: *stream, Sequence: uint64(i), Previous: prev,
			Window: manifest.Window{Start: begin, End: end}, StartedAt: end, FinishedAt: end,
			Exporter: app.Exporter(), Reason: "lkbench mkchain", Store: st.Describe(), Source: src.Describe(),
			Objects: []manifest.Object{},
		}
		if i == 1 {
			m.Window.Start = time.Unix(0, 0).UTC()
		}
		raw, err := manifest.Marshal(m)
		if err != nil {
			log.Fatal(err)
		}
		key := manifest.Key(*stream, m.Sequence)
		value, err := signer.Sign(ctx, raw)
		if err != nil {
			log.Fatal(err)
		}
		sb, err := manifest.MarshalSignature(&manifest.Signature{
			ManifestKey: key, ManifestSHA256: manifest.SHA256(raw),
			Algorithm: signer.Algorithm(), KeyID: signer.KeyID(), Value: value,
		})
		if err != nil {
			log.Fatal(err)
		}
		objs = append(objs, [2]obj{{manifest.SignatureKey(key, m.RunID), sb}, {key, raw}})
		prev = &manifest.Link{Key: key, SHA256: manifest.SHA256(raw)}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for _, pair := range objs {
		g.Go(func() error {
			for _, o := range pair {
				_, err := st.Put(gctx, o.key, bytes.NewReader(o.b), store.PutOptions{IfNotExists: true, ContentType: "application/json", Size: int64(len(o.b))})
				if err != nil {
					return fmt.Errorf("store %s: %w", o.key, err)
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		log.Fatal(err)
	}
	wrote := time.Since(start)
	if c, err = custody.Load(ctx, st, *stream, signer.Public()); err != nil {
		log.Fatal(err)
	}
	th, err := c.TreeHead(ctx, st, signer, st.Describe())
	if err != nil {
		log.Fatal(err)
	}
	if err := custody.PublishTreeHead(ctx, st, nil, *stream, th); err != nil {
		log.Fatal(err)
	}
	if err := custody.PublishState(ctx, st, signer, c, store.PutOptions{}); err != nil {
		log.Fatal(err)
	}
	fmt.Fprintf(os.Stderr, "lkbench mkchain: %d manifests of %s in %s (stored in %s)\n", *n, *stream, time.Since(start).Round(time.Millisecond), wrote.Round(time.Millisecond))
}

// rmObject deletes one object (the start-up state, to measure a run
// without it).
func rmObject(ctx context.Context, args []string) {
	fs := flag.NewFlagSet("rmobject", flag.ExitOnError)
	bucket := fs.String("bucket", "", "bucket")
	key := fs.String("key", "", "key")
	fs.Parse(args)
	if _, err := client(ctx).DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: bucket, Key: key}); err != nil {
		log.Fatal(err)
	}
}
