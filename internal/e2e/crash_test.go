package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/logkeeper/logkeeper/custody"
	"github.com/logkeeper/logkeeper/internal/signing"
	"github.com/logkeeper/logkeeper/internal/store"
	"github.com/logkeeper/logkeeper/internal/testenv"
	"github.com/logkeeper/logkeeper/manifest"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// logkeeperBinary builds cmd/logkeeper once per test binary.
func logkeeperBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "logkeeper-e2e-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "logkeeper")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/logkeeper/logkeeper/cmd/logkeeper").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build cmd/logkeeper: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// cliEnv is the environment of a logkeeper process talking to the test S3
// server: credentials and endpoint through the SDK's standard variables.
func cliEnv(env testenv.S3Env) []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			out = append(out, kv)
		}
	}
	// KMS requests go to the test KMS, never to AWS.
	kmsEndpoint := os.Getenv(testenv.EnvKMSEndpoint)
	if kmsEndpoint == "" {
		kmsEndpoint = "http://127.0.0.1:1"
	}
	return append(out, "AWS_ENDPOINT_URL_KMS="+kmsEndpoint,
		"AWS_ENDPOINT_URL_S3="+env.Endpoint, "AWS_REGION="+env.Region,
		"AWS_ACCESS_KEY_ID="+env.AccessKey, "AWS_SECRET_ACCESS_KEY="+env.SecretKey,
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_EC2_METADATA_DISABLED=true",
	)
}

// writeCLIConfig writes a key and a configuration for stream over src.
func writeCLIConfig(t *testing.T, bin, dir, bucket, stream, src string) (cfg string, signer signing.Signer) {
	t.Helper()
	keyPath := filepath.Join(dir, "key.pem")
	if out, err := exec.Command(bin, "keys", "generate", "--out", keyPath).CombinedOutput(); err != nil {
		t.Fatalf("keys generate: %v %s", err, out)
	}
	s, err := signing.LoadKeyFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg = filepath.Join(dir, "lk.yaml")
	yaml := fmt.Sprintf(`store:
  url: s3://%s/%s
  path_style: true
  part_size_mib: 5
  concurrency: 4
signing:
  key: file://%s
streams:
  - name: %s
    source: {type: dir, path: %s}
`, bucket, prefix, keyPath, stream, src)
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg, s
}

// archivedOnce checks that every file in want is claimed by exactly one
// object of the chain, under the run id of the manifest that claims it.
func archivedOnce(t *testing.T, st store.Store, stream string, want map[string]bool) (manifests int) {
	t.Helper()
	ctx := context.Background()
	seen := map[string]int{}
	for n := uint64(1); ; n++ {
		rc, _, err := st.Get(ctx, manifest.Key(stream, n), store.GetOptions{})
		if err != nil {
			break
		}
		var buf bytes.Buffer
		buf.ReadFrom(rc)
		rc.Close()
		m, err := manifest.Parse(buf.Bytes())
		if err != nil {
			t.Fatalf("manifest %d: %v", n, err)
		}
		manifests++
		for _, o := range m.Objects {
			seen[o.Source.Path]++
			if !strings.HasPrefix(o.Key, manifest.ObjectsPrefix(stream, m.RunID)) {
				t.Fatalf("manifest %d claims %s, outside its run %s", n, o.Key, m.RunID)
			}
		}
	}
	for p := range want {
		if seen[p] != 1 {
			t.Errorf("%s is archived %d times, want once", p, seen[p])
		}
	}
	for p, n := range seen {
		if !want[p] {
			t.Errorf("%s archived %d times but is no source file", p, n)
		}
	}
	return manifests
}

// uploadsUnder returns the unfinished multipart uploads under the bucket key
// prefix p.
func uploadsUnder(t *testing.T, env testenv.S3Env, bucket, p string) int {
	t.Helper()
	// Listed without a prefix and filtered here: MinIO lists uploads by
	// exact key only, or all of them without a prefix.
	out, err := env.Client().ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, u := range out.Uploads {
		if strings.HasPrefix(aws.ToString(u.Key), p) {
			n++
		}
	}
	return n
}

