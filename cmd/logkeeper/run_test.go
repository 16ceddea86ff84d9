package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
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
	"github.com/logkeeper/logkeeper/internal/store/s3store"
	"github.com/logkeeper/logkeeper/internal/testenv"
	"github.com/logkeeper/logkeeper/manifest"
)

// binary is the logkeeper command built once for these tests: signals
// are sent to a real process.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "logkeeper-cmd-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "logkeeper")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build logkeeper: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// process is a running logkeeper.
type process struct {
	t      *testing.T
	cmd    *exec.Cmd
	mu     sync.Mutex
	stderr bytes.Buffer
	lines  chan map[string]any
	done   chan struct{}
}

func start(t *testing.T, env []string, args ...string) *process {
	t.Helper()
	p := &process{t: t, cmd: exec.Command(binary, args...), lines: make(chan map[string]any, 10000), done: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), env...)
	pipe, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(pipe)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.stderr.Write(sc.Bytes())
			p.stderr.WriteByte('\n')
			p.mu.Unlock()
			var line map[string]any
			if json.Unmarshal(sc.Bytes(), &line) == nil {
				select {
				case p.lines <- line:
				default:
				}
			}
		}
	}()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill() //nolint:errcheck // test cleanup
			p.cmd.Wait()         //nolint:errcheck // test cleanup
		}
	})
	return p
}

func (p *process) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// waitLine waits for a log line with the given message.
func (p *process) waitLine(msg string, timeout time.Duration) map[string]any {
	p.t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case l := <-p.lines:
			if l["msg"] == msg {
				return l
			}
		case <-deadline:
			p.t.Fatalf("no %q log line within %v; log:\n%s", msg, timeout, p.log())
		}
	}
}

// wait waits for the process to exit and returns its exit code.
func (p *process) wait(timeout time.Duration) int {
	p.t.Helper()
	exited := make(chan error, 1)
	go func() { <-p.done; exited <- p.cmd.Wait() }()
	select {
	case <-exited:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(timeout):
		p.t.Fatalf("still running %v after the signal; log:\n%s", timeout, p.log())
		return -1
	}
}

// s3Setup writes a configuration for a new bucket of the test server and
// returns its path, the environment for the command, and a store on the
// same bucket.
type s3Setup struct {
	dir, cfg, src string
	env           []string
	bucket        string
	client        *s3.Client
	st            store.Store
	pub           any
}

func newS3Setup(t *testing.T, daemonYAML, stream string) *s3Setup {
	t.Helper()
	e := testenv.S3(t)
	dir := t.TempDir()
	s := &s3Setup{dir: dir, cfg: filepath.Join(dir, "logkeeper.yaml"), src: filepath.Join(dir, "logs"), bucket: e.NewBucket(t, false), client: e.Client()}
	if err := os.MkdirAll(s.src, 0o755); err != nil {
		t.Fatal(err)
	}
	keyPath := filepath.Join(dir, "key.pem")
	if _, err := signing.GenerateKeyFile(keyPath); err != nil {
		t.Fatal(err)
	}
	signer, err := signing.LoadKeyFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	s.pub = signer.Public()
	cfg := fmt.Sprintf(`store:
  url: s3://%s/archive
  path_style: true
  part_size_mib: 5
  concurrency: 1
signing:
  key: file://%s
daemon:
%s
streams:
%s
`, s.bucket, keyPath, daemonYAML, stream)
	if err := os.WriteFile(s.cfg, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	s.env = []string{
		"AWS_ENDPOINT_URL_S3=" + e.Endpoint, "AWS_ACCESS_KEY_ID=" + e.AccessKey, "AWS_SECRET_ACCESS_KEY=" + e.SecretKey,
		"AWS_REGION=" + e.Region, "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_PROFILE=",
	}
	s.st, err = s3store.New(context.Background(), s3store.Options{Bucket: s.bucket, Prefix: "archive", PathStyle: true, Client: e.Client()})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *s3Setup) uploads(t *testing.T) int {
	t.Helper()
	out, err := s.client.ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: aws.String(s.bucket)})
	if err != nil {
		t.Fatal(err)
	}
	return len(out.Uploads)
}

