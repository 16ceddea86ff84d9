// Command lkbench is the harness behind `make bench`: it runs a command and
// reports its wall time, throughput and peak RSS, and it is the peer it is
// compared with, a plain aws-sdk-go-v2 transfer-manager upload.
//
//	lkbench run -bytes N -label NAME -- CMD ARGS...   run CMD, print one result line
//	lkbench sdkupload -bucket B -key K -file F [-part-mib 8] [-concurrency 4] [-checksum]
//	lkbench mkbucket -bucket B [-lock]
//
// The S3 client comes from the SDK's default chain (AWS_ENDPOINT_URL_S3,
// AWS_REGION, AWS_ACCESS_KEY_ID ...), path-style.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	tmtypes "github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
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
	default:
		log.Fatalf("unknown subcommand %q", os.Args[1])
	}
}

// Result is one measured run.
type Result struct {
	Label   string  `json:"label"`
	Seconds float64 `json:"seconds"`
	MBps    float64 `json:"mb_per_s"`
	MaxRSS  int64   `json:"max_rss_mib"`
	Exit    int     `json:"exit"`
}

func runCmd(args []string) {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	n := fs.Int64("bytes", 0, "bytes the command moves (for MB/s)")
	label := fs.String("label", "", "name of this run")
	fs.Parse(args)
	rest := fs.Args()
	if len(rest) == 0 {
		log.Fatal("run: no command")
	}
	cmd := exec.Command(rest[0], rest[1:]...)
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	start := time.Now()
	err := cmd.Run()
	secs := time.Since(start).Seconds()
	res := Result{Label: *label, Seconds: secs}
	if *n > 0 {
		res.MBps = float64(*n) / 1e6 / secs
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
