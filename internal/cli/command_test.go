package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"testing"
)

// testApp has a command with required, optional and positional-free
// flags, and a group of two subcommands.
func testApp(run func(ctx context.Context, env *Env) error) *App {
	var cfg, stream string
	var n int
	return &App{
		Name: "prog", Summary: "does things", Version: "1.2.3",
		Commands: []*Command{
			{
				Name: "do", Summary: "Do it.", Example: "prog do -c a.yaml --stream s",
				Required: []string{"c", "stream"},
				Flags: func(fs *flag.FlagSet) {
					fs.StringVar(&cfg, "c", "", "configuration `file`")
					fs.StringVar(&stream, "stream", "", "stream `name`")
					fs.IntVar(&n, "n", 3, "how `many`")
				},
				Run: run,
			},
			{Name: "keys make", Summary: "Make a key.", Example: "prog keys make", Run: run},
			{Name: "keys show", Summary: "Show a key.", Example: "prog keys show", Run: run},
		},
	}
}

func runApp(a *App, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := a.Run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestFriendlyMistakes(t *testing.T) {
	ok := func(context.Context, *Env) error { return nil }
	tests := []struct {
		name string
		args []string
		code int
		want string // the whole of stderr
	}{
		{"unknown flag with two dashes, reported once as typed", []string{"do", "-c", "a", "--stream", "s", "--bogus"}, 2,
			"prog do: unknown flag --bogus (see prog do --help)\n"},
		{"unknown flag with one dash and a value", []string{"do", "-bogus=3"}, 2,
			"prog do: unknown flag -bogus (see prog do --help)\n"},
		{"config file as a positional argument hints at -c", []string{"do", "lk.yaml", "--stream", "s"}, 2,
			"prog do: unexpected argument \"lk.yaml\": to read the configuration file lk.yaml, write -c lk.yaml\n"},
		{"other positional argument", []string{"do", "-c", "a", "--stream", "s", "extra"}, 2,
			"prog do: unexpected argument \"extra\"\n"},
		{"required flags named with their placeholder", []string{"do"}, 2,
			"prog do: -c FILE is required\nprog do: --stream NAME is required\n"},
		{"log level outside the one set", []string{"do", "-c", "a", "--stream", "s", "--log-level", "verbose"}, 2,
			"prog do: --log-level \"verbose\": want one of debug, info, warn, error\n"},
		{"log format outside the set", []string{"do", "-c", "a", "--stream", "s", "--log-format", "xml"}, 2,
			"prog do: --log-format \"xml\": want text or json\n"},
		{"bad value", []string{"do", "-c", "a", "--stream", "s", "-n", "x"}, 2,
			"prog do: invalid value \"x\" for flag -n: parse error\n"},
		{"group without subcommand", []string{"keys"}, 2, "prog keys: want a subcommand: make, show\n"},
		{"group with unknown subcommand", []string{"keys", "eat"}, 2, "prog keys: want a subcommand, not \"eat\": make, show\n"},
		{"every accepted log level", []string{"do", "-c", "a", "--stream", "s", "--log-level", "debug", "--log-format", "json"}, 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errs := runApp(testApp(ok), tc.args...)
			if code != tc.code || errs != tc.want {
				t.Fatalf("exit %d, stderr %q; want %d, %q", code, errs, tc.code, tc.want)
			}
		})
	}
	code, _, errs := runApp(testApp(ok), "config.yaml")
	if code != 2 || !strings.HasPrefix(errs, "prog: unknown command \"config.yaml\"; to read a configuration file, write a command and -c config.yaml\n") {
		t.Fatalf("config file as the command: %d %q", code, errs)
	}
}

func TestExitCodes(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		err  error
		code int
	}{
		{"done", context.Background(), nil, 0},
		{"problems", context.Background(), Problems(errors.New("x")), 1},
		{"reported problems", context.Background(), Reported(ExitProblems), 1},
		{"usage", context.Background(), Usage(errors.New("x")), 2},
		{"usage wrapped", context.Background(), fmt.Errorf("ctx: %w", Usage(errors.New("x"))), 2},
		{"incomplete", context.Background(), Incomplete(errors.New("x")), 3},
		{"unmarked is incomplete", context.Background(), errors.New("x"), 3},
		{"interrupted", cancelled, Problems(context.Canceled), 130},
		{"interrupted but done", cancelled, nil, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ExitCode(tc.ctx, tc.err); got != tc.code {
				t.Fatalf("ExitCode = %d, want %d", got, tc.code)
			}
			// And through App.Run.
			code, _, _ := runAppCtx(tc.ctx, testApp(func(context.Context, *Env) error { return tc.err }), "keys", "make")
			if code != tc.code {
				t.Fatalf("App.Run exit %d, want %d", code, tc.code)
			}
		})
	}
}

