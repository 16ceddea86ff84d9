package e2e

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/logkeeper/logkeeper/internal/faults"
	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/internal/store/s3store"
	"github.com/logkeeper/logkeeper/internal/testenv"
)

// An export of 200 small files and one of 100 MiB through an endpoint that
// throttles, fails, resets connections (before and after carrying out the
// request) and stalls on 5% of the requests completes with the client's
// retries, verifies, leaves no multipart upload behind and archives every
// file exactly once; a second run through the same faults archives nothing
// again.
func TestExportThroughFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 100 MiB through a proxy")
	}
	env := testenv.S3(t)
	for _, versioned := range []bool{false, true} {
		name := "unversioned"
		if versioned {
			name = "versioned"
		}
		t.Run(name, func(t *testing.T) {
			bucket := env.NewBucket(t, false)
			if versioned {
				env.EnableVersioning(t, bucket)
			}
			seed, rate := envFault(t)
			proxy, err := faults.Start(faults.Config{Target: env.Endpoint, Seed: seed, Rate: rate, MaxDelay: 300 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			defer proxy.Close()
			faulty := env
			faulty.Endpoint = proxy.URL
			st, err := s3store.New(context.Background(), s3store.Options{
				Bucket: bucket, Prefix: prefix, PathStyle: true, Client: faulty.Client(), MaxAttempts: 10,
			})
			if err != nil {
				t.Fatal(err)
			}
			h := &harness{t: t, st: st, signer: fixedSigner(t, 1), src: t.TempDir(), stream: "faulty"}
			want := map[string]int64{}
			for i := range 200 {
				p := fmt.Sprintf("edge-%d/%03d.log", i%7, i)
				data := randData(100+i*97, uint64(i))
				writeFile(t, h.src, p, data)
				want[p] = int64(len(data))
			}
			writeFile(t, h.src, "big/capture.pcap", randData(100<<20, 42))
			want["big/capture.pcap"] = 100 << 20

			job := h.job()
			job.Workers = 8
			start := time.Now()
			res, err := job.Run(context.Background(), time.Time{}, "test")
			if err != nil {
				t.Fatalf("export through faults: %v (faults %v)", err, proxy.Counts())
			}
			t.Logf("export through faults: %d files in %v; requests by kind: %v", res.Files, time.Since(start).Round(time.Millisecond), proxy.Counts())
			if proxy.Faults() == 0 {
				t.Fatal("no fault was injected")
			}
			// Every file exactly once, with its size.
			seen := map[string]int{}
			for _, o := range res.Manifest.Objects {
				seen[o.Source.Path]++
				if o.Size != want[o.Source.Path] {
					t.Errorf("%s archived with %d bytes, want %d", o.Source.Path, o.Size, want[o.Source.Path])
				}
			}
			for p := range want {
				if seen[p] != 1 {
					t.Errorf("%s archived %d times", p, seen[p])
				}
			}
			if len(seen) != len(want) {
				t.Fatalf("archived %d distinct files, want %d", len(seen), len(want))
			}

			// A second run through the same faults archives nothing again.
			res2, err := h.job().Run(context.Background(), time.Time{}, "test")
			if err != nil {
				t.Fatalf("second export through faults: %v", err)
			}
			if res2.Files != 0 || res2.Skipped != len(want) || res2.Sequence != 2 {
				t.Fatalf("second run: %+v", res2)
			}

			// Fast verify still through the faults; deep verify direct.
			if rep := h.verify(false); len(rep.Problems) != 0 || rep.ObjectsValid != len(want) || rep.ManifestsValid != 2 {
				t.Fatalf("fast verify through faults: %+v", rep)
			}
			direct := newS3(t, env, bucket)
			hd := &harness{t: t, st: direct, signer: h.signer, stream: h.stream}
			if rep := hd.verify(true); len(rep.Problems) != 0 || rep.ObjectsValid != len(want) {
				t.Fatalf("deep verify: %+v", rep)
			}
			checkNoUploads(t, env, bucket)
			// On the server: one object per archived file under the run's
			// prefix, nothing else under the stream's objects.
			n := 0
			if err := direct.List(context.Background(), "faulty/objects/", func(store.ObjectInfo) error { n++; return nil }); err != nil {
				t.Fatal(err)
			}
			if n != len(want) {
				t.Fatalf("%d objects under the stream's objects, want %d", n, len(want))
			}
		})
	}
}

// envFault returns the fault seed and rate: 5 and 5%, unless
// LOGKEEPER_FAULT_SEED or LOGKEEPER_FAULT_RATE say otherwise (to explore).
func envFault(t *testing.T) (uint64, float64) {
	seed, rate := uint64(5), 0.05
	if v := os.Getenv("LOGKEEPER_FAULT_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("LOGKEEPER_FAULT_SEED: %v", err)
		}
		seed = n
	}
	if v := os.Getenv("LOGKEEPER_FAULT_RATE"); v != "" {
		r, err := strconv.ParseFloat(v, 64)
		if err != nil {
			t.Fatalf("LOGKEEPER_FAULT_RATE: %v", err)
		}
		rate = r
	}
	t.Logf("faults: seed %d, rate %v", seed, rate)
	return seed, rate
}

// checkNoUploads fails when the bucket has an unfinished multipart upload.
func checkNoUploads(t *testing.T, env testenv.S3Env, bucket string) {
	t.Helper()
	out, err := env.Client().ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range out.Uploads {
		t.Errorf("orphaned multipart upload %s of %s, started %v", aws.ToString(u.UploadId), aws.ToString(u.Key), aws.ToTime(u.Initiated))
	}
}
