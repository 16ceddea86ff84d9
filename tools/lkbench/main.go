// Command lkbench is the harness behind `make bench` and `make
// bench-compare`: it runs a command and reports its wall time, throughput
// and peak RSS, and it is the plain aws-sdk-go-v2 peer logkeeper is compared
// with.
//
//	lkbench run -bytes N [-objects N] -label NAME -- CMD ARGS...   run CMD, print one result line
//	lkbench sdkupload -bucket B -key K -file F [-part-mib 8] [-concurrency 4] [-checksum]
//	lkbench sdkput -bucket B -prefix P -dir D [-workers 16]       PutObject every file of D
//	lkbench sdkget -bucket B -prefix P [-workers 16]              GetObject every object under P
//	lkbench mkfiles -dir D -n N -size S                            write N files of S random bytes
//	lkbench mkbucket -bucket B [-lock]
//	lkbench copypeer -src D -dst D [-workers 16]                  durable per-file copy: write, fsync, rename
//	lkbench addfile -dir D -name N -size S                          one more file of S random bytes
//	lkbench mkchain -config F -stream S -n N                        N signed, chained manifests of S, stored directly
//	lkbench rmobject -bucket B -key K                               delete one object
//
// The S3 client comes from the SDK's default chain (AWS_ENDPOINT_URL_S3,
// AWS_REGION, AWS_ACCESS_KEY_ID ...), path-style.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	iofs "io/fs"
	"log"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	tmtypes "github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("lkbench: ")
	if len(os.Args) < 2 {
		log.Fatal("usage: lkbench run|sdkupload|mkbucket ...")
	}
	ctx := context.Background()
	switch os.Args[1] {
	case "run":
		runCmd(os.Args[2:])
	case "sdkupload":
		sdkUpload(ctx, os.Args[2:])
	case "mkbucket":
		mkBucket(ctx, os.Args[2:])
	case "sdkput":
		sdkPut(ctx, os.Args[2:])
	case "sdkget":
		sdkGet(ctx, os.Args[2:])
	case "mkfiles":
		mkFiles(os.Args[2:])
	case "copypeer":
		copyPeer(ctx, os.Args[2:])
	case "addfile":
		addFile(os.Args[2:])
	case "mkchain":
		mkChain(ctx, os.Args[2:])
	case "rmobject":
		rmObject(ctx, os.Args[2:])
	case "largest":
		largest(ctx, os.Args[2:])
	default:
		log.Fatalf("unknown subcommand %q", os.Args[1])
	}
}

// Result is one measured run.
type Result struct {
	Label   string  `json:"label"`
	Seconds float64 `json:"seconds"`
	MBps    float64 `json:"mb_per_s"`
	ObjPerS float64 `json:"objects_per_s,omitempty"`
	MaxRSS  int64   `json:"max_rss_mib"`
	Exit    int     `json:"exit"`
}

func runCmd(args []string) {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	n := fs.Int64("bytes", 0, "bytes the command moves (for MB/s)")
	objects := fs.Int("objects", 0, "objects the command handles (for objects/s)")
	label := fs.String("label", "", "name of this run")
	fs.Parse(args)
	rest := fs.Args()
	if len(rest) == 0 {
		log.Fatal("run: no command")
	}
	cmd := exec.Command(rest[0], rest[1:]...)
	// Output goes to stderr (the caller keeps it as a log); stdout carries
	// only the result line.
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	start := time.Now()
	err := cmd.Run()
	secs := time.Since(start).Seconds()
	res := Result{Label: *label, Seconds: secs}
	if *n > 0 {
		res.MBps = float64(*n) / 1e6 / secs
	}
	if *objects > 0 {
		res.ObjPerS = float64(*objects) / secs
	}
	if cmd.ProcessState != nil {
		res.Exit = cmd.ProcessState.ExitCode()
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			res.MaxRSS = ru.Maxrss / 1024 // KiB on Linux
		}
	} else if err != nil {
		log.Fatalf("run %s: %v", rest[0], err)
	}
	json.NewEncoder(os.Stdout).Encode(res)
}

func client(ctx context.Context) *s3.Client {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		log.Fatal(err)
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
}

func sdkUpload(ctx context.Context, args []string) {
	fs := flag.NewFlagSet("sdkupload", flag.ExitOnError)
	bucket := fs.String("bucket", "", "bucket")
	key := fs.String("key", "", "key")
	file := fs.String("file", "", "file to upload")
	partMiB := fs.Int64("part-mib", 8, "part size in MiB")
	conc := fs.Int("concurrency", 4, "parts in flight")
	checksum := fs.Bool("checksum", true, "send SHA-256 part checksums")
	fs.Parse(args)
	f, err := os.Open(*file)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	tm := transfermanager.New(client(ctx), func(o *transfermanager.Options) {
		o.PartSizeBytes = *partMiB << 20
		o.Concurrency = *conc
		if *checksum {
			o.ChecksumAlgorithm = tmtypes.ChecksumAlgorithmSha256
		}
	})
	// A plain reader, as logkeeper gets from a source: no Seek, no ReadAt.
	body := struct{ io.Reader }{f}
	if _, err := tm.UploadObject(ctx, &transfermanager.UploadObjectInput{Bucket: aws.String(*bucket), Key: aws.String(*key), Body: body}); err != nil {
		log.Fatal(err)
	}
}