func runAppCtx(ctx context.Context, a *App, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := a.Run(ctx, args, &out, &errb)
	return code, out.String(), errb.String()
}

// The help is written from the flag definitions: every flag, global or
// the command's own, appears with its placeholder, and the example.
func TestHelpFromFlags(t *testing.T) {
	a := testApp(nil)
	code, out, errs := runApp(a, "do", "--help")
	if code != 0 || errs != "" {
		t.Fatalf("do --help: %d %q", code, errs)
	}
	for _, want := range []string{
		"Usage: prog do -c FILE --stream NAME [flags]\n", "Do it.",
		"-c FILE", "configuration file (required)", "--stream NAME", "-n MANY", "how many (default 3)",
		"--log-level LEVEL", "--log-format FORMAT", "--json", "--version", "-h, --help",
		"Example:\n  prog do -c a.yaml --stream s\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("help lacks %q:\n%s", want, out)
		}
	}
	fs, _ := a.flagSet(a.Commands[0])
	fs.VisitAll(func(f *flag.Flag) {
		if !strings.Contains(out, flagSynopsis(f)) {
			t.Errorf("help lacks flag %s", f.Name)
		}
	})
	for _, args := range [][]string{{"do", "-h"}, {"--help"}, {"help"}, {"keys", "--help"}} {
		if code, out, _ := runApp(a, args...); code != 0 || out == "" {
			t.Errorf("%v: exit %d, output %q", args, code, out)
		}
	}
	if code, _, errs := runApp(a); code != 2 || !strings.Contains(errs, "prog keys make [flags]") {
		t.Errorf("no arguments: exit %d, %q", code, errs)
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"do", "--version"}, {"keys", "show", "--version"}} {
		code, out, _ := runApp(testApp(nil), args...)
		if code != 0 || out != "prog 1.2.3\n" {
			t.Errorf("%v: exit %d, %q", args, code, out)
		}
	}
}

// An error's text is escaped, one line per joined error.
func TestErrorsEscaped(t *testing.T) {
	err := errors.Join(errors.New("key a\n0 problems"), errors.New("key \x1b[2Kb"))
	code, _, errs := runApp(testApp(func(context.Context, *Env) error { return Incomplete(err) }), "keys", "show")
	want := "prog keys show: key a\\n0 problems\nprog keys show: key \\x1b[2Kb\n"
	if code != 3 || errs != want {
		t.Fatalf("exit %d, stderr %q; want %q", code, errs, want)
	}
}

// Without a terminal: logs are JSON at info, no progress display.
func TestNotATerminal(t *testing.T) {
	var gotEnv *Env
	a := testApp(func(_ context.Context, env *Env) error {
		gotEnv = env
		env.Log.Debug("hidden")
		env.Log.Info("shown")
		if env.Progress("do", "file") != nil {
			t.Error("a progress display without a terminal")
		}
		return nil
	})
	code, _, errs := runApp(a, "keys", "make")
	if code != 0 || !strings.HasPrefix(errs, `{"time":`) || !strings.Contains(errs, `"msg":"shown"`) || strings.Contains(errs, "hidden") {
		t.Fatalf("exit %d, log %q", code, errs)
	}
	if gotEnv.Terminal {
		t.Fatal("a buffer is a terminal")
	}
	_, _, errs = runApp(a, "keys", "make", "--log-format", "text")
	if !strings.HasPrefix(errs, "time=") {
		t.Fatalf("--log-format text: %q", errs)
	}
}

func TestHumanUnits(t *testing.T) {
	tests := []struct{ got, want string }{
		{Size(0), "0 B"}, {Size(1536), "1.5 KiB"}, {Size(2 << 30), "2.0 GiB"},
		{Count(1, "file", ""), "1 file"}, {Count(0, "file", ""), "0 files"}, {Count(2, "problem", ""), "2 problems"},
		{Duration(3600e9), "1h"}, {Duration(300e9), "5m"}, {Duration(90e9), "1m30s"}, {Duration(5400e9), "1h30m"},
		{Rate(10<<20, 2e9), "5.0 MiB/s"}, {Rate(1, 0), ""},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}
