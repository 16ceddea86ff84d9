package e2e

import (
	"context"
	"fmt"
	"testing"

	"github.com/logkeeper/logkeeper/custody"
	"github.com/logkeeper/logkeeper/internal/testenv"
)

// BenchmarkVerifyLongChain verifies (fast) a chain of 100 small manifests
// on versitygw, the shape of an hourly stream: what costs is round trips
// per manifest, not bytes.
//
//	./scripts/testenv.sh run -- go test -run '^$' -bench VerifyLongChain ./internal/e2e/
func BenchmarkVerifyLongChain(b *testing.B) {
	env := testenv.S3(b)
	h := &harness{t: b, st: newS3(b, env, env.NewBucket(b, false)), signer: fixedSigner(b, 1), src: b.TempDir(), stream: "hourly"}
	const manifests = 100
	for i := range manifests {
		writeFile(b, h.src, fmt.Sprintf("h%03d/a.log", i), randData(2000, uint64(i)))
		writeFile(b, h.src, fmt.Sprintf("h%03d/b.log", i), randData(3000, uint64(i)+1000))
		h.export()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		rep, err := custody.Verify(context.Background(), h.st, h.stream, custody.VerifyOptions{PublicKey: h.signer.Public()})
		if err != nil || len(rep.Problems) != 0 || rep.ManifestsChecked != manifests {
			b.Fatalf("verify: %v %+v", err, rep)
		}
	}
	b.ReportMetric(float64(manifests*b.N)/b.Elapsed().Seconds(), "manifests/s")
}