func (s *s3Setup) manifests(t *testing.T, stream string) []*manifest.Manifest {
	t.Helper()
	var out []*manifest.Manifest
	for n := uint64(1); ; n++ {
		rc, _, err := s.st.Get(context.Background(), manifest.Key(stream, n), store.GetOptions{})
		if err != nil {
			return out
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		m, err := manifest.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
}

// SIGTERM during a 200 MiB upload: the daemon stops scheduling, waits the
// grace period, cancels the export (which aborts its multipart upload and
// writes no manifest) and exits 0. The next run archives the file.
func TestSIGTERMDuringUpload(t *testing.T) {
	s := newS3Setup(t, "  grace_period: 300ms\n  lease_ttl: 10s", `  - name: big
    schedule: "@every 1s"
    window: 1s
    source: {type: dir, path: logs}`)
	f, err := os.Create(filepath.Join(s.src, "capture.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	block := make([]byte, 1<<20)
	rand.Read(block)
	for i := range 200 {
		block[0] = byte(i)
		if _, err := f.Write(block); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()

	p := start(t, s.env, "run", "-c", s.cfg)
	started := p.waitLine("export started", 20*time.Second)
	runID, _ := started["run_id"].(string)
	deadline := time.Now().Add(20 * time.Second)
	for s.uploads(t) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no multipart upload began; log:\n%s", p.log())
		}
		time.Sleep(20 * time.Millisecond)
	}
	sent := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	code := p.wait(30 * time.Second)
	took := time.Since(sent)
	t.Logf("exit %d %v after SIGTERM (grace period 300ms)", code, took)
	if code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0; log:\n%s", code, p.log())
	}
	if took > 5*time.Second {
		t.Fatalf("exited %v after SIGTERM: not within the 300ms grace period plus the abort", took)
	}
	if !strings.Contains(p.log(), "grace period over: cancelling running exports") {
		t.Fatalf("the export finished instead of being cancelled (the test needs a slower upload); log:\n%s", p.log())
	}
	if n := s.uploads(t); n != 0 {
		t.Fatalf("%d multipart uploads left behind", n)
	}
	for _, m := range s.manifests(t, "big") {
		if m.RunID == runID {
			t.Fatalf("manifest %d claims the cancelled run %s", m.Sequence, runID)
		}
	}
	if n := len(s.manifests(t, "big")); n != 0 {
		t.Fatalf("%d manifests after the cancelled first run, want none", n)
	}

	// The next run redoes the work.
	again := start(t, s.env, "run", "-c", s.cfg, "--once")
	if code := again.wait(2 * time.Minute); code != 0 {
		t.Fatalf("run --once: exit %d; log:\n%s", code, again.log())
	}
	// The first manifest holds the file; windows that completed while it
	// uploaded follow, empty.
	ms := s.manifests(t, "big")
	if len(ms) == 0 || len(ms[0].Objects) != 1 || ms[0].Objects[0].Size != 200<<20 {
		t.Fatalf("after the next run: %d manifests, the first with %d objects", len(ms), len(ms[0].Objects))
	}
	for _, m := range ms[1:] {
		if len(m.Objects) != 0 {
			t.Fatalf("manifest %d archived %d more objects", m.Sequence, len(m.Objects))
		}
	}
}

// Two daemons on one configuration for 30 seconds: one chain, unforked,
// and no file archived twice. Their probes and metrics answer meanwhile.
func TestTwoDaemonsOneChain(t *testing.T) {
	s := newS3Setup(t, "  grace_period: 5s\n  lease_ttl: 3s", `  - name: edge
    schedule: "@every 1s"
    window: 1s
    source: {type: dir, path: logs}
  - name: audit
    schedule: "*/2 * * * * *"
    window: 2s
    source: {type: dir, path: logs}`)
	if err := os.WriteFile(filepath.Join(s.src, "first.log"), []byte("first\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a := start(t, s.env, "run", "-c", s.cfg, "--listen", "127.0.0.1:0")
	b := start(t, s.env, "run", "-c", s.cfg, "--listen", "127.0.0.1:0")
	addrA := a.waitLine("http server listening", 20*time.Second)["addr"].(string)
	addrB := b.waitLine("http server listening", 20*time.Second)["addr"].(string)

	stop := time.Now().Add(30 * time.Second)
	for i := 0; time.Now().Before(stop); i++ {
		name := filepath.Join(s.src, fmt.Sprintf("d%02d/%03d.log", i%5, i))
		os.MkdirAll(filepath.Dir(name), 0o755) //nolint:errcheck // the write reports it
		if err := os.WriteFile(name, []byte(fmt.Sprintf("line %d\n", i)), 0o644); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
	}
	for _, addr := range []string{addrA, addrB} {
		for path, want := range map[string]string{"/healthz": "ok", "/readyz": "ready", "/metrics": "logkeeper_runs_total{result=\"success\",stream=\"edge\"}"} {
			resp, err := http.Get("http://" + addr + path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
				t.Fatalf("GET %s%s: %d %.300q, want %q", addr, path, resp.StatusCode, body, want)
			}
		}
	}
	a.cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck // checked by wait
	b.cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck // checked by wait
	if code := a.wait(30 * time.Second); code != 0 {
		t.Fatalf("daemon a: exit %d; log:\n%s", code, a.log())
	}
	if code := b.wait(30 * time.Second); code != 0 {
		t.Fatalf("daemon b: exit %d; log:\n%s", code, b.log())
	}

	for _, stream := range []string{"edge", "audit"} {
		rep, err := custody.Verify(context.Background(), s.st, stream, custody.VerifyOptions{PublicKey: s.pub})
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Problems) > 0 {
			t.Fatalf("stream %s: verify: %v", stream, rep.Problems)
		}
		ms := s.manifests(t, stream)
		if len(ms) < 5 {
			t.Fatalf("stream %s: only %d manifests in 30 s", stream, len(ms))
		}
		seen := map[string]uint64{}
		files := 0
		for _, m := range ms {
			for _, o := range m.Objects {
				if prev, ok := seen[o.Source.Path]; ok {
					t.Fatalf("stream %s: %s archived twice, in manifests %d and %d", stream, o.Source.Path, prev, m.Sequence)
				}
				seen[o.Source.Path] = m.Sequence
				files++
			}
		}
		byHolder := map[string]int{}
		for _, p := range []*process{a, b} {
			byHolder[fmt.Sprint(p == a)] = strings.Count(p.log(), `"msg":"window archived","stream":"`+stream+`"`)
		}
		t.Logf("stream %s: %d manifests, %d files, runs by daemon a/b: %d/%d", stream, len(ms), files, byHolder["true"], byHolder["false"])
		if byHolder["true"]+byHolder["false"] != len(ms) {
			t.Fatalf("stream %s: the daemons logged %d archived windows, the chain has %d manifests", stream, byHolder["true"]+byHolder["false"], len(ms))
		}
	}
}

func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "key.pem")
	if _, err := signing.GenerateKeyFile(key); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, "logs"), 0o755) //nolint:errcheck // checked by config check
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name string
		cfg  string
		code int
		want []string
	}{
		{"valid", "store: {url: file://" + dir + "/archive}\nsigning: {key: file://" + key + "}\nstreams:\n  - {name: app, schedule: '@hourly', source: {type: dir, path: logs}}\n",
			0, []string{"stream app: schedule @hourly, window 1h\n", "valid (1 stream)\n"}},
		// A window not written follows the schedule; one written is kept.
		{"windows follow the schedule", "store: {url: file://" + dir + "/archive}\nsigning: {key: file://" + key + "}\nstreams:\n" +
			"  - {name: a, schedule: '@every 5m', source: {type: dir, path: logs}}\n" +
			"  - {name: b, schedule: '0 9,17 * * *', source: {type: dir, path: logs}}\n" +
			"  - {name: c, schedule: '*/10 * * * *', window: 1h, source: {type: dir, path: logs}}\n" +
			"  - {name: d, source: {type: dir, path: logs}}\n",
			0, []string{"stream a: schedule @every 5m, window 5m\n", "stream b: schedule 0 9,17 * * *, window 8h\n",
				"stream c: schedule */10 * * * *, window 1h\n", "stream d: no schedule (export only), window 1h\n", "valid (4 streams)\n"}},
		{"invalid cron and duration name the stream", "store: {url: file://" + dir + "/archive}\nsigning: {key: file://" + key + "}\nstreams:\n  - {name: app, schedule: '61 * * * *', window: 1x, source: {type: dir, path: logs}}\n",
			2, []string{`streams[0].window: stream "app": must be a duration`, `streams[0].schedule: stream "app": invalid cron spec "61 * * * *"`, "2 problems"}},
		{"missing key and folder", "store: {url: file://" + dir + "/archive}\nsigning: {key: file://" + dir + "/nokey.pem}\nstreams:\n  - {name: app, source: {type: dir, path: nologs}}\n  - {name: b, source: {type: dir, path: logs}}\n",
			2, []string{"signing.key: key file " + dir + "/nokey.pem cannot be read: does not exist", `streams[0].source.path: folder ` + dir + `/nologs of stream "app": does not exist`, "2 problems"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := exec.Command(binary, "config", "check", "-c", write(strings.ReplaceAll(tc.name, " ", "-")+".yaml", tc.cfg)).CombinedOutput()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.code {
				t.Fatalf("exit %d, want %d; output:\n%s", code, tc.code, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(out), w) {
					t.Fatalf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestRunRefusesRemoteListen(t *testing.T) {
	out, err := exec.Command(binary, "run", "-c", "/nonexistent.yaml", "--listen", "0.0.0.0:9090").CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "not on loopback") {
		t.Fatalf("run --listen 0.0.0.0:9090: %v\n%s", err, out)
	}
}
