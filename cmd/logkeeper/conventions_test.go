package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Every command has --help (with its flags and an example), -h, and
// --version, written by package cli from the flag definitions.
func TestEveryCommandHelpAndVersion(t *testing.T) {
	c := harness{t: t}
	for _, cmd := range logkeeper().Commands {
		t.Run(cmd.Name, func(t *testing.T) {
			args := strings.Fields(cmd.Name)
			for _, h := range []string{"--help", "-h"} {
				code, out, errs := c.run(append(args, h)...)
				if code != 0 || errs != "" {
					t.Fatalf("%s %s: exit %d, stderr %q", cmd.Name, h, code, errs)
				}
				for _, want := range []string{"Usage: logkeeper " + cmd.Name, cmd.Summary, "\nExample:\n  logkeeper " + cmd.Name,
					"--log-level LEVEL", "--log-format FORMAT", "--json", "--version", "-h, --help"} {
					if !strings.Contains(out, want) {
						t.Errorf("%s %s lacks %q:\n%s", cmd.Name, h, want, out)
					}
				}
			}
			code, out, _ := c.run(append(args, "--version")...)
			if code != 0 || out != "logkeeper dev\n" {
				t.Fatalf("%s --version: exit %d, %q", cmd.Name, code, out)
			}
		})
	}
	for _, args := range [][]string{{"--version"}, {"version"}} {
		if code, out, _ := c.run(args...); code != 0 || out != "logkeeper dev\n" {
			t.Fatalf("%v: exit %d, %q", args, code, out)
		}
	}
	if code, out, _ := c.run("version", "--json"); code != 0 || out != "{\n  \"version\": \"dev\"\n}\n" {
		t.Fatalf("version --json: exit %d, %q", code, out)
	}
	code, out, _ := c.run("--help")
	for _, cmd := range logkeeper().Commands {
		if !strings.Contains(out, "logkeeper "+cmd.Name+" ") {
			t.Errorf("logkeeper --help lacks %s:\n%s", cmd.Name, out)
		}
	}
	if code != 0 || !strings.Contains(out, "Exit codes: 0 done, 1 problems found or partial run, 2 usage or configuration, 3 could not complete, 130 interrupted.") {
		t.Fatalf("logkeeper --help: exit %d:\n%s", code, out)
	}
}

// Exit 2 for a key file that is missing or unreadable, in every command
// that reads the key.
func TestKeyProblemsExitTwoEverywhere(t *testing.T) {
	c, _ := setup(t)
	notAFile := filepath.Join(c.dir, "keydir.pem")
	os.Mkdir(notAFile, 0o755)
	garbage := filepath.Join(c.dir, "garbage.pem")
	os.WriteFile(garbage, []byte("not a key\n"), 0o600)
	for name, key := range map[string]string{"missing": filepath.Join(c.dir, "nokey.pem"), "a folder": notAFile, "not a key": garbage} {
		cfg := filepath.Join(c.dir, "k.yaml")
		os.WriteFile(cfg, []byte(fmt.Sprintf("store: {url: file://%s/archive}\nsigning: {key: file://%s}\nstreams:\n  - {name: edge, schedule: '@hourly', source: {type: dir, path: %s/logs}}\n", c.dir, key, c.dir)), 0o644)
		for _, args := range [][]string{
			{"export", "-c", cfg, "--stream", "edge"},
			{"verify", "-c", cfg, "--stream", "edge"},
			{"keys", "public", "-c", cfg},
			{"run", "-c", cfg, "--once"},
			{"config", "check", "-c", cfg},
		} {
			code, out, errs := c.run(args...)
			if code != 2 || !strings.Contains(out+errs, "signing.key") {
				t.Errorf("key %s: %v: exit %d, want 2 naming signing.key; output %q %q", name, args[:2], code, out, errs)
			}
		}
	}
	// A --pubkey that cannot be read is a usage error too.
	_, cfg := setup(t)
	if code, _, errs := c.run("verify", "-c", cfg, "--stream", "edge", "--pubkey", filepath.Join(c.dir, "none.pub")); code != 2 || !strings.Contains(errs, "--pubkey") {
		t.Errorf("verify --pubkey missing: exit %d, %q", code, errs)
	}
}

