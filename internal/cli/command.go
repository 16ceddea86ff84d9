package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Command is one command of an App. Its flags are defined by Flags; the
// global flags are added to every command, and its usage text is written
// from both, so it cannot drift from what the command accepts.
type Command struct {
	// Name is the command as typed after the program name, one or two
	// words: "export", "keys generate".
	Name string
	// Summary says in one sentence what the command does.
	Summary string
	// Example is one or more example command lines, each starting with
	// the program name.
	Example string
	// Required names the flags that must be given ("c", "stream").
	Required []string
	// Args, when set, is the synopsis of the positional arguments the
	// command accepts; otherwise a positional argument is a usage error.
	Args string
	// Flags defines the command's own flags (may be nil).
	Flags func(fs *flag.FlagSet)
	// Run does the work. Its error chooses the exit code (see ExitCode).
	Run func(ctx context.Context, env *Env) error
}

// App is a program made of commands.
type App struct {
	Name     string // program name, "logkeeper"
	Summary  string // one line
	Version  string
	Commands []*Command
}

// globals are the flags every command has.
type globals struct {
	logLevel  string
	logFormat string
	json      bool
	version   bool
}

var logLevels = []string{"debug", "info", "warn", "error"}

func (g *globals) define(fs *flag.FlagSet) {
	fs.StringVar(&g.logLevel, "log-level", "", "log `level`: "+strings.Join(logLevels, ", ")+" (default warn on a terminal, info otherwise)")
	fs.StringVar(&g.logFormat, "log-format", "", "log `format`: text or json (default text on a terminal, json otherwise)")
	fs.BoolVar(&g.json, "json", false, "print the result as JSON on stdout (no progress display)")
	fs.BoolVar(&g.version, "version", false, "print the version and exit")
}

func isGlobal(name string) bool {
	return slices.Contains([]string{"log-level", "log-format", "json", "version"}, name)
}

// Run runs the command args name and returns its exit code. ctx is
// cancelled by SIGINT or SIGTERM (exit 130 when the command then fails).
func (a *App) Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, a.usage())
		return ExitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, a.usage())
		return ExitOK
	case "--version", "-version":
		fmt.Fprintf(stdout, "%s %s\n", a.Name, a.Version)
		return ExitOK
	}
	c, rest, group := a.find(args)
	if c == nil {
		return a.notFound(args, group, stdout, stderr)
	}
	env, err := a.parse(c, rest, stdout, stderr)
	if env == nil {
		if err == nil { // --help or --version
			return ExitOK
		}
		a.printError(stderr, c.Name, err)
		return ExitUsage
	}
	err = c.Run(ctx, env)
	env.endProgress()
	if err != nil && !errors.Is(err, errReported) {
		a.printError(stderr, c.Name, err)
	}
	return ExitCode(ctx, err)
}

// find returns the command args name (one or two words) and the rest of
// args, or the group name when args name only the first word of commands.
func (a *App) find(args []string) (c *Command, rest []string, group string) {
	for _, c := range a.Commands {
		words := strings.Fields(c.Name)
		if len(args) >= len(words) && slices.Equal(args[:len(words)], words) {
			return c, args[len(words):], ""
		}
		if len(words) > 1 && words[0] == args[0] {
			group = words[0]
		}
	}
	return nil, nil, group
}

func (a *App) notFound(args []string, group string, stdout, stderr io.Writer) int {
	if group != "" {
		var subs []string
		for _, c := range a.Commands {
			if w := strings.Fields(c.Name); w[0] == group {
				subs = append(subs, w[1])
			}
		}
		if len(args) > 1 && (args[1] == "-h" || args[1] == "--help") {
			fmt.Fprint(stdout, a.usage())
			return ExitOK
		}
		what := "a subcommand"
		if len(args) > 1 {
			what = fmt.Sprintf("a subcommand, not %q", args[1])
		}
		Printf(stderr, "%s %s: want %s: %s\n", a.Name, group, what, strings.Join(subs, ", "))
		return ExitUsage
	}
	msg := fmt.Sprintf("unknown command %q", args[0])
	if strings.HasPrefix(args[0], "-") {
		msg = fmt.Sprintf("unknown flag %s before a command", args[0])
	}
	if looksLikeConfig(args[0]) {
		msg += fmt.Sprintf("; to read a configuration file, write a command and -c %s", args[0])
	}
	Printf(stderr, "%s: %s\n\n", a.Name, msg)
	fmt.Fprint(stderr, a.usage())
	return ExitUsage
}