// SIGKILL `logkeeper export` at 24 points spread over a run, each time with
// new files to archive, and run it again: after every rerun the chain
// verifies, every file is archived exactly once, orphaned objects of the
// killed runs are not taken for archived files, and the multipart uploads
// the killed run left are aborted.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and reruns the command 24 times")
	}
	env := testenv.S3(t)
	bin := logkeeperBinary(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	bucket := env.NewBucket(t, false)
	const stream = "crashy"
	cfg, signer := writeCLIConfig(t, bin, dir, bucket, stream, src)
	cenv := cliEnv(env)
	st := newS3(t, env, bucket)
	objectsPrefix := prefix + "/" + stream + "/objects/"

	want := map[string]bool{}
	// batch writes new files: 40 small ones and two of three 5 MiB parts.
	batch := func(i int) {
		for j := range 40 {
			p := fmt.Sprintf("b%02d/small-%02d.log", i, j)
			writeFile(t, src, p, randData(500+j*211, uint64(i*1000+j)))
			want[p] = true
		}
		for j := range 2 {
			p := fmt.Sprintf("b%02d/big-%d.pcap", i, j)
			writeFile(t, src, p, randData(14<<20, uint64(i*1000+500+j)))
			want[p] = true
		}
	}
	export := func(args ...string) (*exec.Cmd, *bytes.Buffer) {
		cmd := exec.Command(bin, append([]string{"export", "-c", cfg, "--stream", stream, "--log-level", "debug"}, args...)...)
		cmd.Env = cenv
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		return cmd, &out
	}

	// A first, whole run measures how long a run takes.
	batch(0)
	cmd, out := export()
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("first export: %v\n%s", err, out)
	}
	full := time.Since(start)
	t.Logf("a whole run of one batch takes %v", full)

	// Kill points from 2% to 92% of a whole run: during start-up and chain
	// loading, uploads, and the manifest. A run that ends before its kill
	// (runs vary in length on a shared machine) tells how long a run really
	// takes now; the same kill point is tried again with that estimate.
	const kills = 24
	killed, stale, cleaned, ended := 0, 0, 0, 0
	for i := 1; killed < kills; i++ {
		if i > 3*kills {
			t.Fatalf("only %d of %d runs could be killed while running in %d tries", killed, kills, i-1)
		}
		batch(i)
		delay := time.Duration(float64(full) * (0.02 + 0.9*float64(killed)/float64(kills-1)))
		cmd, out := export()
		began := time.Now()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		timer := time.AfterFunc(delay, func() { _ = cmd.Process.Signal(syscall.SIGKILL) })
		err := cmd.Wait()
		timer.Stop()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			killed++
		} else if err != nil {
			t.Fatalf("run %d: export exited by itself with %v\n%s", i, err, out)
		} else {
			ended++
			full = time.Since(began)
		}
		left := uploadsUnder(t, env, bucket, objectsPrefix)
		if left > 0 {
			stale++
		}

		rerun, rout := export("--stale-upload-age", "0")
		if err := rerun.Run(); err != nil {
			t.Fatalf("kill %d at %v: rerun failed: %v\n%s", i, delay, err, rout)
		}
		if left > 0 {
			if !strings.Contains(rout.String(), "stale uploads aborted") {
				t.Fatalf("run %d: %d uploads were left, the rerun logged no cleanup:\n%s", i, left, rout)
			}
			cleaned++
		}
		if n := uploadsUnder(t, env, bucket, objectsPrefix); n != 0 {
			t.Fatalf("kill %d: %d multipart uploads left after the rerun (%d before)", i, n, left)
		}
		rep, err := custody.Verify(context.Background(), st, stream, custody.VerifyOptions{PublicKey: signer.Public()})
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Problems) != 0 {
			t.Fatalf("kill %d at %v: verify after the rerun: %v", i, delay, rep.Problems)
		}
		archivedOnce(t, st, stream, want)
		if t.Failed() {
			t.Fatalf("kill %d at %v: files missing or archived twice", i, delay)
		}
	}
	// The objects under the stream's prefix: every claimed one plus the
	// orphans of killed runs, which no manifest claims.
	total := 0
	if err := st.List(context.Background(), stream+"/objects/", func(store.ObjectInfo) error { total++; return nil }); err != nil {
		t.Fatal(err)
	}
	rep, err := custody.Verify(context.Background(), st, stream, custody.VerifyOptions{PublicKey: signer.Public(), Deep: true})
	if err != nil || len(rep.Problems) != 0 || rep.ObjectsValid != len(want) {
		t.Fatalf("final deep verify: %v %+v", err, rep)
	}
	t.Logf("%d kills while running (%d runs ended before their kill), %d left multipart uploads, all aborted by the next run (%d cleanups logged); %d files archived once in %d manifests; %d orphaned objects of killed runs ignored",
		killed, ended, stale, cleaned, len(want), rep.ManifestsChecked, total-len(want))
	if stale == 0 {
		t.Fatal("no kill left a multipart upload behind: the cleanup was never exercised")
	}
}