func mkBucket(ctx context.Context, args []string) {
	fs := flag.NewFlagSet("mkbucket", flag.ExitOnError)
	bucket := fs.String("bucket", "", "bucket")
	lock := fs.Bool("lock", false, "with Object Lock")
	fs.Parse(args)
	in := &s3.CreateBucketInput{Bucket: aws.String(*bucket)}
	if *lock {
		in.ObjectLockEnabledForBucket = aws.Bool(true)
	}
	if _, err := client(ctx).CreateBucket(ctx, in); err != nil {
		log.Fatal(err)
	}
	fmt.Println(*bucket)
}

// largest prints the size of the largest object under prefix in bucket,
// as a result line with label and n.
func largest(ctx context.Context, args []string) {
	fs := flag.NewFlagSet("largest", flag.ExitOnError)
	bucket := fs.String("bucket", "", "bucket")
	prefix := fs.String("prefix", "", "key prefix")
	label := fs.String("label", "", "result label")
	n := fs.Int("n", 0, "file count, for the result line")
	fs.Parse(args)
	var most int64
	p := s3.NewListObjectsV2Paginator(client(ctx), &s3.ListObjectsV2Input{Bucket: aws.String(*bucket), Prefix: aws.String(*prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			log.Fatal(err)
		}
		for _, o := range page.Contents {
			most = max(most, aws.ToInt64(o.Size))
		}
	}
	fmt.Printf("{\"label\":%q,\"n\":%d,\"bytes\":%d}\n", *label, *n, most)
}

// sdkPut uploads every regular file under dir with one PutObject each, as
// a plain peer for many small files: workers at once, default SDK
// settings (its default CRC32 request checksum). With -same-work, each
// PutObject asks the server for what logkeeper's does: a SHA-256 checksum
// (computed here), a conditional create (If-None-Match: *) and a content
// type.
func sdkPut(ctx context.Context, args []string) {
	fs := flag.NewFlagSet("sdkput", flag.ExitOnError)
	bucket := fs.String("bucket", "", "bucket")
	prefix := fs.String("prefix", "", "key prefix")
	dir := fs.String("dir", "", "folder to upload")
	workers := fs.Int("workers", 16, "uploads at once")
	same := fs.Bool("same-work", false, "ask the server for what logkeeper asks")
	fs.Parse(args)
	var files []string
	err := filepath.WalkDir(*dir, func(p string, d iofs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		log.Fatal(err)
	}
	c := client(ctx)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(*workers)
	for _, p := range files {
		g.Go(func() error {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			rel, _ := filepath.Rel(*dir, p)
			in := &s3.PutObjectInput{Bucket: bucket, Key: aws.String(path.Join(*prefix, filepath.ToSlash(rel))), Body: f}
			if *same {
				data, err := io.ReadAll(f)
				if err != nil {
					return err
				}
				sum := sha256.Sum256(data)
				in.Body, in.ContentLength = bytes.NewReader(data), aws.Int64(int64(len(data)))
				in.ChecksumAlgorithm, in.ChecksumSHA256 = types.ChecksumAlgorithmSha256, aws.String(base64.StdEncoding.EncodeToString(sum[:]))
				in.IfNoneMatch, in.ContentType = aws.String("*"), aws.String("application/octet-stream")
			}
			_, err = c.PutObject(gctx, in)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		log.Fatal(err)
	}
}

// sdkGet downloads every object under prefix (read and thrown away),
// workers at once: the plain peer of a deep verify.
func sdkGet(ctx context.Context, args []string) {
	fs := flag.NewFlagSet("sdkget", flag.ExitOnError)
	bucket := fs.String("bucket", "", "bucket")
	prefix := fs.String("prefix", "", "key prefix")
	workers := fs.Int("workers", 16, "downloads at once")
	fs.Parse(args)
	c := client(ctx)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(*workers)
	var n, bytes atomic.Int64
	pages := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: bucket, Prefix: prefix})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			log.Fatal(err)
		}
		for _, o := range page.Contents {
			g.Go(func() error {
				out, err := c.GetObject(gctx, &s3.GetObjectInput{Bucket: bucket, Key: o.Key})
				if err != nil {
					return err
				}
				defer out.Body.Close()
				k, err := io.Copy(io.Discard, out.Body)
				n.Add(1)
				bytes.Add(k)
				return err
			})
		}
	}
	if err := g.Wait(); err != nil {
		log.Fatal(err)
	}
	fmt.Fprintf(os.Stderr, "sdkget: %d objects, %d bytes\n", n.Load(), bytes.Load())
}

// mkFiles writes n files of size random bytes, 100 to a folder.
func mkFiles(args []string) {
	fs := flag.NewFlagSet("mkfiles", flag.ExitOnError)
	dir := fs.String("dir", "", "folder")
	n := fs.Int("n", 0, "files")
	size := fs.Int("size", 4096, "bytes per file")
	fs.Parse(args)
	buf := make([]byte, *size)
	for i := range *n {
		if _, err := rand.Read(buf); err != nil {
			log.Fatal(err)
		}
		p := filepath.Join(*dir, fmt.Sprintf("d%03d", i/100), fmt.Sprintf("f%05d.log", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			log.Fatal(err)
		}
		if err := os.WriteFile(p, buf, 0o644); err != nil {
			log.Fatal(err)
		}
	}
}