// parse parses a command's flags. It returns a nil Env and nil error when
// it printed the help or version.
func (a *App) parse(c *Command, args []string, stdout, stderr io.Writer) (*Env, error) {
	fs, g := a.flagSet(c)
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprint(stdout, a.help(c))
				return nil, nil
			}
			return nil, Usage(a.flagError(c, args, err))
		}
		if fs.NArg() == 0 {
			break
		}
		// Flags may follow positional arguments.
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if g.version {
		fmt.Fprintf(stdout, "%s %s\n", a.Name, a.Version)
		return nil, nil
	}
	if len(positional) > 0 && c.Args == "" {
		return nil, Usage(positionalError(fs, positional))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var missing []error
	for _, name := range c.Required {
		if !set[name] {
			missing = append(missing, fmt.Errorf("%s is required", flagSynopsis(fs.Lookup(name))))
		}
	}
	if err := errors.Join(missing...); err != nil {
		return nil, Usage(err)
	}
	env := &Env{Stdout: stdout, Stderr: stderr, JSON: g.json, Terminal: IsTerminal(stderr), Positional: positional}
	log, err := newLogger(logWriter{env}, g, env.Terminal)
	if err != nil {
		return nil, Usage(err)
	}
	env.Log = log
	return env, nil
}

func (a *App) flagSet(c *Command) (*flag.FlagSet, *globals) {
	fs := flag.NewFlagSet(a.Name+" "+c.Name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are printed once, by Run
	fs.Usage = func() {}
	g := &globals{}
	if c.Flags != nil {
		c.Flags(fs)
	}
	g.define(fs)
	return fs, g
}

func newLogger(w io.Writer, g *globals, terminal bool) (*slog.Logger, error) {
	level := slog.LevelInfo
	if terminal {
		level = slog.LevelWarn
	}
	if g.logLevel != "" {
		if !slices.Contains(logLevels, g.logLevel) {
			return nil, fmt.Errorf("--log-level %q: want one of %s", g.logLevel, strings.Join(logLevels, ", "))
		}
		level.UnmarshalText([]byte(g.logLevel)) //nolint:errcheck // checked above
	}
	opts := &slog.HandlerOptions{Level: level}
	switch g.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "":
		if terminal {
			return slog.New(slog.NewTextHandler(w, opts)), nil
		}
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("--log-format %q: want text or json", g.logFormat)
	}
}

// flagError rewrites an error of package flag to name the flag as typed.
func (a *App) flagError(c *Command, args []string, err error) error {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		typed := "-" + name
		for _, arg := range args {
			if n, _, _ := strings.Cut(strings.TrimLeft(arg, "-"), "="); n == name && strings.HasPrefix(arg, "-") {
				typed, _, _ = strings.Cut(arg, "=")
				break
			}
		}
		return fmt.Errorf("unknown flag %s (see %s %s --help)", typed, a.Name, c.Name)
	}
	return errors.New(msg)
}

// looksLikeConfig reports whether a positional argument is probably a
// configuration file that was meant for -c.
func looksLikeConfig(arg string) bool {
	switch strings.ToLower(filepath.Ext(arg)) {
	case ".yaml", ".yml", ".json", ".conf":
		return true
	}
	fi, err := os.Stat(arg)
	return err == nil && fi.Mode().IsRegular()
}

func positionalError(fs *flag.FlagSet, positional []string) error {
	err := fmt.Errorf("unexpected argument %q", positional[0])
	if len(positional) > 1 {
		err = fmt.Errorf("unexpected arguments %q", positional)
	}
	for _, p := range positional {
		if fs.Lookup("c") != nil && looksLikeConfig(p) {
			return fmt.Errorf("%w: to read the configuration file %s, write -c %s", err, p, p)
		}
	}
	return err
}

// printError writes a command's error to stderr, escaped, one line per
// joined error.
func (a *App) printError(w io.Writer, name string, err error) {
	for _, e := range leaves(err) {
		Printf(w, "%s %s: %s\n", a.Name, name, e)
	}
}

// leaves flattens joined errors (errors.Join) into their parts, keeping
// the context of wrappers above a join only when they add nothing but it.
func leaves(err error) []error {
	for {
		e, ok := err.(*exitError)
		if !ok {
			break
		}
		err = e.err
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, x := range j.Unwrap() {
			out = append(out, leaves(x)...)
		}
		return out
	}
	return []error{err}
}
