package cli

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// usage is the program's help: every command's synopsis and summary.
func (a *App) usage() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s.\n\nUsage:\n", a.Name, a.Summary)
	for _, c := range a.Commands {
		fmt.Fprintf(&b, "  %s\n      %s\n", a.synopsis(c), c.Summary)
	}
	fmt.Fprintf(&b, "\nEvery command takes the global flags --log-level, --log-format, --json, -h/--help and --version.\n")
	fmt.Fprintf(&b, "Run \"%s COMMAND --help\" for a command's flags and an example; \"%s --version\" prints the version.\n", a.Name, a.Name)
	fmt.Fprintf(&b, "\nExit codes: %d done, %d problems found or partial run, %d usage or configuration, %d could not complete, %d interrupted.\n",
		ExitOK, ExitProblems, ExitUsage, ExitIncomplete, ExitInterrupted)
	return b.String()
}

// synopsis is "logkeeper export -c FILE --stream NAME [flags]".
func (a *App) synopsis(c *Command) string {
	fs, _ := a.flagSet(c)
	parts := []string{a.Name, c.Name}
	for _, name := range c.Required {
		parts = append(parts, flagSynopsis(fs.Lookup(name)))
	}
	if c.Args != "" {
		parts = append(parts, c.Args)
	}
	parts = append(parts, "[flags]")
	return strings.Join(parts, " ")
}

// help is a command's help, written from its flag definitions.
func (a *App) help(c *Command) string {
	fs, _ := a.flagSet(c)
	var b strings.Builder
	fmt.Fprintf(&b, "Usage: %s\n\n%s\n", a.synopsis(c), c.Summary)
	var own, global []*flag.Flag
	fs.VisitAll(func(f *flag.Flag) {
		if isGlobal(f.Name) {
			global = append(global, f)
		} else {
			own = append(own, f)
		}
	})
	required := map[string]bool{}
	for _, r := range c.Required {
		required[r] = true
	}
	write := func(title string, flags []*flag.Flag, extra ...string) {
		if len(flags) == 0 && len(extra) == 0 {
			return
		}
		fmt.Fprintf(&b, "\n%s:\n", title)
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		for _, f := range flags {
			_, usage := flag.UnquoteUsage(f)
			switch {
			case required[f.Name]:
				usage += " (required)"
			case f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "0s":
				usage += " (default " + defaultValue(f) + ")"
			}
			fmt.Fprintf(tw, "  %s\t%s\n", flagSynopsis(f), usage)
		}
		for _, e := range extra {
			fmt.Fprintf(tw, "  %s\n", e)
		}
		tw.Flush() //nolint:errcheck // strings.Builder
	}
	write("Flags", own)
	write("Global flags", global, "-h, --help\tprint this help and exit")
	fmt.Fprintf(&b, "\nExample:\n")
	for _, line := range strings.Split(strings.TrimSpace(c.Example), "\n") {
		fmt.Fprintf(&b, "  %s\n", strings.TrimSpace(line))
	}
	return b.String()
}

// flagSynopsis is "-c FILE", "--stream NAME" or "--deep".
func flagSynopsis(f *flag.Flag) string {
	dash := "--"
	if len(f.Name) == 1 {
		dash = "-"
	}
	name, _ := flag.UnquoteUsage(f)
	if name == "" {
		return dash + f.Name
	}
	return dash + f.Name + " " + strings.ToUpper(name)
}

// defaultValue writes a flag's default as a user would type it.
func defaultValue(f *flag.Flag) string {
	if g, ok := f.Value.(flag.Getter); ok {
		switch v := g.Get().(type) {
		case string:
			return strconv.Quote(v)
		case time.Duration:
			return Duration(v)
		}
	}
	return f.DefValue
}
