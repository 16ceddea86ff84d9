package s3store_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	tmtypes "github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/internal/store/s3store"
	"github.com/logkeeper/logkeeper/internal/testenv"
)

// BenchmarkUpload uploads one object (LOGKEEPER_BENCH_MIB MiB, 256 by
// default) to the test server per iteration, with Put ("logkeeper") and
// with the SDK's transfer manager ("sdk"), at the same part size,
// concurrency and SHA-256 part checksums. Both read a plain io.Reader (no
// Seek, no ReadAt), as an export streams from its source. Compare the two
// in one run: absolute figures on a shared machine are noise.
//
//	scripts/testenv.sh run -- go test -run '^$' -bench Upload -benchtime 3x ./internal/store/s3store/
func BenchmarkUpload(b *testing.B) {
	env := testenv.S3(b)
	mib := 256
	if v := os.Getenv("LOGKEEPER_BENCH_MIB"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			b.Fatalf("LOGKEEPER_BENCH_MIB=%q: want a positive number of MiB", v)
		}
		mib = n
	}
	data := make([]byte, mib<<20)
	rand.NewChaCha8([32]byte{1}).Read(data)
	bucket := env.NewBucket(b, false)
	client := env.Client()
	ctx := context.Background()
	const (
		partSize    = s3store.DefaultPartSize
		concurrency = s3store.DefaultConcurrency
	)
	remove := func(b *testing.B, key string) {
		b.StopTimer()
		if _, err := client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &bucket, Key: &key}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}

	b.Run("logkeeper", func(b *testing.B) {
		s, err := s3store.New(ctx, s3store.Options{Bucket: bucket, PathStyle: true, PartSize: partSize, Concurrency: concurrency, Client: client})
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for i := range b.N {
			key := fmt.Sprintf("bench/logkeeper/%d", i)
			if _, err := s.Put(ctx, key, onlyReader{bytes.NewReader(data)}, store.PutOptions{Size: int64(len(data))}); err != nil {
				b.Fatal(err)
			}
			remove(b, key)
		}
	})

	b.Run("sdk", func(b *testing.B) {
		tm := transfermanager.New(client, func(o *transfermanager.Options) {
			o.PartSizeBytes = partSize
			o.Concurrency = concurrency
			o.ChecksumAlgorithm = tmtypes.ChecksumAlgorithmSha256
		})
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for i := range b.N {
			key := fmt.Sprintf("bench/sdk/%d", i)
			if _, err := tm.UploadObject(ctx, &transfermanager.UploadObjectInput{Bucket: &bucket, Key: &key, Body: onlyReader{bytes.NewReader(data)}}); err != nil {
				b.Fatal(err)
			}
			remove(b, key)
		}
	})
}