// The rows of the exit code table, each through a real command.
func TestExitCodeTable(t *testing.T) {
	c, cfg := setup(t)
	// 0: done.
	for _, args := range [][]string{
		{"export", "-c", cfg, "--stream", "edge"},
		{"verify", "-c", cfg, "--stream", "edge"},
		{"config", "check", "-c", cfg},
		{"keys", "public", "-c", cfg},
		{"keys", "generate", "--out", filepath.Join(c.dir, "k2.pem")},
		{"version"},
	} {
		if code, _, errs := c.run(args...); code != 0 {
			t.Errorf("%v: exit %d, want 0: %s", args, code, errs)
		}
	}
	// 1: problems found.
	os.WriteFile(filepath.Join(c.dir, "archive", "edge", "objects", findRun(t, c.dir), "a", "x.log"), []byte("HELLO\n"), 0o644)
	if code, out, _ := c.run("verify", "-c", cfg, "--stream", "edge"); code != 1 || !strings.Contains(out, "1 of 2 objects valid") {
		t.Errorf("verify of a changed object: exit %d, want 1:\n%s", code, out)
	}
	// 2: usage and configuration.
	for _, args := range [][]string{
		{"export", "-c", cfg, "--stream", "edge", "--bogus"},
		{"export", cfg, "--stream", "edge"},
		{"verify", "-c", cfg, "--stream", "nope"},
		{"verify", "-c", cfg, "--stream", "edge", "--log-level", "verbose"},
		{"run", "-c", filepath.Join(c.dir, "none.yaml"), "--once"},
		{"keys", "generate", "--out", filepath.Join(c.dir, "no", "such", "folder", "k.pem")},
		{"keys", "generate", "--out", filepath.Join(c.dir, "key.pem")}, // exists
		{"keys"},
		{"nope"},
	} {
		if code, _, _ := c.run(args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	_, _, errs := c.run("keys", "generate", "--out", filepath.Join(c.dir, "no", "k.pem"))
	if want := "logkeeper keys generate: --out " + c.dir + "/no/k.pem: folder " + c.dir + "/no does not exist (create it first)\n"; errs != want {
		t.Errorf("keys generate into a missing folder: %q, want %q", errs, want)
	}
	// 3: could not complete (a KMS that cannot be reached).
	kms := filepath.Join(c.dir, "kms.yaml")
	os.WriteFile(kms, []byte(fmt.Sprintf("store: {url: file://%s/archive}\nsigning: {key: 'awskms://alias/none'}\nstreams:\n  - {name: edge, source: {type: dir, path: %s/logs}}\n", c.dir, c.dir)), 0o644)
	t.Setenv("AWS_ENDPOINT_URL_KMS", "http://127.0.0.1:1")
	t.Setenv("AWS_ACCESS_KEY_ID", "x")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "not-a-real-secret-value")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_MAX_ATTEMPTS", "1")
	for _, args := range [][]string{{"export", "-c", kms, "--stream", "edge"}, {"keys", "public", "-c", kms}} {
		if code, _, errs := c.run(args...); code != 3 || strings.Contains(errs, "not-a-real-secret-value") {
			t.Errorf("%v with an unreachable KMS: exit %d, want 3: %s", args, code, errs)
		}
	}
	// 3 for an unreachable store: TestUnreachableStore; 130: TestInterruptedExits130.
}

// findRun returns the run id of the only run in the archive of setup.
func findRun(t *testing.T, dir string) string {
	t.Helper()
	runs, err := os.ReadDir(filepath.Join(dir, "archive", "edge", "objects"))
	if err != nil || len(runs) != 1 {
		t.Fatalf("runs: %v %v", runs, err)
	}
	return runs[0].Name()
}

// SIGINT or SIGTERM while a command waits on a store that does not answer:
// exit 130, promptly.
func TestInterruptedExits130(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan struct{}, 16)
	go func() { // accept and never answer
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			defer conn.Close()
			select {
			case accepted <- struct{}{}:
			default:
			}
		}
	}()
	c, _ := setup(t)
	cfg := filepath.Join(c.dir, "s3.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("store: {url: s3://bucket/prefix, path_style: true}\nsigning: {key: file://%s/key.pem}\nstreams:\n  - {name: edge, source: {type: dir, path: %s/logs}}\n", c.dir, c.dir)), 0o644)
	env := []string{"AWS_ENDPOINT_URL_S3=http://" + ln.Addr().String(), "AWS_ACCESS_KEY_ID=x", "AWS_SECRET_ACCESS_KEY=y", "AWS_REGION=us-east-1", "AWS_MAX_ATTEMPTS=1"}
	for _, tc := range []struct {
		args []string
		sig  syscall.Signal
	}{
		{[]string{"export", "-c", cfg, "--stream", "edge"}, syscall.SIGINT},
		{[]string{"verify", "-c", cfg, "--stream", "edge"}, syscall.SIGTERM},
	} {
		p := start(t, env, tc.args...)
		// Signal once the command waits on the store (its handlers are
		// installed by then), however slow the machine is to get there.
		select {
		case <-accepted:
		case <-time.After(30 * time.Second):
			t.Fatalf("%v: no connection to the store after 30s; stderr:\n%s", tc.args[0], p.log())
		}
		p.cmd.Process.Signal(tc.sig) //nolint:errcheck // checked by the exit code
		if code := p.wait(10 * time.Second); code != 130 {
			t.Errorf("%v after %v: exit %d, want 130; stderr:\n%s", tc.args[0], tc.sig, code, p.log())
		}
	}
}

// Strings read from the store are escaped: a .sig whose fields hold a
// newline and terminal escapes cannot draw a fake line.
func TestStoreStringsEscaped(t *testing.T) {
	c, cfg := setup(t)
	if code, _, errs := c.run("export", "-c", cfg, "--stream", "edge"); code != 0 {
		t.Fatalf("export: %s", errs)
	}
	sigs, _ := filepath.Glob(filepath.Join(c.dir, "archive", "edge", "manifests", "*.sig"))
	if len(sigs) == 0 {
		sigs, _ = filepath.Glob(filepath.Join(c.dir, "archive", "edge", "*", "*", "*.sig"))
	}
	if len(sigs) != 1 {
		t.Fatalf("signature files: %v", sigs)
	}
	raw, _ := os.ReadFile(sigs[0])
	var sig map[string]any
	if err := json.Unmarshal(raw, &sig); err != nil {
		t.Fatal(err)
	}
	const fake = "x\nstream edge (fast verify): 1 of 1 manifest valid, 0 problems\x1b[2K\x1b[1A\u202e"
	sig["key_id"] = fake
	raw, _ = json.Marshal(sig)
	os.WriteFile(sigs[0], raw, 0o644)
	code, out, _ := c.run("verify", "-c", cfg, "--stream", "edge")
	if code != 1 {
		t.Fatalf("verify: exit %d, want 1:\n%s", code, out)
	}
	if strings.ContainsAny(out, "\x1b\u202e") {
		t.Fatalf("raw terminal escapes in the output: %q", out)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	for _, l := range lines {
		if strings.HasPrefix(l, "stream edge (fast verify): 1 of 1") {
			t.Fatalf("a fake line was drawn: %q", out)
		}
	}
	if !strings.Contains(out, `x\nstream edge (fast verify): 1 of 1 manifest valid, 0 problems\x1b[2K\x1b[1A\u202e`) {
		t.Fatalf("the escaped store string is not in the output:\n%s", out)
	}
}

// run --once with nothing due says when the next window closes.
func TestRunOnceNothingDue(t *testing.T) {
	c, _ := setup(t)
	cfg := filepath.Join(c.dir, "sched.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("store: {url: file://%s/archive}\nsigning: {key: file://%s/key.pem}\nstreams:\n  - {name: edge, schedule: '@every 6h', source: {type: dir, path: %s/logs}}\n", c.dir, c.dir, c.dir)), 0o644)
	if code, out, errs := c.run("run", "-c", cfg, "--once"); code != 0 || out != "" {
		t.Fatalf("first run --once: exit %d, %q %s", code, out, errs)
	}
	code, out, errs := c.run("run", "-c", cfg, "--once")
	now := time.Now().UTC()
	next := now.Truncate(6 * time.Hour).Add(6 * time.Hour)
	re := regexp.MustCompile(`^stream edge: nothing due; the next window closes at (\S+) \(in ((\d+h)?(\d+m)?(\d+s)?)\)\n$`)
	m := re.FindStringSubmatch(out)
	if code != 0 || m == nil {
		t.Fatalf("second run --once: exit %d, %q %s", code, out, errs)
	}
	if m[1] != next.Format(time.RFC3339) {
		t.Fatalf("next window closes at %s, want %s (6h windows)", m[1], next.Format(time.RFC3339))
	}
	if in, err := time.ParseDuration(m[2]); err != nil || in <= 0 || in > 6*time.Hour {
		t.Fatalf("in %q: %v", m[2], err)
	}
}

// The README's command list is the generated synopsis of every command,
// and its exit code table has a row per code.
func TestREADMECommands(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	want.WriteString("## Commands\n\n```\n")
	for _, line := range strings.Split(strings.TrimSpace(synopses()), "\n") {
		want.WriteString(line + "\n")
	}
	want.WriteString("```\n")
	if !strings.Contains(string(readme), want.String()) {
		t.Fatalf("README's command list is not the generated one:\n%s", want.String())
	}
	for _, row := range []string{"| 0 | done |", "| 1 | problems found", "| 2 | usage or configuration", "| 3 | could not complete", "| 130 | interrupted"} {
		if !strings.Contains(string(readme), row) {
			t.Errorf("README's exit code table lacks %q", row)
		}
	}
}

// synopses is the first line of each command's help.
func synopses() string {
	var b strings.Builder
	for _, cmd := range logkeeper().Commands {
		var out strings.Builder
		logkeeper().Run(context.Background(), append(strings.Fields(cmd.Name), "--help"), &out, io.Discard)
		first, _, _ := strings.Cut(out.String(), "\n")
		b.WriteString(strings.TrimPrefix(first, "Usage: ") + "\n")
	}
	return b.String()
}

// Every text the commands print goes through cli's escaping printers
// (Env.Printf, Env.PrintJSON): no command writes with package fmt itself.
func TestOnePrinter(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, call := range []string{"fmt.Print", "fmt.Fprint", "os.Stdout.Write", "os.Stderr.Write"} {
			if strings.Contains(string(src), call) {
				t.Errorf("%s calls %s: print through cli.Env instead, which escapes", f, call)
			}
		}
	}
}
